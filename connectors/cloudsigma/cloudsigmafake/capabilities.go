package cloudsigmafake

import "net/http"

// Limits are a location's capabilities: what one server and one drive may
// be.
type Limits struct {
	CPUMin, CPUMax             int   // server clock, MHz
	CPUPerSMPMin, CPUPerSMPMax int   // clock per core, MHz
	MemMin, MemMax             int64 // memory, bytes
	SMPMin, SMPMax             int   // cores
	DriveMin, DriveMax         int64 // drive size, bytes
}

// DefaultLimits are those of the reference's capabilities dump (an amd
// host and dssd storage).
var DefaultLimits = Limits{
	CPUMin: 250, CPUMax: 96000,
	CPUPerSMPMin: 1000, CPUPerSMPMax: 3000,
	MemMin: 268435456, MemMax: 558345748480,
	SMPMin: 1, SMPMax: 32,
	DriveMin: 536870912, DriveMax: 15492389427364,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.CPUMin, d.CPUMin)
	pick(&l.CPUMax, d.CPUMax)
	pick(&l.CPUPerSMPMin, d.CPUPerSMPMin)
	pick(&l.CPUPerSMPMax, d.CPUPerSMPMax)
	pick64(&l.MemMin, d.MemMin)
	pick64(&l.MemMax, d.MemMax)
	pick(&l.SMPMin, d.SMPMin)
	pick(&l.SMPMax, d.SMPMax)
	pick64(&l.DriveMin, d.DriveMin)
	pick64(&l.DriveMax, d.DriveMax)
	return l
}

// getCapabilities answers GET /capabilities/ in the shape of the
// reference's dump: the deprecated "servers" entry and the amd host
// carry the same limits; drives are dssd (some sizes written as floats,
// as the real API does).
func getCapabilities(f *Fake, c *call) (int, any, error) {
	l := f.opts.Limits
	host := map[string]any{
		"cpu":         rng(l.CPUMin, l.CPUMax),
		"cpu_per_smp": rng(l.CPUPerSMPMin, l.CPUPerSMPMax),
		"mem":         rng(l.MemMin, l.MemMax),
		"smp":         rng(l.SMPMin, l.SMPMax),
	}
	servers := map[string]any{"default_start_method": "regular", "start_methods": []string{"eager", "lazy", "regular"}}
	for k, v := range host {
		servers[k] = v
	}
	dssd := map[string]any{
		"iops":     map[string]any{"base": 30000, "max": 60000, "min": 1},
		"max_size": l.DriveMax, "min_size": float64(l.DriveMin),
		"size": map[string]any{"max": l.DriveMax, "min": float64(l.DriveMin)},
	}
	return http.StatusOK, map[string]any{
		"backfilling":          false,
		"default_storage_type": "dssd",
		"drives":               map[string]any{"dssd": dssd},
		"hosts":                map[string]any{"amd": host},
		"hypervisors":          map[string]any{"kvm": []string{"amd"}},
		"servers":              servers,
		"snapshots":            map[string]any{"current": 0, "max": 700, "max_per_drive": 90},
	}, nil
}

func rng[T int | int64](lo, hi T) map[string]any { return map[string]any{"min": lo, "max": hi} }

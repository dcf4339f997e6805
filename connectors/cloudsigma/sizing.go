package cloudsigma

import (
	"context"
	"math"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// MHzPerCore is the clock a core of a SlipStream machine gets. CloudSigma
// sells CPU in MHz and splits it over "smp" cores, each of which must get
// between cpu_per_smp min and max: 1000 to 2893 or 3000 MHz in the
// reference's capabilities, so 2000 fits every host type with room either
// side, and is what one core of a common cloud instance delivers.
const MHzPerCore = 2000

// capsTTL is how long the location's capabilities are trusted: they
// change with the cloud's usage, but not from one machine to the next.
const capsTTL = 5 * time.Minute

// size is a server's CPU (MHz), cores and memory (bytes).
type size struct {
	cpu int
	smp int
	mem int64
}

// serverSize is the server of a generic size: its cores at MHzPerCore
// each, and its memory in bytes; at least 1 core and 1 GiB, as PickOffer
// sizes a free offer.
func serverSize(s connectors.Size) size {
	cores := max(s.CPU, 1)
	mib := max(int64(math.Ceil(s.RAMGB*1024)), 1024)
	return size{cpu: cores * MHzPerCore, smp: cores, mem: mib << 20}
}

// diskBytes is the disk asked for, in bytes (0: the image's size).
func diskBytes(s connectors.Size) int64 { return int64(max(s.DiskGB, 0)) << 30 }

// Offers is one Free offer: the largest server of the location
// (Capabilities): the cores its CPU maximum makes at MHzPerCore, within
// its SMP maximum; its memory maximum; and the largest drive of the
// default storage type.
func (c *Connector) Offers(ctx context.Context) ([]connectors.Offer, error) {
	caps, err := c.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	host := caps.Servers
	if host.CPU.Max == 0 {
		host = caps.Hosts["amd"] // "servers" is deprecated; it holds the amd hosts' limits
	}
	cores := int(host.CPU.Max) / MHzPerCore
	if host.SMP.Max > 0 {
		cores = min(cores, int(host.SMP.Max))
	}
	if host.CPUPerSMP.Max > 0 && host.CPUPerSMP.Max < MHzPerCore {
		cores = 0 // no core can have MHzPerCore here
	}
	if cores < 1 || host.Mem.Max <= 0 {
		return nil, permanent("GET /capabilities/", "NoServerLimits",
			"the location's capabilities allow no server of %d MHz per core (cpu max %.0f MHz, smp max %.0f, cpu_per_smp max %.0f, mem max %.0f bytes)",
			MHzPerCore, host.CPU.Max, host.SMP.Max, host.CPUPerSMP.Max, host.Mem.Max)
	}
	return []connectors.Offer{{
		Name:   "cloudsigma",
		CPU:    cores,
		RAMMB:  int(host.Mem.Max / (1 << 20)),
		DiskGB: int(driveMax(caps) / (1 << 30)),
		Free:   true,
	}}, nil
}

// driveMax is the largest drive of the default storage type (of any type
// when the default is not listed), in bytes; 0 when unknown.
func driveMax(caps *csapi.Capabilities) float64 {
	limit := func(d csapi.DriveLimits) float64 { return max(d.Size.Max, d.MaxSize) }
	if d, ok := caps.Drives[caps.DefaultStorageType]; ok {
		return limit(d)
	}
	best := 0.0
	for _, d := range caps.Drives {
		best = max(best, limit(d))
	}
	return best
}

// capabilities are the location's, read at most every capsTTL.
func (c *Connector) capabilities(ctx context.Context) (*csapi.Capabilities, error) {
	c.mu.Lock()
	if c.caps != nil && time.Since(c.capsAt) < capsTTL {
		caps := c.caps
		c.mu.Unlock()
		return caps, nil
	}
	c.mu.Unlock()
	caps, err := c.api.Capabilities(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	c.mu.Lock()
	c.caps, c.capsAt = caps, time.Now()
	c.mu.Unlock()
	return caps, nil
}

package connectors

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Size is a recipe's generic sizing: cores, and gigabytes (GiB) of memory
// and disk. Zero means "no requirement".
type Size struct {
	CPU    int
	RAMGB  float64
	DiskGB int
}

func (s Size) String() string {
	var parts []string
	if s.CPU > 0 {
		parts = append(parts, fmt.Sprintf("cpu = %d", s.CPU))
	}
	if s.RAMGB > 0 {
		parts = append(parts, fmt.Sprintf("ram = %s GB", trimFloat(s.RAMGB)))
	}
	if s.DiskGB > 0 {
		parts = append(parts, fmt.Sprintf("disk = %d GB", s.DiskGB))
	}
	if len(parts) == 0 {
		return "no size"
	}
	return strings.Join(parts, ", ")
}

// ramMB is the memory asked for, in MiB, rounded up.
func (s Size) ramMB() int { return int(math.Ceil(s.RAMGB * 1024)) }

// Offer is one machine size a cloud offers: an EC2 instance type, a Nova
// flavor, or, with Free, the limits within which a cloud sizes machines
// as asked.
type Offer struct {
	Name  string
	CPU   int
	RAMMB int
	// DiskGB is the root disk the offer comes with; 0 when the disk is
	// sized on its own (EBS volumes, boot-from-volume), which fits any
	// disk asked for.
	DiskGB int
	// Free marks a cloud without fixed sizes: CPU, RAMMB and DiskGB are
	// then the largest machine it makes, and PickOffer returns the size
	// asked for.
	Free bool
}

func (o Offer) String() string {
	s := fmt.Sprintf("%d CPU, %s GB RAM", o.CPU, trimFloat(float64(o.RAMMB)/1024))
	if o.DiskGB > 0 {
		s += fmt.Sprintf(", %d GB disk", o.DiskGB)
	}
	return s
}

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.2f", f), ".00") }

func (o Offer) fits(want Size) bool {
	return o.CPU >= want.CPU && o.RAMMB >= want.ramMB() && (o.DiskGB == 0 || o.DiskGB >= want.DiskGB)
}

// PickOffer chooses the smallest offer that fits want: least memory, then
// fewest cores, then least disk, then by name, so the choice is the same
// on every run. For a cloud with Free sizing it returns an offer of
// exactly the size asked for (at least 1 core and 1 GB) when it is within
// the cloud's limits. When nothing fits, the error (KindPermanent, code
// NoFittingOffer) names the largest offer. cloud names the connector in
// messages.
func PickOffer(cloud string, offers []Offer, want Size) (Offer, error) {
	if len(offers) == 1 && offers[0].Free {
		limit := offers[0]
		got := Offer{Name: "", CPU: max(want.CPU, 1), RAMMB: max(want.ramMB(), 1024), DiskGB: want.DiskGB, Free: true}
		if !limit.fits(Size{CPU: got.CPU, RAMGB: float64(got.RAMMB) / 1024, DiskGB: got.DiskGB}) {
			return Offer{}, &Error{Cloud: cloud, Op: "sizing", Kind: KindPermanent, Code: "NoFittingOffer",
				Message: fmt.Sprintf("no machine of this cloud fits %s: the largest it makes is %s", want, limit)}
		}
		return got, nil
	}
	var fit []Offer
	for _, o := range offers {
		if !o.Free && o.fits(want) {
			fit = append(fit, o)
		}
	}
	if len(fit) == 0 {
		if len(offers) == 0 {
			return Offer{}, &Error{Cloud: cloud, Op: "sizing", Kind: KindPermanent, Code: "NoFittingOffer",
				Message: fmt.Sprintf("the cloud lists no machine sizes to fit %s; set the instance type explicitly", want)}
		}
		largest := slices.MaxFunc(offers, func(a, b Offer) int {
			return cmp.Or(cmp.Compare(a.RAMMB, b.RAMMB), cmp.Compare(a.CPU, b.CPU), cmp.Compare(a.DiskGB, b.DiskGB), cmp.Compare(b.Name, a.Name))
		})
		return Offer{}, &Error{Cloud: cloud, Op: "sizing", Kind: KindPermanent, Code: "NoFittingOffer",
			Message: fmt.Sprintf("no instance type fits %s: the largest offered is %s (%s)", want, largest.Name, largest)}
	}
	return slices.MinFunc(fit, func(a, b Offer) int {
		return cmp.Or(cmp.Compare(a.RAMMB, b.RAMMB), cmp.Compare(a.CPU, b.CPU), cmp.Compare(a.DiskGB, b.DiskGB), cmp.Compare(a.Name, b.Name))
	}), nil
}

// MachineName is the name (and hostname) of an instance's machine: the
// deployment id and instance name in lower-case letters, digits and
// dashes, at most 63 characters (a DNS label), e.g. "lamp-1a2b3c4d-web-2".
func MachineName(deployment, instance string) string {
	var b strings.Builder
	dash := true // no leading dash, no doubled dashes
	for _, r := range strings.ToLower(deployment + "-" + instance) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if len(name) > 63 {
		// Keep it unique: the end (the instance) and a hash of the whole.
		sum := sha256.Sum256([]byte(deployment + "/" + instance))
		name = strings.TrimRight(name[:46], "-") + "-" + hex.EncodeToString(sum[:])[:16]
	}
	if name == "" {
		name = "machine"
	}
	return name
}

// SpecHash is a short hash of what a machine is created from (image,
// type, size, user-data, key, settings, labels other than LabelSpec). It
// is stored as LabelSpec, so that a machine found with the instance's
// labels but made from another spec is not mistaken for the one a create
// would make.
func SpecHash(spec MachineSpec) string {
	labels := map[string]string{}
	for k, v := range spec.Labels {
		if k != LabelSpec {
			labels[k] = v
		}
	}
	// encoding/json sorts map keys, so the hash does not depend on map order.
	b, _ := json.Marshal(struct {
		Deployment, Instance, Name, Image, UserData, Key, Type string
		Size                                                   Size
		Settings                                               Settings
		Labels                                                 map[string]string
	}{spec.Deployment, spec.Instance, spec.Name, spec.ImageID, spec.UserData, spec.SSHPublicKey, spec.Type, spec.Size, spec.Settings, labels})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:20]
}

// BatchNames are n names for the machines of one batch of a pool: base
// (cut to fit) and a dash and maxLen-… random hex digits, each name at most
// maxLen characters (63 for a DNS label). They never repeat, within a
// batch or across the batches a pool starts in, which clouds that refuse a
// second machine of a name (CloudStack in one network, Azure in one
// resource group) need, and which tells machines apart in every cloud's
// console.
func BatchNames(base string, n, maxLen int) []string {
	const suffixLen = 1 + 8 // "-" and 4 random bytes in hex
	names := make([]string, n)
	for i := range names {
		var r [4]byte
		_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
		b := base
		if len(b)+suffixLen > maxLen {
			b = strings.TrimRight(b[:max(maxLen-suffixLen, 0)], "-")
		}
		names[i] = b + "-" + hex.EncodeToString(r[:])
	}
	return names
}

package cloudstack

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// zone is a zone the account may deploy in.
type zone struct{ id, name string }

// zoneFor resolves the zone setting (a name or an id); empty is the
// cloud's only zone.
func (c *Connector) zoneFor(ctx context.Context, want string) (zone, error) {
	const op = "listZones"
	zones, err := c.listZones(ctx)
	if err != nil {
		return zone{}, err
	}
	var names []string
	for _, z := range zones {
		if want != "" && (z.id == want || z.name == want) {
			return z, nil
		}
		names = append(names, z.name)
	}
	switch {
	case len(zones) == 0:
		return zone{}, permanent(op, "NoZone", "the account can deploy in no zone")
	case want != "":
		return zone{}, permanent(op, "UnknownZone", "there is no zone %q; the zones are: %s", want, strings.Join(names, ", "))
	case len(zones) > 1:
		return zone{}, permanent(op, "ZoneRequired", "the cloud has %d zones (%s): set the zone setting", len(zones), strings.Join(names, ", "))
	}
	return zones[0], nil
}

func (c *Connector) listZones(ctx context.Context) ([]zone, error) {
	c.mu.Lock()
	if c.zones != nil && time.Since(c.zonesAt) < cacheFor {
		defer c.mu.Unlock()
		return c.zones, nil
	}
	c.mu.Unlock()
	var r *cloudstack.ListZonesResponse
	err := c.call(ctx, "listZones", func(cs *cloudstack.CloudStackClient) error {
		p := cs.Zone.NewListZonesParams()
		p.SetAvailable(true)
		var err error
		r, err = cs.Zone.ListZones(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	zones := make([]zone, 0, len(r.Zones))
	for _, z := range r.Zones {
		zones = append(zones, zone{id: z.Id, name: z.Name})
	}
	c.mu.Lock()
	c.zones, c.zonesAt = zones, time.Now()
	c.mu.Unlock()
	return zones, nil
}

// offering is a service offering: fixed cores and memory, or customized
// within limits.
type offering struct {
	id, name   string
	cpu, memMB int
	speedMHz   int
	rootDiskGB int
	customized bool
	minCPU     int
	maxCPU     int
	minMemMB   int
	maxMemMB   int
}

// listOfferings lists the account's service offerings (cached).
func (c *Connector) listOfferings(ctx context.Context) ([]offering, error) {
	c.mu.Lock()
	if c.offerings != nil && time.Since(c.offeringsAt) < cacheFor {
		defer c.mu.Unlock()
		return c.offerings, nil
	}
	c.mu.Unlock()
	var r *cloudstack.ListServiceOfferingsResponse
	err := c.call(ctx, "listServiceOfferings", func(cs *cloudstack.CloudStackClient) error {
		var err error
		r, err = cs.ServiceOffering.ListServiceOfferings(cs.ServiceOffering.NewListServiceOfferingsParams())
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]offering, 0, len(r.ServiceOfferings))
	for _, so := range r.ServiceOfferings {
		o := offering{id: so.Id, name: so.Name, cpu: so.Cpunumber, memMB: so.Memory, speedMHz: so.Cpuspeed,
			rootDiskGB: int(so.Rootdisksize), customized: so.Iscustomized}
		if o.customized {
			// The limits are in the offering's details; an offering
			// customized without limits takes the cloud's maximums,
			// which only the deploy will tell.
			d := so.Serviceofferingdetails
			o.minCPU, o.maxCPU = atoiOr(d["mincpunumber"], 1), atoiOr(d["maxcpunumber"], 1024)
			o.minMemMB, o.maxMemMB = atoiOr(d["minmemory"], 512), atoiOr(d["maxmemory"], 1<<22)
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b offering) int { return strings.Compare(a.id, b.id) })
	c.mu.Lock()
	c.offerings, c.offeringsAt = out, time.Now()
	c.mu.Unlock()
	return out, nil
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}

// Offers lists the service offerings with fixed cores and memory; when
// the cloud has none but customized ones, the largest customized
// offering's limits as one Free offer.
func (c *Connector) Offers(ctx context.Context) ([]connectors.Offer, error) {
	all, err := c.listOfferings(ctx)
	if err != nil {
		return nil, err
	}
	var out []connectors.Offer
	for _, o := range all {
		if !o.customized {
			out = append(out, connectors.Offer{Name: o.name, CPU: o.cpu, RAMMB: o.memMB, DiskGB: o.rootDiskGB})
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if custom, ok := largestCustomized(all); ok {
		return []connectors.Offer{{Name: custom.name, CPU: custom.maxCPU, RAMMB: custom.maxMemMB, DiskGB: custom.rootDiskGB, Free: true}}, nil
	}
	return nil, nil
}

// largestCustomized is the customized offering with the largest limits.
func largestCustomized(all []offering) (offering, bool) {
	var best offering
	found := false
	for _, o := range all {
		if o.customized && (!found || o.maxMemMB > best.maxMemMB || (o.maxMemMB == best.maxMemMB && o.maxCPU > best.maxCPU)) {
			best, found = o, true
		}
	}
	return best, found
}

// offeringFor resolves the service offering of a machine: typ (an
// offering's name or id, from the service_offering setting or chosen by
// the provider from Offers), else the smallest that fits size. For a
// customized offering it also returns the details that size the VM.
func (c *Connector) offeringFor(ctx context.Context, typ string, size connectors.Size) (offering, map[string]string, error) {
	const op = "listServiceOfferings"
	all, err := c.listOfferings(ctx)
	if err != nil {
		return offering{}, nil, err
	}
	var chosen offering
	if typ != "" {
		var matches []offering
		for _, o := range all {
			if o.id == typ || o.name == typ {
				matches = append(matches, o)
			}
		}
		switch len(matches) {
		case 0:
			names := make([]string, 0, len(all))
			for _, o := range all {
				names = append(names, o.name)
			}
			return offering{}, nil, permanent(op, "UnknownServiceOffering", "there is no service offering %q; the offerings are: %s", typ, strings.Join(names, ", "))
		case 1:
			chosen = matches[0]
		default:
			ids := make([]string, len(matches))
			for i, o := range matches {
				ids[i] = o.id
			}
			return offering{}, nil, permanent(op, "AmbiguousServiceOffering", "%d service offerings are named %q (%s): give the id", len(matches), typ, strings.Join(ids, ", "))
		}
	} else {
		offers, err := c.Offers(ctx)
		if err != nil {
			return offering{}, nil, err
		}
		pick, err := connectors.PickOffer(Name, offers, size)
		if err != nil {
			return offering{}, nil, err
		}
		if pick.Free {
			// Offers' one Free offer is the largest customized offering.
			chosen, _ = largestCustomized(all)
		}
		for _, o := range all {
			if !pick.Free && !o.customized && o.name == pick.Name {
				chosen = o
				break
			}
		}
	}
	if !chosen.customized {
		return chosen, nil, nil
	}
	cpu := max(size.CPU, chosen.minCPU, 1)
	mem := max(int(math.Ceil(size.RAMGB*1024)), chosen.minMemMB, 1024)
	if cpu > chosen.maxCPU || mem > chosen.maxMemMB {
		return offering{}, nil, permanent(op, "NoFittingOffer", "the customized offering %s takes at most %d cores and %d MB; asked for %s",
			chosen.name, chosen.maxCPU, chosen.maxMemMB, size)
	}
	details := map[string]string{"cpuNumber": strconv.Itoa(cpu), "memory": strconv.Itoa(mem)}
	if chosen.speedMHz == 0 {
		// A fully customized offering also takes the speed.
		details["cpuSpeed"] = "2000"
	}
	return chosen, details, nil
}

// templateInfo is what a create needs of a template.
type templateInfo struct {
	id, name  string
	sizeBytes int64
	osTypeID  string
}

// template reads a template the account may deploy from (cached once it
// is ready). An unknown id is a permanent error that names it.
func (c *Connector) template(ctx context.Context, id string) (templateInfo, error) {
	const op = "listTemplates"
	c.mu.Lock()
	t, ok := c.templates[id]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	if id == "" {
		return templateInfo{}, permanent(op, "NoImage", "the machine has no image (template id)")
	}
	if err := checkSignable(op, "template id", id); err != nil {
		return templateInfo{}, err
	}
	var r *cloudstack.ListTemplatesResponse
	err := c.call(ctx, op, func(cs *cloudstack.CloudStackClient) error {
		p := cs.Template.NewListTemplatesParams("executable")
		p.SetId(id)
		var err error
		r, err = cs.Template.ListTemplates(p)
		return err
	})
	if noSuchEntity(err) || (err == nil && len(r.Templates) == 0) {
		return templateInfo{}, permanent(op, "UnknownImage", "template %s (the image) does not exist or is not usable by this account", id)
	}
	if err != nil {
		return templateInfo{}, err
	}
	tm := r.Templates[0]
	if !tm.Isready {
		return templateInfo{}, &connectors.Error{Cloud: Name, Op: op, Code: "TemplateNotReady", Kind: connectors.KindTransient,
			Message: "template " + id + " (" + tm.Name + ") is not ready yet: " + tm.Status}
	}
	t = templateInfo{id: tm.Id, name: tm.Name, sizeBytes: tm.Size, osTypeID: tm.Ostypeid}
	c.mu.Lock()
	c.templates[id] = t
	c.mu.Unlock()
	return t, nil
}

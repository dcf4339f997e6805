package openstack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opFlavors = "GET /flavors/detail"

// flavorCache keeps the flavor list: Create turns flavor names into ids
// with it, and Describe (before microversion 2.47) ids into names.
type flavorCache struct {
	mu   sync.Mutex
	list []flavors.Flavor
}

// listFlavors asks Nova for every flavor (all pages) and caches them.
func (c *Connector) listFlavors(ctx context.Context) ([]flavors.Flavor, error) {
	var all []flavors.Flavor
	err := flavors.ListDetail(c.compute, nil).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		fl, err := flavors.ExtractFlavors(p)
		all = append(all, fl...)
		return true, err
	})
	if err != nil {
		return nil, apiError(opFlavors, err)
	}
	c.flavors.mu.Lock()
	c.flavors.list = all
	c.flavors.mu.Unlock()
	return all, nil
}

// cachedFlavors is the cached list, listed when there is none yet.
func (c *Connector) cachedFlavors(ctx context.Context) ([]flavors.Flavor, bool, error) {
	c.flavors.mu.Lock()
	list := c.flavors.list
	c.flavors.mu.Unlock()
	if list != nil {
		return list, true, nil
	}
	list, err := c.listFlavors(ctx)
	return list, false, err
}

// Offers lists the flavors: cores, memory (MB) and root disk (GB; 0, a
// disk sized by the image or a volume, fits any disk asked for).
func (c *Connector) Offers(ctx context.Context) ([]connectors.Offer, error) {
	list, err := c.listFlavors(ctx)
	if err != nil {
		return nil, err
	}
	return offersOf(list), nil
}

func offersOf(list []flavors.Flavor) []connectors.Offer {
	out := make([]connectors.Offer, 0, len(list))
	for _, f := range list {
		out = append(out, connectors.Offer{Name: f.Name, CPU: f.VCPUs, RAMMB: f.RAM, DiskGB: f.Disk})
	}
	return out
}

// flavorFor is the flavor a machine is made with: spec.Type (or the flavor
// setting) by name, or by id; without either, the smallest that fits
// spec.Size. An unknown name is a permanent error listing the flavors.
func (c *Connector) flavorFor(ctx context.Context, spec connectors.MachineSpec) (flavors.Flavor, error) {
	want := coalesce(spec.Type, spec.Settings.String("flavor"))
	list, cached, err := c.cachedFlavors(ctx)
	if err != nil {
		return flavors.Flavor{}, err
	}
	if want == "" {
		offer, err := connectors.PickOffer(cloudName, offersOf(list), spec.Size)
		if err != nil {
			return flavors.Flavor{}, err
		}
		want = offer.Name
	}
	find := func(list []flavors.Flavor) (flavors.Flavor, bool) {
		if i := slices.IndexFunc(list, func(f flavors.Flavor) bool { return f.Name == want }); i >= 0 {
			return list[i], true
		}
		if i := slices.IndexFunc(list, func(f flavors.Flavor) bool { return f.ID == want }); i >= 0 {
			return list[i], true
		}
		return flavors.Flavor{}, false
	}
	if f, ok := find(list); ok {
		return f, nil
	}
	if cached { // the cloud may have a new flavor since
		if list, err = c.listFlavors(ctx); err != nil {
			return flavors.Flavor{}, err
		}
		if f, ok := find(list); ok {
			return f, nil
		}
	}
	names := make([]string, 0, len(list))
	for _, f := range list {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return flavors.Flavor{}, &connectors.Error{Cloud: cloudName, Op: opFlavors, Code: "FlavorNotFound", Kind: connectors.KindPermanent,
		Message: fmt.Sprintf("no flavor %q; the cloud offers %s", want, strings.Join(names, ", "))}
}

// flavorName is the name of the flavor id, from the cache (listed again
// once when the id is not in it); the id itself when no flavor has it
// (a flavor deleted since).
func (c *Connector) flavorName(ctx context.Context, id string) string {
	list, cached, err := c.cachedFlavors(ctx)
	for attempt := 0; err == nil && attempt < 2; attempt++ {
		for _, f := range list {
			if f.ID == id {
				return f.Name
			}
		}
		if !cached {
			break
		}
		list, err = c.listFlavors(ctx)
		cached = false
	}
	return id
}

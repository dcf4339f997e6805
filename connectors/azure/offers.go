package azure

import (
	"context"
	"slices"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Offers lists the location's VM sizes (VirtualMachineSizes), once per
// connector. Their disk is sized on its own (the OS disk is a managed
// disk of Size.DiskGB), so every offer fits any disk.
func (c *Connector) Offers(ctx context.Context) ([]connectors.Offer, error) {
	c.mu.Lock()
	cached := c.offers
	c.mu.Unlock()
	if cached != nil {
		return slices.Clone(cached), nil
	}
	var offers []connectors.Offer
	pages := c.sizes.NewListPager(c.location, nil)
	for pages.More() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apiError(ctx, "VirtualMachineSizes.List", err)
		}
		for _, s := range page.Value {
			if s == nil || s.Name == nil || s.NumberOfCores == nil || s.MemoryInMB == nil {
				continue
			}
			offers = append(offers, connectors.Offer{Name: *s.Name, CPU: int(*s.NumberOfCores), RAMMB: int(*s.MemoryInMB)})
		}
	}
	slices.SortFunc(offers, func(a, b connectors.Offer) int { return strings.Compare(a.Name, b.Name) })
	c.mu.Lock()
	c.offers = offers
	c.mu.Unlock()
	return slices.Clone(offers), nil
}

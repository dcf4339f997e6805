package openstack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opNetworks = "GET /v2.0/networks"

// netInfo is a Neutron network, as far as the connector cares.
type netInfo struct {
	ID, Name string
	External bool
}

// networkCache keeps the project's network list: networks change far
// less often than machines are made.
type networkCache struct {
	mu   sync.Mutex
	list []netInfo
}

func (c *Connector) listNetworks(ctx context.Context) ([]netInfo, error) {
	client, err := c.needNetwork(opNetworks)
	if err != nil {
		return nil, err
	}
	var all []netInfo
	err = networks.List(client, nil).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		var page []struct {
			networks.Network
			external.NetworkExternalExt
		}
		if err := networks.ExtractNetworksInto(p, &page); err != nil {
			return false, err
		}
		for _, n := range page {
			all = append(all, netInfo{ID: n.ID, Name: n.Name, External: n.External})
		}
		return true, nil
	})
	if err != nil {
		return nil, apiError(opNetworks, err)
	}
	c.networks.mu.Lock()
	c.networks.list = all
	c.networks.mu.Unlock()
	return all, nil
}

// findNetwork looks a network up by id or name in the cached list, and in
// a fresh one when the cache does not have it.
func (c *Connector) findNetwork(ctx context.Context, pick func([]netInfo) ([]netInfo, error)) ([]netInfo, []netInfo, error) {
	c.networks.mu.Lock()
	list := c.networks.list
	c.networks.mu.Unlock()
	if list != nil {
		if found, err := pick(list); err == nil && len(found) > 0 {
			return found, list, nil
		}
	}
	list, err := c.listNetworks(ctx)
	if err != nil {
		return nil, nil, err
	}
	found, err := pick(list)
	return found, list, err
}

func byIDOrName(want string) func([]netInfo) ([]netInfo, error) {
	return func(list []netInfo) ([]netInfo, error) {
		if i := slices.IndexFunc(list, func(n netInfo) bool { return n.ID == want }); i >= 0 {
			return list[i : i+1], nil
		}
		var named []netInfo
		for _, n := range list {
			if n.Name == want {
				named = append(named, n)
			}
		}
		return named, nil
	}
}

func describeNetworks(list []netInfo) string {
	var s []string
	for _, n := range list {
		s = append(s, fmt.Sprintf("%s (%s)", n.Name, n.ID))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// networkFor is the network a server is attached to: the network setting
// by id or name, or the project's only network (not counting external
// ones, which floating IPs come from).
func (c *Connector) networkFor(ctx context.Context, want string) (netInfo, error) {
	fail := func(format string, args ...any) (netInfo, error) {
		return netInfo{}, &connectors.Error{Cloud: cloudName, Op: opNetworks, Code: "NetworkNotFound", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf(format, args...)}
	}
	if want == "" {
		tenant, _, err := c.findNetwork(ctx, func(list []netInfo) ([]netInfo, error) {
			var out []netInfo
			for _, n := range list {
				if !n.External {
					out = append(out, n)
				}
			}
			return out, nil
		})
		switch {
		case err != nil:
			return netInfo{}, err
		case len(tenant) == 0:
			return fail("the project has no network to attach servers to; set network")
		case len(tenant) > 1:
			return fail("the project has several networks, set network to one of them: %s", describeNetworks(tenant))
		}
		return tenant[0], nil
	}
	found, list, err := c.findNetwork(ctx, byIDOrName(want))
	switch {
	case err != nil:
		return netInfo{}, err
	case len(found) == 0:
		return fail("no network %q; the project's networks are %s", want, describeNetworks(list))
	case len(found) > 1:
		return fail("several networks are named %q; set network to the id of one: %s", want, describeNetworks(found))
	}
	return found[0], nil
}

// poolFor is the external network named by floating_ip_pool.
func (c *Connector) poolFor(ctx context.Context, want string) (netInfo, error) {
	found, list, err := c.findNetwork(ctx, byIDOrName(want))
	if err != nil {
		return netInfo{}, err
	}
	var external []netInfo
	for _, n := range list {
		if n.External {
			external = append(external, n)
		}
	}
	switch {
	case len(found) == 1 && found[0].External:
		return found[0], nil
	case len(found) == 1:
		return netInfo{}, &connectors.Error{Cloud: cloudName, Op: opNetworks, Code: "NotExternalNetwork", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("floating_ip_pool %q is not an external network; external networks: %s", want, describeNetworks(external))}
	case len(found) > 1:
		return netInfo{}, &connectors.Error{Cloud: cloudName, Op: opNetworks, Code: "NetworkNotFound", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("several networks are named %q; set floating_ip_pool to the id of one: %s", want, describeNetworks(found))}
	}
	return netInfo{}, &connectors.Error{Cloud: cloudName, Op: opNetworks, Code: "NetworkNotFound", Kind: connectors.KindPermanent,
		Message: fmt.Sprintf("no floating_ip_pool network %q; external networks: %s", want, describeNetworks(external))}
}

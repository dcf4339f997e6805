package openstack

import (
	"context"
	"net/http"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

const (
	opFloatingIPs = "GET /v2.0/floatingips"
	opNewFIP      = "POST /v2.0/floatingips"
	opPorts       = "GET /v2.0/ports"
)

// fipDescription ties a floating IP to its server: Delete releases every
// floating IP so described once the server is gone, whoever allocated it.
func fipDescription(serverID string) string { return "slipstream server " + serverID }

// floatingIPsOf lists the floating IPs tied to the server.
func (c *Connector) floatingIPsOf(ctx context.Context, serverID string) ([]floatingips.FloatingIP, error) {
	client, err := c.needNetwork(opFloatingIPs)
	if err != nil {
		return nil, err
	}
	var out []floatingips.FloatingIP
	err = floatingips.List(client, floatingips.ListOpts{Description: fipDescription(serverID)}).EachPage(ctx,
		func(_ context.Context, p pagination.Page) (bool, error) {
			page, err := floatingips.ExtractFloatingIPs(p)
			out = append(out, page...)
			return true, err
		})
	if err != nil {
		return nil, apiError(opFloatingIPs, err)
	}
	return out, nil
}

// ensureFloatingIP gives the server a floating IP from the pool (the one
// tied to it, or a new one) and associates it with the server's port when
// the port exists. It returns the address once associated, "" while the
// port does not exist yet. Calling it again is harmless.
func (c *Connector) ensureFloatingIP(ctx context.Context, serverID, poolID string) (string, error) {
	client, err := c.needNetwork(opNewFIP)
	if err != nil {
		return "", err
	}
	fips, err := c.floatingIPsOf(ctx, serverID)
	if err != nil {
		return "", err
	}
	for _, f := range fips {
		if f.PortID != "" {
			return f.FloatingIP, nil
		}
	}
	var fip *floatingips.FloatingIP
	created := false
	if len(fips) > 0 {
		fip = &fips[0]
	} else {
		fip, err = floatingips.Create(ctx, client, floatingips.CreateOpts{FloatingNetworkID: poolID, Description: fipDescription(serverID)}).Extract()
		if err != nil {
			return "", apiError(opNewFIP, err)
		}
		created = true
	}
	port, err := c.portOf(ctx, serverID)
	if err != nil || port == "" {
		return "", err
	}
	_, err = floatingips.Update(ctx, client, fip.ID, floatingips.UpdateOpts{PortID: &port}).Extract()
	if statusOf(err) == http.StatusConflict {
		// Another floating IP got to the port first (a concurrent
		// Describe): ours is not needed.
		if created {
			floatingips.Delete(ctx, client, fip.ID)
		}
		return "", nil
	}
	if err != nil {
		return "", apiError("PUT /v2.0/floatingips/{id}", err)
	}
	return fip.FloatingIP, nil
}

// portOf is the id of the server's (first) port, "" while it has none.
func (c *Connector) portOf(ctx context.Context, serverID string) (string, error) {
	client, err := c.needNetwork(opPorts)
	if err != nil {
		return "", err
	}
	page, err := ports.List(client, ports.ListOpts{DeviceID: serverID}).AllPages(ctx)
	if err != nil {
		return "", apiError(opPorts, err)
	}
	list, err := ports.ExtractPorts(page)
	if err != nil || len(list) == 0 {
		return "", apiError(opPorts, err)
	}
	return list[0].ID, nil
}

// releaseFloatingIPs deletes the floating IPs tied to a server.
func (c *Connector) releaseFloatingIPs(ctx context.Context, serverID string) error {
	if c.network == nil {
		return nil // no Neutron, no floating IPs
	}
	fips, err := c.floatingIPsOf(ctx, serverID)
	if err != nil {
		return err
	}
	for _, f := range fips {
		err := floatingips.Delete(ctx, c.network, f.ID).ExtractErr()
		if err != nil && statusOf(err) != http.StatusNotFound {
			return apiError("DELETE /v2.0/floatingips/{id}", err)
		}
	}
	return nil
}

package openstackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// floatingIPView is a floating IP as Neutron shows it: associated only
// while the server of its port exists.
func (c *call) floatingIPView(fip *floatingIP) map[string]any {
	f := c.f
	t := fip.Created.Format(novaTime)
	v := map[string]any{
		"id": fip.ID, "floating_ip_address": fip.Address, "floating_network_id": fip.NetworkID,
		"router_id": nil, "port_id": nil, "fixed_ip_address": nil, "status": "DOWN",
		"tenant_id": f.projectID, "project_id": f.projectID, "description": fip.Description,
		"tags": []string{}, "port_details": nil, "dns_domain": "", "dns_name": "",
		"created_at": t, "updated_at": t, "revision_number": fip.Revision,
	}
	if fip.PortID != "" {
		if m, err := f.cloud.Machine(fip.ServerID); err == nil && m.State != fakecloud.Terminated && m.PrivateIP != "" {
			v["port_id"], v["fixed_ip_address"], v["status"] = fip.PortID, m.PrivateIP, "ACTIVE"
			v["router_id"] = derivedID("router", f.projectID)
		}
	}
	return v
}

func (c *call) listFloatingIPs() {
	c.f.mu.Lock()
	fips := make([]*floatingIP, 0, len(c.f.floatingIPs))
	for _, fip := range c.f.floatingIPs {
		cp := *fip
		fips = append(fips, &cp)
	}
	c.f.mu.Unlock()
	var views []map[string]any
	for _, fip := range fips {
		views = append(views, c.floatingIPView(fip))
	}
	listOf(c, "floatingips", views, c.floatingIPView(&floatingIP{}))
}

func (c *call) floatingIPByID(id string) (*floatingIP, bool) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	fip, ok := c.f.floatingIPs[id]
	if !ok {
		return nil, false
	}
	cp := *fip
	return &cp, true
}

func (c *call) fipNotFound(id string) {
	c.d.writeTypedError(c.w, http.StatusNotFound, "FloatingIPNotFound", fmt.Sprintf("Floating IP %s could not be found", id))
}

func (c *call) getFloatingIP() {
	fip, ok := c.floatingIPByID(c.params["id"])
	if !ok {
		c.fipNotFound(c.params["id"])
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"floatingip": c.floatingIPView(fip)})
}

// fipRequest is a floating IP's attributes in a create or an update.
type fipRequest struct {
	FloatingNetworkID *string         `json:"floating_network_id"`
	Description       *string         `json:"description"`
	PortID            json.RawMessage `json:"port_id"` // a string, or null to disassociate
	FixedIP           *string         `json:"fixed_ip_address"`
	FloatingIP        *string         `json:"floating_ip_address"`
	SubnetID          *string         `json:"subnet_id"`
	ProjectID         *string         `json:"project_id"`
	TenantID          *string         `json:"tenant_id"`
}

var fipAttributes = []string{"floating_network_id", "description", "port_id", "fixed_ip_address",
	"floating_ip_address", "subnet_id", "project_id", "tenant_id"}

// decodeFIP reads {"floatingip": {…}}, refusing attributes Neutron does
// not know as Neutron does.
func (c *call) decodeFIP() (*fipRequest, map[string]json.RawMessage, bool) {
	var top map[string]json.RawMessage
	if err := decodeJSON(c.r, &top); err != nil {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", jsonError(err))
		return nil, nil, false
	}
	raw, ok := top["floatingip"]
	if !ok || len(top) != 1 {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", "Resource body required")
		return nil, nil, false
	}
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &attrs); err != nil || attrs == nil {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", "Body contains invalid data")
		return nil, nil, false
	}
	for k := range attrs {
		if !slices.Contains(fipAttributes, k) {
			c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("Unrecognized attribute(s) '%s'", k))
			return nil, nil, false
		}
	}
	var req fipRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", "Invalid input for operation: "+jsonError(err))
		return nil, nil, false
	}
	return &req, attrs, true
}

// portOf reads port_id: "" with set=false when absent, "" with set=true
// for null (disassociate).
func (c *call) portOf(req *fipRequest) (port string, set, ok bool) {
	if len(req.PortID) == 0 {
		return "", false, true
	}
	if string(req.PortID) == "null" {
		return "", true, true
	}
	if err := json.Unmarshal(req.PortID, &port); err != nil {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", "Invalid input for port_id. Reason: '"+string(req.PortID)+"' is not a valid UUID.")
		return "", false, false
	}
	return port, true, true
}

func (c *call) createFloatingIP() {
	req, _, ok := c.decodeFIP()
	if !ok {
		return
	}
	if req.FloatingNetworkID == nil {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", "Failed to parse request. Required attribute 'floating_network_id' not specified")
		return
	}
	n, found := c.f.networkByID(*req.FloatingNetworkID)
	if !found {
		c.d.writeTypedError(c.w, http.StatusNotFound, "NetworkNotFound", fmt.Sprintf("Network %s could not be found.", *req.FloatingNetworkID))
		return
	}
	if !n.External {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Bad floatingip request: Network %s is not a valid external network.", n.ID))
		return
	}
	port, portSet, ok := c.portOf(req)
	if !ok {
		return
	}
	fip := &floatingIP{ID: NewID("floatingip"), NetworkID: n.ID, Created: time.Now().UTC(), Revision: 0}
	if req.Description != nil {
		fip.Description = *req.Description
	}
	if portSet && port != "" && !c.associate(fip, port) {
		return
	}
	f := c.f
	f.mu.Lock()
	addr, ok := f.allocateAddress(n)
	if ok {
		fip.Address = addr
		f.floatingIPs[fip.ID] = fip
	}
	f.mu.Unlock()
	if !ok {
		c.d.writeTypedError(c.w, http.StatusConflict, "IpAddressGenerationFailure", fmt.Sprintf("No more IP addresses available on network %s.", n.ID))
		return
	}
	writeJSON(c.w, http.StatusCreated, map[string]any{"floatingip": c.floatingIPView(fip)})
}

// allocateAddress takes the next free address of the external network;
// f.mu is held.
func (f *Fake) allocateAddress(n *network) (string, bool) {
	used := map[string]bool{}
	for _, fip := range f.floatingIPs {
		used[fip.Address] = true
	}
	for range 245 {
		addr := fmt.Sprintf("203.0.113.%d", n.externalIP)
		n.externalIP++
		if n.externalIP > 254 {
			n.externalIP = 10
		}
		if !used[addr] {
			return addr, true
		}
	}
	return "", false
}

// associate ties fip to the port, as Neutron checks it: the port exists
// and has no other floating IP. It answers the error itself.
func (c *call) associate(fip *floatingIP, port string) bool {
	_, m, ok := c.portByID(port)
	if !ok {
		c.d.writeTypedError(c.w, http.StatusNotFound, "PortNotFound", fmt.Sprintf("Port %s could not be found.", port))
		return false
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	for _, other := range c.f.floatingIPs {
		if other.ID != fip.ID && other.PortID == port && other.ServerID == m.ID {
			c.d.writeTypedError(c.w, http.StatusConflict, "FloatingIPPortAlreadyAssociated", fmt.Sprintf(
				"Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
				fip.Address, fip.ID, port, m.PrivateIP, other.NetworkID))
			return false
		}
	}
	fip.PortID, fip.ServerID = port, m.ID
	return true
}

func (c *call) updateFloatingIP() {
	id := c.params["id"]
	current, found := c.floatingIPByID(id)
	if !found {
		c.fipNotFound(id)
		return
	}
	req, _, ok := c.decodeFIP()
	if !ok {
		return
	}
	if req.FloatingNetworkID != nil {
		c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", "Cannot update read-only attribute floating_network_id")
		return
	}
	port, portSet, ok := c.portOf(req)
	if !ok {
		return
	}
	upd := *current
	if portSet {
		upd.PortID, upd.ServerID = "", ""
		if port != "" && !c.associate(&upd, port) {
			return
		}
	}
	if req.Description != nil {
		upd.Description = *req.Description
	}
	c.f.mu.Lock()
	fip, still := c.f.floatingIPs[id]
	if still {
		fip.PortID, fip.ServerID, fip.Description = upd.PortID, upd.ServerID, upd.Description
		fip.Revision++
		upd = *fip
	}
	c.f.mu.Unlock()
	if !still {
		c.fipNotFound(id)
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"floatingip": c.floatingIPView(&upd)})
}

func (c *call) deleteFloatingIP() {
	id := c.params["id"]
	c.f.mu.Lock()
	_, ok := c.f.floatingIPs[id]
	delete(c.f.floatingIPs, id)
	c.f.mu.Unlock()
	if !ok {
		c.fipNotFound(id)
		return
	}
	writeNoContent(c.w, http.StatusNoContent)
}

// FloatingIPs lists the floating addresses allocated, for tests.
func (f *Fake) FloatingIPs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, fip := range f.floatingIPs {
		out = append(out, fip.Address)
	}
	slices.Sort(out)
	return out
}

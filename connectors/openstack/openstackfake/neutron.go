package openstackfake

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// network is a Neutron network with its one subnet.
type network struct {
	ID, Name   string
	External   bool
	SubnetID   string
	CIDR       string
	Created    time.Time
	externalIP int // the next floating address's last byte (external networks)
}

// floatingIP is a Neutron floating IP. ServerID is the server whose port
// it was associated with: the association ends when the server (and so
// its port) is gone, as Neutron's does.
type floatingIP struct {
	ID, Address, NetworkID, Description string
	PortID, ServerID                    string
	Created                             time.Time
	Revision                            int
}

func (f *Fake) makeNetworks() []*network {
	now := time.Now().UTC()
	var nets []*network
	for i, name := range append([]string{f.opts.NetworkName}, f.opts.ExtraNetworks...) {
		nets = append(nets, &network{ID: NewID("network"), Name: name, SubnetID: NewID("subnet"),
			CIDR: fmt.Sprintf("10.%d.0.0/24", i), Created: now})
	}
	nets = append(nets, &network{ID: NewID("network"), Name: f.opts.ExternalNetworkName, External: true,
		SubnetID: NewID("subnet"), CIDR: "203.0.113.0/24", Created: now, externalIP: 10})
	return nets
}

func (f *Fake) networkByID(id string) (*network, bool) {
	for _, n := range f.networks {
		if n.ID == id {
			return n, true
		}
	}
	return nil, false
}

// tenantNetworks are the project's own networks (not external).
func (f *Fake) tenantNetworks() []*network {
	var out []*network
	for _, n := range f.networks {
		if !n.External {
			out = append(out, n)
		}
	}
	return out
}

// portID is the id of a server's port: it exists as long as the server
// has booted and is not deleted.
func portID(serverID string) string { return derivedID("port", serverID) }

func (f *Fake) networkRoutes() []route {
	return []route{
		{pattern: "", op: "/network", public: true, methods: methods{"GET": (*call).networkVersions}},
		{pattern: "v2.0", op: "/v2.0", methods: methods{"GET": (*call).networkExtensions}},
		{pattern: "v2.0/networks", op: "/v2.0/networks", methods: methods{"GET": (*call).listNetworks}},
		{pattern: "v2.0/networks/{id}", op: "/v2.0/networks/{id}", methods: methods{"GET": (*call).getNetwork}},
		{pattern: "v2.0/ports", op: "/v2.0/ports", methods: methods{"GET": (*call).listPorts}},
		{pattern: "v2.0/ports/{id}", op: "/v2.0/ports/{id}", methods: methods{"GET": (*call).getPort}},
		{pattern: "v2.0/floatingips", op: "/v2.0/floatingips", methods: methods{
			"GET": (*call).listFloatingIPs, "POST": (*call).createFloatingIP}},
		{pattern: "v2.0/floatingips/{id}", op: "/v2.0/floatingips/{id}", methods: methods{
			"GET": (*call).getFloatingIP, "PUT": (*call).updateFloatingIP, "DELETE": (*call).deleteFloatingIP}},
	}
}

func (c *call) networkVersions() {
	writeJSON(c.w, http.StatusOK, map[string]any{"versions": []any{map[string]any{"id": "v2.0", "status": "CURRENT",
		"links": []any{map[string]any{"rel": "self", "href": c.base + "/network/v2.0/"}}}}})
}

func (c *call) networkExtensions() {
	writeJSON(c.w, http.StatusOK, map[string]any{"resources": []any{
		map[string]any{"name": "network", "collection": "networks"},
		map[string]any{"name": "port", "collection": "ports"},
	}})
}

func (c *call) networkView(n *network) map[string]any {
	f := c.f
	t := n.Created.Format(novaTime)
	return map[string]any{
		"id": n.ID, "name": n.Name, "status": "ACTIVE", "admin_state_up": true, "shared": false,
		"subnets": []string{n.SubnetID}, "tenant_id": f.projectID, "project_id": f.projectID,
		"router:external": n.External, "mtu": 1450, "port_security_enabled": true,
		"availability_zone_hints": []string{}, "availability_zones": []string{"nova"},
		"ipv4_address_scope": nil, "ipv6_address_scope": nil, "description": "", "tags": []string{},
		"created_at": t, "updated_at": t, "revision_number": 1,
	}
}

// ports are the ports of the servers that have booted and are not gone.
func (c *call) portViews() []map[string]any {
	f := c.f
	var out []map[string]any
	for _, m := range f.cloud.Machines(fakecloud.Live) {
		if v := c.portView(m); v != nil {
			out = append(out, v)
		}
	}
	return out
}

func (c *call) portView(m fakecloud.Machine) map[string]any {
	nets := extraStrings(m.Extra, extraNetworks)
	if len(nets) == 0 || m.PrivateIP == "" || m.State == fakecloud.Terminated {
		return nil
	}
	n, ok := c.f.networkByID(nets[0])
	if !ok {
		return nil
	}
	status := "ACTIVE"
	if m.State != fakecloud.Running {
		status = "DOWN"
	}
	t := m.Created.Format(novaTime)
	az := extraString(m.Extra, extraAZ)
	return map[string]any{
		"id": portID(m.ID), "name": "", "network_id": n.ID, "device_id": m.ID, "device_owner": "compute:" + az,
		"fixed_ips":   []any{map[string]any{"subnet_id": n.SubnetID, "ip_address": m.PrivateIP}},
		"mac_address": derivedMAC(m.ID), "status": status, "admin_state_up": true,
		"tenant_id": c.f.projectID, "project_id": c.f.projectID, "security_groups": []string{derivedID("secgroup", "default")},
		"allowed_address_pairs": []any{}, "tags": []string{}, "description": "", "binding:vnic_type": "normal",
		"created_at": t, "updated_at": t, "revision_number": 2, "propagate_uplink_status": false,
	}
}

// portByID finds a port and its server.
func (c *call) portByID(id string) (map[string]any, fakecloud.Machine, bool) {
	for _, m := range c.f.cloud.Machines(fakecloud.Live) {
		if portID(m.ID) == id {
			if v := c.portView(m); v != nil {
				return v, m, true
			}
		}
	}
	return nil, fakecloud.Machine{}, false
}

// listOf answers a Neutron list: the views filtered by the query (any
// attribute of like, several values meaning any of them), sorted by id,
// in pages. A filter on an attribute the resource does not have is a
// 400, as Neutron's filter validation makes it.
func listOf(c *call, collection string, views []map[string]any, like map[string]any) {
	q := c.r.URL.Query()
	for key, want := range q {
		switch key {
		case "limit", "marker", "sort_key", "sort_dir", "fields", "page_reverse":
			continue
		}
		if _, ok := like[key]; !ok {
			c.d.writeTypedError(c.w, http.StatusBadRequest, "HTTPBadRequest", fmt.Sprintf("[%s] is invalid attribute for filtering", key))
			return
		}
		views = slices.DeleteFunc(views, func(v map[string]any) bool {
			return !slices.ContainsFunc(want, func(w string) bool { return neutronValueMatches(v[key], w) })
		})
	}
	sort.Slice(views, func(i, j int) bool { return fmt.Sprint(views[i]["id"]) < fmt.Sprint(views[j]["id"]) })
	page, next, ok := paginate(c, views, func(v map[string]any) string { return fmt.Sprint(v["id"]) })
	if !ok {
		return
	}
	body := map[string]any{collection: page}
	if page == nil {
		body[collection] = []any{}
	}
	if next != "" {
		body[collection+"_links"] = []any{map[string]any{"rel": "next", "href": next}}
	}
	writeJSON(c.w, http.StatusOK, body)
}

func neutronValueMatches(have any, want string) bool {
	switch h := have.(type) {
	case nil:
		return want == "" || strings.EqualFold(want, "null")
	case bool:
		return strings.EqualFold(want, fmt.Sprint(h))
	case string:
		return h == want
	case []string:
		return slices.Contains(h, want)
	}
	return fmt.Sprint(have) == want
}

func (c *call) listNetworks() {
	var views []map[string]any
	for _, n := range c.f.networks {
		views = append(views, c.networkView(n))
	}
	listOf(c, "networks", views, c.networkView(c.f.networks[0]))
}

func (c *call) getNetwork() {
	n, ok := c.f.networkByID(c.params["id"])
	if !ok {
		c.d.writeTypedError(c.w, http.StatusNotFound, "NetworkNotFound", fmt.Sprintf("Network %s could not be found.", c.params["id"]))
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"network": c.networkView(n)})
}

func (c *call) listPorts() {
	like := c.portView(fakecloud.Machine{ID: "like", PrivateIP: "0.0.0.0", State: fakecloud.Running,
		Extra: map[string]any{extraNetworks: []string{c.f.networks[0].ID}}})
	listOf(c, "ports", c.portViews(), like)
}

func (c *call) getPort() {
	v, _, ok := c.portByID(c.params["id"])
	if !ok {
		c.d.writeTypedError(c.w, http.StatusNotFound, "PortNotFound", fmt.Sprintf("Port %s could not be found.", c.params["id"]))
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"port": v})
}

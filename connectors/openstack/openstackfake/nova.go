package openstackfake

import "net/http"

// Keys of fakecloud.Machine.Extra and fakecloud.Image.Extra that hold
// what only OpenStack's protocol needs.
const (
	extraFlavorID       = "flavor_id"         // string
	extraNetworks       = "networks"          // []string: network ids, the port's first
	extraSecurityGroups = "security_groups"   // []string: names
	extraAZ             = "availability_zone" // string
	extraTags           = "tags"              // []string
	extraReservation    = "reservation_id"    // string
	extraLaunchIndex    = "launch_index"      // int
	extraVisibility     = "visibility"        // image: "public" or "private"
	extraImageProps     = "properties"        // image: map[string]string Glance shows beside the labels
)

func (f *Fake) computeRoutes() []route {
	return []route{
		{pattern: "", op: "/compute", public: true, methods: methods{"GET": (*call).computeVersions}},
		{pattern: "v2.1", op: "/", public: true, methods: methods{"GET": (*call).computeVersion}},
		{pattern: "v2.1/servers", op: "/servers", methods: methods{
			"GET":  func(c *call) { c.listServers(false) },
			"POST": (*call).createServer,
		}},
		{pattern: "v2.1/servers/detail", op: "/servers/detail", methods: methods{
			"GET": func(c *call) { c.listServers(true) },
		}},
		{pattern: "v2.1/servers/{id}", op: "/servers/{id}", methods: methods{
			"GET":    (*call).getServer,
			"DELETE": (*call).deleteServer,
		}},
		{pattern: "v2.1/servers/{id}/action", op: "/servers/{id}/action", methods: methods{
			"POST": (*call).serverAction,
		}},
		{pattern: "v2.1/flavors", op: "/flavors", methods: methods{
			"GET": func(c *call) { c.listFlavors(false) },
		}},
		{pattern: "v2.1/flavors/detail", op: "/flavors/detail", methods: methods{
			"GET": func(c *call) { c.listFlavors(true) },
		}},
		{pattern: "v2.1/flavors/{id}", op: "/flavors/{id}", methods: methods{"GET": (*call).getFlavor}},
		{pattern: "v2.1/os-keypairs", op: "/os-keypairs", methods: methods{
			"GET":  (*call).listKeypairs,
			"POST": (*call).createKeypair,
		}},
		{pattern: "v2.1/os-keypairs/{name}", op: "/os-keypairs/{name}", methods: methods{
			"GET":    (*call).getKeypair,
			"DELETE": (*call).deleteKeypair,
		}},
	}
}

func (c *call) computeVersionDoc(v21 bool) map[string]any {
	if !v21 {
		return map[string]any{"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
			"updated": "2011-01-21T11:33:21Z", "links": []any{map[string]any{"rel": "self", "href": c.base + "/compute/v2/"}}}
	}
	return map[string]any{"id": "v2.1", "status": "CURRENT", "version": c.f.maxMV.String(), "min_version": c.f.minMV.String(),
		"updated": "2013-07-23T11:33:21Z", "links": []any{map[string]any{"rel": "self", "href": c.base + "/compute/v2.1/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}}}
}

func (c *call) computeVersions() {
	writeJSON(c.w, http.StatusOK, map[string]any{"versions": []any{c.computeVersionDoc(false), c.computeVersionDoc(true)}})
}

func (c *call) computeVersion() {
	writeJSON(c.w, http.StatusOK, map[string]any{"version": c.computeVersionDoc(true)})
}

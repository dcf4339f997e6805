package openstackfake

import (
	"net/http"
	"strings"
)

// flavor is a Nova flavor.
type flavor struct {
	ID     string
	Name   string
	VCPUs  int
	RAMMB  int
	DiskGB int // 0: the root disk is the image's size (boot from volume)
}

// defaultFlavors are DevStack's flavors, and one for booting from volume
// (disk 0).
func defaultFlavors() []flavor {
	return []flavor{
		{"1", "m1.tiny", 1, 512, 1},
		{"2", "m1.small", 1, 2048, 20},
		{"3", "m1.medium", 2, 4096, 40},
		{"4", "m1.large", 4, 8192, 80},
		{"42", "m1.nano", 1, 128, 1},
		{"5", "m1.xlarge", 8, 16384, 160},
		{"84", "m1.micro", 1, 192, 1},
		{"c1", "cirros256", 1, 256, 1},
		{"d1", "ds512M", 1, 512, 5},
		{"d2", "ds1G", 1, 1024, 10},
		{"d3", "ds2G", 2, 2048, 10},
		{"d4", "ds4G", 4, 4096, 20},
		{"v1", "v1.medium.volume", 2, 4096, 0},
	}
}

// flavorByRef finds a flavor by id, or by its URL as flavorRef may be.
func (f *Fake) flavorByRef(ref string) (flavor, bool) {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	for _, fl := range f.flavors {
		if fl.ID == ref {
			return fl, true
		}
	}
	return flavor{}, false
}

func (c *call) flavorLinks(id string) []any {
	return []any{
		map[string]any{"rel": "self", "href": c.base + "/compute/v2.1/flavors/" + id},
		map[string]any{"rel": "bookmark", "href": c.base + "/compute/flavors/" + id},
	}
}

func (c *call) flavorView(fl flavor, detail bool) map[string]any {
	v := map[string]any{"id": fl.ID, "name": fl.Name, "links": c.flavorLinks(fl.ID)}
	if c.mv.atLeast(55) {
		v["description"] = nil
	}
	if !detail {
		return v
	}
	v["ram"], v["vcpus"], v["disk"] = fl.RAMMB, fl.VCPUs, fl.DiskGB
	v["OS-FLV-EXT-DATA:ephemeral"] = 0
	v["OS-FLV-DISABLED:disabled"] = false
	v["os-flavor-access:is_public"] = true
	v["rxtx_factor"] = 1.0
	v["swap"] = ""
	if c.mv.atLeast(75) {
		v["swap"] = 0
	}
	if c.mv.atLeast(61) {
		v["extra_specs"] = map[string]any{}
	}
	return v
}

func (c *call) listFlavors(detail bool) {
	// Nova sorts flavors by flavorid by default; the fake keeps its own
	// order, which is stable, for the marker to work.
	page, next, ok := paginate(c, c.f.flavors, func(fl flavor) string { return fl.ID })
	if !ok {
		return
	}
	out := make([]any, 0, len(page))
	for _, fl := range page {
		out = append(out, c.flavorView(fl, detail))
	}
	body := map[string]any{"flavors": out}
	if next != "" {
		body["flavors_links"] = []any{map[string]any{"rel": "next", "href": next}}
	}
	writeJSON(c.w, http.StatusOK, body)
}

func (c *call) getFlavor() {
	fl, ok := c.f.flavorByRef(c.params["id"])
	if !ok {
		c.errorf(http.StatusNotFound, "Flavor %s could not be found.", c.params["id"])
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"flavor": c.flavorView(fl, true)})
}

package openstackfake

import (
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// machine finds a server that is not deleted, or answers 404.
func (c *call) machine() (fakecloud.Machine, bool) {
	id := c.params["id"]
	m, err := c.f.cloud.Machine(id)
	if err != nil || m.State == fakecloud.Terminated {
		c.errorf(http.StatusNotFound, "Instance %s could not be found.", id)
		return fakecloud.Machine{}, false
	}
	return m, true
}

func (c *call) getServer() {
	m, ok := c.machine()
	if !ok {
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"server": c.serverView(m)})
}

func (c *call) deleteServer() {
	if _, ok := c.machine(); !ok {
		return
	}
	if _, err := c.f.cloud.Terminate(c.params["id"]); err != nil {
		c.errorf(http.StatusNotFound, "Instance %s could not be found.", c.params["id"])
		return
	}
	writeNoContent(c.w, http.StatusNoContent)
}

// listServers is GET /servers and /servers/detail with Nova's filters
// (name is a regular expression; tags need 2.26), newest first, in pages.
func (c *call) listServers(detail bool) {
	q := c.r.URL.Query()
	var nameRE *regexp.Regexp
	if n := q.Get("name"); n != "" {
		re, err := regexp.Compile(n)
		if err != nil {
			c.errorf(http.StatusBadRequest, "Invalid filter name: %s is not a valid regular expression", n)
			return
		}
		nameRE = re
	}
	tagFilter := func(key string, all, want bool) func(fakecloud.Machine) bool {
		v := q.Get(key)
		if v == "" || !c.mv.atLeast(26) {
			return func(fakecloud.Machine) bool { return true }
		}
		tags := strings.Split(v, ",")
		return func(m fakecloud.Machine) bool {
			have := extraStrings(m.Extra, extraTags)
			n := 0
			for _, t := range tags {
				if slices.Contains(have, t) {
					n++
				}
			}
			match := n > 0
			if all {
				match = n == len(tags)
			}
			return match == want
		}
	}
	filters := []func(fakecloud.Machine) bool{
		tagFilter("tags", true, true), tagFilter("tags-any", false, true),
		tagFilter("not-tags", true, false), tagFilter("not-tags-any", false, false),
		func(m fakecloud.Machine) bool { return nameRE == nil || nameRE.MatchString(m.Name) },
		func(m fakecloud.Machine) bool {
			s := q.Get("status")
			return s == "" || strings.EqualFold(s, c.f.stateOf(m).Status)
		},
		func(m fakecloud.Machine) bool {
			r := q.Get("reservation_id")
			return r == "" || r == extraString(m.Extra, extraReservation)
		},
		func(m fakecloud.Machine) bool { i := q.Get("image"); return i == "" || i == m.ImageID },
		func(m fakecloud.Machine) bool {
			fl := q.Get("flavor")
			return fl == "" || fl == extraString(m.Extra, extraFlavorID)
		},
		func(m fakecloud.Machine) bool {
			az := q.Get("availability_zone")
			return az == "" || az == extraString(m.Extra, extraAZ)
		},
	}
	ms := c.f.cloud.Machines(func(m *fakecloud.Machine) bool {
		if m.State == fakecloud.Terminated {
			return false
		}
		for _, keep := range filters {
			if !keep(*m) {
				return false
			}
		}
		return true
	})
	// Nova sorts by created_at then id, descending.
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].Created.Equal(ms[j].Created) {
			return ms[i].Created.After(ms[j].Created)
		}
		return ms[i].ID > ms[j].ID
	})
	page, next, ok := paginate(c, ms, func(m fakecloud.Machine) string { return m.ID })
	if !ok {
		return
	}
	out := []any{}
	for _, m := range page {
		if detail {
			out = append(out, c.serverView(m))
		} else {
			out = append(out, map[string]any{"id": m.ID, "name": m.Name, "links": c.serverLinks(m.ID)})
		}
	}
	body := map[string]any{"servers": out}
	if next != "" {
		body["servers_links"] = []any{map[string]any{"rel": "next", "href": next}}
	}
	writeJSON(c.w, http.StatusOK, body)
}

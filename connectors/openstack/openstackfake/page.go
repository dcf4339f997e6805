package openstackfake

import (
	"net/http"
	"strconv"
)

// paginate cuts items (already filtered and sorted) as Nova and Neutron
// do: at most limit items (the query's, capped at MaxLimit) after the one
// whose id is the query's marker. A full page links to the next one, with
// the same query and the page's last id as marker. On a bad limit or an
// unknown marker it answers 400 itself and returns ok false.
func paginate[T any](c *call, items []T, id func(T) string) (page []T, next string, ok bool) {
	q := c.r.URL.Query()
	limit := c.f.opts.MaxLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			c.errorf(http.StatusBadRequest, "Invalid input for query parameters limit. Value: %s. '%s' does not match '^[0-9]*$'", s, s)
			return nil, "", false
		}
		limit = min(n, limit)
	}
	start := 0
	if m := q.Get("marker"); m != "" {
		start = -1
		for i, it := range items {
			if id(it) == m {
				start = i + 1
				break
			}
		}
		if start < 0 {
			c.errorf(http.StatusBadRequest, "marker [%s] not found", m)
			return nil, "", false
		}
	}
	end := min(start+limit, len(items))
	page = items[start:end]
	if limit > 0 && len(page) == limit {
		q.Set("limit", strconv.Itoa(limit))
		q.Set("marker", id(page[len(page)-1]))
		next = c.base + c.r.URL.Path + "?" + q.Encode()
	}
	return page, next, true
}

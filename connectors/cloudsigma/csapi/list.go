package csapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
)

// maxPages stops a list that never ends (an API whose total_count keeps
// growing, or that ignores offset): a page of 1 is still 100,000 objects.
const maxPages = 100000

// listAll gets every object of a list (Pagination): it asks for limit
// objects from offset 0 (limit 0, "all", unless the client has a page
// size) and follows with the next offset while the answers hold fewer
// objects than meta.total_count.
func listAll[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	var all []T
	for page := 0; ; page++ {
		if page == maxPages {
			return all, &RequestError{Method: "GET", Path: "/" + path, Err: fmt.Errorf("the list did not end after %d pages", maxPages)}
		}
		q.Set("limit", strconv.Itoa(c.pageSize))
		q.Set("offset", strconv.Itoa(len(all)))
		var l list[T]
		if err := c.do(ctx, "GET", path, q, nil, &l); err != nil {
			return all, err
		}
		all = append(all, l.Objects...)
		if len(l.Objects) == 0 || len(all) >= l.Meta.TotalCount {
			return all, nil
		}
	}
}

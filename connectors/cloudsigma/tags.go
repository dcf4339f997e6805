package cloudsigma

import (
	"context"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// tagUUIDs are the uuids of the named tags, made (POST /tags/) when the
// account has none of that name (Tags). Servers are put under them by
// their own "tags" list when created, not by rewriting each tag's
// resources, so that concurrent creates do not overwrite each other's.
func (c *Connector) tagUUIDs(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	c.tagMu.Lock()
	defer c.tagMu.Unlock()
	tags, err := c.api.ListTags(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	byName := map[string]string{}
	for _, t := range tags {
		if _, dup := byName[t.Name]; !dup {
			byName[t.Name] = t.UUID
		}
	}
	var missing []csapi.Tag
	for _, n := range names {
		if _, ok := byName[n]; !ok && !slices.ContainsFunc(missing, func(t csapi.Tag) bool { return t.Name == n }) {
			missing = append(missing, csapi.Tag{Name: n})
		}
	}
	if len(missing) > 0 {
		made, err := c.api.CreateTags(ctx, missing)
		if err != nil {
			return nil, apiErr(err)
		}
		for _, t := range made {
			byName[t.Name] = t.UUID
		}
	}
	var out []string
	for _, n := range names {
		if id := byName[n]; id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// tagNames maps the account's tags' uuids to their names, to report a
// server's tags by name; nil (no call) when no server has tags.
func (c *Connector) tagNames(ctx context.Context, servers ...*csapi.Server) (map[string]string, error) {
	if !slices.ContainsFunc(servers, func(s *csapi.Server) bool { return len(s.Tags) > 0 }) {
		return nil, nil
	}
	tags, err := c.api.ListTags(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	names := make(map[string]string, len(tags))
	for _, t := range tags {
		names[t.UUID] = t.Name
	}
	return names, nil
}

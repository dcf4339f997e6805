package csapi

import (
	"context"
	"fmt"
)

// ListTags lists the account's tags with their resources (Tags,
// "Listing": GET /tags/), every page.
func (c *Client) ListTags(ctx context.Context) ([]Tag, error) {
	return listAll[Tag](ctx, c, "tags/", nil)
}

// CreateTags creates tags (Tags, "Creating": POST /tags/ with
// {"objects": [...]}, optionally with resources).
func (c *Client) CreateTags(ctx context.Context, tags []Tag) ([]Tag, error) {
	var out objects[Tag]
	if err := c.do(ctx, "POST", "tags/", nil, objects[Tag]{Objects: tags}, &out); err != nil {
		return nil, err
	}
	if len(out.Objects) != len(tags) {
		return out.Objects, &RequestError{Method: "POST", Path: "/tags/", Err: fmt.Errorf("asked for %d tags, the answer lists %d", len(tags), len(out.Objects))}
	}
	return out.Objects, nil
}

// SetTagResources replaces a tag's resources (Tags, "Editing": PUT
// /tags/{uuid}/ with the name and the new resources list).
func (c *Client) SetTagResources(ctx context.Context, uuid, name string, resources []string) (*Tag, error) {
	path, err := objectPath("tags", uuid)
	if err != nil {
		return nil, err
	}
	if resources == nil {
		resources = []string{} // an empty list empties the tag; a missing one would not
	}
	body := struct {
		Name      string   `json:"name"`
		Resources []string `json:"resources"`
	}{name, resources}
	var t Tag
	if err := c.do(ctx, "PUT", path, nil, body, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

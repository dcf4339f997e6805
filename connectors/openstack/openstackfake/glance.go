package openstackfake

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func (f *Fake) imageRoutes() []route {
	return []route{
		{pattern: "", op: "/image", public: true, methods: methods{"GET": (*call).imageVersions}},
		{pattern: "v2/images", op: "/v2/images", methods: methods{"GET": (*call).listImages}},
		{pattern: "v2/images/{id}", op: "/v2/images/{id}", methods: methods{
			"GET": (*call).getImage, "DELETE": (*call).deleteImage}},
	}
}

func (c *call) imageVersions() {
	v := func(id, status string) any {
		return map[string]any{"id": id, "status": status, "links": []any{map[string]any{"rel": "self", "href": c.base + "/image/v2/"}}}
	}
	writeJSON(c.w, http.StatusMultipleChoices, map[string]any{"versions": []any{v("v2.16", "CURRENT"), v("v2.15", "SUPPORTED"), v("v2.0", "SUPPORTED")}})
}

// queuedFor is how long a new snapshot is "queued" (made, no data yet)
// before it is "saving".
const queuedFor = 50 * time.Millisecond

// glanceStatus maps a fake image's state to Glance's: a snapshot is
// "queued", then "saving" while Nova uploads it, then "active"; a failed
// one "killed".
func glanceStatus(img fakecloud.Image) string {
	switch img.State {
	case "available":
		return "active"
	case "pending":
		if time.Since(img.Created) < queuedFor {
			return "queued"
		}
		return "saving"
	case "failed":
		return "killed"
	}
	return img.State
}

// glanceCore are the attributes Glance owns; a label of the same name
// does not override them.
var glanceCore = map[string]bool{
	"id": true, "name": true, "status": true, "visibility": true, "protected": true, "os_hidden": true,
	"checksum": true, "os_hash_algo": true, "os_hash_value": true, "owner": true, "size": true,
	"virtual_size": true, "min_ram": true, "min_disk": true, "disk_format": true, "container_format": true,
	"created_at": true, "updated_at": true, "tags": true, "self": true, "file": true, "schema": true,
	"properties": true, "locations": true, "direct_url": true,
}

func (c *call) imageView(img fakecloud.Image) map[string]any {
	status := glanceStatus(img)
	visibility := extraString(img.Extra, extraVisibility)
	if visibility == "" {
		visibility = "private"
	}
	t := img.Created.Format(novaTime)
	v := map[string]any{
		"id": img.ID, "name": img.Name, "status": status, "visibility": visibility,
		"protected": false, "os_hidden": false, "checksum": nil, "os_hash_algo": nil, "os_hash_value": nil,
		"owner": c.f.projectID, "size": nil, "virtual_size": nil, "min_ram": 0, "min_disk": 0,
		"disk_format": "qcow2", "container_format": "bare", "created_at": t, "updated_at": t, "tags": []string{},
		"self": "/v2/images/" + img.ID, "file": "/v2/images/" + img.ID + "/file", "schema": "/v2/schemas/image",
	}
	if status == "active" {
		v["size"] = 2 << 30
		v["checksum"] = derivedID("checksum", img.ID)[:32]
	}
	props, _ := img.Extra[extraImageProps].(map[string]string)
	for _, m := range []map[string]string{props, img.Labels} {
		for k, val := range m {
			if !glanceCore[k] {
				v[k] = val
			}
		}
	}
	return v
}

func (c *call) listImages() {
	q := c.r.URL.Query()
	var views []map[string]any
	for _, img := range c.f.cloud.Images() {
		views = append(views, c.imageView(img))
	}
	for key, want := range q {
		switch key {
		case "limit", "marker", "sort_key", "sort_dir", "sort":
			continue
		}
		// Glance filters on core attributes and on properties alike.
		var kept []map[string]any
		for _, v := range views {
			if s, ok := v[key].(string); ok && s == want[0] {
				kept = append(kept, v)
			}
		}
		views = kept
	}
	// Glance lists the newest first.
	sort.SliceStable(views, func(i, j int) bool {
		a, b := views[i]["created_at"].(string), views[j]["created_at"].(string)
		if a != b {
			return a > b
		}
		return views[i]["id"].(string) > views[j]["id"].(string)
	})
	page, next, ok := paginate(c, views, func(v map[string]any) string { return v["id"].(string) })
	if !ok {
		return
	}
	if page == nil {
		page = []map[string]any{}
	}
	body := map[string]any{"images": page, "schema": "/v2/schemas/images", "first": "/v2/images"}
	if next != "" {
		// Glance's next link is relative to the service.
		body["next"] = strings.TrimPrefix(next, c.base+"/image")
	}
	writeJSON(c.w, http.StatusOK, body)
}

func (c *call) getImage() {
	img, err := c.f.cloud.Image(c.params["id"])
	if err != nil {
		c.errorf(http.StatusNotFound, "No image found with ID %s", c.params["id"])
		return
	}
	writeJSON(c.w, http.StatusOK, c.imageView(img))
}

func (c *call) deleteImage() {
	id := c.params["id"]
	err := c.f.cloud.DeleteImage(id)
	switch {
	case errors.Is(err, fakecloud.ErrImageNotFound):
		c.errorf(http.StatusNotFound, "Failed to find image %s to delete", id)
	case errors.Is(err, fakecloud.ErrIncorrectState):
		c.errorf(http.StatusConflict, "Image %s could not be deleted because it is in use: %s", id, err)
	case err != nil:
		c.errorf(http.StatusInternalServerError, "Failed to delete image %s: %s", id, err)
	default:
		writeNoContent(c.w, http.StatusNoContent)
	}
}

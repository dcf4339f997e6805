package cloudsigmafake

import (
	"net/http"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// libImage is the base image behind a library drive: an image of the
// Cloud that no machine was snapshotted into.
func (f *Fake) libImage(id string) (fakecloud.Image, bool) {
	img, err := f.cloud.Image(id)
	if err != nil || img.Source != "" || img.State != "available" {
		return fakecloud.Image{}, false
	}
	if f.drives[id] != nil { // a snapshot drive of the account, not the library's
		return fakecloud.Image{}, false
	}
	return img, true
}

// libSize is a library drive's size: Image.Extra["size"] (bytes) when the
// test gave one.
func (f *Fake) libSize(img fakecloud.Image) int64 {
	switch v := img.Extra["size"].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	}
	return f.opts.LibDriveSize
}

// libMeta is what a clone of the library drive gets in its meta (Meta,
// "Drive's metadata fields with special meaning").
func libMeta(img fakecloud.Image) map[string]string {
	m := map[string]string{"os": "linux", "arch": "64", "image_type": "preinst", "description": img.Name}
	if img.LoginUser != "" {
		m["default_user"] = img.LoginUser
	}
	return m
}

// libDriveJSON is a library drive as /libdrives/ gives it (the
// reference's "List single drive" dump of Library Drives).
func (f *Fake) libDriveJSON(img fakecloud.Image) map[string]any {
	return map[string]any{
		"affinities": []any{}, "allow_multimount": false, "arch": "64", "category": []string{"general"},
		"description": img.Name, "distribution": nil, "favourite": false, "image_type": "preinst", "install_notes": "",
		"jobs": []any{}, "licenses": []any{}, "media": "disk", "meta": map[string]string{}, "mounted_on": []any{},
		"name": img.Name, "os": "linux", "owner": nil, "paid": false, "resource_uri": uri("libdrives", img.ID),
		"size": f.libSize(img), "status": "unmounted", "storage_type": nil, "tags": []any{}, "url": "",
		"uuid": img.ID, "version": nil,
	}
}

// libDriveAsDrive is a library drive as /drives/{uuid}/ gives it: a
// drive with no owner.
func (f *Fake) libDriveAsDrive(img fakecloud.Image) map[string]any {
	return map[string]any{
		"affinities": []any{}, "allow_multimount": false, "grantees": []any{}, "jobs": []any{}, "licenses": []any{},
		"media": "disk", "meta": map[string]string{}, "mounted_on": []any{}, "name": img.Name, "owner": nil,
		"permissions": []any{}, "resource_uri": uri("drives", img.ID),
		"runtime": map[string]any{"is_snapshotable": true, "snapshots_allocated_size": 0, "storage_type": "dssd"},
		"size":    f.libSize(img), "snapshots": []any{}, "status": "unmounted", "storage_type": "dssd", "tags": []any{},
		"uuid": img.ID,
	}
}

func listLibDrives(f *Fake, c *call) (int, any, error) {
	p, filters, aerr := listQuery(c, "name", "uuid", "os", "arch", "distribution", "image_type", "version", "category")
	if aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []any
	for _, img := range f.cloud.Images() {
		if _, ok := f.libImage(img.ID); !ok {
			continue
		}
		if !matches(filters, "name", img.Name) || !matches(filters, "uuid", img.ID) || !matches(filters, "os", "linux") {
			continue
		}
		all = append(all, f.libDriveJSON(img))
	}
	return http.StatusOK, listAnswer(p, all), nil
}

func getLibDrive(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.libImage(c.id)
	if !ok {
		return 0, nil, errNotExist("Library drive", c.id)
	}
	return http.StatusOK, f.libDriveJSON(img), nil
}

// cloneLibDrive answers POST /libdrives/{uuid}/action/?do=clone: a new
// drive of the account with the library drive's content.
func cloneLibDrive(f *Fake, c *call) (int, any, error) {
	b, aerr := decodeClone(c.body)
	if aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.libImage(c.id)
	if !ok {
		return 0, nil, errNotExist("Library drive", c.id)
	}
	d, aerr := f.clonedDrive(b, img.Name, "disk", "dssd", f.libSize(img), libMeta(img), true)
	if aerr != nil {
		return 0, nil, aerr
	}
	d.uuid, d.image = NewUUID(), img.ID
	f.drives[d.uuid] = d
	return http.StatusAccepted, map[string]any{"objects": []any{f.driveJSON(d)}}, nil
}

package cloudsigmafake

import (
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// drive is a drive of the account. Its content is a Cloud image: the
// library drive it was cloned from, or the snapshot that cloning a
// server's boot drive made.
type drive struct {
	uuid        string
	name        string
	media       string
	storageType string
	size        int64
	meta        map[string]string
	image       string    // the Cloud image of its content
	ownsImage   bool      // the image was made for this drive (its uuid is the image's id)
	readyAt     time.Time // cloning_dst until then
}

// driveStatus is the drive's status (Drives, "Drive State Diagram"): being
// cloned, mounted on a server that runs, or unmounted.
func (f *Fake) driveStatus(d *drive) string {
	if time.Now().Before(d.readyAt) {
		return "cloning_dst"
	}
	if d.ownsImage {
		if img, err := f.cloud.Image(d.image); err == nil {
			switch img.State {
			case "pending":
				return "cloning_dst"
			case "failed":
				return "unavailable"
			}
		}
	}
	if len(f.mountedOn(d.uuid)) > 0 {
		return "mounted"
	}
	return "unmounted"
}

// attachedTo lists the servers a drive is attached to, sorted; f.mu is
// held.
func (f *Fake) attachedTo(driveID string) []string {
	var out []string
	for _, s := range f.servers {
		for _, a := range s.drives {
			if a.drive == driveID {
				out = append(out, s.uuid)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// mountedOn lists the servers a drive is attached to that run (those
// are what the API lists in mounted_on); f.mu is held.
func (f *Fake) mountedOn(driveID string) []string {
	var out []string
	for _, id := range f.attachedTo(driveID) {
		if m, err := f.cloud.Machine(id); err == nil && machineRuns(m.State) {
			out = append(out, id)
		}
	}
	return out
}

func machineRuns(s fakecloud.State) bool {
	return s == fakecloud.Pending || s == fakecloud.Running || s == fakecloud.Stopping
}

// driveJSON is a drive's full definition, shaped on the reference's
// "List single drive" dump.
func (f *Fake) driveJSON(d *drive) map[string]any {
	mounted := []any{}
	for _, id := range f.mountedOn(d.uuid) {
		mounted = append(mounted, refJSON("servers", id))
	}
	return map[string]any{
		"affinities": []any{}, "allow_multimount": false, "grantees": []any{}, "jobs": []any{}, "licenses": []any{},
		"media": d.media, "meta": orEmpty(d.meta), "mounted_on": mounted, "name": d.name, "owner": f.ownerJSON(),
		"permissions": []any{}, "resource_uri": uri("drives", d.uuid),
		"runtime": map[string]any{"is_snapshotable": true, "snapshots_allocated_size": 0, "storage_type": d.storageType},
		"size":    d.size, "snapshots": []any{}, "status": f.driveStatus(d), "storage_type": d.storageType,
		"tags": f.tagRefs(d.uuid), "uuid": d.uuid,
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func listDrives(detail bool) handler {
	return func(f *Fake, c *call) (int, any, error) {
		p, filters, aerr := listQuery(c, "name", "uuid", "tag")
		if aerr != nil {
			return 0, nil, aerr
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		ids := make([]string, 0, len(f.drives))
		for id := range f.drives {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var all []any
		for _, id := range ids {
			d := f.drives[id]
			if !matches(filters, "name", d.name) || !matches(filters, "uuid", d.uuid) || !f.tagMatches(filters, d.uuid) {
				continue
			}
			if detail {
				all = append(all, f.driveJSON(d))
			} else {
				all = append(all, map[string]any{"owner": f.ownerJSON(), "resource_uri": uri("drives", id), "status": f.driveStatus(d), "uuid": id})
			}
		}
		return http.StatusOK, listAnswer(p, all), nil
	}
}

// getDrive answers GET /drives/{uuid}/: a drive of the account, or a
// library drive with no owner (Library Drives, "Recognizing library
// drives").
func getDrive(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.drives[c.id]; ok {
		return http.StatusOK, f.driveJSON(d), nil
	}
	if img, ok := f.libImage(c.id); ok {
		return http.StatusOK, f.libDriveAsDrive(img), nil
	}
	return 0, nil, errNotExist("Drive", c.id)
}

// deleteDrive answers DELETE /drives/{uuid}/: "Deletes a single mounted
// or unmounted drive" (Drives, "Deleting"); the servers it was attached
// to lose it.
func deleteDrive(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.drives[c.id]
	if !ok {
		if _, lib := f.libImage(c.id); lib {
			return 0, nil, errPermission("Library drive %s belongs to the library, not to your account", c.id)
		}
		return 0, nil, errNotExist("Drive", c.id)
	}
	f.forgetDrive(d)
	return http.StatusNoContent, nil, nil
}

// forgetDrive removes a drive, and its attachments to servers; an image
// made for it goes once no drive or machine uses it any more. f.mu is
// held.
func (f *Fake) forgetDrive(d *drive) {
	delete(f.drives, d.uuid)
	for _, s := range f.servers {
		s.drives = slices.DeleteFunc(s.drives, func(a attachment) bool { return a.drive == d.uuid })
	}
	f.untag(d.uuid)
	if d.ownsImage {
		f.doomed[d.image] = true
	}
	f.collectImagesLocked()
}

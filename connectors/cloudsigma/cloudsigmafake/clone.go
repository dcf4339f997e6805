package cloudsigmafake

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// cloneBody is the optional body of a clone action (Drives, "Cloning",
// "Request schema", and the clone dump, which also gives size).
type cloneBody struct {
	Name        *string        `json:"name"`
	Size        *int64         `json:"size"`
	Media       *string        `json:"media"`
	StorageType *string        `json:"storage_type"`
	Meta        map[string]any `json:"meta"`
	Affinities  []string       `json:"affinities"`
}

func decodeClone(body []byte) (cloneBody, *apiError) {
	var b cloneBody
	if len(bytes.TrimSpace(body)) == 0 {
		return b, nil
	}
	return b, decodeObject(body, &b)
}

// clonedDrive is the new drive of a clone of src (a drive of the account
// or a library drive), before its uuid and image are known. A meta in the
// request is the clone's meta ("the whole meta is updated completely",
// Objects' metadata field), except that a library drive's fields are
// copied into its clones' meta whatever they ask (Meta, "Drive's metadata
// fields with special meaning"): keepMeta.
func (f *Fake) clonedDrive(b cloneBody, srcName, srcMedia, srcStorage string, srcSize int64, srcMeta map[string]string, keepMeta bool) (*drive, *apiError) {
	d := &drive{name: srcName, media: srcMedia, storageType: srcStorage, size: srcSize, meta: maps.Clone(srcMeta),
		readyAt: time.Now().Add(f.opts.CloneDelay)}
	if d.meta == nil {
		d.meta = map[string]string{}
	}
	if b.Name != nil {
		d.name = *b.Name
	}
	if b.Media != nil {
		if *b.Media != "disk" && *b.Media != "cdrom" {
			return nil, errValidation("media", "Select a valid choice. %q is not one of the available choices (cdrom, disk).", *b.Media)
		}
		d.media = *b.Media
	}
	if b.StorageType != nil {
		if *b.StorageType != "dssd" {
			return nil, errValidation("storage_type", "Storage type %q is not available in this location (dssd is)", *b.StorageType)
		}
		d.storageType = *b.StorageType
	}
	if b.Size != nil {
		if *b.Size < srcSize {
			return nil, errValidation("size", "Size of the cloned drive can only be bigger or the same (%d bytes)", srcSize)
		}
		if *b.Size > f.opts.Limits.DriveMax {
			return nil, errValidation("size", "Size must be at most %d bytes", f.opts.Limits.DriveMax)
		}
		d.size = *b.Size
	}
	if b.Meta != nil {
		meta, aerr := stringMeta("meta", b.Meta)
		if aerr != nil {
			return nil, aerr
		}
		if keepMeta {
			maps.Copy(d.meta, meta)
		} else {
			d.meta = meta
		}
	}
	if d.name == "" {
		return nil, errValidation("name", "This field is required.")
	}
	return d, nil
}

// cloneDrive answers POST /drives/{uuid}/action/?do=clone. The clone of a
// stopped server's boot drive holds what the server wrote: the fake
// snapshots the server's machine and the new image's id is the clone's
// uuid. Any other clone has its source's content.
func cloneDrive(f *Fake, c *call) (int, any, error) {
	b, aerr := decodeClone(c.body)
	if aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	src, ok := f.drives[c.id]
	if !ok {
		return 0, nil, errNotExist("Drive", c.id)
	}
	d, aerr := f.clonedDrive(b, src.name, src.media, src.storageType, src.size, src.meta, false)
	if aerr != nil {
		return 0, nil, aerr
	}
	if b.Name == nil {
		d.name = src.name + " clone"
	}
	d.uuid, d.image = NewUUID(), src.image
	if s := f.bootedFrom(src.uuid); s != nil {
		m, err := f.cloud.Machine(s.uuid)
		if err != nil {
			return 0, nil, err
		}
		if m.State != fakecloud.Stopped {
			return 0, nil, errPermission("Cannot clone drive %s while server %s is %s: stop the server first", src.uuid, s.uuid, serverStatus(m))
		}
		img, err := f.cloud.Snapshot(s.uuid, d.name, d.meta, nil)
		if errors.Is(err, fakecloud.ErrDuplicate) {
			// Image names are unique in the Cloud, drive names are not
			// in CloudSigma: the drive keeps its name, the image goes
			// without.
			img, err = f.cloud.Snapshot(s.uuid, "", d.meta, nil)
		}
		if err != nil {
			return 0, nil, err
		}
		d.uuid, d.image, d.ownsImage = img.ID, img.ID, true
	}
	f.drives[d.uuid] = d
	return http.StatusAccepted, map[string]any{"objects": []any{f.driveJSON(d)}}, nil
}

// bootedFrom is the server whose boot drive this is, or nil; f.mu is
// held.
func (f *Fake) bootedFrom(driveID string) *server {
	for _, s := range f.servers {
		if b := s.bootDrive(); b != "" && b == driveID {
			return s
		}
	}
	return nil
}

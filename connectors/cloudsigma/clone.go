package cloudsigma

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// image is what a machine is cloned from: a library drive or a drive of
// the account. GET /drives/{uuid}/ reads both and tells them apart by
// their owner, null for the library (Library Drives, "Recognizing library
// drives"): one call to know which clone action to use and the size.
type image struct {
	uuid    string
	library bool
	size    int64
}

// imageOf reads the image of a create. An id that names no drive is a
// permanent error that names it (not a not-found: it is the spec that is
// wrong, not a machine that is gone).
func (c *Connector) imageOf(ctx context.Context, id string) (*image, error) {
	op := "GET /drives/" + id + "/"
	if id == "" {
		return nil, permanent(op, "NoImage", "the machine has no image: set the library drive or drive uuid to clone")
	}
	d, err := c.api.GetDrive(ctx, id)
	if gone(err) {
		return nil, unknownImage(op, id, err)
	}
	if err != nil {
		return nil, apiErr(err)
	}
	if d.Media == csapi.MediaCDROM {
		return nil, permanent(op, "NotADisk", "image %s (%s) is a CD-ROM; a machine boots from a disk image", id, d.Name)
	}
	return &image{uuid: id, library: d.Owner == nil, size: d.Size}, nil
}

func unknownImage(op, id string, err error) error {
	return &connectors.Error{Cloud: Name, Op: op, Code: "notexist", Status: 404, Kind: connectors.KindPermanent,
		Message: "image " + id + " does not exist: it is neither a library drive nor a drive of the account", Err: err}
}

// clone makes a machine's drive from the image (Drives, "Cloning"; Library
// Drives, "Cloning library drive"), grown to disk bytes when that is more
// than the image: the clone request's size does it in the same call ("Size
// of the cloned drive can only be bigger or the same"), with no resize
// action afterwards.
func (c *Connector) clone(ctx context.Context, img *image, name string, disk int64, meta csapi.Meta) (*csapi.Drive, error) {
	req := csapi.CloneRequest{Name: name, Media: csapi.MediaDisk, Meta: meta}
	if disk > img.size {
		req.Size = disk
	}
	var d *csapi.Drive
	var err error
	if img.library {
		d, err = c.api.CloneLibDrive(ctx, img.uuid, req)
	} else {
		d, err = c.api.CloneDrive(ctx, img.uuid, req)
	}
	if csapi.IsNotFound(err) {
		return nil, unknownImage("POST /drives/"+img.uuid+"/action/?do=clone", img.uuid, err)
	}
	return d, apiErr(err)
}

// waitDrive waits until a drive is no longer being cloned: unmounted (or
// mounted, if a server already runs on it).
func (c *Connector) waitDrive(ctx context.Context, id string) error {
	return connectors.WaitFor(ctx, c.poll, "drive "+id+" to be cloned", func(ctx context.Context) (bool, string, error) {
		d, err := c.api.GetDrive(ctx, id)
		if err != nil {
			return false, "", apiErr(err)
		}
		return d.Status == csapi.DriveUnmounted || d.Status == csapi.DriveMounted, d.Status, nil
	})
}

// deleteDrives takes back drives a failed create made, even after the
// create's context ended. It returns what it could not delete.
func (c *Connector) deleteDrives(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := c.cleanupContext(ctx)
	defer cancel()
	var failed []error
	for _, id := range ids {
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
			err := c.api.DeleteDrive(ctx, id)
			if gone(err) {
				return nil
			}
			return apiErr(err)
		})
		if err != nil {
			failed = append(failed, err)
		}
	}
	return joinErrors(failed)
}

// findClones looks for drives a clone whose answer was lost may have made
// anyway: drives of those names with the meta the create gives its drives
// (its labels and image), other than the known ones. Best effort: what it
// cannot list it does not find.
func (c *Connector) findClones(ctx context.Context, names []string, meta csapi.Meta, known []string) []string {
	escaped := make([]string, len(names))
	for i, n := range names {
		escaped[i] = filterValue(n)
	}
	ds, err := c.api.ListDrives(ctx, url.Values{"name": {strings.Join(escaped, ",")}})
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range ds {
		if slices.Contains(known, d.UUID) || !slices.Contains(names, d.Name) {
			continue
		}
		if sameLabels(meta, d.Meta) {
			out = append(out, d.UUID)
		}
	}
	return out
}

// sameLabels reports whether have holds every key of want with its value
// (a clone of a library drive also has the library's fields in its meta).
func sameLabels(want, have csapi.Meta) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// filterValue escapes a value for a list filter, whose values are ORed on
// commas ("\," is a comma in a value; Filtering).
func filterValue(v string) string {
	return strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), ",", `\,`)
}

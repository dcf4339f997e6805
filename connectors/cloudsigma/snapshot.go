package cloudsigma

import (
	"context"
	"maps"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// Snapshot makes an image of a machine: it stops the server (and waits
// until it is stopped), clones its boot drive (Drives, "Cloning") with the
// name and the labels in the new drive's meta, and waits until the clone
// is done (unmounted). The image is that drive: its uuid is the image id
// a machine is created from.
func (c *Connector) Snapshot(ctx context.Context, id, name string, labels map[string]string) (string, error) {
	op := "POST /drives/{uuid}/action/?do=clone"
	if err := checkLabels(op, labels); err != nil {
		return "", err
	}
	s, err := c.api.GetServer(ctx, id)
	if gone(err) {
		return "", connectors.NotFound(Name, "GET /servers/"+id+"/", "server", id)
	}
	if err != nil {
		return "", apiErr(err)
	}
	boot := bootDrive(s)
	if boot == "" {
		return "", permanent(op, "NoDrive", "server %s has no drive to make an image of", id)
	}
	if err := c.stopAndWait(ctx, s); err != nil {
		return "", err
	}
	meta := csapi.Meta{}
	maps.Copy(meta, labels)
	d, err := c.api.CloneDrive(ctx, boot, csapi.CloneRequest{Name: name, Meta: meta})
	if err != nil {
		return "", apiErr(err)
	}
	if err := c.waitDrive(ctx, d.UUID); err != nil {
		return d.UUID, err
	}
	return d.UUID, nil
}

// bootDrive is the drive a server boots from: the lowest positive boot
// order, else the first drive.
func bootDrive(s *csapi.Server) string {
	best, order := "", 0
	for _, d := range s.Drives {
		if d.BootOrder > 0 && (order == 0 || d.BootOrder < order) {
			best, order = d.Drive.UUID, d.BootOrder
		}
	}
	if best == "" && len(s.Drives) > 0 {
		best = s.Drives[0].Drive.UUID
	}
	return best
}

// DeleteImage deletes an image made by Snapshot, a drive of the account
// (DELETE /drives/{uuid}/), and waits until it is gone. An image that does
// not exist is deleted already.
func (c *Connector) DeleteImage(ctx context.Context, imageID string) error {
	err := c.api.DeleteDrive(ctx, imageID)
	if gone(err) {
		return nil
	}
	if err != nil {
		return apiErr(err)
	}
	return connectors.WaitFor(ctx, c.poll, "drive "+imageID+" to be deleted", func(ctx context.Context) (bool, string, error) {
		d, err := c.api.GetDrive(ctx, imageID)
		if gone(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", apiErr(err)
		}
		return false, d.Status, nil
	})
}

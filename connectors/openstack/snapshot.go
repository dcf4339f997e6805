package openstack

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const (
	opAction      = "POST /servers/{id}/action"
	opImage       = "GET /v2/images/{id}"
	opImages      = "GET /v2/images"
	opDeleteImage = "DELETE /v2/images/{id}"
)

// Snapshot stops the server (os-stop; a 409 while Nova is busy with the
// server is waited out), has Nova make an image of it (createImage, with
// the labels as the image's properties) and waits until Glance says the
// image is active. An image of that name already made from this server (a
// Snapshot that timed out and is called again) is taken rather than a
// second made.
func (c *Connector) Snapshot(ctx context.Context, id, name string, labels map[string]string) (string, error) {
	for k, v := range labels {
		if len(k) == 0 || len(k) > 255 || len(v) > 255 {
			return "", &connectors.Error{Cloud: cloudName, Op: opAction, Code: "InvalidSpec", Kind: connectors.KindPermanent,
				Message: fmt.Sprintf("image label %q: Nova image metadata keys are 1 to 255 characters and values at most 255", k)}
		}
	}
	if _, err := c.needImage(opImage); err != nil {
		return "", err
	}
	if img, err := c.snapshotOf(ctx, id, name); err != nil || img != "" {
		if err != nil {
			return "", err
		}
		return img, c.waitImage(ctx, img)
	}
	if err := c.stopAndWait(ctx, id); err != nil {
		return "", err
	}
	var imageID string
	err := connectors.Retry(ctx, connectors.PollBackoff, nil, func(ctx context.Context) error {
		// After a failed attempt the image may exist nonetheless.
		if img, err := c.snapshotOf(ctx, id, name); err != nil || img != "" {
			imageID = img
			return err
		}
		r := servers.CreateImage(ctx, c.compute, id, servers.CreateImageOpts{Name: name, Metadata: labels})
		var err error
		imageID, err = r.ExtractImageID()
		return apiError(opAction+" (createImage)", err)
	})
	if err != nil {
		return "", err
	}
	return imageID, c.waitImage(ctx, imageID)
}

// stopAndWait stops the server and waits until it is SHUTOFF with no task
// in progress.
func (c *Connector) stopAndWait(ctx context.Context, id string) error {
	return connectors.WaitFor(ctx, connectors.PollBackoff, "server "+id+" to stop", func(ctx context.Context) (bool, string, error) {
		srv, err := servers.Get(ctx, c.compute, id).Extract()
		if err != nil {
			return false, "", apiError(opGet, err)
		}
		status := srv.Status + " " + srv.TaskState
		switch {
		case srv.TaskState != "" || srv.Status == "BUILD":
			return false, status, nil // busy: wait
		case srv.Status == "SHUTOFF":
			return true, status, nil
		case srv.Status == "ACTIVE":
			err := servers.Stop(ctx, c.compute, id).ExtractErr()
			if err != nil && statusOf(err) != http.StatusConflict { // 409: busy after all, ask again
				return false, "", apiError(opAction+" (os-stop)", err)
			}
			return false, status, nil
		}
		return false, "", &connectors.Error{Cloud: cloudName, Op: opAction + " (os-stop)", Code: "InvalidState", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("server %s is %s (%s); Snapshot stops running servers only", id, srv.Status, coalesce(srv.Fault.Message, "no fault"))}
	})
}

// snapshotOf finds an image named name made from the server (Nova sets
// the image's instance_uuid), not failed.
func (c *Connector) snapshotOf(ctx context.Context, serverID, name string) (string, error) {
	client, err := c.needImage(opImages)
	if err != nil {
		return "", err
	}
	found := ""
	err = images.List(client, images.ListOpts{Name: name}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		list, err := images.ExtractImages(p)
		if err != nil {
			return false, err
		}
		for _, img := range list {
			if img.Properties["instance_uuid"] == serverID && !imageFailed(img.Status) {
				found = img.ID
				return false, nil
			}
		}
		return true, nil
	})
	return found, apiError(opImages, err)
}

func imageFailed(s images.ImageStatus) bool {
	switch s {
	case images.ImageStatusKilled, images.ImageStatusDeleted, images.ImageStatusPendingDelete, images.ImageStatusDeactivated:
		return true
	}
	return false
}

// waitImage waits until Glance says the image is active.
func (c *Connector) waitImage(ctx context.Context, id string) error {
	client, err := c.needImage(opImage)
	if err != nil {
		return err
	}
	return connectors.WaitFor(ctx, connectors.PollBackoff, "image "+id+" to be active", func(ctx context.Context) (bool, string, error) {
		img, err := images.Get(ctx, client, id).Extract()
		if err != nil {
			e := apiError(opImage, err)
			if connectors.IsNotFound(e) {
				return false, "", &connectors.Error{Cloud: cloudName, Op: opImage, Code: "ImageVanished", Kind: connectors.KindPermanent,
					Message: fmt.Sprintf("image %s was deleted while Nova wrote it", id)}
			}
			return false, "", e
		}
		if imageFailed(img.Status) {
			return false, "", &connectors.Error{Cloud: cloudName, Op: opImage, Code: "ImageFailed", Kind: connectors.KindPermanent,
				Message: fmt.Sprintf("image %s is %s: Nova could not write it", id, img.Status)}
		}
		return img.Status == images.ImageStatusActive, string(img.Status), nil
	})
}

// DeleteImage deletes the Glance image; one that does not exist is
// already deleted.
func (c *Connector) DeleteImage(ctx context.Context, imageID string) error {
	client, err := c.needImage(opDeleteImage)
	if err != nil {
		return err
	}
	err = images.Delete(ctx, client, imageID).ExtractErr()
	if e := apiError(opDeleteImage, err); e != nil && !connectors.IsNotFound(e) {
		return e
	}
	return nil
}

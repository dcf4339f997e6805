package csapi

import (
	"context"
	"fmt"
	"net/url"
)

// GetDrive reads one drive (Drives, "List single drive": GET
// /drives/{uuid}/). A library drive's uuid gives the library drive, with
// no owner (Library Drives, "Recognizing library drives").
func (c *Client) GetDrive(ctx context.Context, uuid string) (*Drive, error) {
	path, err := objectPath("drives", uuid)
	if err != nil {
		return nil, err
	}
	var d Drive
	if err := c.do(ctx, "GET", path, nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListDrives lists the account's drives in full (Drives, "Detailed
// listing": GET /drives/detail/), every page; library drives are not
// among them.
func (c *Client) ListDrives(ctx context.Context, filter url.Values) ([]Drive, error) {
	return listAll[Drive](ctx, c, "drives/detail/", filter)
}

// CloneDrive clones a drive of the account (Drives, "Cloning": POST
// /drives/{uuid}/action/?do=clone, answered 202 with the new drive, whose
// status is cloning_dst until the copy is done).
func (c *Client) CloneDrive(ctx context.Context, uuid string, req CloneRequest) (*Drive, error) {
	return c.clone(ctx, "drives", uuid, req)
}

// DeleteDrive deletes a drive (DELETE /drives/{uuid}/, 204).
func (c *Client) DeleteDrive(ctx context.Context, uuid string) error {
	path, err := objectPath("drives", uuid)
	if err != nil {
		return err
	}
	return c.do(ctx, "DELETE", path, nil, nil, nil)
}

// GetLibDrive reads one library drive (Library Drives, "List single
// drive": GET /libdrives/{uuid}/).
func (c *Client) GetLibDrive(ctx context.Context, uuid string) (*LibDrive, error) {
	path, err := objectPath("libdrives", uuid)
	if err != nil {
		return nil, err
	}
	var d LibDrive
	if err := c.do(ctx, "GET", path, nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ListLibDrives lists the library (GET /libdrives/), every page.
func (c *Client) ListLibDrives(ctx context.Context, filter url.Values) ([]LibDrive, error) {
	return listAll[LibDrive](ctx, c, "libdrives/", filter)
}

// CloneLibDrive clones a library drive into the account (Library Drives,
// "Cloning library drive": POST /libdrives/{uuid}/action/?do=clone, the
// same as a drive's clone).
func (c *Client) CloneLibDrive(ctx context.Context, uuid string, req CloneRequest) (*Drive, error) {
	return c.clone(ctx, "libdrives", uuid, req)
}

func (c *Client) clone(ctx context.Context, kind, uuid string, req CloneRequest) (*Drive, error) {
	path, err := objectPath(kind, uuid)
	if err != nil {
		return nil, err
	}
	var out objects[Drive]
	if err := c.do(ctx, "POST", path+"action/", url.Values{"do": {"clone"}}, req, &out); err != nil {
		return nil, err
	}
	if len(out.Objects) != 1 || out.Objects[0].UUID == "" {
		return nil, &RequestError{Method: "POST", Path: "/" + path + "action/?do=clone",
			Err: fmt.Errorf("the answer lists %d drives, not the one clone", len(out.Objects))}
	}
	return &out.Objects[0], nil
}

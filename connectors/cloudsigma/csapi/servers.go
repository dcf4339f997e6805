package csapi

import (
	"context"
	"fmt"
	"net/url"
)

// GetServer reads one server's full definition (Servers, "Server Runtime
// and Server Details": GET /servers/{uuid}/).
func (c *Client) GetServer(ctx context.Context, uuid string) (*Server, error) {
	path, err := objectPath("servers", uuid)
	if err != nil {
		return nil, err
	}
	var s Server
	if err := c.do(ctx, "GET", path, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListServers lists the account's servers with their full definitions
// (Servers, "Detailed listing": GET /servers/detail/), every page. filter
// holds the schema's filters (name, uuid, tag), or is nil.
func (c *Client) ListServers(ctx context.Context, filter url.Values) ([]Server, error) {
	return listAll[Server](ctx, c, "servers/detail/", filter)
}

// CreateServers creates servers, stopped (Servers, "Creating": POST
// /servers/ with {"objects": [...]}, one or many). The answer lists them
// in the order asked.
func (c *Client) CreateServers(ctx context.Context, servers []Server) ([]Server, error) {
	var out objects[Server]
	if err := c.do(ctx, "POST", "servers/", nil, objects[Server]{Objects: servers}, &out); err != nil {
		return nil, err
	}
	if len(out.Objects) != len(servers) {
		return out.Objects, &RequestError{Method: "POST", Path: "/servers/",
			Err: fmt.Errorf("asked for %d servers, the answer lists %d", len(servers), len(out.Objects))}
	}
	return out.Objects, nil
}

// Server actions (Servers, "Server Actions"). The ACPI shutdown is
// "shutdown" in the reference.
const (
	ActionStart    = "start"
	ActionStop     = "stop"
	ActionShutdown = "shutdown"
)

// ServerAction runs an action on a server: POST
// /servers/{uuid}/action/?do={action} with an empty object, answered 202.
func (c *Client) ServerAction(ctx context.Context, uuid, action string) (*ActionResult, error) {
	path, err := objectPath("servers", uuid)
	if err != nil {
		return nil, err
	}
	var out ActionResult
	if err := c.do(ctx, "POST", path+"action/", url.Values{"do": {action}}, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Recursive deletes (Servers, "Delete Server together with attached
// drives").
const (
	RecurseNone      = ""
	RecurseAllDrives = "all_drives"
	RecurseDisks     = "disks"
	RecurseCDROMs    = "cdroms"
)

// DeleteServer deletes a stopped server, and with recurse its drives
// (DELETE /servers/{uuid}/?recurse=…, answered 204 "deletion started").
func (c *Client) DeleteServer(ctx context.Context, uuid, recurse string) error {
	path, err := objectPath("servers", uuid)
	if err != nil {
		return err
	}
	var q url.Values
	if recurse != "" {
		q = url.Values{"recurse": {recurse}}
	}
	return c.do(ctx, "DELETE", path, q, nil, nil)
}

package openstack

import (
	"context"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opDelete = "DELETE /servers/{id}"

// Delete deletes the server, waits until Nova no longer shows it, then
// releases the floating IPs tied to it. A server that does not exist is
// already deleted.
func (c *Connector) Delete(ctx context.Context, id string) error {
	if err := c.deleteAndWait(ctx, id); err != nil {
		return err
	}
	return c.releaseFloatingIPs(ctx, id)
}

// deleteAndWait deletes a server and polls it until it is gone. A server
// whose deletion failed (ERROR, no task) is asked to go again.
func (c *Connector) deleteAndWait(ctx context.Context, id string) error {
	if err := servers.Delete(ctx, c.compute, id).ExtractErr(); err != nil {
		e := apiError(opDelete, err)
		if connectors.IsNotFound(e) {
			return nil
		}
		return e
	}
	return connectors.WaitFor(ctx, connectors.PollBackoff, "server "+id+" to be deleted", func(ctx context.Context) (bool, string, error) {
		srv, err := servers.Get(ctx, c.compute, id).Extract()
		if err != nil {
			e := apiError(opGet, err)
			return connectors.IsNotFound(e), "", ignoreNotFound(e)
		}
		switch {
		case srv.Status == "DELETED" || srv.Status == "SOFT_DELETED":
			return true, "", nil
		case srv.Status == "ERROR" && srv.TaskState == "":
			if err := servers.Delete(ctx, c.compute, id).ExtractErr(); err != nil {
				return false, "", ignoreNotFound(apiError(opDelete, err))
			}
		}
		return false, srv.Status + " " + srv.TaskState, nil
	})
}

func ignoreNotFound(err error) error {
	if connectors.IsNotFound(err) {
		return nil
	}
	return err
}

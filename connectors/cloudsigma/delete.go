package cloudsigma

import (
	"context"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// Delete stops the server if it runs and deletes it with its drives, and
// waits until it is gone. A server that does not exist is deleted
// already.
func (c *Connector) Delete(ctx context.Context, id string) error {
	return c.deleteServer(ctx, id)
}

// deleteServer is Delete:
//
//  1. read the server: gone is done; its drives are noted;
//  2. stop it unless stopped (Servers, "Stop"), and wait until it is
//     (CloudSigma deletes stopped servers only);
//  3. DELETE /servers/{uuid}/?recurse=all_drives, which deletes the
//     attached drives with it (Servers, "Delete Server together with
//     attached drives"), and wait until the server is 404;
//  4. delete any of its drives still there: a server deleted without its
//     drives (outside SlipStream, or a recursive delete that left one)
//     must not leave the machine's disk behind.
//
// Each call is retried while it fails transiently, and a refusal because
// the server is not stopped (someone started it meanwhile) goes back to
// step 2.
func (c *Connector) deleteServer(ctx context.Context, id string) error {
	var drives []string
	err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
		s, err := c.api.GetServer(ctx, id)
		if gone(err) {
			return nil
		}
		if err != nil {
			return apiErr(err)
		}
		for _, d := range s.Drives {
			if d.Drive.UUID != "" && !slices.Contains(drives, d.Drive.UUID) {
				drives = append(drives, d.Drive.UUID)
			}
		}
		if err := c.stopAndWait(ctx, s); err != nil {
			return err
		}
		err = c.api.DeleteServer(ctx, id, csapi.RecurseAllDrives)
		switch {
		case gone(err):
			return nil
		case wrongState(err):
			// Not stopped after all: stop it again, then delete.
			return transient(apiErr(err))
		}
		return apiErr(err)
	})
	if err != nil {
		return err
	}
	if err := c.waitGone(ctx, id); err != nil {
		return err
	}
	for _, d := range drives {
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
			if err := c.api.DeleteDrive(ctx, d); err != nil && !gone(err) {
				return apiErr(err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// stopAndWait stops a server that is not stopped and waits until it is
// (or gone). A refused stop is not an error when the server is stopping
// or stopped already (a concurrent Delete stopped it).
func (c *Connector) stopAndWait(ctx context.Context, s *csapi.Server) error {
	switch s.Status {
	case csapi.StatusStopped:
		return nil
	case csapi.StatusStopping:
	default:
		if _, err := c.api.ServerAction(ctx, s.UUID, csapi.ActionStop); err != nil && !gone(err) && !rejected(err) {
			return apiErr(err)
		}
	}
	return connectors.WaitFor(ctx, c.poll, "server "+s.UUID+" to stop", func(ctx context.Context) (bool, string, error) {
		cur, err := c.api.GetServer(ctx, s.UUID)
		if gone(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", apiErr(err)
		}
		if cur.Status == csapi.StatusRunning || cur.Status == csapi.StatusStarting {
			// Started again, or our stop was refused while it started:
			// stop it (again).
			if _, err := c.api.ServerAction(ctx, s.UUID, csapi.ActionStop); err != nil && !gone(err) && !rejected(err) {
				return false, "", apiErr(err)
			}
		}
		return cur.Status == csapi.StatusStopped, cur.Status, nil
	})
}

// waitGone waits until a deleted server is 404: CloudSigma answers the
// DELETE when the deletion has started.
func (c *Connector) waitGone(ctx context.Context, id string) error {
	return connectors.WaitFor(ctx, c.poll, "server "+id+" to be deleted", func(ctx context.Context) (bool, string, error) {
		s, err := c.api.GetServer(ctx, id)
		if gone(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", apiErr(err)
		}
		return false, s.Status, nil
	})
}

// transient marks an error worth another attempt of the loop it is in.
func transient(err error) error {
	if ce, ok := err.(*connectors.Error); ok {
		cp := *ce
		cp.Kind = connectors.KindTransient
		return &cp
	}
	return err
}

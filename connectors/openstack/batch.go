package openstack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// batchListWait bounds how long CreateBatch waits for a reservation's
// servers to be listed (Nova lists them at once; a cell may lag).
const batchListWait = 30 * time.Second

// CreateBatch makes count servers in one request (min_count = max_count,
// so Nova makes all or none; it names them "<name>-1" … "<name>-n") and
// finds them by the reservation id Nova returns. As for Create, it waits
// until Nova has placed them; if any went to ERROR, all are deleted and
// the batch fails with Nova's fault.
func (c *Connector) CreateBatch(ctx context.Context, spec connectors.MachineSpec, count int) ([]*connectors.Machine, error) {
	if count < 1 {
		return nil, &connectors.Error{Cloud: cloudName, Op: opCreate, Code: "InvalidSpec", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("a batch of %d machines", count)}
	}
	if count == 1 {
		m, err := c.Create(ctx, spec)
		if m == nil {
			return nil, err
		}
		return []*connectors.Machine{m}, err
	}
	p, err := c.plan(ctx, spec, count)
	if err != nil {
		return nil, err
	}
	r := servers.Create(ctx, c.compute, p.opts, nil)
	if r.Err != nil {
		return nil, c.createError(r.Err, p)
	}
	var body struct {
		ReservationID string `json:"reservation_id"`
	}
	if err := r.Result.ExtractInto(&body); err != nil || body.ReservationID == "" {
		return nil, &connectors.Error{Cloud: cloudName, Op: opCreate, Code: "NoReservation", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("Nova accepted %d servers but returned no reservation id to find them by (%v)", count, err)}
	}
	ids, err := c.reservation(ctx, body.ReservationID, count)
	machines := make([]*connectors.Machine, 0, len(ids))
	for _, id := range ids {
		machines = append(machines, &connectors.Machine{ID: id, Name: spec.Name, State: connectors.StatePending})
	}
	if err != nil {
		return machines, err
	}

	// Follow them all through scheduling; one that failed fails them all.
	var failed error
	for i, id := range ids {
		srv, err := c.waitScheduled(ctx, id)
		if err != nil {
			return machines, err
		}
		if srv.Status == "ERROR" && failed == nil {
			failed = &connectors.Error{Cloud: cloudName, Op: opCreate, Code: "BuildFailed", Kind: connectors.KindPermanent,
				Message: fmt.Sprintf("server %s of the batch went to ERROR: %s", id, coalesce(srv.Fault.Message, "no fault message"))}
		}
		machines[i] = c.machineOf(ctx, srv)
	}
	if failed != nil {
		var errs []error
		for _, id := range ids {
			if err := c.deleteAndWait(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return machines, errors.Join(append([]error{failed}, errs...)...)
		}
		return nil, failed
	}
	if p.pool != nil {
		for _, m := range machines {
			err := connectors.Retry(ctx, connectors.DefaultBackoff, nil, func(ctx context.Context) error {
				ip, err := c.ensureFloatingIP(ctx, m.ID, p.pool.ID)
				m.PublicIP = coalesce(ip, m.PublicIP)
				return err
			})
			if err != nil {
				return machines, err
			}
		}
	}
	return machines, nil
}

// reservation lists the servers of a multiple create, waiting (briefly)
// until all count are listed.
func (c *Connector) reservation(ctx context.Context, reservationID string, count int) ([]string, error) {
	wctx, cancel := context.WithTimeout(ctx, batchListWait)
	defer cancel()
	var ids []string
	err := connectors.WaitFor(wctx, schedulingBackoff, "the servers of reservation "+reservationID, func(ctx context.Context) (bool, string, error) {
		list, err := c.listServers(ctx, serverQuery{"reservation_id": {reservationID}}, func(*servers.Server) bool { return true })
		if err != nil {
			return false, "", err
		}
		ids = ids[:0]
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		return len(ids) >= count, fmt.Sprintf("%d of %d listed", len(ids), count), nil
	})
	return ids, err
}

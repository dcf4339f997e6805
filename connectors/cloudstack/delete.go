package cloudstack

import (
	"context"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opDestroy = "destroyVirtualMachine"

// Delete destroys the VM with expunge=true, follows the job, and waits
// until the VM is no longer listed (or destroyed for good). When the
// account may not expunge, the VM is destroyed without expunge (and
// later expunged by the cloud). A VM that does not exist is not an
// error.
func (c *Connector) Delete(ctx context.Context, id string) error {
	vm, err := c.getVM(ctx, id)
	if connectors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if s := machineOf(vm).State; s != connectors.StateTerminating && s != connectors.StateTerminated {
		if err := c.destroy(ctx, id, !c.noExpunge.Load()); err != nil {
			if !expungeRefused(err) {
				return err
			}
			c.noExpunge.Store(true)
			if err := c.destroy(ctx, id, false); err != nil {
				return err
			}
		}
	}
	return connectors.WaitFor(ctx, c.poll, "VM "+id+" to be destroyed", func(ctx context.Context) (bool, string, error) {
		vm, err := c.getVM(ctx, id)
		if connectors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		return vm.State == "Destroyed", vm.State, nil
	})
}

// destroy is one destroyVirtualMachine, awaited. A VM gone meanwhile is
// not an error.
func (c *Connector) destroy(ctx context.Context, id string, expunge bool) error {
	var jobID string
	err := c.call(ctx, opDestroy, func(cs *cloudstack.CloudStackClient) error {
		p := cs.VirtualMachine.NewDestroyVirtualMachineParams(id)
		p.SetExpunge(expunge)
		r, err := cs.VirtualMachine.DestroyVirtualMachine(p)
		if err == nil {
			jobID = r.JobID
		}
		return err
	})
	if err == nil {
		_, err = c.await(ctx, opDestroy, jobID)
	}
	if noSuchEntity(err) {
		return nil
	}
	return err
}

package opennebula

import (
	"context"
	"fmt"
	"strconv"

	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vm"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Delete terminates a VM hard (one.vm.action "terminate-hard") and waits
// until it is DONE or gone. A VM that does not exist, or is DONE, is
// deleted already. OpenNebula refuses a terminate while the VM is between
// states (booting, powering off: "Could not terminate VM 42, wrong state
// ACTIVE"); the terminate is then asked again as the VM settles, until the
// context ends.
func (c *Connector) Delete(ctx context.Context, id string) error {
	vmID := -1
	err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
		v, err := c.vmByRef(ctx, id)
		if err != nil || v == nil {
			return err
		}
		vmID = v.ID
		if terminating(v) {
			return nil
		}
		return c.terminate(ctx, v.ID)
	})
	if err != nil || vmID < 0 {
		return err
	}
	return connectors.WaitFor(ctx, c.poll, fmt.Sprintf("VM %d to be DONE", vmID), func(ctx context.Context) (bool, string, error) {
		v, err := guard(c, opVM, func() (*vm.VM, error) { return c.one.VM(vmID).InfoContext(ctx, false) })
		if connectors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		if vm.State(v.StateRaw) == vm.Done {
			return true, "", nil
		}
		if !terminating(v) {
			// Refused before, or started again since: ask again.
			if err := c.terminate(ctx, vmID); err != nil {
				return false, "", err
			}
		}
		return false, vmStateName(v), nil
	})
}

// terminate asks for a VM's terminate-hard. A VM gone meanwhile, or in a
// state that refuses it for now, is not an error: the caller waits.
func (c *Connector) terminate(ctx context.Context, id int) error {
	err := guardErr(c, opAction, func() error { return c.one.VM(id).TerminateHardContext(ctx) })
	if err == nil || connectors.IsNotFound(err) || hasCode(err, codeAction) {
		return nil
	}
	return err
}

// terminating reports whether a VM is on its way to DONE.
func terminating(v *vm.VM) bool {
	switch vm.State(v.StateRaw) {
	case vm.Done:
		return true
	case vm.Active:
		switch vm.LCMState(v.LCMStateRaw) {
		case vm.Shutdown, vm.Epilog, vm.CleanupDelete, vm.CleanupResubmit:
			return true
		}
	}
	return false
}

// vmStateName is "ACTIVE/RUNNING", "POWEROFF", … for messages.
func vmStateName(v *vm.VM) string {
	st, lcm, err := v.StateString()
	if err != nil {
		return "STATE " + strconv.Itoa(v.StateRaw) + "/LCM_STATE " + strconv.Itoa(v.LCMStateRaw)
	}
	if vm.State(v.StateRaw) == vm.Active {
		return st + "/" + lcm
	}
	return st
}

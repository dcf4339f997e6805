package opennebula

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/image"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vm"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Snapshot makes an image of a VM's first disk:
//
//  1. an image of that name already saved from this VM (SAVED_VM_ID, a
//     Snapshot that timed out and is called again) is taken rather than
//     a second made;
//  2. the VM is powered off (one.vm.action "poweroff", by ACPI; after
//     softStop without result, "poweroff-hard") and awaited in POWEROFF
//     (a VM still booting is awaited running first);
//  3. one.vm.disksaveas saves the disk as a new image of that name;
//  4. the labels go in the image's template (one.image.update, merged, in
//     the same SLIPSTREAM_LABELS vector as a VM's);
//  5. the image is awaited READY. An image that fails (ERROR) is deleted.
//
// It returns the image's id.
func (c *Connector) Snapshot(ctx context.Context, id, name string, labels map[string]string) (string, error) {
	if err := c.checkLabels(opSaveas, labels); err != nil {
		return "", err
	}
	t := &templateText{}
	t.vector(attrLabels, labelPairs(labels))
	labelTemplate, err := t.String()
	if err != nil {
		return "", c.permanent(opImageUpdate, "InvalidLabel", "%v", err)
	}
	v, err := c.vmByRef(ctx, id)
	if err != nil {
		return "", err
	}
	if v == nil || vm.State(v.StateRaw) == vm.Done {
		return "", connectors.NotFound(c.name, opVM, "VM", id)
	}
	vmID := v.ID
	disks := v.Template.GetDisks()
	if len(disks) == 0 {
		return "", c.permanent(opSaveas, "NoDisk", "VM %d has no disk to make an image of", vmID)
	}
	diskID, err := disks[0].ID()
	if err != nil {
		return "", c.permanent(opSaveas, "NoDisk", "the first disk of VM %d has no DISK_ID", vmID)
	}

	imageID, err := c.savedImage(ctx, vmID, name)
	if err != nil {
		return "", err
	}
	if imageID < 0 {
		if err := c.powerOff(ctx, vmID); err != nil {
			return "", err
		}
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
			var err error
			imageID, err = guard(c, opSaveas, func() (int, error) {
				return c.one.VM(vmID).Disk(diskID).SaveasContext(ctx, name, "", -1)
			})
			if err != nil && !rejected(err) {
				// The image may have been made: look before asking again.
				if found, ferr := c.savedImage(ctx, vmID, name); ferr == nil && found >= 0 {
					imageID, err = found, nil
				}
			}
			return err
		})
		if err != nil {
			return "", asPermanent(err)
		}
	}
	img := strconv.Itoa(imageID)
	err = connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
		return guardErr(c, opImageUpdate, func() error {
			return c.one.Image(imageID).UpdateContext(ctx, labelTemplate, parameters.Merge)
		})
	})
	if err != nil {
		return img, err
	}
	if err := c.waitImage(ctx, imageID); err != nil {
		var failed *imageFailed
		if errors.As(err, &failed) {
			cctx, cancel := c.cleanupContext(ctx)
			defer cancel()
			if derr := c.DeleteImage(cctx, img); derr != nil {
				return img, errors.Join(err, fmt.Errorf("deleting the failed image: %w", derr))
			}
			return "", err
		}
		return img, err
	}
	return img, nil
}

// savedImage is the image named name that was saved from VM vmID (its
// template's SAVED_VM_ID), or -1.
func (c *Connector) savedImage(ctx context.Context, vmID int, name string) (int, error) {
	images, err := guard(c, opImages, func() ([]image.Image, error) {
		pool, err := c.one.Images().InfoContext(ctx, parameters.PoolWhoMine, -1, -1)
		if err != nil {
			return nil, err
		}
		return pool.Images, nil
	})
	if err != nil {
		return -1, err
	}
	for _, img := range images {
		if img.Name != name {
			continue
		}
		if saved, err := img.Template.GetInt("SAVED_VM_ID"); err == nil && saved == vmID {
			return img.ID, nil
		}
	}
	return -1, nil
}

// powerOff powers a VM off and waits until it is POWEROFF (or SUSPENDED,
// which disksaveas takes too): by ACPI first, hard after softStop. A VM
// still booting is awaited running; one that failed, or that was stopped
// or undeployed (its disks are not on a host), is refused.
func (c *Connector) powerOff(ctx context.Context, vmID int) error {
	var soft, hard time.Time
	return connectors.WaitFor(ctx, c.poll, fmt.Sprintf("VM %d to power off", vmID), func(ctx context.Context) (bool, string, error) {
		v, err := guard(c, opVM, func() (*vm.VM, error) { return c.one.VM(vmID).InfoContext(ctx, false) })
		if connectors.IsNotFound(err) {
			return false, "", connectors.NotFound(c.name, opVM, "VM", strconv.Itoa(vmID))
		}
		if err != nil {
			return false, "", err
		}
		state, reason := stateOf(v)
		switch vm.State(v.StateRaw) {
		case vm.Poweroff, vm.Suspended:
			return true, "", nil
		case vm.Stopped, vm.Undeployed:
			return false, "", c.permanent(opSaveas, "WrongState", "VM %d is %s: resume it before making an image of it", vmID, vmStateName(v))
		}
		switch state {
		case connectors.StateError, connectors.StateTerminating, connectors.StateTerminated:
			return false, "", c.permanent(opSaveas, "WrongState", "VM %d is %s, not a machine to make an image of: %s", vmID, vmStateName(v), reason)
		}
		shuttingDown := vm.State(v.StateRaw) == vm.Active && vm.LCMState(v.LCMStateRaw) == vm.ShutdownPoweroff
		action := ""
		switch {
		case state == connectors.StateRunning && soft.IsZero():
			action, soft = "poweroff", time.Now()
		case (state == connectors.StateRunning || shuttingDown) && !soft.IsZero() && time.Since(soft) >= c.softStop &&
			(hard.IsZero() || time.Since(hard) >= c.softStop):
			// The guest did not power off by ACPI (OpenNebula takes it
			// back to RUNNING after its own timeout): pull the plug.
			action, hard = "poweroff-hard", time.Now()
		}
		if action != "" {
			err := guardErr(c, opAction, func() error { return c.one.VM(vmID).ActionContext(ctx, action) })
			if err != nil && !hasCode(err, codeAction) {
				return false, "", err
			}
		}
		return false, vmStateName(v), nil
	})
}

// imageFailed is an image that OpenNebula could not make.
type imageFailed struct{ err error }

func (e *imageFailed) Error() string { return e.err.Error() }
func (e *imageFailed) Unwrap() error { return e.err }

// waitImage waits until an image is READY (or USED: a VM started from it
// meanwhile). ERROR is an *imageFailed with the image's own message.
func (c *Connector) waitImage(ctx context.Context, id int) error {
	return connectors.WaitFor(ctx, c.poll, fmt.Sprintf("image %d to be READY", id), func(ctx context.Context) (bool, string, error) {
		img, err := c.imageInfo(ctx, id)
		if err != nil {
			return false, "", err
		}
		switch image.State(img.StateRaw) {
		case image.Ready, image.Used, image.UsedPers:
			return true, "", nil
		case image.Error:
			msg, _ := img.Template.GetStr("ERROR")
			return false, "", &imageFailed{err: c.permanent(opSaveas, "ImageFailed", "image %d (%s) failed: %s", id, img.Name, msg)}
		case image.Disabled, image.Delete:
			return false, "", c.permanent(opSaveas, "ImageFailed", "image %d (%s) is %s", id, img.Name, imageStateName(img.StateRaw))
		}
		return false, imageStateName(img.StateRaw), nil
	})
}

// DeleteImage deletes an image (one.image.delete) and waits until it is
// gone. An image that does not exist is deleted already.
func (c *Connector) DeleteImage(ctx context.Context, imageID string) error {
	id, err := strconv.Atoi(imageID)
	if err != nil || id < 0 {
		return c.permanent(opImageDelete, "InvalidImage", "%q is not an OpenNebula image id (a number)", imageID)
	}
	err = connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
		return guardErr(c, opImageDelete, func() error { return c.one.Image(id).DeleteContext(ctx) })
	})
	if connectors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return connectors.WaitFor(ctx, c.poll, fmt.Sprintf("image %d to be deleted", id), func(ctx context.Context) (bool, string, error) {
		img, err := c.imageInfo(ctx, id)
		if connectors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		return false, imageStateName(img.StateRaw), nil
	})
}

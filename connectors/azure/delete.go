package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Delete deletes the VM and waits until it is gone; its delete options
// take its OS disk, network interface and public address with it. When it
// was the deployment's last VM in its resource group, what the connector
// made for the deployment there goes too. A VM that does not exist is
// deleted already (an id that is not a VM's names none).
func (c *Connector) Delete(ctx context.Context, id string) error {
	ref, ok := parseRef(id, typeVM)
	if !ok || !strings.EqualFold(ref.subscription, c.subscription) {
		return nil
	}
	vm, err := c.vms.Get(ctx, ref.group, ref.name, nil)
	deployment := ""
	switch err := apiError(ctx, "VirtualMachines.Get", err); {
	case connectors.IsNotFound(err):
		return c.releaseAfter(ctx, "", ref.group)
	case err != nil:
		return err
	default:
		deployment = str(vm.Tags[tagDeployment])
	}
	err = deleteAndAwait(ctx, c, "VirtualMachines.Delete", func(ctx context.Context) (*runtime.Poller[armcompute.VirtualMachinesClientDeleteResponse], error) {
		return c.vms.BeginDelete(ctx, ref.group, ref.name, nil)
	})
	if err != nil {
		return err
	}
	return c.releaseAfter(ctx, deployment, ref.group)
}

// releaseAfter releases the deployment's shared resources in group after
// one of its VMs is gone. With no deployment known (the VM was gone
// already), the group's own tags say whether it is a deployment's group
// the connector made.
func (c *Connector) releaseAfter(ctx context.Context, deployment, group string) error {
	if deployment == "" {
		g, err := c.groups.Get(ctx, group, nil)
		if err := apiError(ctx, "ResourceGroups.Get", err); connectors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if str(g.Tags[tagManaged]) != managedValue {
			return nil
		}
		deployment = str(g.Tags[tagDeployment])
		if deployment == "" {
			return nil
		}
	}
	own := strings.EqualFold(group, groupNameOf(deployment))
	return c.release(ctx, c.deploymentOf(deployment, group, own))
}

package azure

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Tags on what the connector makes for a deployment: the deployment's
// id, and a mark that SlipStream made it (so that it is deleted with the
// deployment's last machine, and nothing else ever is).
const (
	tagDeployment = connectors.LabelDeployment
	tagManaged    = "slipstream-managed"
	managedValue  = "true"
)

// The network made for a deployment without subnet_id.
const (
	vnetPrefix   = "10.0.0.0/16"
	subnetName   = "default"
	subnetPrefix = "10.0.0.0/18"
)

// deployment is what one connector knows of a deployment's shared
// resources in one resource group.
type deployment struct {
	name, group string
	// own is true when group is the one the connector makes for the
	// deployment (slipstream-<deployment>), false when the recipe named it.
	own bool
	// rw is held shared by creates, from making the shared resources
	// until Azure accepted their VM, and exclusively by release, so that
	// a create in progress never loses its group or network.
	rw sync.RWMutex
	// mu serializes making the shared resources, so that concurrent
	// creates make them once.
	mu         sync.Mutex
	groupReady bool
	subnetID   string // of the network made for the deployment, once ready
}

// deploymentOf returns the connector's record of a deployment's resources
// in group.
func (c *Connector) deploymentOf(name, group string, own bool) *deployment {
	key := name + "\x00" + strings.ToLower(group)
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.deployments[key]
	if !ok {
		d = &deployment{name: name, group: group, own: own}
		c.deployments[key] = d
	}
	return d
}

func (c *Connector) sharedTags(d *deployment) map[string]*string {
	return map[string]*string{tagDeployment: new(d.name), tagManaged: new(managedValue)}
}

// ours reports whether tags mark a resource the connector made for the
// deployment.
func ours(tags map[string]*string, deployment string) bool {
	return str(tags[tagManaged]) == managedValue && str(tags[tagDeployment]) == deployment
}

// ensureGroup makes the deployment's own resource group when it is
// missing; made is set when it did. A group the recipe named is used as
// it is. d.mu is held.
func (c *Connector) ensureGroup(ctx context.Context, d *deployment, made *bool) error {
	if !d.own || d.groupReady {
		return nil
	}
	const op = "ResourceGroups.Get"
	g, err := c.groups.Get(ctx, d.group, nil)
	switch e := apiError(ctx, op, err); {
	case e == nil:
		if !ours(g.Tags, d.name) {
			return &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindPermanent, Code: "ResourceGroupNotOurs",
				Message: fmt.Sprintf("the resource group %s exists but was not made by SlipStream for deployment %s; to use it, name it in the resource_group setting", d.group, d.name)}
		}
		if g.Properties != nil && strings.EqualFold(str(g.Properties.ProvisioningState), "Deleting") {
			return &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindTransient, Code: "ResourceGroupBeingDeleted",
				Message: fmt.Sprintf("the resource group %s of deployment %s is being deleted; it is made again once it is gone", d.group, d.name)}
		}
	case connectors.IsNotFound(e):
		_, err := c.groups.CreateOrUpdate(ctx, d.group, armresources.ResourceGroup{Location: &c.location, Tags: c.sharedTags(d)}, nil)
		if err != nil {
			return apiError(ctx, "ResourceGroups.CreateOrUpdate", err)
		}
		*made = true
	default:
		return e
	}
	d.groupReady = true
	return nil
}

// ensureNetwork makes the deployment's virtual network in its group when
// it is missing, and returns its subnet's id; made is set when it made
// it. d.mu is held.
func (c *Connector) ensureNetwork(ctx context.Context, d *deployment, made *bool) (string, error) {
	if d.subnetID != "" {
		return d.subnetID, nil
	}
	name := vnetNameOf(d.name)
	const op = "VirtualNetworks.Get"
	v, err := c.vnets.Get(ctx, d.group, name, nil)
	switch e := apiError(ctx, op, err); {
	case e == nil:
		if !ours(v.Tags, d.name) {
			return "", &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindPermanent, Code: "VirtualNetworkNotOurs",
				Message: fmt.Sprintf("the virtual network %s in %s exists but was not made by SlipStream for deployment %s; set subnet_id to use a network of your own", name, d.group, d.name)}
		}
	case connectors.IsNotFound(e):
		body := armnetwork.VirtualNetwork{Location: &c.location, Tags: c.sharedTags(d),
			Properties: &armnetwork.VirtualNetworkPropertiesFormat{
				AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{new(vnetPrefix)}},
				Subnets: []*armnetwork.Subnet{{Name: new(subnetName), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: new(subnetPrefix),
					// New subnets are private by default since 2025: without
					// this a machine with no public address could not reach
					// the coordinator.
					DefaultOutboundAccess: new(true)}}},
			}}
		err := c.step(ctx, *made, "VirtualNetworks.CreateOrUpdate", func(ctx context.Context) error {
			p, err := c.vnets.BeginCreateOrUpdate(ctx, d.group, name, body, nil)
			if err != nil {
				return apiError(ctx, "VirtualNetworks.CreateOrUpdate", err)
			}
			_, err = await(ctx, c, "VirtualNetworks.CreateOrUpdate", p)
			return err
		})
		if err != nil {
			return "", err
		}
		*made = true
	default:
		return "", e
	}
	d.subnetID = c.resourceID(d.group, "Microsoft.Network/virtualNetworks", name) + "/subnets/" + subnetName
	return d.subnetID, nil
}

// forget drops what the connector knows to exist of the deployment's
// shared resources, after they were deleted or found missing; d.mu is
// held.
func (d *deployment) forget() {
	d.groupReady, d.subnetID = false, ""
}

// release deletes what the connector made for the deployment in the group
// when no VM of the deployment is left there: the group itself when it is
// the deployment's own (and holds no VM at all), or else the network made
// in the recipe's group. It waits until they are gone.
func (c *Connector) release(ctx context.Context, d *deployment) error {
	d.rw.Lock()
	defer d.rw.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	pages := c.vms.NewListPager(d.group, nil)
	for pages.More() {
		page, err := pages.NextPage(ctx)
		if err = apiError(ctx, "VirtualMachines.List", err); connectors.IsNotFound(err) {
			d.forget()
			return nil
		} else if err != nil {
			return err
		}
		for _, vm := range page.Value {
			if d.own || str(vm.Tags[tagDeployment]) == d.name {
				return nil
			}
		}
	}
	if d.own {
		g, err := c.groups.Get(ctx, d.group, nil)
		if err = apiError(ctx, "ResourceGroups.Get", err); connectors.IsNotFound(err) {
			d.forget()
			return nil
		} else if err != nil {
			return err
		}
		if !ours(g.Tags, d.name) {
			return nil
		}
		if err := deleteAndAwait(ctx, c, "ResourceGroups.Delete", func(ctx context.Context) (*runtime.Poller[armresources.ResourceGroupsClientDeleteResponse], error) {
			return c.groups.BeginDelete(ctx, d.group, nil)
		}); err != nil {
			return err
		}
		d.forget()
		return nil
	}
	name := vnetNameOf(d.name)
	v, err := c.vnets.Get(ctx, d.group, name, nil)
	if err = apiError(ctx, "VirtualNetworks.Get", err); connectors.IsNotFound(err) {
		d.forget()
		return nil
	} else if err != nil {
		return err
	}
	if !ours(v.Tags, d.name) {
		return nil
	}
	err = deleteAndAwait(ctx, c, "VirtualNetworks.Delete", func(ctx context.Context) (*runtime.Poller[armnetwork.VirtualNetworksClientDeleteResponse], error) {
		return c.vnets.BeginDelete(ctx, d.group, name, nil)
	})
	if codeOf(err) == "InUseSubnetCannotBeDeleted" {
		// Something else still uses the network (an interface of a
		// machine made by another process, or left by a failed clean-up):
		// it stays until that is gone.
		return nil
	}
	if err == nil {
		d.forget()
	}
	return err
}

// deleteAndAwait starts a delete and waits until it is done; what is not
// there is deleted already.
func deleteAndAwait[T any](ctx context.Context, c *Connector, op string, begin func(context.Context) (*runtime.Poller[T], error)) error {
	p, err := begin(ctx)
	if err = apiError(ctx, op, err); connectors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := await(ctx, c, op, p); err != nil && !connectors.IsNotFound(err) {
		return err
	}
	return nil
}

// await waits for a long-running operation with the SDK's poller. A poll
// that fails transiently (throttled, Azure's 5xx) is asked again after a
// pause: the operation goes on whatever happened to one poll. The
// operation's own failure is returned as it is.
func await[T any](ctx context.Context, c *Connector, op string, p *runtime.Poller[T]) (T, error) {
	wait := c.retry.Initial
	for {
		res, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: c.pollEvery})
		if err == nil {
			return res, nil
		}
		e := apiError(ctx, op, err)
		if p.Done() || !connectors.IsTransient(e) || ctx.Err() != nil {
			return res, e
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, e
		case <-t.C:
		}
		wait = min(2*wait, c.retry.Max)
	}
}

// step runs one call of a create. Once something was made (retry), a
// transient failure is retried here, so that what was made is not left
// for a failure that would pass; the first call is not, so that the
// caller's own retry (connectors.Retry) decides.
func (c *Connector) step(ctx context.Context, retry bool, op string, fn func(context.Context) error) error {
	if !retry {
		return fn(ctx)
	}
	return connectors.Retry(ctx, c.retry, nil, fn)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

package azure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// computeAPIVersion is the api-version a generic GET of a compute
// resource asks for.
const computeAPIVersion = "2024-07-01"

// listParallel bounds the VMs List describes at once.
const listParallel = 8

// Describe reads the VM with its instance view, and its addresses from
// its primary network interface.
func (c *Connector) Describe(ctx context.Context, id string) (*connectors.Machine, error) {
	ref, ok := parseRef(id, typeVM)
	if !ok {
		return nil, c.describeOther(ctx, id)
	}
	if !strings.EqualFold(ref.subscription, c.subscription) {
		return nil, &connectors.Error{Cloud: Name, Op: "VirtualMachines.Get", Kind: connectors.KindNotFound, Code: "NotFound",
			Message: fmt.Sprintf("VM %s is in subscription %s; this provider works in %s", id, ref.subscription, c.subscription)}
	}
	const op = "VirtualMachines.Get"
	expand := armcompute.InstanceViewTypesInstanceView
	resp, err := c.vms.Get(ctx, ref.group, ref.name, &armcompute.VirtualMachinesClientGetOptions{Expand: &expand})
	if err != nil {
		return nil, apiError(ctx, op, err)
	}
	m := machineOf(&resp.VirtualMachine, ref)
	if err := c.addresses(ctx, &resp.VirtualMachine, m); err != nil {
		return nil, err
	}
	return m, nil
}

// describeOther answers Describe of an id that is not a VM's: Resource
// Manager is asked what it names (Resources – Get By Id), so that a typo
// gets Azure's own answer, and the answer is "not found" unless Azure
// could not say.
func (c *Connector) describeOther(ctx context.Context, id string) error {
	const op = "Resources.GetByID"
	notFound := &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindNotFound, Code: "NotFound",
		Message: fmt.Sprintf("%q is not a virtual machine's resource id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/virtualMachines/NAME)", id)}
	if id == "" || strings.ContainsAny(id, "?#% \t\r\n") {
		return notFound
	}
	res, err := c.resources.GetByID(ctx, id, computeAPIVersion, nil)
	if err != nil {
		e := apiError(ctx, op, err)
		var re *azcore.ResponseError
		if ce, ok := e.(*connectors.Error); ok && errors.As(err, &re) && (ce.Kind == connectors.KindNotFound || ce.Status == http.StatusBadRequest) {
			notFound.Status, notFound.Err = ce.Status, ce
			return notFound
		}
		return e
	}
	notFound.Message = fmt.Sprintf("%s is a %s, not a virtual machine", id, str(res.Type))
	return notFound
}

// machineOf is a VM as a connectors.Machine (without its addresses).
func machineOf(vm *armcompute.VirtualMachine, ref resourceRef) *connectors.Machine {
	m := &connectors.Machine{ID: str(vm.ID), Name: str(vm.Name), Labels: map[string]string{}, State: connectors.StatePending, Settings: connectors.Settings{}}
	if m.ID == "" {
		m.ID = ref.id
	}
	for k, v := range vm.Tags {
		m.Labels[k] = str(v)
	}
	p := vm.Properties
	if p == nil {
		return m
	}
	m.InstanceID = str(p.VMID) // what the VM's cloud-init writes as its instance-id
	admin := ""
	if p.OSProfile != nil {
		admin = str(p.OSProfile.AdminUsername)
		// The machine's name is its hostname; the resource name has a
		// suffix of its own (Create).
		if host := str(p.OSProfile.ComputerName); host != "" {
			m.Name = host
		}
	}
	maps.Copy(m.Settings, settingsOf(m.Labels[tagDeployment], ref.group, "", false, admin))
	if p.HardwareProfile != nil && p.HardwareProfile.VMSize != nil {
		m.Type = string(*p.HardwareProfile.VMSize)
		m.Settings["vm_size"] = m.Type
	}
	if p.StorageProfile != nil && p.StorageProfile.ImageReference != nil {
		m.ImageID = imageIDOf(p.StorageProfile.ImageReference)
	}
	if p.TimeCreated != nil {
		m.Created = *p.TimeCreated
	}
	m.State, m.Reason = stateOf(p)
	return m
}

// imageIDOf is an image reference as the image id Create took.
func imageIDOf(r *armcompute.ImageReference) string {
	if id := str(r.ID); id != "" {
		return id
	}
	if r.Publisher == nil {
		return str(r.SharedGalleryImageID) + str(r.CommunityGalleryImageID)
	}
	return strings.Join([]string{str(r.Publisher), str(r.Offer), str(r.SKU), str(r.Version)}, ":")
}

// stateOf is a VM's state from its provisioning state and its instance
// view's power state.
func stateOf(p *armcompute.VirtualMachineProperties) (connectors.State, string) {
	prov := strings.ToLower(str(p.ProvisioningState))
	power, failure := "", ""
	if p.InstanceView != nil {
		for _, s := range p.InstanceView.Statuses {
			code := strings.ToLower(str(s.Code))
			switch {
			case strings.HasPrefix(code, "powerstate/"):
				power = strings.TrimPrefix(code, "powerstate/")
			case strings.HasPrefix(code, "provisioningstate/failed"):
				failure = str(s.Message)
				if failure == "" {
					failure = str(s.Code)
				}
			}
		}
	}
	switch {
	case prov == "deleting":
		return connectors.StateTerminating, ""
	case prov == "failed":
		if failure == "" {
			failure = "provisioning failed"
		}
		return connectors.StateError, failure
	case power == "running":
		return connectors.StateRunning, ""
	case power == "stopping" || power == "deallocating":
		return connectors.StateStopping, ""
	case power == "stopped" || power == "deallocated":
		return connectors.StateStopped, ""
	}
	return connectors.StatePending, ""
}

// addresses fills the machine's addresses, subnet and public address
// setting from its primary network interface. An interface already gone
// (the VM is being deleted) leaves them empty.
func (c *Connector) addresses(ctx context.Context, vm *armcompute.VirtualMachine, m *connectors.Machine) error {
	p := vm.Properties
	if p == nil || p.NetworkProfile == nil || len(p.NetworkProfile.NetworkInterfaces) == 0 {
		return nil
	}
	var primary *armcompute.NetworkInterfaceReference
	for _, r := range p.NetworkProfile.NetworkInterfaces {
		if r != nil && (primary == nil || r.Properties != nil && r.Properties.Primary != nil && *r.Properties.Primary) {
			primary = r
		}
	}
	if primary == nil {
		return nil
	}
	ref, ok := parseRef(str(primary.ID), typeNIC)
	if !ok {
		return nil
	}
	const op = "NetworkInterfaces.Get"
	nic, err := c.nics.Get(ctx, ref.group, ref.name, &armnetwork.InterfacesClientGetOptions{Expand: new("ipConfigurations/publicIPAddress")})
	if err := apiError(ctx, op, err); connectors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if nic.Properties == nil || len(nic.Properties.IPConfigurations) == 0 {
		return nil
	}
	ipc := nic.Properties.IPConfigurations[0]
	for _, cfg := range nic.Properties.IPConfigurations {
		if cfg != nil && cfg.Properties != nil && cfg.Properties.Primary != nil && *cfg.Properties.Primary {
			ipc = cfg
		}
	}
	if ipc == nil || ipc.Properties == nil {
		return nil
	}
	m.PrivateIP = str(ipc.Properties.PrivateIPAddress)
	if ipc.Properties.Subnet != nil {
		for k, v := range settingsOf(m.Labels[tagDeployment], ref.group, str(ipc.Properties.Subnet.ID), false, "") {
			if k == "subnet_id" {
				m.Settings[k] = v
			}
		}
	}
	if pip := ipc.Properties.PublicIPAddress; pip != nil {
		m.Settings["associate_public_ip"] = true
		if pip.Properties != nil && pip.Properties.IPAddress != nil {
			m.PublicIP = *pip.Properties.IPAddress
		} else if pref, ok := parseRef(str(pip.ID), typePublicIP); ok {
			// The interface did not expand its address: ask for it.
			got, err := c.pips.Get(ctx, pref.group, pref.name, nil)
			if err := apiError(ctx, "PublicIPAddresses.Get", err); err != nil && !connectors.IsNotFound(err) {
				return err
			} else if err == nil && got.Properties != nil {
				m.PublicIP = str(got.Properties.IPAddress)
			}
		}
	}
	return nil
}

// List finds the deployment's VMs through the resource listing, filtered
// by the slipstream-deployment tag (so no resource group needs to be
// known), and describes each.
func (c *Connector) List(ctx context.Context, deployment string) ([]*connectors.Machine, error) {
	const op = "Resources.List"
	filter := fmt.Sprintf("tagName eq '%s' and tagValue eq '%s'", odata(tagDeployment), odata(deployment))
	pages := c.resources.NewListPager(&armresources.ClientListOptions{Filter: &filter})
	var ids []string
	for pages.More() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apiError(ctx, op, err)
		}
		for _, r := range page.Value {
			// A tag filter cannot be combined with a type filter: the
			// listing holds the deployment's networks and interfaces too.
			if strings.EqualFold(str(r.Type), "Microsoft.Compute/virtualMachines") {
				ids = append(ids, str(r.ID))
			}
		}
	}
	machines := make([]*connectors.Machine, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, listParallel)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			machines[i], errs[i] = c.Describe(ctx, id)
		}()
	}
	wg.Wait()
	var out []*connectors.Machine
	for i, m := range machines {
		switch {
		case connectors.IsNotFound(errs[i]):
			// Deleted since the listing, which lags behind.
		case errs[i] != nil:
			return nil, errs[i]
		case m.State != connectors.StateTerminated && m.Labels[tagDeployment] == deployment:
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *connectors.Machine) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// odata quotes a value for a $filter string.
func odata(s string) string { return strings.ReplaceAll(s, "'", "''") }

package cloudstack

import (
	"context"
	"slices"
	"time"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opList = "listVirtualMachines"

// pageSize is how many VMs one listVirtualMachines page asks for
// (CloudStack's default.page.size is 500).
const pageSize = 500

// listVMs lists the account's VMs (listall=true, every page) with the
// filters set by filter.
func (c *Connector) listVMs(ctx context.Context, filter func(*cloudstack.ListVirtualMachinesParams)) ([]*cloudstack.VirtualMachine, error) {
	var out []*cloudstack.VirtualMachine
	for page := 1; ; page++ {
		var r *cloudstack.ListVirtualMachinesResponse
		err := c.call(ctx, opList, func(cs *cloudstack.CloudStackClient) error {
			p := cs.VirtualMachine.NewListVirtualMachinesParams()
			p.SetListall(true)
			p.SetPage(page)
			p.SetPagesize(pageSize)
			filter(p)
			var err error
			r, err = cs.VirtualMachine.ListVirtualMachines(p)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, r.VirtualMachines...)
		if len(r.VirtualMachines) < pageSize || len(out) >= r.Count {
			return out, nil
		}
	}
}

// getVM reads one VM; one that does not exist (or is expunged) is a
// KindNotFound error.
func (c *Connector) getVM(ctx context.Context, id string) (*cloudstack.VirtualMachine, error) {
	vms, err := c.listVMs(ctx, func(p *cloudstack.ListVirtualMachinesParams) { p.SetId(id) })
	if noSuchEntity(err) {
		return nil, connectors.NotFound(Name, opList, "VM", id)
	}
	if err != nil {
		return nil, err
	}
	for _, vm := range vms {
		if vm.Id == id {
			return vm, nil
		}
	}
	return nil, connectors.NotFound(Name, opList, "VM", id)
}

// Describe returns the VM's state; a destroyed or expunged one is not
// found. A VM in state Error carries the error of the job that failed
// on it.
func (c *Connector) Describe(ctx context.Context, id string) (*connectors.Machine, error) {
	vm, err := c.getVM(ctx, id)
	if err != nil {
		return nil, err
	}
	m := machineOf(vm)
	if m.State == connectors.StateTerminated {
		return nil, connectors.NotFound(Name, opList, "VM", id)
	}
	if m.State == connectors.StateError {
		m.Reason = c.failure(ctx, vm)
	}
	return m, nil
}

// List returns the VMs tagged with the deployment, but those destroyed.
func (c *Connector) List(ctx context.Context, deployment string) ([]*connectors.Machine, error) {
	if err := checkSignable(opList, "deployment id", deployment); err != nil {
		return nil, err
	}
	vms, err := c.listVMs(ctx, func(p *cloudstack.ListVirtualMachinesParams) {
		p.SetTags(map[string]string{connectors.LabelDeployment: deployment})
	})
	if err != nil {
		return nil, err
	}
	var out []*connectors.Machine
	for _, vm := range vms {
		m := machineOf(vm)
		// The filter is CloudStack's; a VM is kept only if its tag says so.
		if m.State != connectors.StateTerminated && m.Labels[connectors.LabelDeployment] == deployment {
			out = append(out, m)
		}
	}
	return out, nil
}

// failure is the error text of the newest failed job on the VM (a deploy
// that found no host, say), from listAsyncJobs since the VM's creation;
// a general word when there is none.
func (c *Connector) failure(ctx context.Context, vm *cloudstack.VirtualMachine) string {
	const fallback = "CloudStack reports the VM in state Error"
	var r *cloudstack.ListAsyncJobsResponse
	err := c.call(ctx, "listAsyncJobs", func(cs *cloudstack.CloudStackClient) error {
		p := cs.Asyncjob.NewListAsyncJobsParams()
		if t, ok := parseTime(vm.Created); ok {
			p.SetStartdate(t.UTC().Add(-24 * time.Hour).Format("2006-01-02"))
		}
		p.SetPagesize(pageSize)
		var err error
		r, err = cs.Asyncjob.ListAsyncJobs(p)
		return err
	})
	if err != nil {
		return fallback
	}
	var newest *cloudstack.AsyncJob
	var newestAt time.Time
	for _, j := range r.AsyncJobs {
		if j.Jobinstanceid != vm.Id || j.Jobstatus != jobFailed {
			continue
		}
		at, _ := parseTime(j.Created)
		if newest == nil || at.After(newestAt) {
			newest, newestAt = j, at
		}
	}
	if newest == nil {
		return fallback
	}
	_, text := jobFailure(newest.Jobresult)
	return text
}

// states are CloudStack's VM states in connectors' words.
var states = map[string]connectors.State{
	"Allocated": connectors.StatePending,
	"Starting":  connectors.StatePending,
	"Running":   connectors.StateRunning,
	"Migrating": connectors.StateRunning,
	"Stopping":  connectors.StateStopping,
	"Stopped":   connectors.StateStopped,
	"Shutdown":  connectors.StateStopped,
	"Expunging": connectors.StateTerminating,
	"Destroyed": connectors.StateTerminated,
	"Error":     connectors.StateError,
}

// machineOf is a VM as a connectors.Machine: its tags are its labels.
func machineOf(vm *cloudstack.VirtualMachine) *connectors.Machine {
	m := &connectors.Machine{ID: vm.Id, Name: cmpOr(vm.Displayname, vm.Name), Type: vm.Serviceofferingname, ImageID: vm.Templateid,
		PublicIP: vm.Publicip, Labels: tagsOf(vm.Tags), Settings: connectors.Settings{}}
	if t, ok := parseTime(vm.Created); ok {
		m.Created = t
	}
	s, known := states[vm.State]
	if !known {
		s, m.Reason = connectors.StatePending, "CloudStack reports the VM in state "+vm.State
	}
	m.State = s
	if vm.State == "Shutdown" {
		m.Reason = "the VM shut down"
	}
	var networks []string
	for _, n := range vm.Nic {
		if n.Isdefault {
			networks = append([]string{n.Networkid}, networks...)
			if n.Ipaddress != "" {
				m.PrivateIP = n.Ipaddress
			}
			continue
		}
		networks = append(networks, n.Networkid)
		if m.PrivateIP == "" && n.Ipaddress != "" {
			m.PrivateIP = n.Ipaddress
		}
	}
	if len(networks) > 0 {
		m.Settings["network_ids"] = slices.Compact(networks)
	}
	if vm.Zonename != "" {
		m.Settings["zone"] = vm.Zonename
	}
	if vm.Serviceofferingname != "" {
		m.Settings["service_offering"] = vm.Serviceofferingname
	}
	return m
}

// tagsOf is a resource's tags as a map.
func tagsOf(tags []cloudstack.Tags) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[t.Key] = t.Value
	}
	return out
}

// parseTime reads CloudStack's times ("2024-05-06T12:34:56+0000").
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

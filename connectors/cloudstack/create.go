package cloudstack

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opDeploy = "deployVirtualMachine"

// Create makes one machine: see create.
func (c *Connector) Create(ctx context.Context, spec connectors.MachineSpec) (*connectors.Machine, error) {
	ms, err := c.create(ctx, spec, []string{hostname(spec.Name)}, spec.Name)
	if len(ms) > 0 {
		return ms[0], err
	}
	return nil, err
}

// CreateBatch makes count machines of one spec: CloudStack deploys one
// VM per call, so it is count deployVirtualMachine calls, the VMs named
// <spec.Name>-1 … -count.
func (c *Connector) CreateBatch(ctx context.Context, spec connectors.MachineSpec, count int) ([]*connectors.Machine, error) {
	if count < 1 {
		return nil, permanent(opDeploy, "InvalidCount", "a batch makes at least one machine, not %d", count)
	}
	return c.create(ctx, spec, connectors.BatchNames(hostname(spec.Name), count, 63), "")
}

// plan is what every VM of a create is deployed with.
type plan struct {
	zone       zone
	offering   offering
	details    map[string]string
	template   templateInfo
	rootDiskGB int64
	networks   []string
	key        *sshKey
	keyName    string
	userData   string // base64
	tags       map[string]string
}

// create deploys one VM per name, in these steps:
//
//  1. check the spec and resolve the zone, offering, template and key
//     pair: nothing is made yet but the key pair (which is kept, shared
//     by every machine with the key), nothing else is retried;
//  2. per VM: deployVirtualMachine, which answers the VM's id at once
//     (the first VM's is not retried: the caller retries the create; the
//     later ones are, while they fail transiently), then createTags with
//     the labels, retried while it fails transiently.
//
// A VM whose tagging failed is returned with the error; a deploy whose
// answer was lost is looked for and taken back (see takeBackLost). It
// returns the VMs the cloud accepted, with the error of the step that
// failed.
func (c *Connector) create(ctx context.Context, spec connectors.MachineSpec, names []string, displayName string) ([]*connectors.Machine, error) {
	p, err := c.plan(ctx, spec)
	if err != nil {
		return nil, err
	}
	var out []*connectors.Machine
	for i, name := range names {
		var m *connectors.Machine
		deployOne := func(ctx context.Context) error {
			got, err := c.deploy(ctx, p, name, cmpOr(displayName, name))
			if err != nil && got != nil {
				// A VM of a lost answer that could not be taken back:
				// the caller must know of it, and a retry would lose it.
				out = append(out, got)
				return &connectors.Error{Cloud: Name, Op: opDeploy, Kind: connectors.KindPermanent, Message: err.Error(), Err: err}
			}
			m = got
			return err
		}
		if i == 0 {
			err = deployOne(ctx)
		} else {
			err = connectors.Retry(ctx, c.retry, nil, deployOne)
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
		if err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error { return c.tag(ctx, "UserVm", m.ID, p.tags) }); err != nil {
			return out, fmt.Errorf("the VM %s was deployed, but tagging it failed: %w", m.ID, err)
		}
		m.Labels = maps.Clone(p.tags)
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// plan checks the spec and resolves what its VMs are deployed with.
func (c *Connector) plan(ctx context.Context, spec connectors.MachineSpec) (*plan, error) {
	if spec.Name == "" {
		return nil, permanent(opDeploy, "InvalidName", "the machine has no name")
	}
	tags := maps.Clone(spec.Settings.Map("tags"))
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, spec.Labels)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if k == "" || len(k) > 255 || len(tags[k]) > 255 {
			return nil, permanent("createTags", "InvalidTag", "tag %q: CloudStack takes keys of 1 to 255 characters and values of at most 255", k)
		}
		if err := checkSignable("createTags", "tag", k+"="+tags[k]); err != nil {
			return nil, err
		}
	}
	for _, n := range spec.Settings.Strings("network_ids") {
		if err := checkSignable(opDeploy, "network id", n); err != nil {
			return nil, err
		}
	}
	z, err := c.zoneFor(ctx, spec.Settings.String("zone"))
	if err != nil {
		return nil, err
	}
	off, details, err := c.offeringFor(ctx, spec.Type, spec.Size)
	if err != nil {
		return nil, err
	}
	tmpl, err := c.template(ctx, spec.ImageID)
	if err != nil {
		return nil, err
	}
	p := &plan{zone: z, offering: off, details: details, template: tmpl, networks: spec.Settings.Strings("network_ids"), tags: tags,
		userData: base64.StdEncoding.EncodeToString([]byte(spec.UserData))}
	if want := int64(spec.Size.DiskGB); want > 0 && off.rootDiskGB == 0 && want<<30 > tmpl.sizeBytes {
		p.rootDiskGB = want
	}
	line := spec.SSHPublicKey
	if line == "" {
		line = spec.Settings.String("ssh_public_key")
	}
	if line != "" {
		if p.key, err = parseSSHKey("registerSSHKeyPair", line); err != nil {
			return nil, err
		}
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
			var err error
			p.keyName, err = c.keypair(ctx, p.key)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// deploy is one deployVirtualMachine. It returns the VM, pending, as
// soon as the API gives its id. When the answer was lost, the VM it may
// have made is taken back; one that could not be is returned with the
// error.
func (c *Connector) deploy(ctx context.Context, p *plan, name, display string) (*connectors.Machine, error) {
	var r *cloudstack.DeployVirtualMachineResponse
	err := c.call(ctx, opDeploy, func(cs *cloudstack.CloudStackClient) error {
		dp := cs.VirtualMachine.NewDeployVirtualMachineParams(p.offering.id, p.template.id, p.zone.id)
		dp.SetName(name)
		dp.SetDisplayname(display)
		dp.SetUserdata(p.userData)
		if p.keyName != "" {
			dp.SetKeypair(p.keyName)
		}
		if len(p.networks) > 0 {
			dp.SetNetworkids(p.networks)
		}
		if len(p.details) > 0 {
			dp.SetDetails(p.details)
		}
		if p.rootDiskGB > 0 {
			dp.SetRootdisksize(p.rootDiskGB)
		}
		var err error
		r, err = cs.VirtualMachine.DeployVirtualMachine(dp)
		return err
	})
	if err != nil {
		if !answered(err) {
			m, cerr := c.takeBackLost(ctx, name)
			return m, errors.Join(err, cerr)
		}
		if lower := strings.ToLower(err.Error()); p.key != nil && strings.Contains(lower, "key pair") &&
			(strings.Contains(lower, "not found") || strings.Contains(lower, "unable to find")) {
			// Deleted behind our back since it was registered: the next
			// try registers it again.
			c.forgetKeypair(p.key)
			var ce *connectors.Error
			if errors.As(err, &ce) {
				ce.Kind = connectors.KindTransient
				ce.Message += " (the key pair was deleted meanwhile; the next try registers it again)"
			}
		}
		if strings.Contains(err.Error(), "User data is too long") {
			var ce *connectors.Error
			if errors.As(err, &ce) {
				ce.Message += fmt.Sprintf(" (the user-data is %d characters of base64; the cloud's vm.userdata.max.length bounds it)", len(p.userData))
			}
		}
		return nil, err
	}
	if r.Id == "" {
		return nil, permanent(opDeploy, "MalformedAnswer", "deployVirtualMachine answered no VM id (job %q)", r.JobID)
	}
	return &connectors.Machine{ID: r.Id, Name: display, State: connectors.StatePending, Type: p.offering.name, ImageID: p.template.id,
		Created: time.Now().UTC(), Labels: map[string]string{}, Settings: p.settings()}, nil
}

// settings are the per-machine settings a plan stands for, as Describe
// reports them.
func (p *plan) settings() connectors.Settings {
	s := connectors.Settings{"zone": p.zone.name, "service_offering": p.offering.name}
	if len(p.networks) > 0 {
		s["network_ids"] = slices.Clone(p.networks)
	}
	return s
}

// tag puts tags on a resource (createTags, awaited). A job whose answer
// was lost may have tagged it already, and CloudStack refuses a key the
// resource has: a failure is checked against the resource's tags.
func (c *Connector) tag(ctx context.Context, resourceType, id string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	const op = "createTags"
	var jobID string
	err := c.call(ctx, op, func(cs *cloudstack.CloudStackClient) error {
		r, err := cs.Resourcetags.CreateTags(cs.Resourcetags.NewCreateTagsParams([]string{id}, resourceType, tags))
		if err == nil {
			jobID = r.JobID
		}
		return err
	})
	if err == nil {
		_, err = c.await(ctx, op, jobID)
	}
	if err != nil && resourceType == "UserVm" && ctx.Err() == nil {
		if have, lerr := c.vmTags(ctx, id); lerr == nil && hasAll(have, tags) {
			return nil
		}
	}
	return err
}

// vmTags are a VM's tags now.
func (c *Connector) vmTags(ctx context.Context, id string) (map[string]string, error) {
	vm, err := c.getVM(ctx, id)
	if err != nil {
		return nil, err
	}
	return tagsOf(vm.Tags), nil
}

func hasAll(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// takeBackLost looks for the VM a deploy whose answer was lost may have
// made: a VM with its host name that has no slipstream-deployment tag
// (every VM this connector made and knows of is tagged right after its
// deploy), and destroys it. It looks at once and again after a while,
// as the management server may still be creating it; all within the
// cleanup timeout, even when the create's context has ended. A VM that
// could not be destroyed is returned, with the error.
func (c *Connector) takeBackLost(ctx context.Context, name string) (*connectors.Machine, error) {
	cctx, cancel := c.cleanupContext(ctx)
	defer cancel()
	start := time.Now()
	for _, at := range c.lostChecks {
		if d := at - time.Since(start); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-cctx.Done():
				t.Stop()
				return nil, fmt.Errorf("looking for a VM the lost deploy may have made: %w", cctx.Err())
			case <-t.C:
			}
		}
		var found []*cloudstack.VirtualMachine
		err := connectors.Retry(cctx, c.retry, nil, func(ctx context.Context) error {
			var err error
			found, err = c.listVMs(ctx, func(p *cloudstack.ListVirtualMachinesParams) { p.SetName(name) })
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("looking for a VM the lost deploy may have made: %w", err)
		}
		for _, vm := range found {
			if vm.Name != name || tagsOf(vm.Tags)[connectors.LabelDeployment] != "" {
				continue
			}
			if err := c.Delete(cctx, vm.Id); err != nil {
				return machineOf(vm), fmt.Errorf("destroying VM %s, made by a deploy whose answer was lost: %w", vm.Id, err)
			}
			return nil, nil
		}
	}
	return nil, nil
}

// hostname is a VM name CloudStack takes (a host name: letters, digits
// and dashes, at most 63, starting with a letter) for a machine name.
func hostname(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	h := strings.Trim(b.String(), "-")
	if h == "" || h[0] < 'A' || (h[0] > 'Z' && h[0] < 'a') || h[0] > 'z' {
		h = "vm-" + h
	}
	if len(h) > 63 {
		h = h[:63]
	}
	return strings.TrimRight(h, "-")
}

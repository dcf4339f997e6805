package cloudstackfake

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// vm is what the fake keeps of a VM beside its Cloud machine.
type vm struct {
	id          string
	seq         int // i-2-<seq>-VM
	hostname    string
	displayname string
	zoneID      string
	offering    Offering
	cpu, memMB  int
	networks    []Network
	keypair     string
	volumeID    string
	templateID  string
	destroyed   bool // destroyed without expunge
	publicIPID  string
	macs        []string
}

func (v *vm) instanceName() string { return fmt.Sprintf("i-2-%d-VM", v.seq) }

// hostnameRule is CloudStack's check of a VM name (NetUtils.verifyDomainNameLabel).
var hostnameRule = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// deployVirtualMachine: serviceofferingid, templateid, zoneid (required);
// name, displayname, userdata (base64), keypair, networkids, details
// (cpuNumber, memory for a customized offering), rootdisksize (GB),
// startvm. Answers the VM's id and the deploy job's id at once.
func deployVirtualMachine(f *Fake, c *call) (any, error) {
	ps := c.params
	for _, name := range []string{"serviceofferingid", "templateid", "zoneid"} {
		if !ps.has(name) {
			return nil, errMissing(c.command, name)
		}
	}
	zone, err := f.zone(c, "zoneid", ps.first("zoneid"))
	if err != nil {
		return nil, err
	}
	off, err := f.offering(c, "serviceofferingid", ps.first("serviceofferingid"))
	if err != nil {
		return nil, err
	}
	tmplID := ps.first("templateid")
	f.mu.Lock()
	known := f.resolves("template", tmplID)
	f.mu.Unlock()
	if !known {
		return nil, errNoEntity(c.command, "templateid", tmplID)
	}
	img, err := f.cloud.Image(tmplID)
	if err != nil {
		return nil, errParam("Unable to use template %s to deploy a user vm; the template was removed", tmplID)
	}
	if img.State != "available" {
		return nil, errParam("Template %s has not been completely downloaded to zone %s", tmplID, zone.Name)
	}
	var nets []Network
	if ids := ps.first("networkids"); ids != "" {
		for _, id := range strings.Split(ids, ",") {
			n, err := f.network(c, "networkids", strings.TrimSpace(id))
			if err != nil {
				return nil, err
			}
			if n.ZoneID != zone.ID {
				return nil, errParam("Network id=%s doesn't belong to zone %s", n.ID, zone.Name)
			}
			nets = append(nets, n)
		}
	} else {
		for _, n := range f.opts.Networks {
			if n.ZoneID == zone.ID {
				nets = append(nets, n)
			}
		}
		switch {
		case len(nets) == 0:
			return nil, errParam("Unable to find network offering with availability=Required to automatically create the network as a part of vm creation")
		case len(nets) > 1:
			return nil, errParam("More than 1 default Isolated networks are found for account Acct[%s-%s]; please specify networkIds", f.accountID, accountName)
		}
	}
	cpu, mem, err := sizeOf(off, mapParam(ps, "details"))
	if err != nil {
		return nil, err
	}
	diskBytes := max(templateSize(img), int64(off.RootDiskGB)<<30)
	if v := ps.first("rootdisksize"); v != "" {
		gb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || gb <= 0 || gb > 1<<20 {
			return nil, errParam("Root disk size should be a positive number of GB")
		}
		if gb<<30 < templateSize(img) {
			return nil, errParam("Root disk size %dGB is smaller than the template size %dGB", gb, templateSize(img)>>30)
		}
		diskBytes = gb << 30
	}
	userData, err := f.userData(c)
	if err != nil {
		return nil, err
	}
	var keys []string
	keyName := ps.first("keypair")
	if keyName != "" {
		k, err := f.cloud.Key(keyName)
		if err != nil {
			return nil, errParam("A key pair with name '%s' was not found for account %s.", keyName, accountName)
		}
		keys = []string{k.PublicKey}
	}

	f.mu.Lock()
	f.vmSeq++
	v := &vm{seq: f.vmSeq, zoneID: zone.ID, offering: off, cpu: cpu, memMB: mem, networks: nets, keypair: keyName, templateID: tmplID, volumeID: NewUUID()}
	f.mu.Unlock()
	v.hostname = ps.first("name")
	if v.hostname == "" {
		v.hostname = "VM-" + NewUUID() // CloudStack names a nameless VM after its uuid
	} else if !hostnameRule.MatchString(v.hostname) {
		return nil, errParam("Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit")
	}
	v.displayname = ps.first("displayname")
	if v.displayname == "" {
		v.displayname = v.hostname
	}
	if err := f.hostnameFree(v.hostname, nets); err != nil {
		return nil, err
	}
	for range nets {
		v.macs = append(v.macs, newMAC())
	}
	failLater := time.Duration(0)
	if f.opts.CapacityInJob {
		failLater = max(f.opts.JobDelay, 10*time.Millisecond)
	}
	ms, err := f.cloud.Run(fakecloud.RunRequest{Op: v.instanceName(), Name: v.hostname, ImageID: tmplID, Type: off.Name, CPU: cpu, RAMMB: mem,
		DiskGB: int(diskBytes >> 30), UserData: userData, SSHKeys: keys, KeyName: keyName,
		PublicIP: f.opts.StaticNAT, Stopped: ps.has("startvm") && !parseBool(ps.first("startvm")), FailLater: failLater})
	if err != nil {
		return nil, err
	}
	v.id = ms[0].ID
	if f.opts.StaticNAT {
		v.publicIPID = NewUUID()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vms[v.id] = v
	f.volumes[v.volumeID] = v.id
	f.known[v.id], f.known[v.volumeID] = "vm", "volume"
	j := f.startJob(c.command, "VirtualMachine", v.id, func() (bool, any, *csError) {
		m, err := f.cloud.Machine(v.id)
		switch {
		case err != nil || m.State == fakecloud.Terminated || m.State == fakecloud.Terminating:
			return true, nil, &csError{code: 530, text: fmt.Sprintf("Unable to start VM[User|%s]: it was destroyed while it was deployed", v.instanceName())}
		case m.State == fakecloud.Failed && m.Reason == fakecloud.ReasonNoCapacity:
			return true, nil, &csError{code: 533, text: fmt.Sprintf("Unable to create a deployment for VM[User|%s]", v.instanceName())}
		case m.State == fakecloud.Failed:
			return true, nil, &csError{code: 530, text: fmt.Sprintf("Unable to start VM[User|%s]: %s", v.instanceName(), m.Reason)}
		case m.State == fakecloud.Running || m.State == fakecloud.Stopped:
			return true, map[string]any{"virtualmachine": f.vmJSON(m, v)}, nil
		}
		return false, nil, nil
	})
	return asyncAnswer(j, v.id), nil
}

// sizeOf is the VM's cores and memory: the offering's, or for a
// customized offering the details' cpuNumber and memory within its
// limits.
func sizeOf(off Offering, details []map[string]string) (cpu, mem int, err error) {
	if !off.Customized {
		return off.CPU, off.MemoryMB, nil
	}
	d := map[string]string{}
	for _, m := range details {
		for k, v := range m {
			d[k] = v
		}
	}
	cpu, cerr := strconv.Atoi(d["cpuNumber"])
	mem, merr := strconv.Atoi(d["memory"])
	if cerr != nil || merr != nil {
		return 0, 0, errParam("Need to specify custom parameter values cpu, cpu speed and memory when using custom offering")
	}
	if cpu < off.MinCPU || cpu > off.MaxCPU {
		return 0, 0, errParam("Invalid cpu cores value, specify a value between %d and %d", off.MinCPU, off.MaxCPU)
	}
	if mem < off.MinMemory || mem > off.MaxMemory {
		return 0, 0, errParam("Invalid memory value, specify a value between %d and %d", off.MinMemory, off.MaxMemory)
	}
	return cpu, mem, nil
}

// userData decodes the userdata parameter as UserVmManagerImpl does:
// at most 4096 base64 characters by GET, UserDataMaxLength by POST, and
// base64 it must be.
func (f *Fake) userData(c *call) ([]byte, error) {
	s := c.params.first("userdata")
	if s == "" {
		return nil, nil
	}
	if c.method == "GET" && len(s) > 4096 {
		return nil, errParam("User data is too long for an http GET request")
	}
	if len(s) > f.opts.UserDataMaxLength {
		return nil, errParam("User data is too long for an http POST request")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errParam("User data is not base64 encoded")
}

// hostnameFree refuses a name another live VM has on one of the
// networks; f.mu is not held.
func (f *Fake) hostnameFree(name string, nets []Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, other := range f.vms {
		if !strings.EqualFold(other.hostname, name) || !f.exists("vm", other.id) {
			continue
		}
		for _, a := range other.networks {
			for _, b := range nets {
				if a.ID == b.ID {
					return errParam("The vm with hostName %s already exists in the network domain: cs1cloud.internal; network=Ntwk[%s]", name, b.Name)
				}
			}
		}
	}
	return nil
}

// templateSize is a template's virtual size in bytes.
func templateSize(img fakecloud.Image) int64 {
	switch v := img.Extra["size"].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 10 << 30
}

// vmState is CloudStack's word for a machine's state; "" for one that is
// expunged (no longer listed).
func vmState(m fakecloud.Machine, v *vm) string {
	switch m.State {
	case fakecloud.Pending:
		return "Starting"
	case fakecloud.Running:
		return "Running"
	case fakecloud.Stopping:
		return "Stopping"
	case fakecloud.Stopped:
		return "Stopped"
	case fakecloud.Failed:
		return "Error"
	case fakecloud.Terminating:
		if v.destroyed {
			return "Destroyed"
		}
		return "Expunging"
	}
	return ""
}

// vmJSON is UserVmResponse; f.mu is held.
func (f *Fake) vmJSON(m fakecloud.Machine, v *vm) map[string]any {
	tmplName, tmplText, osType := "", "", DefaultOSTypeID
	if img, err := f.cloud.Image(v.templateID); err == nil {
		tmplName, tmplText, osType = f.templateName(img), f.templateName(img), f.osTypeOf(img)
	}
	out := map[string]any{
		"id": v.id, "name": v.hostname, "displayname": v.displayname, "account": accountName, "domainid": f.domainID, "domain": domainName,
		"created": csTime(m.Created), "state": vmState(m, v), "haenable": false, "zoneid": v.zoneID, "zonename": f.zoneName(v.zoneID),
		"templateid": v.templateID, "templatename": tmplName, "templatedisplaytext": tmplText, "passwordenabled": false,
		"serviceofferingid": v.offering.ID, "serviceofferingname": v.offering.Name, "cpunumber": v.cpu, "cpuspeed": v.offering.SpeedMHz,
		"memory": v.memMB, "guestosid": osType, "ostypeid": osType, "rootdeviceid": 0, "rootdevicetype": "ROOT", "hypervisor": "KVM",
		"isdynamicallyscalable": false, "displayvm": true, "details": map[string]string{}, "affinitygroup": []any{}, "securitygroup": []any{},
		"tags": f.tagsJSON("UserVm", v.id, m.Labels),
	}
	if v.keypair != "" {
		out["keypairs"] = v.keypair
	}
	var nics []map[string]any
	for i, n := range v.networks {
		nic := map[string]any{"id": fmt.Sprintf("%s-nic-%d", v.id[:8], i), "networkid": n.ID, "networkname": n.Name, "netmask": "255.255.255.0",
			"gateway": "10.1.1.1", "isdefault": i == 0, "macaddress": v.macs[i], "type": "Isolated", "traffictype": "Guest",
			"broadcasturi": "vlan://100", "isolationuri": "vlan://100", "deviceid": strconv.Itoa(i), "virtualmachineid": v.id}
		if i == 0 && m.PrivateIP != "" {
			nic["ipaddress"] = m.PrivateIP
		}
		nics = append(nics, nic)
	}
	out["nic"] = nics
	if m.PublicIP != "" {
		out["publicip"], out["publicipid"] = m.PublicIP, v.publicIPID
	}
	return out
}

// vmsNow are the VMs not expunged, with their machines; VMs whose machine
// is gone are dropped (expunged); f.mu is held.
func (f *Fake) vmsNow() []struct {
	m fakecloud.Machine
	v *vm
} {
	var out []struct {
		m fakecloud.Machine
		v *vm
	}
	for id, v := range f.vms {
		m, err := f.cloud.Machine(id)
		if err != nil || vmState(m, v) == "" {
			delete(f.vms, id)
			continue
		}
		out = append(out, struct {
			m fakecloud.Machine
			v *vm
		}{m, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].m.Created.Equal(out[j].m.Created) {
			return out[i].m.Created.Before(out[j].m.Created)
		}
		return out[i].v.id < out[j].v.id
	})
	return out
}

// listVirtualMachines: id, name (a substring), state, zoneid, keyword,
// tags (every pair must match), listall, page, pagesize.
func listVirtualMachines(f *Fake, c *call) (any, error) {
	ps := c.params
	id := ps.first("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "" && !f.resolves("vm", id) {
		return nil, errNoEntity(c.command, "id", id)
	}
	if z := ps.first("zoneid"); z != "" {
		if _, err := f.zone(c, "zoneid", z); err != nil {
			return nil, err
		}
	}
	tags := tagsParam(ps)
	var out []map[string]any
	for _, e := range f.vmsNow() {
		m, v := e.m, e.v
		if (id != "" && v.id != id) || !strings.Contains(v.hostname, ps.first("name")) ||
			(ps.has("state") && !strings.EqualFold(vmState(m, v), ps.first("state"))) ||
			(ps.has("zoneid") && v.zoneID != ps.first("zoneid")) ||
			(ps.has("keyword") && !strings.Contains(v.hostname, ps.first("keyword")) && !strings.Contains(v.displayname, ps.first("keyword"))) {
			continue
		}
		match := true
		for k, val := range tags {
			if have, ok := m.Labels[k]; !ok || have != val {
				match = false
			}
		}
		if match {
			out = append(out, f.vmJSON(m, v))
		}
	}
	return list("virtualmachine", out, ps)
}

// destroyVirtualMachine: id (required), expunge. Asynchronous: the job
// ends once the VM is expunged (or, without expunge, destroyed).
func destroyVirtualMachine(f *Fake, c *call) (any, error) {
	id := c.params.first("id")
	if id == "" {
		return nil, errMissing(c.command, "id")
	}
	expunge := parseBool(c.params.first("expunge"))
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.resolves("vm", id) {
		return nil, errNoEntity(c.command, "id", id)
	}
	v, ok := f.vms[id]
	if !ok || !f.exists("vm", id) {
		return nil, errParam("Unable to find a virtual machine with id %s", id)
	}
	fail := f.injectedFailure(c.command)
	if fail == nil && expunge && f.opts.NoUserExpunge {
		fail = &csError{code: 530, text: "Parameter expunge can be passed by Admin only. Or when the allow.user.expunge.recover.vm key is set."}
	}
	if fail != nil {
		j := f.startJob(c.command, "VirtualMachine", id, func() (bool, any, *csError) { return true, nil, fail })
		return asyncAnswer(j, ""), nil
	}
	m, err := f.cloud.Machine(id)
	if err == nil && m.State != fakecloud.Terminating {
		v.destroyed = !expunge
		if _, err := f.cloud.Terminate(id); err != nil && !errors.Is(err, fakecloud.ErrNotFound) {
			return nil, err
		}
	}
	last := f.vmJSON(m, v)
	j := f.startJob(c.command, "VirtualMachine", id, func() (bool, any, *csError) {
		m, err := f.cloud.Machine(id)
		if err == nil && m.State != fakecloud.Terminated {
			return false, nil, nil
		}
		if v.destroyed {
			last["state"] = "Destroyed"
		} else {
			last["state"] = "Expunging"
		}
		return true, map[string]any{"virtualmachine": last}, nil
	})
	return asyncAnswer(j, ""), nil
}

// stopVirtualMachine: id (required), forced. Asynchronous: the job ends
// once the VM is stopped.
func stopVirtualMachine(f *Fake, c *call) (any, error) {
	id := c.params.first("id")
	if id == "" {
		return nil, errMissing(c.command, "id")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.resolves("vm", id) {
		return nil, errNoEntity(c.command, "id", id)
	}
	v, ok := f.vms[id]
	if !ok || !f.exists("vm", id) {
		return nil, errParam("Unable to find a virtual machine with id %s", id)
	}
	if fail := f.injectedFailure(c.command); fail != nil {
		j := f.startJob(c.command, "VirtualMachine", id, func() (bool, any, *csError) { return true, nil, fail })
		return asyncAnswer(j, ""), nil
	}
	if _, err := f.cloud.Stop(id); err != nil {
		return nil, err
	}
	j := f.startJob(c.command, "VirtualMachine", id, func() (bool, any, *csError) {
		m, err := f.cloud.Machine(id)
		switch {
		case err != nil || m.State == fakecloud.Terminated || m.State == fakecloud.Terminating:
			return true, nil, &csError{code: 530, text: fmt.Sprintf("Unable to stop VM[User|%s]: it was destroyed", v.instanceName())}
		case m.State == fakecloud.Stopped:
			return true, map[string]any{"virtualmachine": f.vmJSON(m, v)}, nil
		}
		return false, nil, nil
	})
	return asyncAnswer(j, ""), nil
}

// newMAC is a MAC address in the range CloudStack gives guest NICs
// (02:00:…).
func newMAC() string {
	id := NewUUID()
	return "02:00:" + id[0:2] + ":" + id[2:4] + ":" + id[4:6] + ":" + id[6:8]
}

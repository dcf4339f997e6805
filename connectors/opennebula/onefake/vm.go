package onefake

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// OpenNebula's VM states (include/VirtualMachine.h) the fake shows.
const (
	statePending  = 1
	stateHold     = 2
	stateActive   = 3
	stateDone     = 6
	statePoweroff = 8

	lcmInit             = 0
	lcmRunning          = 3
	lcmEpilog           = 11
	lcmShutdownPoweroff = 18
	lcmBootFailure      = 36
)

// stateNames are OpenNebula's names of those states, as its messages
// give them (VirtualMachine::state_str).
var stateNames = map[int]string{statePending: "PENDING", stateHold: "HOLD", stateActive: "ACTIVE", stateDone: "DONE", statePoweroff: "POWEROFF"}

const vmObject = "virtual machine"

// vmRecord is what the fake knows of a VM beyond the Cloud's machine.
type vmRecord struct {
	id   int
	name string
	// sys and user are its TEMPLATE and USER_TEMPLATE.
	sys, user *Template
	hold      bool
}

// systemAttrs move from an allocated template to the VM's TEMPLATE; the
// others stay in its USER_TEMPLATE (VirtualMachine::insert and
// parse_well_known_attributes).
var systemAttrs = []string{"CPU", "VCPU", "MEMORY", "DISK", "NIC", "NIC_ALIAS", "CONTEXT", "OS", "GRAPHICS", "VIDEO", "INPUT",
	"FEATURES", "RAW", "TOPOLOGY", "NUMA_NODE", "PCI", "CPU_MODEL", "EMULATOR", "MEMORY_MAX", "VCPU_MAX", "MEMORY_RESIZE_MODE",
	"MEMORY_SLOTS", "SPICE_OPTIONS", "HYPERV_OPTIONS", "CLONING_TEMPLATE_ID", "CPU_COST", "MEMORY_COST", "DISK_COST"}

func (f *Fake) vmAllocate(ctx context.Context, p params) (any, *oneErr) {
	t, err := ParseTemplate(p.str(0))
	if err != nil {
		return nil, errInternal(p.method, "Error parsing template: "+err.Error(), -1)
	}
	return f.allocate(p.method, t, p.bool(1), nil)
}

// allocate makes a VM of a template (one.vm.allocate, and
// one.template.instantiate after its merge): the name, the system
// attributes apart, CPU and MEMORY checked, disks on images, NICs on
// networks, the CONTEXT completed and decoded, the quota checked, then a
// machine of the Cloud.
func (f *Fake) allocate(method string, t *Template, hold bool, from *vmTemplate) (int, *oneErr) {
	f.allocMu.Lock()
	defer f.allocMu.Unlock()
	id := f.ids.peek("machine")
	user, sys := t.Clone(), &Template{}
	name, _ := user.Get("NAME")
	user.Erase("NAME")
	user.Erase("TEMPLATE_NAME")
	user.Erase("TEMPLATE_ID")
	user.Erase("VMID")
	prefix := "one"
	if from != nil {
		prefix = from.name
		sys.Set("TEMPLATE_ID", strconv.Itoa(from.id))
	}
	if name == "" {
		name = fmt.Sprintf("%s-%d", prefix, id)
	}
	if msg := checkName(name); msg != "" {
		return -1, errAllocate(method, vmObject, msg)
	}
	sys.Set("VMID", strconv.Itoa(id))
	for _, n := range systemAttrs {
		for _, a := range user.Erase(n) {
			sys.Add(a)
		}
	}
	mem, err := positive(sys, "MEMORY")
	if err != nil {
		return -1, errAllocate(method, vmObject, "MEMORY attribute must be a positive integer value.")
	}
	cpuStr, _ := sys.Get("CPU")
	if cpu, err := strconv.ParseFloat(cpuStr, 64); err != nil || cpu <= 0 {
		return -1, errAllocate(method, vmObject, "CPU attribute must be a positive float or integer value.")
	}
	vcpu := 1
	if _, ok := sys.Get("VCPU"); ok {
		if vcpu, err = positive(sys, "VCPU"); err != nil {
			return -1, errAllocate(method, vmObject, "VCPU attribute must be a positive integer value.")
		}
	}
	boot, diskMB, e := f.disks(method, sys)
	if e != nil {
		return -1, e
	}
	network, e := f.nics(method, sys, id)
	if e != nil {
		return -1, e
	}
	ctxs := sys.Vectors("CONTEXT")
	if len(ctxs) > 1 {
		return -1, errAllocate(method, vmObject, "Only one CONTEXT attribute can be defined.")
	}
	var userData []byte
	var keys []string
	if len(ctxs) == 1 {
		f.completeContext(ctxs[0], sys, name, id, from)
		userData, keys = decodeContext(ctxs[0].Vec)
	}
	if e := f.checkQuota(method, vcpu, mem); e != nil {
		return -1, e
	}
	typ, _ := user.Get("INSTANCE_TYPE")
	ms, err := f.cloud.Run(fakecloud.RunRequest{
		Op: method, Name: name, ImageID: strconv.Itoa(boot), Type: typ, CPU: vcpu, RAMMB: mem, DiskGB: (diskMB + 1023) / 1024,
		UserData: userData, SSHKeys: keys, Labels: mirrorLabels(user), Stopped: hold,
	})
	if err != nil {
		return -1, f.runError(method, err, network, boot)
	}
	got, err := strconv.Atoi(ms[0].ID)
	if err != nil || got != id {
		return -1, errInternal(method, fmt.Sprintf("the fake cloud gave VM id %q, not %d", ms[0].ID, id), -1)
	}
	f.registerKeys(keys)
	f.mu.Lock()
	f.vms[id] = &vmRecord{id: id, name: name, sys: sys, user: user, hold: hold}
	f.mu.Unlock()
	return id, nil
}

// checkName is PoolObjectSQL::name_is_valid: not empty, no control
// characters, at most 128 bytes. It returns oned's message, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "Invalid NAME, it cannot be empty"
	case len(name) > 128:
		return "Invalid NAME, max length is 128 chars"
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "Invalid NAME, it cannot contain control characters"
	}
	return ""
}

// positive reads a positive integer attribute.
func positive(t *Template, name string) (int, error) {
	v, _ := t.Get(name)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s is not a positive integer", name)
	}
	return n, nil
}

// disks numbers the VM's disks, resolves their images and sizes them.
// The boot image is the first disk's with an image; the fake boots VMs
// from an image only.
func (f *Fake) disks(method string, sys *Template) (boot, diskMB int, e *oneErr) {
	boot = -1
	for i, d := range sys.Vectors("DISK") {
		d.Vec["DISK_ID"] = strconv.Itoa(i)
		d.Vec["TARGET"] = "vd" + string(rune('a'+i%26))
		typ := strings.ToLower(d.Vec["TYPE"])
		if typ == "swap" || typ == "fs" {
			if n, err := strconv.Atoi(d.Vec["SIZE"]); err != nil || n <= 0 {
				return -1, 0, errAllocate(method, vmObject, "Volatile disks must specify a SIZE.")
			}
			continue
		}
		img, e := f.diskImage(method, d)
		if e != nil {
			return -1, 0, e
		}
		size := img.sizeMB
		if s, ok := d.Vec["SIZE"]; ok {
			n, err := strconv.Atoi(s)
			if err != nil || n < img.sizeMB {
				return -1, 0, errAllocate(method, vmObject, fmt.Sprintf("DISK %d: SIZE %q must be a number of MB not smaller than the image's %d MB.", i, s, img.sizeMB))
			}
			size = n
		}
		maps.Copy(d.Vec, map[string]string{
			"IMAGE": img.name, "IMAGE_ID": strconv.Itoa(img.id), "IMAGE_UNAME": img.uname, "SIZE": strconv.Itoa(size),
			"DATASTORE": "default", "DATASTORE_ID": "1", "TYPE": "FILE", "DRIVER": "qcow2", "CLONE": "YES", "SAVE": "NO",
			"SOURCE": fmt.Sprintf("/var/lib/one//datastores/1/%x", sha256.Sum256([]byte(strconv.Itoa(img.id))))[:50],
		})
		if boot < 0 {
			boot, diskMB = img.id, size
		}
	}
	if boot < 0 {
		return -1, 0, errAllocate(method, vmObject, "The fake boots VMs from an image: give a DISK with IMAGE_ID (or IMAGE).")
	}
	return boot, diskMB, nil
}

// diskImage is the image a DISK names: IMAGE_ID, or IMAGE with
// IMAGE_UNAME (default the user), usable by a VM.
func (f *Fake) diskImage(method string, d *Attr) (imageInfo, *oneErr) {
	var img imageInfo
	var ok bool
	if s, has := d.Vec["IMAGE_ID"]; has {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return imageInfo{}, errAllocate(method, vmObject, fmt.Sprintf("Wrong IMAGE_ID %q in DISK.", s))
		}
		if img, ok = f.image(n); !ok {
			return imageInfo{}, errAllocate(method, vmObject, fmt.Sprintf("Image with ID: %d does not exist", n))
		}
	} else if name, has := d.Vec["IMAGE"]; has {
		owner := d.Vec["IMAGE_UNAME"]
		if owner == "" {
			owner = f.opts.Username
		}
		if img, ok = f.imageByName(name, owner); !ok {
			return imageInfo{}, errAllocate(method, vmObject, fmt.Sprintf("User %s does not own an image with name: %s . Set IMAGE_UNAME or IMAGE_UID of owner in DISK.", owner, name))
		}
	} else {
		return imageInfo{}, errAllocate(method, vmObject, "DISK must have an IMAGE_ID, an IMAGE, or a TYPE of a volatile disk.")
	}
	if img.state != imageReady && img.state != imageUsed {
		return imageInfo{}, errAllocate(method, vmObject, fmt.Sprintf("Image %d is not in a usable state (%s).", img.id, imageStateNames[img.state]))
	}
	return img, nil
}

// nics resolves the NICs' networks (NETWORK_ID, or NETWORK with
// NETWORK_UNAME, default the user) and gives them their MAC; their IP is
// the machine's once it runs. It returns the first NIC's network (-1).
func (f *Fake) nics(method string, sys *Template, vmID int) (int, *oneErr) {
	first := -1
	for i, n := range sys.Vectors("NIC") {
		net, ok := Network{}, false
		if s, has := n.Vec["NETWORK_ID"]; has {
			id, err := strconv.Atoi(s)
			if err == nil {
				net, ok = f.network(id)
			}
			if !ok {
				return -1, errAllocate(method, vmObject, fmt.Sprintf("Virtual network with ID: %s does not exist", s))
			}
		} else if name, has := n.Vec["NETWORK"]; has {
			owner := n.Vec["NETWORK_UNAME"]
			if owner == "" {
				owner = f.opts.Username
			}
			for _, c := range f.opts.Networks {
				if c.Name == name && c.Owner == owner {
					net, ok = c, true
				}
			}
			if !ok {
				return -1, errAllocate(method, vmObject, fmt.Sprintf("User %s does not own a network with name: %s . Set NETWORK_UNAME or NETWORK_UID of owner in NIC.", owner, name))
			}
		} else {
			return -1, errAllocate(method, vmObject, "NIC must have a NETWORK_ID or a NETWORK.")
		}
		var mac [4]byte
		_, _ = rand.Read(mac[:])
		maps.Copy(n.Vec, map[string]string{
			"NIC_ID": strconv.Itoa(i), "NETWORK": net.Name, "NETWORK_ID": strconv.Itoa(net.ID), "NETWORK_UNAME": net.Owner,
			"BRIDGE": net.Bridge, "MAC": fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3]),
			"TARGET": fmt.Sprintf("one-%d-%d", vmID, i), "MODEL": "virtio", "SECURITY_GROUPS": "0",
		})
		if first < 0 {
			first = net.ID
		}
	}
	return first, nil
}

// contextVar are the variables the fake substitutes in CONTEXT values:
// $USER[ATTR], $UNAME, $UID, $NAME, $VMID, $TEMPLATE_ID (OpenNebula's
// contextualization reference; the others are left as they are).
var contextVar = regexp.MustCompile(`\$(USER\[([A-Za-z0-9_]+)\]|UNAME|UID|NAME|VMID|TEMPLATE_ID)`)

// completeContext substitutes the CONTEXT's variables and adds what oned
// adds: its DISK_ID, and ETH<n>_MAC of each NIC for NETWORK = "YES".
func (f *Fake) completeContext(c *Attr, sys *Template, name string, id int, from *vmTemplate) {
	for k, v := range c.Vec {
		c.Vec[k] = contextVar.ReplaceAllStringFunc(v, func(m string) string {
			sub := contextVar.FindStringSubmatch(m)
			switch {
			case sub[2] == "SSH_PUBLIC_KEY":
				return f.opts.UserSSHKey
			case sub[2] != "":
				return ""
			case sub[1] == "UNAME":
				return f.opts.Username
			case sub[1] == "UID":
				return strconv.Itoa(f.opts.UserID)
			case sub[1] == "NAME":
				return name
			case sub[1] == "VMID":
				return strconv.Itoa(id)
			case sub[1] == "TEMPLATE_ID" && from != nil:
				return strconv.Itoa(from.id)
			}
			return m
		})
	}
	c.Vec["DISK_ID"] = strconv.Itoa(len(sys.Vectors("DISK")))
	if strings.EqualFold(c.Vec["NETWORK"], "YES") {
		for i, n := range sys.Vectors("NIC") {
			c.Vec[fmt.Sprintf("ETH%d_MAC", i)] = n.Vec["MAC"]
		}
	}
}

// decodeContext is the user-data and SSH keys a VM's contextualization
// gives cloud-init: StratusLab's cloud-init method (CONTEXT_METHOD =
// "cloud-init": CLOUD_INIT_USER_DATA, base64 of gzip, and
// CLOUD_INIT_AUTHORIZED_KEYS, base64 of an authorized_keys file), or
// OpenNebula's (USER_DATA, or the older USERDATA, decoded as
// USERDATA_ENCODING says, and SSH_PUBLIC_KEY). What cannot be decoded
// is not given, as cloud-init would give up on it.
func decodeContext(vars map[string]string) (userData []byte, keys []string) {
	if strings.EqualFold(vars["CONTEXT_METHOD"], "cloud-init") {
		if ud := vars["CLOUD_INIT_USER_DATA"]; ud != "" {
			userData = gunzip(decode64(ud))
		}
		return userData, keyLines(string(decode64(vars["CLOUD_INIT_AUTHORIZED_KEYS"])))
	}
	ud, ok := vars["USER_DATA"]
	if !ok {
		ud = vars["USERDATA"]
	}
	if ud != "" {
		if strings.EqualFold(vars["USERDATA_ENCODING"], "base64") {
			userData = decode64(ud)
		} else {
			userData = []byte(ud)
		}
	}
	return userData, keyLines(vars["SSH_PUBLIC_KEY"])
}

func decode64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return b
}

// gunzip inflates gzip data (of at most 1 MiB), or gives non-gzip data
// as it is.
func gunzip(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, 1<<20+1))
	if err != nil || len(out) > 1<<20 {
		return nil
	}
	return out
}

// keyLines are the keys of an authorized_keys text.
func keyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// registerKeys records each distinct key as a key pair of the Cloud,
// named after its fingerprint.
func (f *Fake) registerKeys(keys []string) {
	for _, k := range keys {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil {
			continue
		}
		sum := sha256.Sum256(pub.Marshal())
		name := "context-" + hex.EncodeToString(sum[:8])
		if _, err := f.cloud.Key(name); err == nil {
			continue
		}
		_, _ = f.cloud.ImportKey(fakecloud.KeyPair{Name: name, PublicKey: k, Fingerprint: ssh.FingerprintSHA256(pub)}) // a concurrent VM may have made it: the same key
	}
}

// mirrorLabels are the Cloud labels of a user template: its
// SLIPSTREAM_LABELS pairs, lower-cased with dashes.
func mirrorLabels(user *Template) map[string]string {
	out := map[string]string{}
	if v := user.Vector("SLIPSTREAM_LABELS"); v != nil {
		for k, val := range v.Vec {
			out[strings.ReplaceAll(strings.ToLower(k), "_", "-")] = val
		}
	}
	return out
}

// checkQuota is the VM quota's check (Quota::check): VMS, CPU (cores
// here) and MEMORY, against what the user's live VMs use.
func (f *Fake) checkQuota(method string, cpu, mem int) *oneErr {
	q := f.opts.Quota
	if q == nil {
		return nil
	}
	vms, usedCPU, usedMem := f.usage()
	for _, c := range []struct {
		metric       string
		limit, usage int
		asked        int
	}{{"VMS", q.VMs, vms, 1}, {"CPU", q.CPU, usedCPU, cpu}, {"MEMORY", q.MemoryMB, usedMem, mem}} {
		if c.limit >= 0 && c.usage+c.asked > c.limit {
			return errAuthorization(method, f.opts.UserID, fmt.Sprintf("user [%d] limit of %d reached for %s quota in VM", f.opts.UserID, c.limit, c.metric))
		}
	}
	return nil
}

// usage is what the user's live VMs use: VMs, cores, MB.
func (f *Fake) usage() (vms, cpu, mem int) {
	for _, m := range f.cloud.Machines(fakecloud.Live) {
		vms++
		cpu += m.CPU
		mem += m.RAMMB
	}
	return vms, cpu, mem
}

// runError is oned's answer to what the Cloud refused: the injected
// capacity fault as a network without free leases (what a cloud that is
// full refuses at allocation), the quota fault as the VMS quota.
func (f *Fake) runError(method string, err error, network, image int) *oneErr {
	var fault *fakecloud.Fault
	switch {
	case errors.As(err, &fault) && fault.Kind == fakecloud.FaultCapacity:
		return errAllocate(method, vmObject, fmt.Sprintf("Cannot get IP/MAC lease from virtual network %d.", max(network, 0)))
	case errors.As(err, &fault) && fault.Kind == fakecloud.FaultQuota:
		limit := 0
		if f.opts.Quota != nil && f.opts.Quota.VMs >= 0 {
			limit = f.opts.Quota.VMs
		} else {
			limit, _, _ = f.usage()
		}
		return errAuthorization(method, f.opts.UserID, fmt.Sprintf("user [%d] limit of %d reached for VMS quota in VM", f.opts.UserID, limit))
	case errors.Is(err, fakecloud.ErrImageNotFound):
		return errAllocate(method, vmObject, fmt.Sprintf("Image with ID: %d does not exist", image))
	case errors.Is(err, fakecloud.ErrImageNotReady):
		return errAllocate(method, vmObject, fmt.Sprintf("Image %d is not in a usable state.", image))
	}
	return errInternal(method, err.Error(), -1)
}

// vmState is the OpenNebula STATE and LCM_STATE of a machine.
func (f *Fake) vmState(m fakecloud.Machine, rec *vmRecord) (state, lcm int) {
	switch m.State {
	case fakecloud.Pending:
		return statePending, lcmInit
	case fakecloud.Running:
		return stateActive, lcmRunning
	case fakecloud.Stopping:
		return stateActive, lcmShutdownPoweroff
	case fakecloud.Stopped:
		if rec != nil && rec.hold {
			return stateHold, lcmInit
		}
		return statePoweroff, lcmInit
	case fakecloud.Terminating:
		return stateActive, lcmEpilog
	case fakecloud.Terminated:
		return stateDone, lcmInit
	}
	return stateActive, lcmBootFailure
}

// vm is a VM's record and machine.
func (f *Fake) vm(method string, id int) (*vmRecord, fakecloud.Machine, *oneErr) {
	f.mu.Lock()
	rec := f.vms[id]
	f.mu.Unlock()
	if rec == nil {
		return nil, fakecloud.Machine{}, errNoExists(method, vmObject, id)
	}
	m, err := f.cloud.Machine(strconv.Itoa(id))
	if err != nil {
		return nil, fakecloud.Machine{}, errNoExists(method, vmObject, id)
	}
	return rec, m, nil
}

func (f *Fake) vmInfo(_ context.Context, p params) (any, *oneErr) {
	rec, m, e := f.vm(p.method, p.int(0, -1))
	if e != nil {
		return nil, e
	}
	return f.vmXML(rec, m, true), nil
}

// vmAction runs the VM actions the fake models (DispatchManager's rules):
// terminate[-hard] (refused while the VM powers off), poweroff[-hard]
// (RUNNING; -hard also while powering off), resume (POWEROFF), release
// (HOLD), reboot[-hard] (RUNNING, nothing to do). Other actions are
// refused as not supported.
func (f *Fake) vmAction(_ context.Context, p params) (any, *oneErr) {
	action, id := p.str(0), p.int(1, -1)
	rec, m, e := f.vm(p.method, id)
	if e != nil {
		return nil, e
	}
	state, lcm := f.vmState(m, rec)
	wrong := func(detail string) *oneErr {
		return errAction(p.method, fmt.Sprintf("Error performing action %q: %s", action, detail), id)
	}
	notAvailable := wrong("This action is not available for state " + stateNames[state])
	var err error
	switch action {
	case "terminate", "terminate-hard":
		switch {
		case state == stateDone:
			return id, nil
		case state == stateActive && lcm == lcmShutdownPoweroff:
			return nil, wrong(fmt.Sprintf("Could not terminate VM %d, wrong state ACTIVE.", id))
		}
		_, err = f.cloud.Terminate(m.ID)
	case "poweroff", "poweroff-hard":
		switch {
		case state == stateActive && lcm == lcmRunning:
			_, err = f.cloud.Stop(m.ID)
		case action == "poweroff-hard" && state == stateActive && lcm == lcmShutdownPoweroff:
			return id, nil // already on its way; the hard one overrides a slow ACPI shutdown
		default:
			return nil, wrong(fmt.Sprintf("Could not power off VM %d, wrong state %s.", id, stateNames[state]))
		}
	case "resume":
		if state != statePoweroff {
			return nil, notAvailable
		}
		_, err = f.cloud.Start(m.ID)
	case "release":
		if state != stateHold {
			return nil, notAvailable
		}
		f.mu.Lock()
		rec.hold = false
		f.mu.Unlock()
		_, err = f.cloud.Start(m.ID)
	case "reboot", "reboot-hard":
		if state != stateActive || lcm != lcmRunning {
			return nil, notAvailable
		}
	default:
		return nil, errAction(p.method, fmt.Sprintf("Action %q is not supported", action), id)
	}
	if err != nil {
		if errors.Is(err, fakecloud.ErrNotFound) {
			return nil, errNoExists(p.method, vmObject, id)
		}
		return nil, notAvailable
	}
	return id, nil
}

// vmUpdate replaces (type 0) or merges (type 1) a VM's user template, and
// the Cloud's labels with it.
func (f *Fake) vmUpdate(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	rec, m, e := f.vm(p.method, id)
	if e != nil {
		return nil, e
	}
	t, err := ParseTemplate(p.str(1))
	if err != nil {
		return nil, errInternal(p.method, "Error parsing template: "+err.Error(), id)
	}
	mode := p.int(2, 0)
	if mode != 0 && mode != 1 {
		return nil, errAPI(p.method, "Wrong update type")
	}
	f.mu.Lock()
	old := mirrorLabels(rec.user)
	if mode == 0 {
		rec.user = t
	} else {
		rec.user.Merge(t)
	}
	labels := mirrorLabels(rec.user)
	f.mu.Unlock()
	for k := range old {
		if _, keep := labels[k]; !keep {
			labels[k] = ""
		}
	}
	if err := f.cloud.SetLabels(m.ID, labels); err != nil && !errors.Is(err, fakecloud.ErrNotFound) {
		return nil, errInternal(p.method, err.Error(), id)
	}
	return id, nil
}

// vmDiskSaveas saves a VM's disk as a new image of the user (it must be
// powered off: the fake has no hot save-as, nor disk snapshots).
func (f *Fake) vmDiskSaveas(_ context.Context, p params) (any, *oneErr) {
	id, diskID, name, typ, snap := p.int(0, -1), p.int(1, -1), p.str(2), p.str(3), p.int(4, -1)
	rec, m, e := f.vm(p.method, id)
	if e != nil {
		return nil, e
	}
	state, _ := f.vmState(m, rec)
	if state != statePoweroff {
		return nil, errInternal(p.method, "VM has to be POWEROFF to save disks (the fake saves disks of powered-off VMs only).", id)
	}
	var disk *Attr
	f.mu.Lock()
	for _, d := range rec.sys.Vectors("DISK") {
		if d.Vec["DISK_ID"] == strconv.Itoa(diskID) {
			disk = d.clone()
		}
	}
	f.mu.Unlock()
	if disk == nil || disk.Vec["IMAGE_ID"] == "" {
		return nil, errInternal(p.method, "Cannot use DISK. VM disk does not exist", id)
	}
	if snap != -1 {
		return nil, errInternal(p.method, "Cannot use DISK. Snapshot does not exist", id)
	}
	if msg := checkName(name); msg != "" {
		return nil, errAllocate(p.method, "image", msg)
	}
	if taken, ok := f.imageByName(name, f.opts.Username); ok {
		return nil, errAllocate(p.method, "image", fmt.Sprintf("NAME is already taken by IMAGE %d.", taken.id))
	}
	if typ == "" {
		typ = "OS"
	}
	size, _ := strconv.Atoi(disk.Vec["SIZE"])
	f.syncImageIDs()
	img, err := f.cloud.Snapshot(m.ID, name, nil, map[string]any{"size_mb": size, "owner": f.opts.Username})
	if err != nil {
		if errors.Is(err, fakecloud.ErrDuplicate) {
			return nil, errAllocate(p.method, "image", "NAME is already taken.")
		}
		return nil, errInternal(p.method, err.Error(), id)
	}
	iid, _ := strconv.Atoi(img.ID)
	t := &Template{}
	t.Set("SAVED_IMAGE_ID", disk.Vec["IMAGE_ID"])
	t.Set("SAVED_DISK_ID", strconv.Itoa(diskID))
	t.Set("SAVED_VM_ID", strconv.Itoa(id))
	t.Set("TYPE", typ)
	f.mu.Lock()
	f.images[iid] = &imageRecord{template: t}
	f.mu.Unlock()
	return iid, nil
}

// vmPoolInfo is one.vmpool.info: the short bodies (VirtualMachine::
// to_xml_short), whose user template holds only what Sunstone and the
// scheduler read.
func (f *Fake) vmPoolInfo(_ context.Context, p params) (any, *oneErr) {
	return f.vmPool(p, false)
}

// vmPoolInfoExtended is one.vmpool.infoextended: the whole bodies.
func (f *Fake) vmPoolInfoExtended(_ context.Context, p params) (any, *oneErr) {
	return f.vmPool(p, true)
}

// vmPool filters the VMs by owner (who), id range and state (-2 any, -1
// any but DONE), as VirtualMachinePoolInfo does.
func (f *Fake) vmPool(p params, extended bool) (any, *oneErr) {
	who, start, end, state := p.int(0, -2), p.int(1, -1), p.int(2, -1), p.int(3, -1)
	if who < -4 {
		return nil, errAPI(p.method, "Incorrect filter_flag, must be >= -4.")
	}
	if state < -2 || state > 11 {
		return nil, errAPI(p.method, "Incorrect filter_flag, state")
	}
	if p.str(4) != "" {
		return nil, errInternal(p.method, "JSON query search is not supported by the SQL backend", -1)
	}
	mine := who == -2 || who == -3 || who == -1 || who == -4 || who == f.opts.UserID
	var b strings.Builder
	b.WriteString("<VM_POOL>")
	if mine {
		f.mu.Lock()
		recs := slices.Collect(maps.Values(f.vms))
		f.mu.Unlock()
		slices.SortFunc(recs, func(a, b *vmRecord) int { return a.id - b.id })
		for _, rec := range recs {
			if start >= 0 && rec.id < start || end >= 0 && rec.id > end {
				continue
			}
			m, err := f.cloud.Machine(strconv.Itoa(rec.id))
			if err != nil {
				continue
			}
			st, _ := f.vmState(m, rec)
			if state == -1 && st == stateDone || state >= 0 && st != state {
				continue
			}
			b.WriteString(f.vmXML(rec, m, extended))
		}
	}
	b.WriteString("</VM_POOL>")
	return b.String(), nil
}

// vmXML is a VM's body: VirtualMachine::to_xml_extended (full) or
// to_xml_short.
func (f *Fake) vmXML(rec *vmRecord, m fakecloud.Machine, full bool) string {
	state, lcm := f.vmState(m, rec)
	f.mu.Lock()
	sys, user, name := rec.sys.Clone(), rec.user.Clone(), rec.name
	f.mu.Unlock()
	if nics := sys.Vectors("NIC"); len(nics) > 0 && m.PrivateIP != "" {
		nics[0].Vec["IP"] = m.PrivateIP
		if c := sys.Vector("CONTEXT"); c != nil && strings.EqualFold(c.Vec["NETWORK"], "YES") {
			c.Vec["ETH0_IP"] = m.PrivateIP
		}
	}
	if m.State == fakecloud.Failed && m.Reason != "" {
		user.Set("ERROR", m.Reason)
	}
	if m.State == fakecloud.Pending && time.Since(m.Created) >= f.opts.SchedMessageAfter {
		user.Set("SCHED_MESSAGE", time.Now().UTC().Format("Mon Jan 2 15:04:05 2006")+
			" : Cannot dispatch VM to any Host. Possible reasons: Not enough capacity in Host or System DS, dispatch limit reached, or limit of free leases reached.")
	}
	etime := int64(0)
	if m.State == fakecloud.Terminated {
		etime = time.Now().Unix()
	}
	var b bytes.Buffer
	b.WriteString("<VM>")
	fmt.Fprintf(&b, "<ID>%d</ID><UID>%d</UID><GID>%d</GID>", rec.id, f.opts.UserID, usersGroup)
	element(&b, "UNAME", f.opts.Username)
	element(&b, "GNAME", usersGName)
	element(&b, "NAME", name)
	if full {
		b.WriteString(permissions)
	}
	fmt.Fprintf(&b, "<LAST_POLL>%d</LAST_POLL><STATE>%d</STATE><LCM_STATE>%d</LCM_STATE>", time.Now().Unix(), state, lcm)
	if full {
		b.WriteString("<PREV_STATE>" + strconv.Itoa(state) + "</PREV_STATE><PREV_LCM_STATE>" + strconv.Itoa(lcm) + "</PREV_LCM_STATE>")
	}
	fmt.Fprintf(&b, "<RESCHED>0</RESCHED><STIME>%d</STIME><ETIME>%d</ETIME>", m.Created.Unix(), etime)
	deploy := ""
	if !m.Launched.IsZero() {
		deploy = fmt.Sprintf("one-%d", rec.id)
	}
	element(&b, "DEPLOY_ID", deploy)
	if full {
		b.WriteString("<MONITORING/><SCHED_ACTIONS/>")
		b.WriteString(sys.XML("TEMPLATE"))
		b.WriteString(user.XML("USER_TEMPLATE"))
	} else {
		b.WriteString(shortTemplate(sys))
		b.WriteString("<MONITORING/>")
		b.WriteString(shortUserTemplate(user))
	}
	if m.Launched.IsZero() {
		b.WriteString("<HISTORY_RECORDS/>")
	} else {
		fmt.Fprintf(&b, "<HISTORY_RECORDS><HISTORY><OID>%d</OID><SEQ>0</SEQ><HOSTNAME>fake-host</HOSTNAME><HID>0</HID><CID>0</CID>"+
			"<STIME>%d</STIME><ETIME>%d</ETIME><VM_MAD>kvm</VM_MAD><TM_MAD>qcow2</TM_MAD><DS_ID>0</DS_ID><ACTION>0</ACTION></HISTORY></HISTORY_RECORDS>",
			rec.id, m.Launched.Unix(), etime)
	}
	if full {
		b.WriteString("<BACKUPS><BACKUP_CONFIG/><BACKUP_IDS/></BACKUPS>")
	}
	b.WriteString("</VM>")
	return b.String()
}

// permissions are the user's own (um-: 600).
const permissions = "<PERMISSIONS><OWNER_U>1</OWNER_U><OWNER_M>1</OWNER_M><OWNER_A>0</OWNER_A><GROUP_U>0</GROUP_U><GROUP_M>0</GROUP_M>" +
	"<GROUP_A>0</GROUP_A><OTHER_U>0</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A></PERMISSIONS>"

// shortTemplate is the TEMPLATE of a short body: CPU, MEMORY, VCPU, and
// the disks' and NICs' short forms.
func shortTemplate(sys *Template) string {
	short := &Template{}
	for _, n := range []string{"CPU", "MEMORY", "VCPU"} {
		v, _ := sys.Get(n)
		short.Set(n, v)
	}
	for _, d := range sys.Vectors("DISK") {
		short.Add(&Attr{Name: "DISK", Vec: pick(d.Vec, "DISK_ID", "IMAGE", "IMAGE_ID", "SIZE", "TARGET", "TYPE")})
	}
	for _, n := range sys.Vectors("NIC") {
		short.Add(&Attr{Name: "NIC", Vec: pick(n.Vec, "IP", "MAC", "NETWORK", "NETWORK_ID", "NIC_ID")})
	}
	return short.XML("TEMPLATE")
}

// shortUserTemplate keeps what VirtualMachineTemplate::to_xml_short does.
func shortUserTemplate(user *Template) string {
	short := &Template{}
	for _, n := range []string{"LABELS", "ERROR", "SCHED_MESSAGE", "SCHED_RANK", "SCHED_DS_RANK", "SCHED_REQUIREMENTS", "SCHED_DS_REQUIREMENTS", "USER_PRIORITY"} {
		if v, ok := user.Get(n); ok && v != "" {
			short.Set(n, v)
		}
	}
	return short.XML("USER_TEMPLATE")
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

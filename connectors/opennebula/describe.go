package opennebula

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vm"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Describe reads a VM (one.vm.info). A VM that does not exist or is DONE
// is KindNotFound. id may also be a VM's name (for an import), which must
// name one VM of the user.
func (c *Connector) Describe(ctx context.Context, id string) (*connectors.Machine, error) {
	v, err := c.vmByRef(ctx, id)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, connectors.NotFound(c.name, opVM, "VM", id)
	}
	if vm.State(v.StateRaw) == vm.Done {
		return nil, &connectors.Error{Cloud: c.name, Op: opVM, Code: "DONE", Kind: connectors.KindNotFound,
			Message: fmt.Sprintf("VM %d (%s) is DONE: it was terminated", v.ID, v.Name)}
	}
	return c.machine(v), nil
}

// List reads the user's VMs that are not DONE (one.vmpool.infoextended,
// which unlike one.vmpool.info gives their user templates) and keeps
// those labelled with the deployment.
func (c *Connector) List(ctx context.Context, deployment string) ([]*connectors.Machine, error) {
	pool, err := c.vmPool(ctx)
	if err != nil {
		return nil, err
	}
	var out []*connectors.Machine
	for i := range pool {
		v := &pool[i]
		if vm.State(v.StateRaw) == vm.Done {
			continue
		}
		if labelsOf(&v.UserTemplate.Template)[connectors.LabelDeployment] == deployment {
			out = append(out, c.machine(v))
		}
	}
	return out, nil
}

// vmPool is every VM of the user that is not DONE, with its templates.
func (c *Connector) vmPool(ctx context.Context) ([]vm.VM, error) {
	return guard(c, opVMs, func() ([]vm.VM, error) {
		pool, err := c.one.VMs().InfoExtendedContext(ctx, parameters.PoolWhoMine, -1, -1, -1)
		if err != nil {
			return nil, err
		}
		return pool.VMs, nil
	})
}

// vmByRef reads the VM a machine id names: a VM id (nil when OpenNebula
// has no such VM), or the name of one VM of the user.
func (c *Connector) vmByRef(ctx context.Context, ref string) (*vm.VM, error) {
	if id, err := strconv.Atoi(ref); err == nil {
		v, err := guard(c, opVM, func() (*vm.VM, error) { return c.one.VM(id).InfoContext(ctx, false) })
		if connectors.IsNotFound(err) {
			return nil, nil
		}
		return v, err
	}
	pool, err := c.vmPool(ctx)
	if err != nil {
		return nil, err
	}
	var found []*vm.VM
	for i := range pool {
		if pool[i].Name == ref {
			found = append(found, &pool[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, v := range found {
		ids[i] = strconv.Itoa(v.ID)
	}
	return nil, c.permanent(opVMs, "AmbiguousName", "several VMs are named %q (ids %s): name the machine by its id", ref, strings.Join(ids, ", "))
}

// machine is a VM as a connectors.Machine.
func (c *Connector) machine(v *vm.VM) *connectors.Machine {
	user := &v.UserTemplate.Template
	sys := &v.Template.Template
	m := &connectors.Machine{ID: strconv.Itoa(v.ID), Name: v.Name, Labels: labelsOf(user), Settings: connectors.Settings{}}
	if v.STime > 0 {
		m.Created = time.Unix(int64(v.STime), 0).UTC()
	}
	m.State, m.Reason = stateOf(v)
	m.Type, _ = user.GetStr(attrType)
	m.ImageID = imageOf(user, sys)
	m.PrivateIP, m.PublicIP = addresses(sys)
	if nics := sys.GetVectors("NIC"); len(nics) > 0 {
		if n, err := nics[0].GetStr("NETWORK"); err == nil && n != "" {
			m.Settings["network"] = n
		} else if n, err := nics[0].GetStr("NETWORK_ID"); err == nil {
			m.Settings["network"] = n
		}
	}
	if ctxs := sys.GetVectors("CONTEXT"); len(ctxs) > 0 {
		if k, err := ctxs[0].GetStr(c.flavor.keyVar); err == nil && k != "" && !strings.Contains(k, "$") {
			m.Settings["ssh_public_key"] = k
		}
	}
	if tags := userTags(m.Labels); len(tags) > 0 {
		m.Settings["tags"] = tags
	}
	return m
}

// labelsOf reads the SLIPSTREAM_LABELS vector of a user template.
func labelsOf(user *dyn.Template) map[string]string {
	labels := map[string]string{}
	vecs := user.GetVectors(attrLabels)
	if len(vecs) == 0 {
		return labels
	}
	for _, p := range vecs[0].Pairs {
		labels[labelOf(p.Key())] = p.Value
	}
	return labels
}

// imageOf is the image id a VM was made from: the one its create was
// given, else its VM template's, else its first disk's image.
func imageOf(user, sys *dyn.Template) string {
	if id, err := user.GetStr(attrImage); err == nil && id != "" {
		return id
	}
	if id, err := sys.GetStr("TEMPLATE_ID"); err == nil && id != "" {
		return templatePrefix + id
	}
	if disks := sys.GetVectors("DISK"); len(disks) > 0 {
		if id, err := disks[0].GetStr("IMAGE_ID"); err == nil {
			return id
		}
	}
	return ""
}

// addresses are a VM's addresses from its NICs: the first NIC's IPv4 (or
// IPv6) address is its private address; its public one is the first
// EXTERNAL_IP (what OpenNebula maps a NIC to on a public network), else
// the first NIC address that is globally routable.
func addresses(sys *dyn.Template) (private, public string) {
	for _, n := range sys.GetVectors("NIC") {
		ip, _ := n.GetStr("IP")
		if ip == "" {
			ip, _ = n.GetStr("IP6_GLOBAL")
		}
		if ip == "" {
			ip, _ = n.GetStr("IP6")
		}
		if private == "" {
			private = ip
		}
		if ext, _ := n.GetStr("EXTERNAL_IP"); ext != "" && public == "" {
			public = ext
		}
	}
	if public == "" {
		for _, n := range sys.GetVectors("NIC") {
			if ip, _ := n.GetStr("IP"); routable(ip) {
				public = ip
				break
			}
		}
	}
	return private, public
}

// nonPublic are address ranges that are not on the Internet though
// netip calls them global unicast.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),                                                                                   // carrier-grade NAT
	netip.MustParsePrefix("198.18.0.0/15"),                                                                                   // benchmarking
	netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"), // documentation
}

func routable(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	return !slices.ContainsFunc(nonPublic, func(p netip.Prefix) bool { return p.Contains(a) })
}

// stateOf maps OpenNebula's VM state (STATE, and LCM_STATE when ACTIVE;
// include/VirtualMachine.h) onto the connectors' states, with the VM's
// ERROR (or the scheduler's SCHED_MESSAGE) as Reason:
//   - INIT, PENDING, HOLD, CLONING, and the ACTIVE states before the
//     guest runs (PROLOG, BOOT, and booting again after a stop, undeploy
//     or migration) are pending; UNKNOWN (oned lost sight of the host) is
//     pending too: the VM is expected back;
//   - ACTIVE and RUNNING is running, and so are the operations on a
//     running VM (hot-plugs, migrations, disk snapshots, backups);
//   - the ACTIVE states of a poweroff, stop, suspend or undeploy on their
//     way are stopping; POWEROFF, STOPPED, SUSPENDED and UNDEPLOYED are
//     stopped;
//   - SHUTDOWN, EPILOG and the clean-ups of a terminate are terminating;
//     DONE is terminated;
//   - CLONING_FAILURE and every *_FAILURE LCM state are errors.
func stateOf(v *vm.VM) (connectors.State, string) {
	user := &v.UserTemplate.Template
	reason, _ := user.GetStr("ERROR")
	sched, _ := user.GetStr("SCHED_MESSAGE")
	st := vm.State(v.StateRaw)
	switch st {
	case vm.Init, vm.Pending, vm.Cloning:
		return connectors.StatePending, sched
	case vm.Hold:
		return connectors.StatePending, "on hold: OpenNebula deploys the VM once it is released"
	case vm.Stopped, vm.Suspended, vm.Poweroff, vm.Undeployed:
		return connectors.StateStopped, reason
	case vm.Done:
		return connectors.StateTerminated, ""
	case vm.CloningFailure:
		return connectors.StateError, failure(reason, "its disk images could not be cloned (CLONING_FAILURE)")
	case vm.Active:
	default:
		return connectors.StateError, fmt.Sprintf("unknown OpenNebula VM state %d", v.StateRaw)
	}
	lcm := vm.LCMState(v.LCMStateRaw)
	switch lcm {
	case vm.LcmInit, vm.Prolog, vm.Boot, vm.PrologResume, vm.BootUnknown, vm.BootPoweroff, vm.BootSuspended,
		vm.BootStopped, vm.PrologUndeploy, vm.BootUndeploy, vm.BootMigrate:
		return connectors.StatePending, ""
	case vm.Unknown:
		return connectors.StatePending, "UNKNOWN: OpenNebula cannot reach the VM's host for now"
	case vm.Running, vm.Migrate, vm.SaveMigrate, vm.PrologMigrate, vm.Hotplug, vm.HotplugSnapshot, vm.HotplugNic,
		vm.HotplugSaveas, vm.HotplugPrologPoweroff, vm.HotplugEpilogPoweroff, vm.PrologMigratePoweroff, vm.PrologMigrateSuspend,
		vm.PrologMigrateUnknown, vm.DiskSnapshot, vm.DiskSnapshotDelete, vm.DiskResize, vm.HotplugResize, vm.Backup:
		return connectors.StateRunning, ""
	case vm.SaveStop, vm.SaveSuspend, vm.EpilogStop, vm.ShutdownPoweroff, vm.ShutdownUndeploy, vm.EpilogUndeploy,
		vm.HotplugSaveasPoweroff, vm.HotplugSaveasSuspended, vm.HotplugSaveasUndeployed, vm.HotplugSaveasStopped,
		vm.DiskSnapshotPoweroff, vm.DiskSnapshotRevertPoweroff, vm.DiskSnapshotDeletePoweroff, vm.DiskSnapshotSuspended,
		vm.DiskSnapshotRevertSuspended, vm.DiskSnapshotDeleteSuspended, vm.DiskResizePoweroff, vm.DiskResizeUndeployed,
		vm.HotplugNicPoweroff, vm.BackupPoweroff, vm.Restore:
		return connectors.StateStopping, ""
	case vm.Shutdown, vm.Epilog, vm.CleanupResubmit, vm.CleanupDelete:
		return connectors.StateTerminating, ""
	case vm.BootFailure, vm.BootMigrateFailure, vm.PrologMigrateFailure, vm.PrologFailure, vm.EpilogFailure,
		vm.EpilogStopFailure, vm.EpilogUndeployFailure, vm.PrologMigratePoweroffFailure, vm.PrologMigrateSuspendFailure,
		vm.BootUndeployFailure, vm.BootStoppedFailure, vm.PrologResumeFailure, vm.PrologUndeployFailure,
		vm.PrologMigrateUnknownFailure:
		return connectors.StateError, failure(reason, lcm.String())
	}
	return connectors.StateError, fmt.Sprintf("unknown OpenNebula LCM state %d", v.LCMStateRaw)
}

// failure is OpenNebula's error message of a failed VM, with the state
// that says where it failed.
func failure(reason, state string) string {
	if reason == "" {
		return state
	}
	return state + ": " + reason
}

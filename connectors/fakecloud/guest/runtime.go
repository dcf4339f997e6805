package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// DefaultPrefix starts the names of the runtime's bridge, namespaces and
// veths (see nshost), unless Options.Prefix says otherwise.
const DefaultPrefix = "fcg"

// Options configure New. The zero value is fine.
type Options struct {
	// Prefix as nshost's: 1 to 5 lower-case letters or digits. Runtimes
	// with the same prefix coexist; CleanupStale(prefix) removes those
	// whose process is gone. Default DefaultPrefix.
	Prefix string
	// Subnet of the guests' bridge, e.g. "10.213.7.0/24"; default a free
	// 10.200-255.x.0/24.
	Subnet string
	// StateDir is where the runtime makes its state folder (the guests'
	// upper layers, consoles and boot files), removed by Close; default
	// os.TempDir(). It must be on a file system that overlayfs accepts as
	// an upper layer (ext4, xfs, btrfs, tmpfs).
	StateDir string
	// UserDataOnly is the light mode: no cloud-init; a #! user-data is run
	// with its interpreter at an instance's first boot, inside the same
	// namespaces and root. Cheaper (no Python), for tests that only need
	// the script to run.
	UserDataOnly bool
	// Log, when set, hears the guests' life events.
	Log func(format string, args ...any)
}

// Runtime is a fakecloud.Runtime whose machines are guests: each a real
// Debian root file system (the image's layers under an overlay) in
// network, UTS, mount, PID and IPC namespaces of its own, with an address
// on the runtime's bridge, booted by the real cloud-init from a NoCloud
// seed holding the BootSpec's user-data. See the package documentation.
type Runtime struct {
	opts Options
	net  *nshost.Network

	mu        sync.Mutex
	instances map[string]*Instance // by endpoint name
	closed    bool
}

var _ fakecloud.Runtime = (*Runtime)(nil)

// Available returns nil if guests can run on this machine, else an error
// saying what is missing: root with CAP_SYS_ADMIN and CAP_NET_ADMIN,
// iproute2, util-linux (nsenter), and overlayfs.
func Available() error {
	if err := nshost.NetworkAvailable(); err != nil {
		return err
	}
	if _, err := hostTool("nsenter"); err != nil {
		return fmt.Errorf("guest: nsenter not found (Debian package util-linux)")
	}
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil || !containsField(string(data), "overlay") {
		return fmt.Errorf("guest: the kernel has no overlayfs (modprobe overlay)")
	}
	return nil
}

func containsField(text, field string) bool {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == field {
			return true
		}
	}
	return false
}

// New makes the guests' bridge on a free subnet and the state folder.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	n, err := nshost.NewNetwork(ctx, nshost.NetworkOptions{Prefix: opts.Prefix, Subnet: opts.Subnet, TempDir: opts.StateDir})
	if err != nil {
		return nil, fmt.Errorf("guest: %w", err)
	}
	r := &Runtime{opts: opts, net: n, instances: map[string]*Instance{}}
	r.logf("runtime %s: bridge %s, gateway %s, subnet %s, state %s", n.ID, n.Bridge, n.GatewayIP, n.Subnet, n.StateDir)
	return r, nil
}

// GatewayIP is the bridge's address on this machine: the guests' default
// route, and where a test's coordinator listens for them.
func (r *Runtime) GatewayIP() string { return r.net.GatewayIP }

// Subnet is the guests' subnet, e.g. "10.213.7.0/24".
func (r *Runtime) Subnet() string { return r.net.Subnet }

// StateDir is the runtime's state folder (removed by Close).
func (r *Runtime) StateDir() string { return r.net.StateDir }

// ID is the runtime's network id ("fcg-3fa2"), the stem of its names.
func (r *Runtime) ID() string { return r.net.ID }

func (r *Runtime) logf(format string, args ...any) {
	if r.opts.Log != nil {
		r.opts.Log("guest: "+format, args...)
	}
}

// Boot starts a guest: an address on the bridge, the overlay, the NoCloud
// seed, and PID 1, which starts cloud-init's first stage (or the
// user-data, in the light mode). It returns once that has started, not
// once it has finished (Instance.WaitBooted waits for that). ctx bounds
// only the start: the guest runs until Stop or Destroy.
func (r *Runtime) Boot(ctx context.Context, spec fakecloud.BootSpec) (_ fakecloud.Guest, err error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("guest: the runtime is closed")
	}
	if len(spec.Layers) == 0 {
		return nil, fmt.Errorf("guest: machine %s: no image layers to boot from", spec.ID)
	}
	for _, l := range spec.Layers {
		if fi, err := os.Stat(l); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("guest: machine %s: image layer %s is not a folder", spec.ID, l)
		}
	}
	ep, err := r.net.Add(ctx)
	if err != nil {
		return nil, fmt.Errorf("guest: machine %s: %w", spec.ID, err)
	}
	inst := &Instance{rt: r, spec: spec, ep: ep, dir: filepath.Join(r.net.StateDir, ep.Name)}
	inst.hostname = guestHostname(spec.Hostname, spec.ID)
	defer func() {
		if err != nil {
			if derr := inst.Destroy(context.Background()); derr != nil {
				r.logf("machine %s: removing what its failed start left: %v", spec.ID, derr)
			}
		}
	}()
	if err := inst.prepare(); err != nil {
		return nil, fmt.Errorf("guest: machine %s: %w", spec.ID, err)
	}
	r.mu.Lock()
	r.instances[ep.Name] = inst
	r.mu.Unlock()
	inst.mu.Lock()
	err = inst.start(ctx)
	inst.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("guest: machine %s: %w", spec.ID, err)
	}
	r.logf("machine %s booting as %s at %s", spec.ID, ep.Name, ep.IP)
	return inst, nil
}

// Instances returns the runtime's guests (booted and not destroyed),
// sorted by name.
func (r *Runtime) Instances() []*Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Instance, 0, len(r.instances))
	for _, i := range r.instances {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ep.Name < out[b].ep.Name })
	return out
}

// Instance returns the guest of the cloud machine id (BootSpec.ID).
func (r *Runtime) Instance(machineID string) (*Instance, bool) {
	for _, i := range r.Instances() {
		if i.spec.ID == machineID {
			return i, true
		}
	}
	return nil, false
}

func (r *Runtime) forget(i *Instance) {
	r.mu.Lock()
	delete(r.instances, i.ep.Name)
	r.mu.Unlock()
}

// Close destroys every guest and removes the bridge and the state folder.
// The image layers are left alone.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	var errs []error
	for _, i := range r.Instances() {
		errs = append(errs, i.Destroy(context.Background()))
	}
	errs = append(errs, r.net.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("guest: closing runtime %s: %w", r.net.ID, err)
	}
	return nil
}

// CleanupStale removes the runtimes with this prefix whose process is gone
// (a killed test run): their guests' processes, namespaces, veths, bridge
// and state folder. Runtimes of running processes are left alone.
func CleanupStale(prefix string) error {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return nshost.CleanupStale(prefix)
}

// pidNamespace is the PID namespace of process pid ("pid:[4026532…]").
func pidNamespace(pid int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
}

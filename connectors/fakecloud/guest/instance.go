package guest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// Instance is one guest (a fakecloud.Guest). Besides the Guest methods it
// lets tests look inside: its console log, its upper layer, a command run
// in its namespaces, the wait for the end of its boot, its cost.
type Instance struct {
	rt       *Runtime
	spec     fakecloud.BootSpec
	ep       *nshost.Endpoint
	dir      string // the instance's state folder
	hostname string

	mu    sync.Mutex // serializes start, Stop, Start, Snapshot, Destroy
	state instanceState
	boot  *bootRun // the current or last boot; nil before the first
}

// bootRun is one boot of a guest, from start to the end of its PID 1.
type bootRun struct {
	init   *exec.Cmd
	start  time.Time
	exited chan struct{} // closed once PID 1 is reaped
	done   chan struct{} // Done: closed if PID 1 ended unasked
	asked  atomic.Bool   // Stop or Destroy ends it
}

type instanceState int

const (
	stopped instanceState = iota
	running
	destroyed
)

var _ fakecloud.Guest = (*Instance)(nil)

// Files of the instance's state folder.
func (i *Instance) upperDir() string       { return filepath.Join(i.dir, "upper") }
func (i *Instance) workDir() string        { return filepath.Join(i.dir, "work") }
func (i *Instance) rootDir() string        { return filepath.Join(i.dir, "root") }
func (i *Instance) bootConfigPath() string { return filepath.Join(i.dir, "boot.json") }
func (i *Instance) statusPath() string     { return filepath.Join(i.dir, "status") }

// PrivateIP is the guest's address on the runtime's bridge.
func (i *Instance) PrivateIP() string { return i.ep.IP }

// Done is closed when the current boot's PID 1 ends without Stop or
// Destroy: the machine died. A Start makes a new one.
func (i *Instance) Done() <-chan struct{} {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.boot == nil {
		return nil
	}
	return i.boot.done
}

// prepare makes the instance's folders and its boot configuration.
func (i *Instance) prepare() error {
	for _, d := range []string{i.upperDir(), i.workDir(), i.rootDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil { // #nosec G301 -- the upper folder's mode is the guest's / (0755 on any system); the others are mount plumbing inside the instance folder
			return err
		}
	}
	cfg := bootConfig{ID: i.spec.ID, Hostname: i.hostname, Layers: i.spec.Layers, Upper: i.upperDir(), Work: i.workDir(),
		Root: i.rootDir(), UserData: i.spec.UserData, SSHKeys: i.spec.SSHKeys, IP: i.ep.IP, Gateway: i.ep.GatewayIP,
		UserDataOnly: i.rt.opts.UserDataOnly}
	if _, err := overlayOptions(cfg.Layers, cfg.Upper, cfg.Work); err != nil {
		return err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(i.bootConfigPath(), data, 0o600)
}

// start boots the guest from its state folder; i.mu is held.
func (i *Instance) start(ctx context.Context) error {
	if err := os.WriteFile(i.statusPath(), nil, 0o600); err != nil { // read only by the runtime (parseStatus)
		return err
	}
	b := &bootRun{start: time.Now(), exited: make(chan struct{}), done: make(chan struct{})}
	cmd, err := launchInit(ctx, i)
	if err != nil {
		return err
	}
	b.init = cmd
	i.boot, i.state = b, running
	go func() {
		_ = cmd.Wait() // how it ended is in cmd.ProcessState, logged below
		close(b.exited)
		if !b.asked.Load() {
			i.rt.logf("machine %s (%s): its PID 1 ended: %v", i.spec.ID, i.ep.Name, cmd.ProcessState)
			close(b.done)
		}
	}()
	return nil
}

// kill ends the current boot: SIGKILL to PID 1 ends every process of the
// PID namespace, and with the last of them the mount namespace and the
// overlay go; i.mu is held.
func (i *Instance) kill(ctx context.Context) error {
	if i.state != running {
		return nil
	}
	b := i.boot
	b.asked.Store(true)
	_ = b.init.Process.Signal(syscall.SIGKILL) // it may have ended already: exited says when
	select {
	case <-b.exited:
	case <-ctx.Done():
		return fmt.Errorf("guest %s: PID 1 (%d) did not end: %w", i.ep.Name, b.init.Process.Pid, ctx.Err())
	}
	i.state = stopped
	return nil
}

// noteDeath marks a guest whose PID 1 ended by itself as stopped, so that
// it can be started again, or snapshotted; i.mu is held.
func (i *Instance) noteDeath() {
	if i.state != running {
		return
	}
	select {
	case <-i.boot.exited:
		i.state = stopped
	default:
	}
}

// Stop ends every process of the guest and keeps its disk (upper layer)
// and address.
func (i *Instance) Stop(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.noteDeath()
	if i.state == destroyed {
		return fmt.Errorf("guest %s: %w", i.ep.Name, errDestroyed)
	}
	wasRunning := i.state == running
	if err := i.kill(ctx); err != nil {
		return err
	}
	if wasRunning {
		i.rt.logf("machine %s stopped", i.spec.ID)
	}
	return nil
}

var errDestroyed = errors.New("the guest was destroyed")

// Start boots a stopped guest again from its disk, with the same
// instance id: cloud-init runs its per-boot modules, not the per-instance
// ones (the user-data does not run again). A running guest is left alone.
func (i *Instance) Start(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.noteDeath()
	switch i.state {
	case running:
		return nil
	case destroyed:
		return fmt.Errorf("guest %s: %w", i.ep.Name, errDestroyed)
	}
	if err := i.start(ctx); err != nil {
		return fmt.Errorf("guest %s: %w", i.ep.Name, err)
	}
	i.rt.logf("machine %s starting again", i.spec.ID)
	return nil
}

// Snapshot copies the stopped guest's upper layer, with its whiteouts
// (deleted files) and overlay attributes, into dir: the top layer of a new
// image, over this guest's image layers.
func (i *Instance) Snapshot(ctx context.Context, dir string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.noteDeath()
	switch i.state {
	case running:
		return fmt.Errorf("guest %s: stop it before taking a snapshot", i.ep.Name)
	case destroyed:
		return fmt.Errorf("guest %s: %w", i.ep.Name, errDestroyed)
	}
	if err := copyLayer(ctx, i.upperDir(), dir); err != nil {
		return fmt.Errorf("guest %s: snapshot: %w", i.ep.Name, err)
	}
	return nil
}

// Destroy ends the guest's processes and removes its namespace, veth and
// state folder (upper layer included). It can be called more than once.
func (i *Instance) Destroy(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.state == destroyed {
		return nil
	}
	var errs []error
	errs = append(errs, i.kill(ctx))
	errs = append(errs, i.rt.net.Remove(i.ep.Name))
	errs = append(errs, removeTree(i.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("guest %s: destroying: %w", i.ep.Name, err)
	}
	i.state = destroyed
	i.rt.forget(i)
	i.rt.logf("machine %s destroyed", i.spec.ID)
	return nil
}

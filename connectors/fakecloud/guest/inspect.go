package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// What tests look at in a guest (WaitBooted and Usage have files of their
// own).

// ConsolePath is the guest's console log: PID 1's messages and the boot
// stages' output (cloud-init's, the user-data's), kept over restarts.
func (i *Instance) ConsolePath() string { return filepath.Join(i.dir, "console.log") }

// Console returns the console log, for test failure messages.
func (i *Instance) Console() string {
	data, err := os.ReadFile(i.ConsolePath())
	if err != nil {
		return fmt.Sprintf("(no console log: %v)", err)
	}
	return string(data)
}

// UpperDir is the guest's upper overlay layer on this machine: what the
// guest changed in its image (a file it wrote to /x is UpperDir()+"/x").
func (i *Instance) UpperDir() string { return i.upperDir() }

// Name is the guest's name on this machine: its network namespace, its
// veth, its state folder.
func (i *Instance) Name() string { return i.ep.Name }

// Hostname is the guest's hostname (BootSpec.Hostname when valid).
func (i *Instance) Hostname() string { return i.hostname }

// Spec is what the guest was booted from.
func (i *Instance) Spec() fakecloud.BootSpec { return i.spec }

// InitPID is the process id, on this machine, of the guest's PID 1; 0
// when it is not running.
func (i *Instance) InitPID() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.state != running {
		return 0
	}
	select {
	case <-i.boot.exited:
		return 0 // died
	default:
		return i.boot.init.Process.Pid
	}
}

// Exec runs a command inside the running guest (all its namespaces and
// its root, as root, with the stages' PATH) and returns its combined
// output.
func (i *Instance) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	pid := i.InitPID()
	if pid == 0 {
		return nil, fmt.Errorf("guest %s is not running", i.ep.Name)
	}
	nsenter, err := hostTool("nsenter")
	if err != nil {
		return nil, err
	}
	args := append([]string{"--target", fmt.Sprint(pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd", "--"}, argv...)
	cmd := exec.CommandContext(ctx, nsenter, args...) // #nosec G204 -- running the caller's command in the guest is what Exec is for; nsenter comes from hostTool, and argv needs no shell
	cmd.Env = stageEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("guest %s: %s: %w: %s", i.ep.Name, strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

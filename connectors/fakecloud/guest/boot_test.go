package guest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

// TestBootShellUserData: the real cloud-init runs a #!/bin/sh user-data
// as root; it writes a file (into the guest's upper layer), reaches the
// gateway, and leaves a daemon started with setsid that outlives the boot;
// the guest has the BootSpec's hostname and this machine keeps its own.
func TestBootShellUserData(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{})
	srv := newGatewayServer(t, r)
	hostBefore, _ := os.Hostname()

	userData := "#!/bin/sh\nset -e\n" +
		"echo \"ran as $(id -u) on $(hostname)\" > /root/user-data-ran\n" +
		"curl -fsS " + srv.URL + "/from-guest > /root/answer\n" +
		"[ -d /run/systemd/system ] && echo systemd > /root/init-system || echo none > /root/init-system\n" +
		"cp " + bootstrap.MachineIDFile + " /root/machine-id\n" +
		"setsid sleep 1000000 </dev/null >/dev/null 2>&1 &\n"
	start := time.Now()
	inst := boot(t, r, fakecloud.BootSpec{ID: "i-0123456789abcdef0", Hostname: "web-1", Layers: []string{image},
		UserData: []byte(userData), SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests test@fake"}})
	t.Logf("Boot returned after %v", time.Since(start).Round(time.Millisecond))
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Fatalf("THIS MACHINE WAS RENAMED from %q to %q", hostBefore, hostAfter)
	}
	ranAt := srv.wait(t, "/from-guest", 60*time.Second)
	t.Logf("the user-data reached the gateway %v after Boot", ranAt.Sub(start).Round(time.Millisecond))
	res := waitBooted(t, inst)
	t.Logf("boot finished after %v: %+v", res.Took.Round(time.Millisecond), res.Stages)
	if len(res.Stages) != 4 || len(res.Failed()) > 0 {
		t.Errorf("stages: %+v", res.Stages)
	}

	upper := func(path string) string {
		data, err := os.ReadFile(filepath.Join(inst.UpperDir(), path))
		if err != nil {
			return err.Error()
		}
		return string(data)
	}
	if got := upper("root/user-data-ran"); got != "ran as 0 on web-1\n" {
		t.Errorf("the user-data's file in the upper layer: %q", got)
	}
	if got := upper("root/answer"); got != "hello /from-guest\n" {
		t.Errorf("the gateway's answer: %q", got)
	}
	// cloud-init wrote the machine id where a pool machine's agent reads
	// it, before the user-data ran.
	if got := upper("root/machine-id"); got != "i-0123456789abcdef0\n" {
		t.Errorf("%s as the user-data read it: %q", bootstrap.MachineIDFile, got)
	}
	if got := upper("root/init-system"); got != "none\n" {
		t.Errorf("/run/systemd/system in the guest: %q", got)
	}
	// Keys for root itself (disable_root: false: no "login as debian"
	// command prefix), and no default user.
	if got := upper("root/.ssh/authorized_keys"); !strings.HasPrefix(got, "ssh-ed25519 ") || !strings.Contains(got, "FakeKeyForTests") {
		t.Errorf("root's authorized_keys: %q", got)
	}
	if strings.Contains(upper("etc/passwd"), "debian:") {
		t.Error("cloud-init made a default user")
	}
	if _, err := os.Stat(filepath.Join(inst.UpperDir(), "var/lib/cloud/instances/i-0123456789abcdef0/boot-finished")); err != nil {
		t.Errorf("cloud-init's boot-finished: %v", err)
	}
	ctx := context.Background()
	if out, err := inst.Exec(ctx, "hostname"); err != nil || strings.TrimSpace(string(out)) != "web-1" {
		t.Errorf("hostname inside: %q, %v", out, err)
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Fatalf("THIS MACHINE WAS RENAMED from %q to %q", hostBefore, hostAfter)
	}

	// The daemon runs on, reparented to PID 1, without the capabilities
	// that reach the machine.
	sleepPID := 0
	for _, p := range guestPIDs(t, inst) {
		if comm(p) == "sleep" {
			sleepPID = p
		}
	}
	if sleepPID == 0 {
		t.Fatalf("the user-data's daemon is not running; processes: %v", guestCommands(t, inst))
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", sleepPID))
	bnd := statusField(string(status), "CapBnd:")
	if capSysTime := uint64(1) << 25; bnd&capSysTime != 0 || bnd == 0 {
		t.Errorf("the guest's processes may set the clock: CapBnd %x", bnd)
	}
	if ign := statusField(string(status), "SigIgn:"); ign&(1<<(syscall.SIGTERM-1)|1<<(syscall.SIGHUP-1)) != 0 {
		t.Errorf("the guest's daemon ignores TERM or HUP: SigIgn %x", ign)
	}
	if ppid := statusField(string(status), "PPid:"); ppid != uint64(inst.InitPID()) {
		t.Errorf("the daemon's parent is %d, not the guest's PID 1 (%d)", ppid, inst.InitPID())
	}
	if got := comm(inst.InitPID()); got != "fakecloud-init" {
		t.Errorf("PID 1 is named %q", got)
	}
	// PID 1 shrugs off signals from inside.
	if out, err := inst.Exec(ctx, "sh", "-c", "kill -TERM 1; kill -INT 1; kill -HUP 1"); err != nil {
		t.Errorf("signalling PID 1: %v: %s", err, out)
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case <-inst.Done():
		t.Fatal("a signal from inside ended the guest")
	default:
	}
	u, err := inst.Usage()
	if err != nil || u.Processes != 2 {
		t.Errorf("usage: %+v, %v (want PID 1 and sleep)", u, err)
	}
	t.Logf("usage once booted: %d processes %v, RSS %s, PSS %s, anonymous %s", u.Processes, u.Commands, mb(u.RSS), mb(u.PSS), mb(u.Anon))
}

// TestBootCloudConfig: a #cloud-config user-data with write_files and
// runcmd works, as cloud-init is real.
func TestBootCloudConfig(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{})
	srv := newGatewayServer(t, r)
	userData := `#cloud-config
write_files:
  - path: /etc/slipstream-test/config.json
    permissions: "0640"
    content: |
      {"coordinator": "` + srv.URL + `"}
runcmd:
  - [sh, -c, "curl -fsS ` + srv.URL + `/runcmd-$(hostname) > /root/runcmd-answer"]
  - echo done > /root/runcmd-done
`
	inst := boot(t, r, fakecloud.BootSpec{ID: "i-cloudconfig", Hostname: "db-2", Layers: []string{image}, UserData: []byte(userData)})
	srv.wait(t, "/runcmd-db-2", 60*time.Second)
	res := waitBooted(t, inst)
	if len(res.Failed()) > 0 {
		t.Errorf("failed stages: %+v", res.Failed())
	}
	fi, err := os.Stat(filepath.Join(inst.UpperDir(), "etc/slipstream-test/config.json"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("write_files: %v, %v", fi, err)
	}
	data, _ := os.ReadFile(filepath.Join(inst.UpperDir(), "root/runcmd-done"))
	if string(data) != "done\n" {
		t.Errorf("runcmd: %q", data)
	}
}

// guestPIDs lists the guest's processes (this machine's pids).
func guestPIDs(t *testing.T, inst *Instance) []int {
	t.Helper()
	ns, err := pidNamespace(inst.InitPID())
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			if got, err := pidNamespace(p); err == nil && got == ns {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

func guestCommands(t *testing.T, inst *Instance) []string {
	var out []string
	for _, p := range guestPIDs(t, inst) {
		out = append(out, fmt.Sprintf("%d:%s", p, comm(p)))
	}
	return out
}

func comm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}

// statusField reads a number from /proc/<pid>/status (hex for Cap* and Sig*).
func statusField(status, name string) uint64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			base := 10
			if strings.HasPrefix(name, "Cap") || strings.HasPrefix(name, "Sig") {
				base = 16
			}
			n, _ := strconv.ParseUint(strings.TrimSpace(rest), base, 64)
			return n
		}
	}
	return 0
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

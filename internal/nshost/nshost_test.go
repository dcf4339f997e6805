package nshost

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testPrefix keeps the tests' pools apart from `nshosts up` (prefix "sl").
const testPrefix = "nst"

// helperEnv makes the test binary a helper process that creates a pool
// and exits without closing it (see TestCleanupStale).
const helperEnv = "NSHOST_TEST_HELPER_STATE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperMain(dir))
	}
	if Available() == nil {
		// Pools of an earlier run of these tests that was killed.
		if err := CleanupStale(testPrefix); err != nil {
			fmt.Fprintln(os.Stderr, "cleaning up stale test pools:", err)
		}
	}
	os.Exit(m.Run())
}

func helperMain(dir string) int {
	p, err := NewPool(context.Background(), 1, Options{Prefix: os.Getenv("NSHOST_TEST_HELPER_PREFIX"), StateDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("NSHOST_TEST_HELPER_SAVE") != "" {
		if err := p.Save(filepath.Join(dir, "pool.json")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	json.NewEncoder(os.Stdout).Encode(p)
	return 0
}

func requireAvailable(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true, and CI installs everything (make deps), yet: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

func newTestPool(t *testing.T, n int, opts Options) *Pool {
	t.Helper()
	requireAvailable(t)
	if opts.Prefix == "" {
		opts.Prefix = testPrefix
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := NewPool(ctx, n, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NewPool(%d): %s, %s, %s isolation, in %v", n, p.ID, p.Subnet, p.Isolation, p.SetupTime().Round(time.Millisecond))
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func run(t *testing.T, h *Host, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := h.Run(ctx, cmd)
	if err != nil {
		t.Fatalf("on %s: %v", h.Name, err)
	}
	return strings.TrimSpace(out)
}

// startDetached starts `sleep` on the host the way an agent is started:
// detached, surviving the SSH session. It returns its pid.
func startDetached(t *testing.T, h *Host) int {
	t.Helper()
	pid := atoi(run(t, h, "setsid nohup sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"))
	if pid <= 0 {
		t.Fatal("no pid")
	}
	waitFor(t, "sleep in "+h.NetNS, func() bool { return inNetns(pid, h.NetNS) })
	return pid
}

func inNetns(pid int, ns string) bool {
	for _, p := range netnsPids(ns) {
		if p == pid {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialErr(h *Host) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := h.Dial(ctx)
	if err == nil {
		c.Close()
	}
	return err
}

func TestPool(t *testing.T) {
	p := newTestPool(t, 3, Options{})
	if len(p.Hosts) != 3 {
		t.Fatalf("%d hosts", len(p.Hosts))
	}
	h1, h2, h3 := p.Hosts[0], p.Hosts[1], p.Hosts[2]
	ctx := context.Background()

	t.Run("ssh", func(t *testing.T) {
		realID, _ := os.ReadFile("/etc/machine-id")
		ids := map[string]string{strings.TrimSpace(string(realID)): "the real machine"}
		for _, h := range p.Hosts {
			if h.Port != 22 || h.User != "root" || !strings.HasPrefix(h.HostKey, "ssh-ed25519 AAAA") ||
				h.KnownHostsLine != h.IP+" "+h.HostKey {
				t.Errorf("host %+v", h)
			}
			// Dial checks the host key against HostKey (FixedHostKey).
			if got := run(t, h, "hostname"); got != h.Name {
				t.Errorf("hostname on %s = %q", h.Name, got)
			}
			id := run(t, h, "cat /etc/machine-id")
			if len(id) != 32 {
				t.Errorf("machine-id on %s = %q", h.Name, id)
			}
			if other, dup := ids[id]; dup {
				t.Errorf("machine-id of %s is that of %s", h.Name, other)
			}
			ids[id] = h.Name
			if got := run(t, h, "ip -4 -o addr show dev eth0 | awk '{print $4}'"); !strings.HasPrefix(got, h.IP+"/") {
				t.Errorf("eth0 on %s: %q", h.Name, got)
			}
		}
		// A wrong host key is refused.
		cfg, err := h1.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		other, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(h2.HostKey))
		cfg.HostKeyCallback = ssh.FixedHostKey(other)
		if c, err := dialSSH(ctx, h1.Addr(), cfg); err == nil {
			c.Close()
			t.Error("host 1 accepted with host 2's key")
		}
		// known_hosts file works with OpenSSH's own parser format.
		kh, err := os.ReadFile(p.KnownHostsPath)
		if err != nil || strings.Count(string(kh), "\n") != 3 || !strings.Contains(string(kh), h2.KnownHostsLine+"\n") {
			t.Errorf("known_hosts %q: %v", kh, err)
		}
		if fi, err := os.Stat(p.PrivateKeyPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("private key: %v %v", fi.Mode(), err)
		}
	})

	paths := []string{
		"/usr/local/bin/slipstream-agent",
		"/etc/slipstream/agent.json",
		"/etc/slipstream/x",
		"/var/lib/slipstream/state",
		"/run/slipstream-agent.pid",
		"/var/log/slipstream-agent.log",
		"/tmp/slipstream-upload",
	}
	t.Run("files", func(t *testing.T) {
		c1, c2 := dial(t, h1), dial(t, h2)
		token := "written-on-" + h1.Name
		for _, path := range paths {
			runOn(t, c1, fmt.Sprintf("mkdir -p %s && echo %s > %s", filepath.Dir(path), token, path))
			if got := runOn(t, c1, "cat "+path); got != token {
				t.Errorf("%s on host 1: %q", path, got)
			}
			if got := runOn(t, c2, fmt.Sprintf("test -e %s && echo present || echo absent", path)); got != "absent" {
				t.Errorf("%s written on host 1 is %s on host 2", path, got)
			}
			if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), token) {
				t.Errorf("%s written on host 1 is on the real machine", path)
			}
			if data, err := os.ReadFile(h1.Root + path); err != nil || strings.TrimSpace(string(data)) != token {
				t.Errorf("%s is not in host 1's Root: %v", path, err)
			}
		}
		if got := runOn(t, c2, "test -d /usr/local/bin && test -d /usr/local/sbin && find /usr/local/bin /usr/local/sbin -mindepth 1 | wc -l"); got != "0" {
			t.Errorf("/usr/local/bin and sbin on host 2: %q", got)
		}
		if got := runOn(t, c2, "command -v sh; command -v cat"); got != "/usr/bin/sh\n/usr/bin/cat" && got != "/bin/sh\n/bin/cat" {
			t.Errorf("PATH lookups on host 2: %q", got)
		}
		if got := runOn(t, c2, "test -e /run/systemd/system && echo systemd || echo none"); got != "none" {
			t.Errorf("/run/systemd/system on host 2: %s", got)
		}
		if got := runOn(t, c2, "stat -c %a /tmp /run/sshd; whoami; echo $HOME"); got != "1777\n755\nroot\n/root" {
			t.Errorf("host 2: %q", got)
		}
		// sftp works (internal-sftp), for uploads.
		s, err := c2.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.RequestSubsystem("sftp"); err != nil {
			t.Errorf("sftp subsystem: %v", err)
		}
	})

	t.Run("gateway", func(t *testing.T) {
		// A coordinator on the gateway is reachable from every host.
		ln, err := net.Listen("tcp", net.JoinHostPort(p.GatewayIP, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan string, len(p.Hosts))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					line, _ := bufio.NewReader(c).ReadString('\n')
					got <- strings.TrimSpace(line) + " from " + strings.Split(c.RemoteAddr().String(), ":")[0]
				}()
			}
		}()
		port := ln.Addr().(*net.TCPAddr).Port
		for _, h := range p.Hosts {
			run(t, h, fmt.Sprintf("bash -c 'echo hello from $(hostname) > /dev/tcp/%s/%d'", p.GatewayIP, port))
			select {
			case line := <-got:
				if want := "hello from " + h.Name + " from " + h.IP; line != want {
					t.Errorf("got %q, want %q", line, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("nothing from %s", h.Name)
			}
		}
		// And over HTTP, as the agent talks to the coordinator.
		if run(t, h3, "command -v curl || true") == "" {
			t.Log("no curl on this machine: HTTP check skipped")
			return
		}
		hl, err := net.Listen("tcp", net.JoinHostPort(p.GatewayIP, "0"))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "coordinator sees "+strings.Split(r.RemoteAddr, ":")[0])
		})}
		go srv.Serve(hl)
		defer srv.Close()
		if got := run(t, h3, "curl -fsS http://"+hl.Addr().String()+"/"); got != "coordinator sees "+h3.IP {
			t.Errorf("curl from host 3: %q", got)
		}
	})

	t.Run("bastion", func(t *testing.T) {
		// Host 1 as jump host: a direct-tcpip channel from it to host 2's
		// sshd, and a second SSH login through that.
		c1, err := h1.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		conn, err := c1.Dial("tcp", h2.Addr())
		if err != nil {
			t.Fatalf("forwarding through %s: %v", h1.Name, err)
		}
		cfg, err := h2.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cc, chans, reqs, err := ssh.NewClientConn(conn, h2.Addr(), cfg)
		if err != nil {
			t.Fatalf("login to %s through %s: %v", h2.Name, h1.Name, err)
		}
		c2 := ssh.NewClient(cc, chans, reqs)
		defer c2.Close()
		out, err := RunOn(ctx, c2, "hostname; echo $SSH_CONNECTION")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(out)
		if len(f) < 2 || f[0] != h2.Name || f[1] != h1.IP {
			t.Errorf("through the bastion: %q (want %s, connection from %s)", out, h2.Name, h1.IP)
		}
	})

	t.Run("stop-start", func(t *testing.T) {
		key := h3.HostKey
		pid := startDetached(t, h3)
		if err := h3.Stop(); err != nil {
			t.Fatal(err)
		}
		err := dialErr(h3)
		if err == nil {
			t.Fatal("dial to a stopped host worked")
		}
		t.Logf("dial to stopped host: %v", err)
		if !inNetns(pid, h3.NetNS) {
			t.Error("Stop killed a process other than sshd")
		}
		if err := h3.Stop(); err != nil { // again: no-op
			t.Fatal(err)
		}
		if err := h3.Start(); err != nil {
			t.Fatal(err)
		}
		if err := h3.Start(); err != nil { // again: no-op
			t.Fatal(err)
		}
		if h3.HostKey != key {
			t.Error("host key changed by Stop/Start")
		}
		if got := run(t, h3, "hostname; test -e /tmp/x || echo ok"); got != h3.Name+"\nok" {
			t.Errorf("after Start: %q", got)
		}
		if got := run(t, h3, fmt.Sprintf("kill -0 %d && echo alive", pid)); got != "alive" {
			t.Errorf("detached process after Start: %q", got)
		}
	})

	t.Run("reinstall", func(t *testing.T) {
		oldKey, oldCfg := h1.HostKey, mustConfig(t, h1)
		oldID := run(t, h1, "cat /etc/machine-id")
		pid := startDetached(t, h1)
		if err := h1.Reinstall(); err != nil {
			t.Fatal(err)
		}
		if h1.HostKey == oldKey || h1.KnownHostsLine != h1.IP+" "+h1.HostKey {
			t.Errorf("host key after Reinstall: %q (was %q), %q", h1.HostKey, oldKey, h1.KnownHostsLine)
		}
		if c, err := dialSSH(ctx, h1.Addr(), oldCfg); err == nil {
			c.Close()
			t.Error("the reinstalled host still has its old host key")
		} else if !strings.Contains(err.Error(), "host key") {
			t.Errorf("dial with the old key: %v", err)
		}
		for _, path := range paths {
			if got := run(t, h1, fmt.Sprintf("test -e %s && echo present || echo absent", path)); got != "absent" {
				t.Errorf("%s is %s after Reinstall", path, got)
			}
		}
		if got := run(t, h1, "hostname"); got != h1.Name {
			t.Errorf("hostname %q", got)
		}
		if id := run(t, h1, "cat /etc/machine-id"); id == oldID {
			t.Error("same machine-id after Reinstall")
		}
		if inNetns(pid, h1.NetNS) || procStart(pid) != 0 {
			t.Error("a process of the host survived Reinstall")
		}
		kh, _ := os.ReadFile(p.KnownHostsPath)
		if !strings.Contains(string(kh), h1.KnownHostsLine) {
			t.Errorf("known_hosts not updated: %s", kh)
		}
	})

	t.Run("save-load-close", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "pool.json")
		if err := p.Save(path); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("pool file: %v", err)
		}
		q, err := LoadPool(path)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(q)
		if string(a) != string(b) {
			t.Errorf("loaded pool differs:\n%s\n%s", a, b)
		}
		if got := run(t, q.Hosts[1], "hostname"); got != h2.Name {
			t.Errorf("loaded pool's host 2: %q", got)
		}

		// What Close must get rid of.
		sleeper := startDetached(t, h2)
		var nss []nsID
		for _, h := range p.Hosts {
			id, ok := nsOf(filepath.Join(netnsDir, h.NetNS))
			if !ok {
				t.Fatalf("no netns %s", h.NetNS)
			}
			nss = append(nss, id)
		}
		if err := q.Close(); err != nil { // as `nshosts down` would
			t.Fatal(err)
		}
		if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), p.ID) {
			t.Errorf("ip netns list after Close:\n%s", out)
		}
		if out, _ := exec.Command("ip", "-o", "link", "show").Output(); strings.Contains(string(out), p.ID) {
			t.Errorf("ip link show after Close:\n%s", out)
		}
		for _, id := range nss {
			if pids := pidsIn(id); len(pids) > 0 {
				t.Errorf("processes %v left in a deleted namespace", pids)
			}
		}
		if procStart(sleeper) != 0 {
			t.Errorf("detached process %d survived Close", sleeper)
		}
		for _, gone := range []string{path, p.StateDir, entryPath(p.ID)} {
			if _, err := os.Stat(gone); !os.IsNotExist(err) {
				t.Errorf("%s after Close: %v", gone, err)
			}
		}
		if err := h2.Stop(); err != nil {
			t.Errorf("Stop after Close: %v", err)
		}
		for _, pool := range []*Pool{p, p, q} {
			if err := pool.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		}
	})
}

func dial(t *testing.T, h *Host) *ssh.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := h.Dial(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", h.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func runOn(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := RunOn(ctx, c, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func mustConfig(t *testing.T, h *Host) *ssh.ClientConfig {
	t.Helper()
	cfg, err := h.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCloseKillsDetached: an agent started over SSH, detached from the
// session, does not outlive the pool.
func TestCloseKillsDetached(t *testing.T) {
	p := newTestPool(t, 1, Options{StateDir: filepath.Join(t.TempDir(), "state")})
	h := p.Hosts[0]
	pid := startDetached(t, h)
	// A grandchild in a new session too.
	run(t, h, "setsid sh -c 'setsid sleep 1001 & sleep 1002' </dev/null >/dev/null 2>&1 &")
	waitFor(t, "3 sleeps", func() bool {
		n := 0
		for _, q := range netnsPids(h.NetNS) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", q)); strings.TrimSpace(string(comm)) == "sleep" {
				n++
			}
		}
		return n == 3
	})
	ns, _ := nsOf(filepath.Join(netnsDir, h.NetNS))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if procStart(pid) != 0 {
		t.Errorf("process %d survived Close", pid)
	}
	if pids := pidsIn(ns); len(pids) != 0 {
		t.Errorf("processes %v survived Close", pids)
	}
	if _, err := os.Stat(p.StateDir); !os.IsNotExist(err) {
		t.Errorf("state folder (given, made empty) after Close: %v", err)
	}
}

// TestPoolsInParallel: pools made at the same time get their own ids and
// subnets and both work.
func TestPoolsInParallel(t *testing.T) {
	requireAvailable(t)
	pools := make([]*Pool, 3)
	errs := make([]error, 3)
	done := make(chan int)
	for i := range pools {
		go func() {
			pools[i], errs[i] = NewPool(context.Background(), 2, Options{Prefix: testPrefix})
			done <- i
		}()
	}
	for range pools {
		<-done
	}
	for i, p := range pools {
		if errs[i] != nil {
			t.Error(errs[i])
			continue
		}
		t.Cleanup(func() { p.Close() })
	}
	if t.Failed() {
		return
	}
	ids, subnets := map[string]bool{}, map[string]bool{}
	for _, p := range pools {
		if ids[p.ID] || subnets[p.Subnet] {
			t.Errorf("shared id or subnet: %s %s", p.ID, p.Subnet)
		}
		ids[p.ID], subnets[p.Subnet] = true, true
		for _, h := range p.Hosts {
			if got := run(t, h, "hostname"); got != h.Name {
				t.Errorf("%s: %q", h.Name, got)
			}
		}
	}
}

// TestCleanupStale: pools whose maker is gone are removed, unless saved to
// a pool file that still exists; pools of running processes are kept.
func TestCleanupStale(t *testing.T) {
	requireAvailable(t)
	// A prefix of its own: the helpers' pools are stale as soon as they
	// exit, and a test process running at the same time would remove them
	// in its own CleanupStale(testPrefix).
	var b [2]byte
	rand.Read(b[:])
	prefix := fmt.Sprintf("c%04x", b)
	live := newTestPool(t, 1, Options{Prefix: prefix})

	helper := func(dir string, save bool) *Pool {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir, "NSHOST_TEST_HELPER_PREFIX="+prefix)
		if save {
			cmd.Env = append(cmd.Env, "NSHOST_TEST_HELPER_SAVE=1")
		}
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
		p := new(Pool)
		if err := json.Unmarshal(out, p); err != nil {
			t.Fatalf("helper output %q: %v", out, err)
		}
		for _, h := range p.Hosts {
			h.pool = p
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	staleDir, savedDir := t.TempDir(), t.TempDir()
	stale := helper(staleDir, false)
	saved := helper(savedDir, true)

	// The helpers have exited; their sshds run on.
	for _, p := range []*Pool{stale, saved} {
		if got := run(t, p.Hosts[0], "hostname"); got != p.Hosts[0].Name {
			t.Fatalf("%q", got)
		}
	}
	statuses, err := ListPools(prefix)
	if err != nil {
		t.Fatal(err)
	}
	liveness := map[string]bool{}
	for _, s := range statuses {
		liveness[s.ID] = s.Live
	}
	if !liveness[live.ID] || !liveness[saved.ID] || liveness[stale.ID] {
		t.Errorf("ListPools: %+v", statuses)
	}

	if err := CleanupStale(prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, stale.Hosts[0].NetNS)); !os.IsNotExist(err) {
		t.Errorf("stale pool's namespace: %v", err)
	}
	if _, err := net.InterfaceByName(stale.Bridge); err == nil {
		t.Error("stale pool's bridge is left")
	}
	if _, err := os.Stat(stale.Hosts[0].Root); !os.IsNotExist(err) {
		t.Errorf("stale pool's files: %v", err)
	}
	if _, err := os.Stat(entryPath(stale.ID)); !os.IsNotExist(err) {
		t.Errorf("stale pool's registry entry: %v", err)
	}
	for _, p := range []*Pool{live, saved} {
		if got := run(t, p.Hosts[0], "hostname"); got != p.Hosts[0].Name {
			t.Errorf("pool %s after CleanupStale: %q", p.ID, got)
		}
	}

	// Once its pool file is gone, the saved pool is stale too.
	if err := os.Remove(filepath.Join(savedDir, "pool.json")); err != nil {
		t.Fatal(err)
	}
	if err := CleanupStale(prefix); err != nil {
		t.Fatal(err)
	}
	if err := dialErr(saved.Hosts[0]); err == nil {
		t.Error("the unsaved pool survived CleanupStale")
	}
	if _, err := os.Stat(filepath.Join(netnsDir, saved.Hosts[0].NetNS)); !os.IsNotExist(err) {
		t.Errorf("namespace: %v", err)
	}
	if got := run(t, live.Hosts[0], "hostname"); got != live.Hosts[0].Name {
		t.Errorf("live pool: %q", got)
	}
}

// TestBindIsolation runs a host with bind-mount isolation, the fallback
// when overlayfs is not possible. It creates empty /etc/slipstream and
// /var/lib/slipstream folders on this machine as mount points, so it runs
// only in CI or when NSHOST_TEST_BIND=1.
func TestBindIsolation(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("NSHOST_TEST_BIND") != "1" {
		t.Skip("creates /etc/slipstream and /var/lib/slipstream on this machine: set NSHOST_TEST_BIND=1 (CI=true runs it)")
	}
	// The mount points this test creates on the machine go when it ends
	// (registered first, so it runs after the pool is closed): an empty
	// /etc/slipstream left behind would show in every overlay host of
	// later tests as if an agent had been installed.
	for _, dir := range []string{"/etc/slipstream", "/var/lib/slipstream"} {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			t.Cleanup(func() { os.Remove(dir) })
		}
	}
	p := newTestPool(t, 2, Options{Isolation: IsolationBind})
	h1, h2 := p.Hosts[0], p.Hosts[1]
	for _, path := range []string{"/etc/slipstream/x", "/var/lib/slipstream/x", "/usr/local/bin/x", "/run/x", "/var/log/x", "/tmp/x"} {
		run(t, h1, "echo one > "+path)
		if got := run(t, h2, "cat "+path+" 2>/dev/null || echo absent"); got != "absent" {
			t.Errorf("%s on host 2: %q", path, got)
		}
		if _, err := os.Stat(path); err == nil && path != "/tmp/x" {
			t.Errorf("%s on the real machine", path)
		}
	}
	if a, b := run(t, h1, "cat /etc/machine-id; hostname"), run(t, h2, "cat /etc/machine-id; hostname"); a == b {
		t.Errorf("same machine-id and hostname: %q", a)
	}
	if err := h1.Reinstall(); err != nil {
		t.Fatal(err)
	}
	if got := run(t, h1, "cat /etc/slipstream/x 2>/dev/null || echo absent"); got != "absent" {
		t.Errorf("after Reinstall: %q", got)
	}
}

func TestNewPoolErrors(t *testing.T) {
	requireAvailable(t)
	_, err := NewPool(context.Background(), 1, Options{Prefix: "Bad-Prefix"})
	if err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("bad prefix: %v", err)
	}
	_, err = NewPool(context.Background(), 1, Options{Prefix: testPrefix, Subnet: "127.0.0.0/24"})
	if err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("used subnet: %v", err)
	}
}

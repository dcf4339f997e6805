package nshost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SSHDPath is the OpenSSH server every host runs (Debian: openssh-server).
const SSHDPath = "/usr/sbin/sshd"

// Paths inside a host (its private /run).
const (
	sshdDir    = "/run/nshost"
	sshdConfig = sshdDir + "/sshd_config"
)

// safePathRE: paths that go into the mount script and overlay options
// unquoted-safe (no spaces, quotes, commas or colons).
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+@-]*$`)

func checkStateDir(dir string) error {
	if !safePathRE.MatchString(dir) {
		return fmt.Errorf("nshost: state folder %q: only letters, digits and . _ / + @ - are allowed in its path", dir)
	}
	for _, bad := range []string{"/etc", "/var/lib"} {
		if dir == bad || strings.HasPrefix(dir, bad+"/") {
			return fmt.Errorf("nshost: state folder %s: must not be under %s, which the hosts overlay", dir, bad)
		}
	}
	return nil
}

// A mount of the host's private file system.
type mount struct {
	overlay        bool
	target, source string // bind: source; overlay: upper folder
	work           string // overlay work folder
}

func (h *Host) mounts() []mount {
	r, d := h.Root, h.dir()
	var ms []mount
	if h.pool.Isolation == IsolationOverlay {
		ms = append(ms,
			mount{overlay: true, target: "/etc", source: r + "/etc", work: d + "/work/etc"},
			mount{overlay: true, target: "/var/lib", source: r + "/var/lib", work: d + "/work/varlib"})
	} else {
		ms = append(ms,
			mount{target: "/etc/slipstream", source: r + "/etc/slipstream"},
			mount{target: "/var/lib/slipstream", source: r + "/var/lib/slipstream"},
			mount{target: "/etc/machine-id", source: r + "/etc/machine-id"})
		if _, err := os.Stat("/etc/hostname"); err == nil {
			ms = append(ms, mount{target: "/etc/hostname", source: r + "/etc/hostname"})
		}
	}
	ms = append(ms,
		mount{target: "/usr/local", source: r + "/usr/local"},
		mount{target: "/var/log", source: r + "/var/log"},
		mount{target: "/run", source: r + "/run"},
		mount{target: "/tmp", source: r + "/tmp"},
		// A machine's own, as /tmp: what one host leaves there (an upload
		// cut off by an interrupt) is not another test's business.
		mount{target: "/var/tmp", source: r + "/var/tmp"},
		// root's home starts empty, as on a fresh image: the real machine's
		// shell start-up files (a .bashrc that runs pyenv, say) would run
		// in every SSH session, which sshd starts through bash, and cost
		// each one 150 ms here.
		mount{target: "/root", source: r + "/root"})
	// A mount over a folder holding the state folder would hide the
	// sources of the mounts after it: do that one last.
	state := h.pool.StateDir
	sort.SliceStable(ms, func(i, j int) bool {
		return !under(state, ms[i].target) && under(state, ms[j].target)
	})
	return ms
}

func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// script is what runs, as root, in the host's network namespace and new
// mount and UTS namespaces: mount the private folders, set the hostname,
// become sshd.
func (h *Host) script() string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, m := range h.mounts() {
		if m.overlay {
			fmt.Fprintf(&b, "mount -t overlay nshost -o 'lowerdir=%s,upperdir=%s,workdir=%s' '%s'\n", m.target, m.source, m.work, m.target)
		} else {
			fmt.Fprintf(&b, "mount --bind '%s' '%s'\n", m.source, m.target)
		}
	}
	fmt.Fprintf(&b, "echo '%s' > /proc/sys/kernel/hostname\n", h.Name)
	fmt.Fprintf(&b, "exec %s -D -e -f %s\n", SSHDPath, sshdConfig)
	return b.String()
}

// install makes the host's private folders afresh: a new machine id and a
// new host key.
func (h *Host) install() error {
	p := h.pool
	r, d := h.Root, h.dir()
	if err := removeAll(r); err != nil {
		return err
	}
	if err := removeAll(filepath.Join(d, "work")); err != nil {
		return err
	}
	type dir struct {
		path string
		mode os.FileMode
	}
	dirs := []dir{
		{"/usr/local", 0o755}, {"/usr/local/bin", 0o755}, {"/usr/local/sbin", 0o755},
		{"/usr/local/lib", 0o755}, {"/usr/local/share", 0o755}, {"/usr/local/etc", 0o755},
		{"/usr/local/include", 0o755}, {"/usr/local/src", 0o755},
		{"/var/log", 0o755}, {"/tmp", 0o777 | os.ModeSticky}, {"/var/tmp", 0o777 | os.ModeSticky},
		{"/run", 0o755}, {"/run/sshd", 0o755}, {"/run/lock", 0o777 | os.ModeSticky}, {"/run/user", 0o755}, {sshdDir, 0o700},
		{"/etc", 0o755}, {"/var/lib", 0o755}, {"/root", 0o700},
	}
	if p.Isolation == IsolationBind {
		dirs = append(dirs, dir{"/etc/slipstream", 0o755}, dir{"/var/lib/slipstream", 0o755})
	}
	for _, x := range dirs {
		path := r + x.path
		if err := os.MkdirAll(path, 0o755); err != nil { // #nosec G301 -- the host's /usr/local, /var/log, /run…: world-readable as on a real machine; the Chmod below sets each one's exact mode
			return err
		}
		if err := os.Chmod(path, x.mode); err != nil {
			return err
		}
	}
	for _, x := range []string{"/", "/usr", "/var"} {
		if err := os.Chmod(r+x, 0o755); err != nil { // #nosec G302 -- the parents MkdirAll made above: traversable by the host's non-root users, as / and /usr are on a real machine
			return err
		}
	}
	if p.Isolation == IsolationOverlay {
		for _, w := range []string{"work/etc", "work/varlib"} {
			if err := os.MkdirAll(filepath.Join(d, w), 0o700); err != nil {
				return err
			}
		}
	} else {
		// Mount points on the real machine (empty folders; a missing
		// machine-id becomes an empty file). 0700, as the agent's bootstrap
		// makes them: the bind mounts hide them anyway.
		for _, mp := range []string{"/etc/slipstream", "/var/lib/slipstream"} {
			if err := os.MkdirAll(mp, 0o700); err != nil {
				return fmt.Errorf("mount point: %w", err)
			}
		}
		if _, err := os.Stat("/etc/machine-id"); os.IsNotExist(err) {
			if err := os.WriteFile("/etc/machine-id", nil, 0o444); err != nil { // #nosec G306 -- the real machine's machine-id is world-readable (systemd makes it 0444) and programs of every user read it
				return fmt.Errorf("mount point: %w", err)
			}
		}
	}

	// /etc files of the host.
	var id [16]byte
	rand.Read(id[:])
	files := map[string]string{
		"/etc/machine-id": hex.EncodeToString(id[:]) + "\n",
		"/etc/hostname":   h.Name + "\n",
	}
	if p.Isolation == IsolationOverlay {
		files["/etc/hosts"] = p.etcHosts()
		if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			// Docker bind-mounts /etc/resolv.conf; an overlay of /etc would
			// not show it.
			files["/etc/resolv.conf"] = string(data)
		}
	}
	for path, content := range files {
		mode := os.FileMode(0o644)
		if path == "/etc/machine-id" {
			mode = 0o444
		}
		if err := os.WriteFile(r+path, []byte(content), mode); err != nil {
			return err
		}
		if err := os.Chmod(r+path, mode); err != nil { // the umask may have taken bits
			return err
		}
	}
	if p.Isolation == IsolationOverlay {
		if err := unlockRootShadow(r + "/etc/shadow"); err != nil {
			return err
		}
	}

	// sshd: host key, authorized keys, config.
	priv, pub, err := newKeyPair("root@" + h.Name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(r+sshdDir+"/ssh_host_ed25519_key", priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(r+sshdDir+"/ssh_host_ed25519_key.pub", []byte(pub+" root@"+h.Name+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(r+sshdDir+"/authorized_keys", []byte(p.PublicKey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(r+sshdConfig, []byte(h.sshdConfig()), 0o600); err != nil {
		return err
	}
	p.mu.Lock()
	h.HostKey = pub
	h.KnownHostsLine = h.IP + " " + pub
	p.mu.Unlock()
	return nil
}

// etcHosts is the real /etc/hosts plus the pool's hosts and gateway.
func (p *Pool) etcHosts() string {
	data, _ := os.ReadFile("/etc/hosts")
	var b bytes.Buffer
	b.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "# nshost pool %s\n%s\t%s-gateway\n", p.ID, p.GatewayIP, p.ID)
	for _, h := range p.Hosts {
		fmt.Fprintf(&b, "%s\t%s\n", h.IP, h.Name)
	}
	return b.String()
}

// unlockRootShadow gives the host a copy of /etc/shadow in which root's
// password is "*" rather than locked ("!…"): with UsePAM no, sshd refuses
// even key logins to a locked account.
func unlockRootShadow(dst string) error {
	data, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return nil
	}
	lines := strings.Split(string(data), "\n")
	changed := false
	for i, l := range lines {
		f := strings.SplitN(l, ":", 3)
		if len(f) == 3 && f[0] == "root" && strings.HasPrefix(f[1], "!") {
			lines[i] = "root:*:" + f[2]
			changed = true
		}
	}
	if !changed {
		return nil
	}
	st, err := os.Stat("/etc/shadow")
	if err != nil {
		return nil
	}
	if err := os.WriteFile(dst, []byte(strings.Join(lines, "\n")), st.Mode().Perm()); err != nil { // #nosec G703 -- dst is <host root>/etc/shadow, built by install from the pool's checked state folder
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		// Best effort: the copy is root's already, and sshd reads it as
		// root; the group only matters to tools the host may run.
		_ = os.Chown(dst, int(sys.Uid), int(sys.Gid))
	}
	return os.Chmod(dst, st.Mode().Perm())
}

func (h *Host) sshdConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# nshost %s
ListenAddress %s:%d
HostKey %s/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
StrictModes no
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding no
PermitTunnel no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 200
MaxSessions 100
LoginGraceTime 30
LogLevel ERROR
Subsystem sftp internal-sftp
`, h.Name, h.IP, h.Port, sshdDir, sshdDir)
	if sshdHasPenalties() {
		// OpenSSH ≥ 9.8 would shut out the gateway, where every test
		// connection comes from, after a few failed logins.
		b.WriteString("PerSourcePenalties no\n")
	}
	return b.String()
}

var sshdPenalties = sync.OnceValue(func() bool {
	dir, err := os.MkdirTemp("", "nshost-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfg, []byte("PerSourcePenalties no\nHostKey "+dir+"/none\n"), 0o600); err != nil {
		return false // without the probe file, sshd -t would say nothing about the option
	}
	out, _ := exec.Command(SSHDPath, "-t", "-f", cfg).CombinedOutput() // #nosec G204 -- the fixed sshd binary, argv without a shell; cfg is the probe file just written in our temporary folder
	return !strings.Contains(string(out), "PerSourcePenalties")
})

func sshdHasPenalties() bool { return sshdPenalties() }

// probeOverlay checks that /etc and /var/lib can be overlaid with upper
// layers in the state folder.
func probeOverlay(stateDir string) error {
	dir, err := os.MkdirTemp(stateDir, ".overlay-probe-")
	if err != nil {
		return err
	}
	defer removeAll(dir)
	var b strings.Builder
	b.WriteString("set -e\n")
	for i, target := range []string{"/etc", "/var/lib"} {
		up, work := fmt.Sprintf("%s/up%d", dir, i), fmt.Sprintf("%s/work%d", dir, i)
		if err := os.Mkdir(up, 0o700); err != nil {
			return err
		}
		if err := os.Mkdir(work, 0o700); err != nil {
			return err
		}
		fmt.Fprintf(&b, "mount -t overlay nshost -o 'lowerdir=%s,upperdir=%s,workdir=%s' %s\n", target, up, work, target)
	}
	unshare, err := tool("unshare")
	if err != nil {
		return err
	}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", b.String()) // #nosec G204 -- unshare found by tool(); the script names only the probe folder, under a state folder checkStateDir allowed (no quotes, spaces or shell characters)
	cmd.Env = toolEnv
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// startSSHD starts the host's sshd in its namespaces, in a session of its
// own so that it outlives the calling process, and waits until it accepts
// a login.
func (h *Host) startSSHD(ctx context.Context) error {
	ip, err := tool("ip")
	if err != nil {
		return err
	}
	unshare, err := tool("unshare")
	if err != nil {
		return err
	}
	logPath := filepath.Join(h.dir(), "sshd.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) // #nosec G304 -- sshd.log in the host's folder under the pool's state folder
	if err != nil {
		return err
	}
	fi, _ := logf.Stat()
	logStart := int64(0)
	if fi != nil {
		logStart = fi.Size()
	}
	// #nosec G204 -- ip and unshare are found by tool() in the system folders; the namespace and the script come from the pool's generated host name and checked state folder
	cmd := exec.Command(ip, "netns", "exec", h.NetNS,
		unshare, "--mount", "--uts", "--propagation", "private",
		"/bin/sh", "-c", h.script())
	cmd.Env = append(toolEnv, "HOME=/root")
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	_ = logf.Close() // sshd has its own descriptor; nothing was written through ours
	if err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reap it, whenever it ends; how it ended shows in sshd.log
		close(exited)
	}()
	logTail := func() string {
		data, _ := os.ReadFile(logPath) // #nosec G304 -- the sshd.log opened above
		if int64(len(data)) > logStart {
			data = data[logStart:]
		}
		return strings.TrimSpace(string(data))
	}
	cfg, err := h.ClientConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 2 * time.Second
	var lastErr error
	for {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited: %s", logTail())
		default:
		}
		c, err := dialSSH(ctx, h.Addr(), cfg)
		if err == nil {
			_ = c.Close() // a probe login: it answered, which is all we wanted
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL) // it may have exited already; the error returned says why we gave up
			return fmt.Errorf("sshd at %s not ready: %w (last error: %v; sshd log: %s)", h.Addr(), ctx.Err(), lastErr, logTail())
		case <-exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sshdRunning says whether the host's listening sshd runs.
func (h *Host) sshdRunning() bool {
	data, err := os.ReadFile(h.Root + "/run/sshd.pid")
	if err != nil {
		return false
	}
	pid := atoi(string(data))
	if pid <= 0 || !isSSHD(pid) {
		return false
	}
	want, ok := nsOf(filepath.Join(netnsDir, h.NetNS))
	got, ok2 := nsOf(fmt.Sprintf("/proc/%d/ns/net", pid))
	return ok && ok2 && want == got
}

// Stop makes the host unreachable over SSH: it kills its sshd processes
// (the listener and those of open connections), and leaves its other
// processes (agents) running. The next dial is refused.
func (h *Host) Stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := killNetns(h.NetNS, func(pid int) bool { return !isSSHD(pid) }); err != nil {
		return fmt.Errorf("nshost: stopping %s: %w", h.Name, err)
	}
	return nil
}

// Start starts the host's sshd again (a no-op if it runs) and waits until
// it accepts a login, with the same host key as before.
func (h *Host) Start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sshdRunning() {
		return nil
	}
	ctx, cancel := readyContext(context.Background(), 0)
	defer cancel()
	if err := h.startSSHD(ctx); err != nil {
		return fmt.Errorf("nshost: starting %s: %w", h.Name, err)
	}
	return nil
}

// Reinstall turns the host into a freshly installed machine at the same
// address: it kills all its processes, wipes its private folders, and
// starts sshd with a new host key (HostKey and KnownHostsLine change, and
// so do the pool's known_hosts file and saved pool files) and a new
// machine id.
func (h *Host) Reinstall() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := killNetns(h.NetNS, nil); err != nil {
		return fmt.Errorf("nshost: reinstalling %s: %w", h.Name, err)
	}
	if err := h.install(); err != nil {
		return fmt.Errorf("nshost: reinstalling %s: %w", h.Name, err)
	}
	ctx, cancel := readyContext(context.Background(), 0)
	defer cancel()
	err := h.startSSHD(ctx)
	err = errors.Join(err, h.pool.resave())
	if err != nil {
		return fmt.Errorf("nshost: reinstalling %s: %w", h.Name, err)
	}
	return nil
}

// Package nshost runs throw-away "machines" on this one Linux machine for
// tests and demos: each host is a network namespace with its own IPv4
// address on a private bridge, running a real OpenSSH sshd inside a private
// mount and UTS namespace, so that what is installed on one host (under
// /usr/local, /etc, /var/lib, /var/log, /run, /tmp, /var/tmp, /root) is invisible to the
// others and to the real machine.
//
//	bridge  <prefix>-<id>-br   GatewayIP = .1 of the subnet (the coordinator listens here)
//	host i  <prefix>-<id>-<i>  netns, hostname and host-side veth all share this name;
//	                           eth0 inside has .(i+1), default route via the gateway
//
// Everything needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), iproute2,
// util-linux and /usr/sbin/sshd; Available says whether this machine has
// them. Pools from several processes may exist at the same time: each pool
// gets a random id and a free subnet while holding a machine-wide lock, and
// CleanupStale removes only pools whose creating process is gone and that
// were not saved to a pool file that still exists.
//
// A Network (NewNetwork) is the same bridge without sshd hosts: callers
// add and remove network namespaces on it while it runs and bring their
// own processes (the fake clouds' guests, connectors/fakecloud/guest); it
// is registered and cleaned up like a pool.
package nshost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/internal/hostfs"
)

// Options configure NewPool. The zero value is fine.
type Options struct {
	// Prefix starts every namespace, link and host name of the pool:
	// 1 to 5 lower-case letters or digits, starting with a letter.
	// Default "sl".
	Prefix string
	// Subnet is the IPv4 subnet of the bridge, e.g. "10.213.7.0/24"
	// (prefix length 16 to 29). Default: a random free 10.200-255.x.0/24,
	// chosen so that it overlaps no address or route of this machine.
	Subnet string
	// StateDir holds the pool's keys, the hosts' private folders and sshd
	// logs. Default: a new temporary folder, removed by Close. A given
	// folder is created if needed; Close removes what the pool put there
	// (and the folder itself if that leaves it empty). It must not be
	// under /etc or /var/lib.
	StateDir string
	// Isolation selects how /etc and /var/lib are made private to a host:
	// "overlay" (a copy-on-write overlay of the real /etc and /var/lib per
	// host: the default when the kernel and the StateDir's file system
	// allow it) or "bind" (only /etc/slipstream, /var/lib/slipstream,
	// /etc/machine-id and /etc/hostname are private; the two slipstream
	// folders are created, empty, on the real machine as mount points).
	Isolation string
	// ReadyTimeout bounds the wait for each sshd to accept a handshake
	// when the context has no earlier deadline. Default 30s.
	ReadyTimeout time.Duration
}

// Isolation modes.
const (
	IsolationOverlay = "overlay"
	IsolationBind    = "bind"
)

// Pool is a set of hosts on one bridge. Its exported fields are its JSON
// description (Save, LoadPool).
type Pool struct {
	ID        string  `json:"id"` // "<prefix>-<4 hex>", the stem of every name
	Prefix    string  `json:"prefix"`
	Bridge    string  `json:"bridge"`
	GatewayIP string  `json:"gateway_ip"` // the bridge's address in the root namespace
	Subnet    string  `json:"subnet"`
	Hosts     []*Host `json:"hosts"`
	// PrivateKeyPath is the pool's ed25519 client key (OpenSSH format,
	// 0600); PublicKey its "ssh-ed25519 AAAA…" line, authorized on every host.
	PrivateKeyPath string `json:"private_key_path"`
	PublicKey      string `json:"public_key"`
	// KnownHostsPath is a known_hosts file with every host's key line.
	KnownHostsPath string `json:"known_hosts_path"`
	StateDir       string `json:"state_dir"`
	OwnsStateDir   bool   `json:"owns_state_dir,omitempty"`
	Isolation      string `json:"isolation"`
	// ForwardRule is set when an iptables FORWARD rule accepting traffic
	// within the bridge was added (only when bridged traffic goes through
	// a FORWARD chain that is not empty with policy ACCEPT); Close removes it.
	ForwardRule bool      `json:"forward_rule,omitempty"`
	Created     time.Time `json:"created"`

	mu     sync.Mutex
	closed bool
	saved  []string // pool files written by Save or read by LoadPool
	signer ssh.Signer
	ready  time.Duration
}

// Host is one "machine" of a pool.
type Host struct {
	Name  string `json:"name"`  // hostname inside, e.g. "sl-3fa2-1"
	NetNS string `json:"netns"` // network namespace (same as Name)
	Veth  string `json:"veth"`  // host-side veth on the bridge (same as Name)
	IP    string `json:"ip"`
	Port  int    `json:"port"` // 22
	User  string `json:"user"` // "root"
	// HostKey is the sshd's public host key, "ssh-ed25519 AAAA…";
	// KnownHostsLine is "IP ssh-ed25519 AAAA…".
	HostKey        string `json:"host_key"`
	KnownHostsLine string `json:"known_hosts_line"`
	// Root holds the host's private folders as seen from the real
	// machine: Root/usr/local, Root/var/log, Root/run, Root/tmp, Root/var/tmp, Root/root
	// (root's home, empty at first, as on a fresh image) and, with
	// overlay isolation, the overlay upper layers Root/etc and
	// Root/var/lib (so a file the host wrote to /etc/slipstream/x is at
	// Root/etc/slipstream/x).
	Root string `json:"root"`

	pool *Pool
	mu   sync.Mutex // serializes Start, Stop, Reinstall
}

// Addr is "IP:22".
func (h *Host) Addr() string { return net.JoinHostPort(h.IP, fmt.Sprint(h.Port)) }

// dir is the host's state folder: Root, the overlay work folders, sshd.log.
func (h *Host) dir() string { return filepath.Dir(h.Root) }

// NewPool creates a bridge and n hosts and returns when every host's sshd
// accepts an SSH login with the pool key. On failure everything made so
// far is removed. The sshd processes outlive the calling process; only
// Close (or CleanupStale once the pool is stale) removes them.
func NewPool(ctx context.Context, n int, opts Options) (_ *Pool, err error) {
	start := time.Now()
	if err := Available(); err != nil {
		return nil, err
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "sl"
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if n < 1 || n > maxHosts {
		return nil, fmt.Errorf("nshost: %d hosts asked for: must be 1 to %d", n, maxHosts)
	}
	p := &Pool{Prefix: prefix, Created: time.Now().UTC().Truncate(time.Second)}

	// State folder.
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "nshost-")
		if err != nil {
			return nil, fmt.Errorf("nshost: %w", err)
		}
		p.StateDir, p.OwnsStateDir = dir, true
	} else {
		dir, err := filepath.Abs(opts.StateDir)
		if err != nil {
			return nil, fmt.Errorf("nshost: %w", err)
		}
		if err := checkStateDir(dir); err != nil {
			return nil, err
		}
		// 0700 like the MkdirTemp one above: it holds the pool's private key,
		// and only root (which runs the hosts) goes in.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("nshost: state folder: %w", err)
		}
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		p.StateDir = dir
	}
	// removeOwned runs on failure paths, which return their own error: what
	// it cannot remove, CleanupStale or the caller's next run does.
	removeOwned := func() {
		if p.OwnsStateDir {
			_ = os.RemoveAll(p.StateDir)
		} else {
			_ = os.Remove(p.StateDir) // if empty
		}
	}
	if err := checkStateDir(p.StateDir); err != nil { // after symlinks
		removeOwned()
		return nil, err
	}

	// Isolation mode.
	switch opts.Isolation {
	case "":
		if err := probeOverlay(p.StateDir); err == nil {
			p.Isolation = IsolationOverlay
		} else {
			p.Isolation = IsolationBind
		}
	case IsolationOverlay:
		if err := probeOverlay(p.StateDir); err != nil {
			removeOwned()
			return nil, fmt.Errorf("nshost: overlay isolation is not possible with state folder %s: %w", p.StateDir, err)
		}
		p.Isolation = IsolationOverlay
	case IsolationBind:
		p.Isolation = IsolationBind
	default:
		removeOwned()
		return nil, fmt.Errorf("nshost: unknown isolation %q (want %q or %q)", opts.Isolation, IsolationOverlay, IsolationBind)
	}

	// Id, subnet and bridge, under the machine-wide lock, so that a pool
	// being made at the same time by another process cannot pick the
	// same ones; registered before anything exists, so that CleanupStale
	// knows whose it is.
	unlock, err := lockMachine(ctx)
	if err != nil {
		removeOwned()
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
		if err != nil {
			err = errors.Join(err, p.Close())
			removeOwned()
		}
	}()
	if p.ID, err = newPoolID(prefix); err != nil {
		return nil, err
	}
	subnet, err := pickSubnet(opts.Subnet, n)
	if err != nil {
		return nil, err
	}
	p.Subnet = subnet.String()
	p.GatewayIP = nthIP(subnet, 1).String()
	p.Bridge = p.ID + "-br"
	if err := p.register(); err != nil {
		return nil, err
	}
	if err := createBridge(ctx, p.Bridge, p.GatewayIP, subnet); err != nil {
		return nil, err
	}
	unlock()
	locked = false
	if p.ForwardRule, err = allowBridgeForwarding(ctx, p.Bridge); err != nil {
		return nil, err
	}
	if p.ForwardRule {
		if err := p.register(); err != nil {
			return nil, err
		}
	}

	// Client key.
	if err := p.writeClientKey(); err != nil {
		return nil, err
	}
	ones, _ := subnet.Mask.Size()
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s-%d", p.ID, i)
		p.Hosts = append(p.Hosts, &Host{
			Name: name, NetNS: name, Veth: name,
			IP:   nthIP(subnet, i+1).String(),
			Port: 22, User: "root",
			Root: filepath.Join(p.StateDir, "hosts", name, "root"),
			pool: p,
		})
	}

	// Hosts, in parallel.
	readyCtx, cancel := readyContext(ctx, opts.ReadyTimeout)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, h := range p.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.create(readyCtx, ones)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := p.writeKnownHosts(); err != nil {
		return nil, err
	}
	p.ready = time.Since(start)
	return p, nil
}

// SetupTime is how long NewPool took.
func (p *Pool) SetupTime() time.Duration { return p.ready }

func readyContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = 30 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

// create makes the host's namespace, veth and folders and starts its sshd.
func (h *Host) create(ctx context.Context, ones int) error {
	p := h.pool
	if err := createHostNet(ctx, h.NetNS, h.Veth, p.Bridge, h.IP, ones, p.GatewayIP); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if err := h.install(); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	if err := h.startSSHD(ctx); err != nil {
		return fmt.Errorf("host %s: %w", h.Name, err)
	}
	return nil
}

// Close kills every process of every host (sshd, and whatever was started
// over SSH), deletes the namespaces, veths and bridge, the iptables rule if
// one was added, and the pool's files, including pool files written by Save
// (or read by LoadPool) that still describe this pool. It can be called
// more than once, on a pool that failed half-way, and on a pool loaded by
// another process.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	var errs []error
	if p.ID != "" {
		errs = append(errs, removePoolNet(p.ID, p.Bridge))
	}
	for _, path := range p.saved {
		if q, err := readPoolFile(path); err == nil && q.ID == p.ID {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, p.removeFiles())
	if p.ID != "" {
		unregister(p.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nshost: closing pool %s: %w", p.ID, err)
	}
	p.closed = true
	return nil
}

// removeFiles removes what the pool put into its state folder.
func (p *Pool) removeFiles() error {
	if p.StateDir == "" {
		return nil
	}
	if p.OwnsStateDir {
		return removeAll(p.StateDir)
	}
	var errs []error
	for _, name := range []string{"hosts", clientKeyName, clientKeyName + ".pub", "known_hosts", "authorized_keys"} {
		errs = append(errs, removeAll(filepath.Join(p.StateDir, name)))
	}
	_ = os.Remove(p.StateDir) // only if empty: a folder the caller named may hold their own files, and stays
	return errors.Join(errs...)
}

// removeAll removes a tree, overlay work folders included.
func removeAll(path string) error { return hostfs.RemoveTree(path) }

// Save writes the pool's JSON description to path (0600), so that another
// process can LoadPool it and Close it. A saved pool whose file still
// exists is never treated as stale by CleanupStale.
func (p *Pool) Save(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	p.mu.Lock()
	data, err := json.MarshalIndent(p, "", "  ")
	if err == nil {
		if !slices.Contains(p.saved, abs) {
			p.saved = append(p.saved, abs)
		}
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(abs, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("nshost: saving pool: %w", err)
	}
	return p.register()
}

// LoadPool reads a pool saved by Save.
func LoadPool(path string) (*Pool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	p, err := readPoolFile(abs)
	if err != nil {
		return nil, err
	}
	p.saved = []string{abs}
	return p, nil
}

func readPoolFile(path string) (*Pool, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- a pool file the caller of LoadPool named, or one this pool saved itself
	if err != nil {
		return nil, err
	}
	p := new(Pool)
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("nshost: %s: %w", path, err)
	}
	if err := checkPoolID(p.ID); err != nil {
		return nil, fmt.Errorf("nshost: %s: %w", path, err)
	}
	for _, h := range p.Hosts {
		if h == nil || !strings.HasPrefix(h.NetNS, p.ID+"-") || !strings.HasPrefix(h.Veth, p.ID+"-") {
			return nil, fmt.Errorf("nshost: %s: a host does not belong to pool %s", path, p.ID)
		}
		h.pool = p
	}
	return p, nil
}

// resave rewrites the pool files after a host changed (Reinstall).
func (p *Pool) resave() error {
	p.mu.Lock()
	paths := append([]string(nil), p.saved...)
	p.mu.Unlock()
	var errs []error
	for _, path := range paths {
		errs = append(errs, p.Save(path))
	}
	errs = append(errs, p.writeKnownHosts())
	return errors.Join(errs...)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// On failure the temporary file is removed unread: its Close error
	// would add nothing to the one returned.
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

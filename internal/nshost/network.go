package nshost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Network is a bridge, with an address on this machine (the gateway), to
// which endpoints — network namespaces with one address each — are added
// and removed while it runs. A Pool is a set of sshd hosts fixed when it
// is made; a Network is for callers that bring their own processes and
// decide when machines come and go (the fake clouds' guest runtime,
// connectors/fakecloud/guest).
//
// It has a Pool's guarantees: its id and subnet are chosen under the
// machine-wide lock so that they clash with nothing on this machine, it is
// registered, and once the process that made it is gone CleanupStale with
// its prefix kills whatever runs in its namespaces and removes them, their
// veths, the bridge and its state folder.
type Network struct {
	ID          string // "<prefix>-<4 hex>", the stem of every name
	Prefix      string
	Bridge      string
	GatewayIP   string // the bridge's address in the root namespace
	Subnet      string
	PrefixLen   int
	ForwardRule bool // an iptables FORWARD rule was added (see Pool)
	// StateDir is a folder made for the network's user, under
	// NetworkOptions.TempDir: it is removed with the network, by Close or
	// by CleanupStale once the network is stale, whatever it holds.
	StateDir string

	mu     sync.Mutex
	subnet *net.IPNet
	used   map[int]bool // endpoint numbers in use
	last   int          // the last number given
	closed bool
}

// NetworkOptions configure NewNetwork. The zero value is fine.
type NetworkOptions struct {
	// Prefix as in Options; default "sl".
	Prefix string
	// Subnet as in Options; default a random free 10.200-255.x.0/24.
	Subnet string
	// TempDir is where the network's StateDir is made; default
	// os.TempDir(). It must not be under /etc or /var/lib.
	TempDir string
}

// Endpoint is one namespace on a Network: eth0 inside has IP, lo is up, and
// the default route goes through the gateway.
type Endpoint struct {
	Name      string // "<network id>-<n>": the namespace (in /run/netns) and the host-side veth
	NetNS     string // the path of the namespace, /run/netns/<Name>
	IP        string
	PrefixLen int
	GatewayIP string
}

// NewNetwork makes a bridge on a free subnet, with no endpoints.
func NewNetwork(ctx context.Context, opts NetworkOptions) (_ *Network, err error) {
	if err := NetworkAvailable(); err != nil {
		return nil, err
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = "sl"
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	parent := opts.TempDir
	if parent == "" {
		parent = os.TempDir()
	}
	if parent, err = filepath.Abs(parent); err != nil {
		return nil, fmt.Errorf("nshost: %w", err)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil { // #nosec G301 -- TempDir, default os.TempDir(): a shared parent the caller names, which other users may also use
		return nil, fmt.Errorf("nshost: network state folder: %w", err)
	}
	if real, err := filepath.EvalSymlinks(parent); err == nil {
		parent = real
	}
	if err := checkStateDir(parent); err != nil {
		return nil, err
	}
	n := &Network{Prefix: prefix, used: map[int]bool{}}

	unlock, err := lockMachine(ctx)
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	if n.ID, err = newPoolID(prefix); err != nil {
		return nil, err
	}
	if n.subnet, err = pickSubnet(opts.Subnet, 1); err != nil {
		return nil, err
	}
	n.Subnet = n.subnet.String()
	n.PrefixLen, _ = n.subnet.Mask.Size()
	n.GatewayIP = nthIP(n.subnet, 1).String()
	n.Bridge = n.ID + "-br"
	// Registered before anything exists, the state folder included, so
	// that CleanupStale finds whatever an interrupted NewNetwork made.
	stateDir := filepath.Join(parent, "nshost-"+n.ID)
	n.StateDir = stateDir
	if err := n.register(); err != nil {
		n.StateDir = ""
		return nil, err
	}
	if err := os.Mkdir(stateDir, 0o750); err != nil {
		n.StateDir = "" // not ours to remove
		return nil, fmt.Errorf("nshost: network state folder: %w", err)
	}
	if err := createBridge(ctx, n.Bridge, n.GatewayIP, n.subnet); err != nil {
		return nil, err
	}
	unlock()
	locked = false
	if n.ForwardRule, err = allowBridgeForwarding(ctx, n.Bridge); err != nil {
		return nil, err
	}
	if n.ForwardRule {
		if err := n.register(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n *Network) register() error {
	return saveEntry(&entry{ID: n.ID, Prefix: n.Prefix, OwnerPID: os.Getpid(), OwnerStart: procStart(os.Getpid()),
		Bridge: n.Bridge, Subnet: n.Subnet, StateDir: n.StateDir, OwnsStateDir: true, ForwardRule: n.ForwardRule})
}

// capacity is how many endpoints the subnet holds (.1 is the gateway).
func (n *Network) capacity() int {
	return 1<<(32-n.PrefixLen) - 3
}

// Add makes a new endpoint. Numbers (and so addresses) are handed out in
// turn, not reused at once, so that a new endpoint does not inherit a
// removed one's entries in the gateway's ARP cache.
func (n *Network) Add(ctx context.Context) (*Endpoint, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("nshost: network %s is closed", n.ID)
	}
	num := 0
	for i := 1; i <= n.capacity(); i++ {
		c := (n.last+i-1)%n.capacity() + 1
		if !n.used[c] {
			num = c
			break
		}
	}
	if num == 0 {
		n.mu.Unlock()
		return nil, fmt.Errorf("nshost: network %s (%s) is full", n.ID, n.Subnet)
	}
	n.used[num], n.last = true, num
	n.mu.Unlock()

	name := fmt.Sprintf("%s-%d", n.ID, num)
	ep := &Endpoint{Name: name, NetNS: filepath.Join(netnsDir, name), IP: nthIP(n.subnet, num+1).String(),
		PrefixLen: n.PrefixLen, GatewayIP: n.GatewayIP}
	if err := createHostNet(ctx, name, name, n.Bridge, ep.IP, n.PrefixLen, n.GatewayIP); err != nil {
		err = errors.Join(err, n.Remove(name))
		return nil, fmt.Errorf("nshost: adding %s to network %s: %w", name, n.ID, err)
	}
	return ep, nil
}

// Remove kills every process in the endpoint's namespace and deletes its
// veth and namespace. Removing an endpoint that is gone is not an error.
func (n *Network) Remove(name string) error {
	rest, ok := strings.CutPrefix(name, n.ID+"-")
	num, err := strconv.Atoi(rest)
	if !ok || err != nil || num < 1 || strconv.Itoa(num) != rest {
		return fmt.Errorf("nshost: %q is not an endpoint of network %s", name, n.ID)
	}
	var errs []error
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		errs = append(errs, killNetns(name, nil))
	}
	errs = append(errs, deleteLink(name))
	if _, err := os.Stat(filepath.Join(netnsDir, name)); err == nil {
		if _, err := runTool(context.Background(), "ip", "netns", "delete", name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nshost: removing %s: %w", name, err)
	}
	n.mu.Lock()
	delete(n.used, num)
	n.mu.Unlock()
	return nil
}

// Close kills the processes of every endpoint, deletes the namespaces,
// veths, bridge and iptables rule, removes the state folder and the
// registry entry. It can be called more than once, and on a network that
// failed half-way.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	var errs []error
	if n.ID != "" {
		errs = append(errs, removePoolNet(n.ID, n.Bridge))
	}
	if n.StateDir != "" {
		errs = append(errs, removeAll(n.StateDir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nshost: closing network %s: %w", n.ID, err)
	}
	if n.ID != "" {
		unregister(n.ID)
	}
	n.closed = true
	return nil
}

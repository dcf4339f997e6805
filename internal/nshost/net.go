package nshost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

const (
	maxHosts = 250
	netnsDir = "/run/netns"
)

var (
	prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,4}$`)
	poolIDRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,4}-[0-9a-f]{4}$`)
)

func checkPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("nshost: prefix %q: want 1 to 5 lower-case letters or digits, starting with a letter (link names are limited to 15 characters)", prefix)
	}
	return nil
}

func checkPoolID(id string) error {
	if !poolIDRE.MatchString(id) {
		return fmt.Errorf("not a pool id: %q", id)
	}
	return nil
}

// poolIDOf returns the pool id of a namespace or link name made by a pool
// with this prefix ("sl-3fa2-1" → "sl-3fa2"), or "".
func poolIDOf(prefix, name string) string {
	if !strings.HasPrefix(name, prefix+"-") {
		return ""
	}
	rest := name[len(prefix)+1:]
	if len(rest) < 6 || rest[4] != '-' {
		return ""
	}
	if _, err := hex.DecodeString(rest[:4]); err != nil || strings.ToLower(rest[:4]) != rest[:4] {
		return ""
	}
	return name[:len(prefix)+5]
}

// netnsNames lists the named network namespaces.
func netnsNames() []string {
	entries, _ := os.ReadDir(netnsDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// linkNames lists the links of the root network namespace.
func linkNames() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return names, nil
}

// newPoolID picks an unused "<prefix>-<4 hex>". Call with the machine lock.
func newPoolID(prefix string) (string, error) {
	links, err := linkNames()
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, name := range append(links, netnsNames()...) {
		if id := poolIDOf(prefix, name); id != "" {
			taken[id] = true
		}
	}
	for _, e := range readEntries() {
		taken[e.ID] = true
	}
	for range 1000 {
		var b [2]byte
		rand.Read(b[:])
		id := prefix + "-" + hex.EncodeToString(b[:])
		if !taken[id] {
			return id, nil
		}
	}
	return "", fmt.Errorf("nshost: no free pool id with prefix %q", prefix)
}

func nthIP(subnet *net.IPNet, n int) net.IP {
	base := binary.BigEndian.Uint32(subnet.IP.To4())
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base+uint32(n)) // #nosec G115 -- n is a host number inside the subnet (NewPool checks maxHosts, Network.Add its capacity), so small and positive
	return ip
}

func overlaps(a, b *net.IPNet) bool {
	return a.Contains(b.IP) || b.Contains(a.IP)
}

// usedNets lists the IPv4 networks of this machine's addresses and routes
// (all tables), except default routes.
func usedNets(ctx context.Context) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			nets = append(nets, &net.IPNet{IP: n.IP.Mask(n.Mask).To4(), Mask: n.Mask})
		}
	}
	out, err := runTool(ctx, "ip", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	nets = append(nets, parseRoutes(out)...)
	for _, e := range readEntries() {
		if _, n, err := net.ParseCIDR(e.Subnet); err == nil {
			nets = append(nets, n)
		}
	}
	return nets, nil
}

var routeTypes = map[string]bool{"unicast": true, "local": true, "broadcast": true, "multicast": true,
	"blackhole": true, "unreachable": true, "prohibit": true, "throw": true, "nat": true, "anycast": true}

// parseRoutes reads the destinations of `ip -4 route show table all`.
func parseRoutes(out string) []*net.IPNet {
	var nets []*net.IPNet
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && routeTypes[f[0]] {
			f = f[1:]
		}
		if len(f) == 0 || f[0] == "default" {
			continue
		}
		dst := f[0]
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		_, n, err := net.ParseCIDR(dst)
		if err != nil || n.IP.To4() == nil {
			continue
		}
		if ones, _ := n.Mask.Size(); ones == 0 {
			continue
		}
		nets = append(nets, n)
	}
	return nets
}

// pickSubnet checks the wanted subnet, or picks a random free
// 10.200-255.x.0/24. Call with the machine lock.
func pickSubnet(want string, n int) (*net.IPNet, error) {
	used, err := usedNets(context.Background())
	if err != nil {
		return nil, fmt.Errorf("nshost: reading this machine's addresses and routes: %w", err)
	}
	return chooseSubnet(want, n, used, func() uint32 {
		var b [4]byte
		rand.Read(b[:])
		return binary.BigEndian.Uint32(b[:])
	})
}

func chooseSubnet(want string, n int, used []*net.IPNet, random func() uint32) (*net.IPNet, error) {
	if want != "" {
		_, subnet, err := net.ParseCIDR(want)
		if err != nil || subnet.IP.To4() == nil {
			return nil, fmt.Errorf("nshost: subnet %q: want an IPv4 CIDR such as 10.213.7.0/24", want)
		}
		subnet.IP = subnet.IP.To4()
		ones, _ := subnet.Mask.Size()
		if ones < 16 || ones > 29 {
			return nil, fmt.Errorf("nshost: subnet %s: prefix length must be 16 to 29", subnet)
		}
		if room := 1<<(32-ones) - 3; n > room {
			return nil, fmt.Errorf("nshost: subnet %s has room for %d hosts, not %d", subnet, room, n)
		}
		for _, u := range used {
			if overlaps(subnet, u) {
				return nil, fmt.Errorf("nshost: subnet %s overlaps %s, already used on this machine", subnet, u)
			}
		}
		return subnet, nil
	}
	if n > 253 {
		return nil, fmt.Errorf("nshost: %d hosts do not fit in a /24: give a larger Subnet", n)
	}
next:
	for range 2000 {
		r := random()
		subnet := &net.IPNet{IP: net.IPv4(10, byte(200+(r&0xff)%56), byte(r>>8), 0).To4(), Mask: net.CIDRMask(24, 32)} // #nosec G115 -- 200+x%56 is at most 255; byte(r>>8) keeps 8 random bits on purpose
		for _, u := range used {
			if overlaps(subnet, u) {
				continue next
			}
		}
		return subnet, nil
	}
	return nil, errors.New("nshost: no free 10.200-255.x.0/24 subnet on this machine")
}

func createBridge(ctx context.Context, bridge, gw string, subnet *net.IPNet) error {
	ones, _ := subnet.Mask.Size()
	return ipBatch(ctx, "",
		"link add "+bridge+" type bridge",
		fmt.Sprintf("addr add %s/%d brd + dev %s", gw, ones, bridge),
		"link set "+bridge+" up")
}

func createHostNet(ctx context.Context, ns, veth, bridge, ip string, ones int, gw string) error {
	// "netns add" on its own: in batch mode it would run the rest of the
	// batch inside the new namespace with some iproute2 versions.
	if _, err := runTool(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	if err := ipBatch(ctx, "",
		"link add "+veth+" type veth peer name eth0 netns "+ns,
		"link set "+veth+" master "+bridge+" up"); err != nil {
		return err
	}
	return ipBatch(ctx, ns,
		fmt.Sprintf("addr add %s/%d brd + dev eth0", ip, ones),
		"link set lo up",
		"link set eth0 up",
		"route add default via "+gw)
}

// ipBatch runs ip commands in one process (in namespace ns if not "").
func ipBatch(ctx context.Context, ns string, cmds ...string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	path, err := tool("ip")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, args...) // #nosec G204 -- ip, found by tool() in the system folders, as argv without a shell; the batch on stdin names only our generated devices and namespaces
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	cmd.Env = toolEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(cmds, "; "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// allowBridgeForwarding adds an iptables rule accepting traffic between
// the bridge's ports when bridged traffic is filtered (br_netfilter with
// bridge-nf-call-iptables=1) and the FORWARD chain is not empty with
// policy ACCEPT (Docker sets it to DROP). Reports whether it added one.
func allowBridgeForwarding(ctx context.Context, bridge string) (bool, error) {
	v, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
	if err != nil || strings.TrimSpace(string(v)) != "1" {
		return false, nil
	}
	if _, err := tool("iptables"); err != nil {
		return false, nil
	}
	out, err := runTool(ctx, "iptables", "-w", "-S", "FORWARD")
	if err != nil {
		return false, nil // no usable iptables: nothing filters
	}
	if strings.TrimSpace(out) == "-P FORWARD ACCEPT" {
		return false, nil
	}
	if _, err := runTool(ctx, "iptables", "-w", "-I", "FORWARD", "1", "-i", bridge, "-o", bridge, "-j", "ACCEPT"); err != nil {
		return false, fmt.Errorf("nshost: allowing traffic between hosts on %s: %w", bridge, err)
	}
	return true, nil
}

func removeBridgeForwarding(bridge string) {
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		return // no br_netfilter: no rule was added
	}
	if _, err := tool("iptables"); err != nil {
		return
	}
	for range 10 { // in case it was added more than once
		if _, err := runTool(context.Background(), "iptables", "-w", "-D", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"); err != nil {
			return
		}
	}
}

// removePoolNet kills the processes of the pool's namespaces and deletes
// the namespaces, veths and the bridge, found by name so that it also
// works after a partial failure.
func removePoolNet(id, bridge string) error {
	prefix := id + "-"
	var nss []string
	for _, ns := range netnsNames() {
		if strings.HasPrefix(ns, prefix) {
			nss = append(nss, ns)
		}
	}
	var errs []error
	for _, ns := range nss {
		if err := killNetns(ns, nil); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := linkNames()
	if err != nil {
		errs = append(errs, err)
	}
	if bridge == "" {
		bridge = id + "-br"
	}
	for _, l := range links {
		if strings.HasPrefix(l, prefix) && l != bridge {
			errs = append(errs, deleteLink(l))
		}
	}
	for _, ns := range nss {
		if _, err := runTool(context.Background(), "ip", "netns", "delete", ns); err != nil {
			if _, serr := os.Stat(netnsDir + "/" + ns); serr == nil {
				errs = append(errs, err)
			}
		}
	}
	// Whether or not the pool recorded one: its process may have died
	// between adding the rule and recording it. Without iptables this is free.
	removeBridgeForwarding(bridge)
	for _, l := range links {
		if l == bridge {
			errs = append(errs, deleteLink(l))
		}
	}
	return errors.Join(errs...)
}

func deleteLink(name string) error {
	if _, err := runTool(context.Background(), "ip", "link", "delete", name); err != nil {
		if _, ierr := net.InterfaceByName(name); ierr != nil {
			return nil // gone anyway (a veth goes with its peer)
		}
		return err
	}
	return nil
}

// Tools. Root's PATH under `go test` or make may lack /usr/sbin.
var toolEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}

func tool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := dir + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func runTool(ctx context.Context, name string, args ...string) (string, error) {
	path, err := tool(name)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, path, args...) // #nosec G204 -- name is one of our fixed tool names (ip, iptables, …) found by tool() in the system folders; argv, no shell
	cmd.Env = toolEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -1
	}
	return n
}

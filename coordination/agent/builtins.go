package agent

import (
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// builtins are the parameters an agent publishes about its machine in
// Provisioning (SlipStream's hostname, instanceid), plus its addresses.
// SlipStream's "hostname" is the address other machines reach it at, not
// a name: here, the source address of the route towards the coordinator,
// which is the one a multi-homed machine's peers are likeliest to share.
func (r *Runner) builtins() map[string]string {
	out := map[string]string{"scale.state": "created"}
	addrs := addresses()
	if ip := routeTo(r.Config.ServiceURL); ip != "" {
		out["hostname"] = ip
	} else if len(addrs) > 0 {
		out["hostname"] = addrs[0]
	}
	if len(addrs) > 0 {
		out["addresses"] = strings.Join(addrs, " ")
	}
	out["instanceid"] = r.instanceID()
	return out
}

// instanceID is the cloud's id when the bootstrap knew it, otherwise the
// machine's identity: systemd's machine-id, or its host name.
func (r *Runner) instanceID() string {
	if r.Config.InstanceID != "" {
		return r.Config.InstanceID
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	h, _ := os.Hostname()
	return h
}

// routeTo returns the local address the kernel picks to reach the
// coordinator (a UDP "connection" sends nothing).
func routeTo(service string) string {
	u, err := url.Parse(service)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return ""
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	if ip.IsLoopback() {
		return ""
	}
	return ip.String()
}

// addresses lists the machine's global unicast addresses, IPv4 first.
func addresses() []string {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var v4, v6 []string
	for _, a := range ifaddrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			v4 = append(v4, n.IP.String())
		} else {
			v6 = append(v6, n.IP.String())
		}
	}
	sort.Strings(v4)
	sort.Strings(v6)
	return append(v4, v6...)
}

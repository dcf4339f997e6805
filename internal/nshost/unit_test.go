package nshost

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// Tests that need neither root nor sshd.

func TestPoolIDOf(t *testing.T) {
	for name, want := range map[string]string{
		"sl-3fa2-1":   "sl-3fa2",
		"sl-3fa2-br":  "sl-3fa2",
		"sl-3fa2-12":  "sl-3fa2",
		"sl-3fA2-1":   "",
		"sl-3fg2-1":   "",
		"sl-3fa2":     "",
		"slt-3fa2-1":  "",
		"sla-b12c-1":  "",
		"eth0":        "",
		"sl-3fa21-1":  "",
		"sl-3fa2-":    "",
		"xsl-3fa2-br": "",
	} {
		if got := poolIDOf("sl", name); got != want {
			t.Errorf("poolIDOf(sl, %q) = %q, want %q", name, got, want)
		}
	}
	for _, p := range []string{"sl", "a", "abcde", "s1"} {
		if err := checkPrefix(p); err != nil {
			t.Error(err)
		}
	}
	for _, p := range []string{"", "abcdef", "1a", "a-b", "SL"} {
		if checkPrefix(p) == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
	// The longest names fit in a link name.
	if n := len("abcde-ffff-250"); n > 15 {
		t.Errorf("names of %d characters", n)
	}
}

func cidrs(ss ...string) []*net.IPNet {
	var out []*net.IPNet
	for _, s := range ss {
		_, n, _ := net.ParseCIDR(s)
		out = append(out, n)
	}
	return out
}

func TestChooseSubnet(t *testing.T) {
	used := cidrs("192.0.2.0/24", "10.213.7.0/24", "10.0.0.0/9")
	seq := []uint32{13 + 7<<8, 13 + 8<<8} // 10.213.7 is taken, 10.213.8 is free
	i := 0
	got, err := chooseSubnet("", 3, used, func() uint32 { i++; return seq[i-1] })
	if err != nil || got.String() != "10.213.8.0/24" {
		t.Errorf("got %v, %v", got, err)
	}
	if nthIP(got, 1).String() != "10.213.8.1" || nthIP(got, 4).String() != "10.213.8.4" {
		t.Error(nthIP(got, 1), nthIP(got, 4))
	}
	if _, err := chooseSubnet("10.213.7.128/25", 1, used, nil); err == nil || !strings.Contains(err.Error(), "overlaps 10.213.7.0/24") {
		t.Errorf("overlap: %v", err)
	}
	if _, err := chooseSubnet("10.5.0.0/16", 1, used, nil); err == nil {
		t.Error("a subnet inside a used /9 was accepted")
	}
	if got, err := chooseSubnet("10.240.1.7/24", 253, used, nil); err != nil || got.String() != "10.240.1.0/24" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := chooseSubnet("10.240.1.0/24", 254, used, nil); err == nil {
		t.Error("254 hosts in a /24")
	}
	if _, err := chooseSubnet("10.240.1.0/30", 1, used, nil); err == nil {
		t.Error("a /30")
	}
	if _, err := chooseSubnet("fd00::/64", 1, used, nil); err == nil {
		t.Error("IPv6")
	}
	if _, err := chooseSubnet("", 1, cidrs("10.192.0.0/10"), func() uint32 { return 0 }); err == nil {
		t.Error("no free subnet, yet one was picked")
	}
}

func TestParseRoutes(t *testing.T) {
	out := `default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
10.9.0.0/16 via 192.0.2.7 dev eth0 table 100
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.2
unreachable 10.250.0.0/16
`
	var got []string
	for _, n := range parseRoutes(out) {
		got = append(got, n.String())
	}
	want := "192.0.2.0/24 10.9.0.0/16 127.0.0.0/8 192.0.2.255/32 10.250.0.0/16"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func testHost(stateDir, isolation string) *Host {
	p := &Pool{ID: "sl-3fa2", StateDir: stateDir, Isolation: isolation, GatewayIP: "10.213.7.1"}
	h := &Host{Name: "sl-3fa2-1", NetNS: "sl-3fa2-1", IP: "10.213.7.2", Port: 22, User: "root",
		Root: stateDir + "/hosts/sl-3fa2-1/root", pool: p}
	p.Hosts = []*Host{h}
	return h
}

func TestMountOrder(t *testing.T) {
	for state, last := range map[string]string{
		"/tmp/TestX/001":     "/tmp",
		"/run/nshost-demo":   "/run",
		"/work/main/.demo/h": "/root", // under none: the last of the list
		"/var/log/x":         "/var/log",
		"/usr/local/x":       "/usr/local",
		"/root/.cache/h":     "/root",
	} {
		for _, iso := range []string{IsolationOverlay, IsolationBind} {
			ms := testHost(state, iso).mounts()
			if got := ms[len(ms)-1].target; got != last {
				t.Errorf("state %s, %s: last mount %s, want %s", state, iso, got, last)
			}
			for _, m := range ms[:len(ms)-1] {
				if under(state, m.target) {
					t.Errorf("state %s: %s mounted before the last", state, m.target)
				}
			}
		}
	}
	s := testHost("/tmp/s", IsolationOverlay).script()
	for _, want := range []string{
		"mount -t overlay nshost -o 'lowerdir=/etc,upperdir=/tmp/s/hosts/sl-3fa2-1/root/etc,workdir=/tmp/s/hosts/sl-3fa2-1/work/etc' '/etc'\n",
		"mount --bind '/tmp/s/hosts/sl-3fa2-1/root/usr/local' '/usr/local'\n",
		"echo 'sl-3fa2-1' > /proc/sys/kernel/hostname\nexec /usr/sbin/sshd -D -e -f /run/nshost/sshd_config\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(testHost("/tmp/s", IsolationBind).script(), "overlay") {
		t.Error("overlay in bind mode")
	}
}

func TestSSHDConfig(t *testing.T) {
	c := testHost("/tmp/s", IsolationOverlay).sshdConfig()
	for _, want := range []string{
		"ListenAddress 10.213.7.2:22\n", "PermitRootLogin prohibit-password\n", "PasswordAuthentication no\n",
		"UsePAM no\n", "AllowTcpForwarding yes\n", "StrictModes no\n", "PidFile /run/sshd.pid\n",
		"AuthorizedKeysFile /run/nshost/authorized_keys\n", "HostKey /run/nshost/ssh_host_ed25519_key\n",
	} {
		if !strings.Contains(c, want) {
			t.Errorf("sshd_config lacks %q", want)
		}
	}
}

func TestCheckStateDir(t *testing.T) {
	for dir, ok := range map[string]bool{
		"/tmp/nshost-123": true, "/work/main/.demo/hosts": true,
		"/etc/x": false, "/var/lib/x": false, "/var/library": true,
		"/tmp/a b": false, "/tmp/a,b": false, "/tmp/a:b": false, "/tmp/a'b": false,
	} {
		if err := checkStateDir(dir); (err == nil) != ok {
			t.Errorf("checkStateDir(%q) = %v", dir, err)
		}
	}
}

func TestCheckAvailable(t *testing.T) {
	all := uint64(1<<12 | 1<<21)
	found := func(string) (string, error) { return "/usr/bin/x", nil }
	yes := func(string) bool { return true }
	if err := checkAvailable(0, all, found, yes); err != nil {
		t.Error(err)
	}
	err := checkAvailable(1000, 0, func(c string) (string, error) {
		if c == "ip" {
			return "", errors.New("no")
		}
		return "/usr/bin/" + c, nil
	}, func(p string) bool { return p != SSHDPath })
	for _, want := range []string{"root", "iproute2", "openssh-server", "make deps"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := checkAvailable(0, 1<<12, found, yes); err == nil || !strings.Contains(err.Error(), "CAP_SYS_ADMIN") {
		t.Errorf("no CAP_SYS_ADMIN: %v", err)
	}
}

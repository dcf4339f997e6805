// Command nshosts makes throw-away SSH hosts on this machine for `make demo`
// and manual testing: each host is a network namespace with its own address
// on a private bridge, running OpenSSH's sshd with private /usr/local, /etc,
// /var/lib, /var/log, /run, /tmp and /root (see internal/nshost). Needs root.
//
//	nshosts up -n 5 -state DIR [-prefix sl]   create, save DIR/pool.json, print a JSON summary
//	nshosts ls -state DIR                     the pool of DIR, with each host's state
//	nshosts down -state DIR                   remove it, and stale pools with the prefix
//	nshosts stop|start|reinstall -state DIR HOST...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

const usage = `usage: nshosts <command> [flags]

Throw-away SSH hosts on this machine: each host is a network namespace with
its own IP address on a private bridge, running OpenSSH's sshd as root with
private /usr/local, /etc, /var/lib, /var/log, /run, /tmp and /root (an
empty home, as on a fresh image). Needs root and
/usr/sbin/sshd (make deps).

commands:
  up -n N -state DIR [-prefix sl] [-subnet CIDR] [-isolation overlay|bind]
        create N hosts (replacing the pool DIR/pool.json describes, if any),
        save DIR/pool.json and print a JSON summary: gateway IP, private key,
        known_hosts file and each host's name, IP, user and known_hosts line
  ls -state DIR [-prefix sl]
        the summary of DIR's pool with each host's state ("up": it accepts
        an SSH login), and the pools with the prefix on this machine
  down -state DIR [-prefix sl]
        remove DIR's pool (processes, namespaces, links, files), then the
        stale pools with the prefix left by interrupted runs
  env -state DIR
        DIR's pool as shell assignments, for scripts: NSHOSTS_GATEWAY,
        NSHOSTS_HOSTS (the IPs, space-separated), NSHOSTS_KEY, NSHOSTS_KNOWN_HOSTS
  stop -state DIR HOST...       kill the hosts' sshd (unreachable hosts)
  start -state DIR HOST...      start it again
  reinstall -state DIR HOST...  fresh machine: kill everything on it, wipe
                                its folders, new host key; rewrites pool.json
  HOST is a host's name, IP address or number (1 to N).

Then: ssh -i DIR/id_ed25519 -o UserKnownHostsFile=DIR/known_hosts root@IP

exit status: 0 on success, 1 on error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 1
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		}
	}
	fs := flag.NewFlagSet("nshosts "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	state := fs.String("state", "", "`folder` for the pool's keys, files and pool.json")
	prefix := fs.String("prefix", "sl", "name `prefix` of namespaces, links and hosts (1-5 letters/digits)")
	var n *int
	var subnet, isolation *string
	if cmd == "up" {
		n = fs.Int("n", 3, "number of hosts")
		subnet = fs.String("subnet", "", "IPv4 `CIDR` of the bridge (default: a free 10.2xx.y.0/24)")
		isolation = fs.String("isolation", "", "`mode` for private /etc and /var/lib: overlay or bind (default: overlay if possible)")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "nshosts:", strings.TrimPrefix(err.Error(), "nshost: "))
		return 1
	}
	switch cmd {
	case "up", "ls", "down", "env", "stop", "start", "reinstall":
	default:
		return fail(fmt.Errorf("unknown command %q (run nshosts -help)", cmd))
	}
	if *state == "" {
		return fail(errors.New("-state DIR is required"))
	}
	if cmd == "up" || cmd == "ls" || cmd == "down" || cmd == "env" {
		if fs.NArg() > 0 {
			return fail(fmt.Errorf("unexpected arguments %q", fs.Args()))
		}
	} else if fs.NArg() == 0 {
		return fail(fmt.Errorf("%s: name the hosts", cmd))
	}
	if err := nshost.Available(); err != nil {
		return fail(err)
	}
	poolFile := filepath.Join(*state, "pool.json")

	var err error
	switch cmd {
	case "up":
		err = up(*n, *state, *prefix, *subnet, *isolation, poolFile, stdout, stderr)
	case "ls":
		err = ls(poolFile, *prefix, stdout)
	case "down":
		err = down(poolFile, *prefix, stderr)
	case "env":
		err = env(poolFile, stdout)
	default:
		err = hostCommand(cmd, poolFile, fs.Args(), stderr)
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

func up(n int, state, prefix, subnet, isolation, poolFile string, stdout, stderr io.Writer) error {
	if old, err := nshost.LoadPool(poolFile); err == nil {
		fmt.Fprintf(stderr, "nshosts: removing pool %s, which %s describes\n", old.ID, poolFile)
		if err := old.Close(); err != nil {
			return err
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	p, err := nshost.NewPool(ctx, n, nshost.Options{Prefix: prefix, Subnet: subnet, StateDir: state, Isolation: isolation})
	if err != nil {
		return err
	}
	if err := p.Save(poolFile); err != nil {
		return errors.Join(err, p.Close()) // unsaved, the pool could not be brought down later: remove it now
	}
	fmt.Fprintf(stderr, "nshosts: %d hosts up on %s (gateway %s) in %v; nshosts down -state %s removes them\n",
		n, p.Bridge, p.GatewayIP, p.SetupTime().Round(time.Millisecond), state)
	return printJSON(stdout, summarize(p, poolFile, false))
}

// env prints the pool for a shell to eval; every value is single-quoted.
func env(poolFile string, stdout io.Writer) error {
	p, err := nshost.LoadPool(poolFile)
	if err != nil {
		return err
	}
	var ips []string
	for _, h := range p.Hosts {
		ips = append(ips, h.IP)
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	fmt.Fprintf(stdout, "NSHOSTS_GATEWAY=%s\nNSHOSTS_HOSTS=%s\nNSHOSTS_KEY=%s\nNSHOSTS_KNOWN_HOSTS=%s\n",
		q(p.GatewayIP), q(strings.Join(ips, " ")), q(p.PrivateKeyPath), q(p.KnownHostsPath))
	return nil
}

func ls(poolFile, prefix string, stdout io.Writer) error {
	out := struct {
		Pool  *summary            `json:"pool"`
		Pools []nshost.PoolStatus `json:"pools_on_this_machine"`
	}{}
	p, err := nshost.LoadPool(poolFile)
	switch {
	case err == nil:
		out.Pool = summarize(p, poolFile, true)
		prefix = p.Prefix
	case !os.IsNotExist(err):
		return err
	}
	if out.Pools, err = nshost.ListPools(prefix); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func down(poolFile, prefix string, stderr io.Writer) error {
	var errs []error
	p, err := nshost.LoadPool(poolFile)
	switch {
	case err == nil:
		prefix = p.Prefix
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(stderr, "nshosts: removed pool %s\n", p.ID)
		}
	case os.IsNotExist(err):
		fmt.Fprintf(stderr, "nshosts: no %s\n", poolFile)
	default:
		errs = append(errs, err)
	}
	errs = append(errs, nshost.CleanupStale(prefix))
	return errors.Join(errs...)
}

func hostCommand(cmd, poolFile string, names []string, stderr io.Writer) error {
	p, err := nshost.LoadPool(poolFile)
	if err != nil {
		return err
	}
	var hosts []*nshost.Host
	for _, name := range names {
		h := findHost(p, name)
		if h == nil {
			return fmt.Errorf("no host %q in %s", name, poolFile)
		}
		hosts = append(hosts, h)
	}
	for _, h := range hosts {
		switch cmd {
		case "stop":
			err = h.Stop()
		case "start":
			err = h.Start()
		case "reinstall":
			err = h.Reinstall()
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "nshosts: %s %s (%s)\n", cmd, h.Name, h.IP)
	}
	return nil
}

func findHost(p *nshost.Pool, name string) *nshost.Host {
	if i, err := strconv.Atoi(name); err == nil && i >= 1 && i <= len(p.Hosts) {
		return p.Hosts[i-1]
	}
	for _, h := range p.Hosts {
		if h.Name == name || h.IP == name {
			return h
		}
	}
	return nil
}

type summary struct {
	ID             string        `json:"id"`
	PoolFile       string        `json:"pool_file"`
	Bridge         string        `json:"bridge"`
	Subnet         string        `json:"subnet"`
	GatewayIP      string        `json:"gateway_ip"`
	PrivateKeyPath string        `json:"private_key_path"`
	PublicKey      string        `json:"public_key"`
	KnownHostsPath string        `json:"known_hosts_path"`
	Isolation      string        `json:"isolation"`
	Hosts          []hostSummary `json:"hosts"`
}

type hostSummary struct {
	Name           string `json:"name"`
	IP             string `json:"ip"`
	Port           int    `json:"port"`
	User           string `json:"user"`
	HostKey        string `json:"host_key"`
	KnownHostsLine string `json:"known_hosts_line"`
	Root           string `json:"root"`
	State          string `json:"state,omitempty"`
}

func summarize(p *nshost.Pool, poolFile string, probe bool) *summary {
	abs, _ := filepath.Abs(poolFile)
	s := &summary{ID: p.ID, PoolFile: abs, Bridge: p.Bridge, Subnet: p.Subnet, GatewayIP: p.GatewayIP,
		PrivateKeyPath: p.PrivateKeyPath, PublicKey: p.PublicKey, KnownHostsPath: p.KnownHostsPath,
		Isolation: p.Isolation, Hosts: []hostSummary{}}
	for _, h := range p.Hosts {
		hs := hostSummary{Name: h.Name, IP: h.IP, Port: h.Port, User: h.User, HostKey: h.HostKey,
			KnownHostsLine: h.KnownHostsLine, Root: h.Root}
		if probe {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if c, err := h.Dial(ctx); err == nil {
				_ = c.Close() // a probe: it answered
				hs.State = "up"
			} else {
				hs.State = "down: " + err.Error()
			}
			cancel()
		}
		s.Hosts = append(s.Hosts, hs)
	}
	return s
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

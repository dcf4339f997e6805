package faults

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// binaries are slipc, the provider and the agent, built once for the suite
// as make build builds them.
var binaries struct {
	dir       string // slipc, terraform-provider-slipstream
	agentDir  string // slipstream-agent-linux-amd64, as slipc serve -agent-dir wants it
	terraform string
}

func TestMain(m *testing.M) {
	if os.Getenv("SLIPSTREAM_FAULTS") == "" {
		os.Exit(m.Run()) // each test skips itself, saying how to run it
	}
	code := func() int {
		dir, err := os.MkdirTemp("", "slipstream-faults-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binaries.dir, binaries.agentDir = dir, filepath.Join(dir, "agent")
		binaries.terraform = os.Getenv("TF_ACC_TERRAFORM_PATH")
		for _, b := range [][]string{
			{"go", "build", "-o", dir + "/", "github.com/slipstream/terraform-provider-slipstream/cmd/slipc", "github.com/slipstream/terraform-provider-slipstream"},
			{"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(binaries.agentDir, "slipstream-agent-linux-amd64"), "github.com/slipstream/terraform-provider-slipstream/cmd/slipstream-agent"},
		} {
			cmd := exec.Command(b[0], b[1:]...)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "building %v: %v\n%s", b, err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// needSuite skips a test unless the suite was asked for, and fails it on
// CI when its means (root, sshd, Terraform) are missing.
func needSuite(t *testing.T) {
	t.Helper()
	if os.Getenv("SLIPSTREAM_FAULTS") == "" {
		t.Skip("set SLIPSTREAM_FAULTS=1 and TF_ACC_TERRAFORM_PATH (make test-faults) to run the fault suite")
	}
	missing := ""
	if binaries.terraform == "" {
		missing = "TF_ACC_TERRAFORM_PATH is not set"
	} else if err := nshost.Available(); err != nil {
		missing = err.Error()
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("the fault suite cannot run: %s", missing)
		}
		t.Skipf("the fault suite cannot run: %s", missing)
	}
}

// cluster is one scenario's world: machines (namespace hosts adopted over
// SSH, or machines of the fake clouds: machines_test.go), a coordinator
// process, and a Terraform working directory with the compiled recipe.
type cluster struct {
	t   *testing.T
	dir string
	db  machine
	web []machine
	// pool holds the namespace hosts; nil on the clouds.
	pool *nshost.Pool
	// clouds are the fake clouds and their guests; nil on namespace hosts.
	clouds *fakeClouds
	coord  *coordinatorProcess
	env    []string // Terraform's environment: the coordinator, the CLI config, logs
	tf     string   // the compiled configuration
	id     string   // the deployment's id, once applied
	// logs are every log the scenario produced, for the secrets check.
	logs []string
	// acks are the ss-sets the scripts saw succeed, "db.1:password" →
	// value, as checkRun read them.
	acks map[string]string
}

// newCluster makes the hosts (a database, webs web servers), starts the
// coordinator on their bridge and compiles the recipe for them.
func newCluster(t *testing.T, webs int) *cluster {
	t.Helper()
	return newClusterWith(t, webs, "")
}

// newClusterWith is newCluster with the coordinator's data on a tmpfs of
// that size ("": on this machine's disk).
func newClusterWith(t *testing.T, webs int, tmpfs string) *cluster {
	t.Helper()
	needSuite(t)
	c := newEmptyCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := nshost.NewPool(ctx, 1+webs, nshost.Options{Prefix: "flt", StateDir: filepath.Join(c.dir, "hosts")})
	if err != nil {
		t.Fatal(err)
	}
	c.pool = pool
	c.db = sshHost{pool.Hosts[0]}
	for _, h := range pool.Hosts[1:] {
		c.web = append(c.web, sshHost{h})
	}
	t.Cleanup(func() {
		if err := pool.Close(); err != nil {
			t.Errorf("removing the hosts: %v", err)
		}
		c.checkNoNamespaceLeft()
	})
	c.coord = startCoordinator(t, pool.GatewayIP, c.dir, tmpfs)
	var webIPs []string
	for _, h := range pool.Hosts[1:] {
		webIPs = append(webIPs, fmt.Sprintf("%q", h.IP))
	}
	c.compile(map[string]any{"Fixed": true, "DBCloud": "lab", "WebCloud": "lab", "DB": pool.Hosts[0].IP, "Web": strings.Join(webIPs, ", "),
		"WebCount": webs, "Key": pool.PrivateKeyPath, "KnownHosts": pool.KnownHostsPath}, nil)
	return c
}

// newEmptyCluster is a cluster with its folder.
func newEmptyCluster(t *testing.T) *cluster {
	return &cluster{t: t, dir: t.TempDir()}
}

// compile fills in the recipe's template with vars, compiles it with
// slipc, and prepares Terraform's environment: this provider through
// dev_overrides, the coordinator, a TRACE log, and env (the clouds').
func (c *cluster) compile(vars map[string]any, env []string) {
	t := c.t
	t.Helper()
	c.logs = append(c.logs, c.coord.log)
	// Registered once the machines are: cleanups run last first, so the
	// logs are read before the machines go.
	t.Cleanup(func() {
		if t.Failed() {
			c.keepLogs()
		}
	})
	recipe := filepath.Join(c.dir, "recipe")
	if err := os.CopyFS(recipe, os.DirFS("testdata/recipe")); err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.ParseFiles(filepath.Join(recipe, "faults.slip.hcl.tmpl")))
	var hcl bytes.Buffer
	if err := tmpl.Execute(&hcl, vars); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(recipe, "faults.slip.hcl.tmpl"))
	if err := os.WriteFile(filepath.Join(recipe, "faults.slip.hcl"), hcl.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c.tf = filepath.Join(c.dir, "tf")
	if out, err := exec.Command(filepath.Join(binaries.dir, "slipc"), "compile", "-o", c.tf, recipe).CombinedOutput(); err != nil {
		t.Fatalf("slipc compile: %v\n%s", err, out)
	}
	rc := filepath.Join(c.dir, "terraformrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"slipstream/slipstream\" = %q\n  }\n  direct {}\n}\n", binaries.dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	tfLog := filepath.Join(c.dir, "terraform.log")
	c.logs = append(c.logs, tfLog)
	c.env = append(append(os.Environ(), env...), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "TF_LOG=TRACE", "TF_LOG_PATH="+tfLog,
		"SLIPSTREAM_COORDINATOR_URL="+c.coord.url, "SLIPSTREAM_TOKEN="+c.coord.token, "SLIPSTREAM_CA_FINGERPRINT="+c.coord.fingerprint)
}

// coordinatorProcess is slipc serve, run as users run it: its own
// process, its admin token in its data folder (never in its arguments),
// TLS from its own CA, on a fixed address so it can be restarted.
type coordinatorProcess struct {
	t                       *testing.T
	data, log, listen       string
	url, token, fingerprint string
	cmd                     *exec.Cmd
	exited                  chan struct{}
	mu                      sync.Mutex
	// On a small tmpfs (startCoordinatorOnTmpfs): the command it runs
	// under, where its admin token is kept, and where its store is copied
	// when it exits (the tmpfs goes with its mount namespace).
	wrapper          []string
	tokenFile, store string
	http             *http.Client // the test's admin clients'
}

// startCoordinator starts slipc serve listening on ip, its data in dir;
// with tmpfs set (a size such as "32m"), on a tmpfs of that size in its
// own mount namespace (tmpfsWrapper), its admin token then kept beside it.
func startCoordinator(t *testing.T, ip, dir, tmpfs string) *coordinatorProcess {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	p := &coordinatorProcess{t: t, data: filepath.Join(dir, "coordinator"), log: filepath.Join(dir, "coordinator.log"), listen: listen}
	if tmpfs != "" {
		p.tokenFile, p.store = filepath.Join(dir, "admin-token"), filepath.Join(dir, "coordinator.db")
		p.wrapper = []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", tmpfsWrapper, "sh", p.data, p.store, tmpfs}
		if err := os.WriteFile(p.tokenFile, []byte(rand.Text()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.start()
	t.Cleanup(func() { p.stop(syscall.SIGTERM) })
	return p
}

// tmpfsWrapper runs slipc serve in its own mount namespace with its data
// folder on a tmpfs of the given size, so the test can fill it without
// touching this machine's file systems; it passes SIGTERM on and copies
// the store out when slipc serve has exited.
const tmpfsWrapper = `set -e
data=$1 out=$2 size=$3; shift 3
mkdir -p "$data"
mount -t tmpfs -o "size=$size,mode=0700" slipstream-faults "$data"
"$@" & pid=$!
trap 'kill -TERM $pid' TERM INT
while kill -0 $pid 2>/dev/null; do wait $pid || true; done
cp "$data/coordinator.db" "$out"`

// inNamespace runs a shell command in the coordinator's mount namespace
// (where its tmpfs is).
func (p *coordinatorProcess) inNamespace(command string) (string, error) {
	p.mu.Lock()
	pid := p.cmd.Process.Pid
	p.mu.Unlock()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-m", "--", "sh", "-c", command).CombinedOutput()
	return string(out), err
}

// storePath is where the coordinator's bbolt file is once it has stopped.
func (p *coordinatorProcess) storePath() string {
	if p.store != "" {
		return p.store
	}
	return filepath.Join(p.data, "coordinator.db")
}

// start runs slipc serve and waits until it listens.
func (p *coordinatorProcess) start() {
	p.t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	before, _ := os.ReadFile(p.log)
	args := append(append([]string{}, p.wrapper...), filepath.Join(binaries.dir, "slipc"), "serve", "-listen", p.listen, "-data", p.data,
		"-tls-self-signed", "-agent-dir", binaries.agentDir)
	if p.tokenFile != "" {
		args = append(args, "-admin-token-file", p.tokenFile)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(p.log)
		out := string(b[len(before):])
		if strings.Contains(out, "listening on") && strings.Contains(out, "Web view") {
			for _, line := range strings.Split(out, "\n") {
				if fp, ok := strings.CutPrefix(line, "CA fingerprint (pin it: SLIPSTREAM_CA_FINGERPRINT): "); ok {
					p.fingerprint = strings.TrimSpace(fp)
				}
			}
			break
		}
		select {
		case <-exited:
			p.t.Fatalf("slipc serve exited at start:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("slipc serve did not start:\n%s", out)
		}
	}
	tokenFile := filepath.Join(p.data, "admin-token")
	if p.tokenFile != "" {
		tokenFile = p.tokenFile
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		p.t.Fatal(err)
	}
	p.token, p.url = strings.TrimSpace(string(token)), "https://"+p.listen
}

// stop signals slipc serve and waits for it to exit (SIGKILL after 10 s).
func (p *coordinatorProcess) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	p.mu.Lock()
	p.cmd = nil
	p.mu.Unlock()
}

// restart stops the coordinator with sig, waits down for a while, and
// starts it again on the same address with the same data.
func (p *coordinatorProcess) restart(sig syscall.Signal, down time.Duration) {
	p.t.Helper()
	p.stop(sig)
	time.Sleep(down)
	p.start()
}

// client is an admin client of the coordinator, for deployment id. All
// share one transport: a transport per client would leave its idle
// connection open at both ends (the soak run first saw those as a leak).
func (p *coordinatorProcess) client(id string) *client.Client {
	p.mu.Lock()
	if p.http == nil {
		p.http = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsutil.PinnedConfig(p.fingerprint), IdleConnTimeout: 30 * time.Second}}
	}
	hc := p.http
	p.mu.Unlock()
	return &client.Client{BaseURL: p.url, Deployment: id, Token: p.token, RetryFor: 30 * time.Second, HTTP: hc}
}

// terraform runs the Terraform CLI in the compiled configuration: its
// output, and its error when it exited non-zero.
func (c *cluster) terraform(args ...string) (string, error) {
	return c.terraformUntil(nil, args...)
}

// terraformUntil is terraform that sends SIGINT (Ctrl-C) to the CLI when
// interrupt, called with each line of output, says so; the CLI then stops
// as it does for a person pressing Ctrl-C.
func (c *cluster) terraformUntil(interrupt func(line string) bool, args ...string) (string, error) {
	c.t.Helper()
	cmd := exec.Command(binaries.terraform, append(args, "-no-color")...)
	cmd.Dir, cmd.Env = c.tf, c.env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	var out strings.Builder
	done, exited := make(chan struct{}), make(chan struct{})
	hung := false
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if !sent && interrupt != nil && interrupt(line) {
				cmd.Process.Signal(os.Interrupt)
				sent = true
				go func() {
					// A person presses Ctrl-C again when nothing happens.
					select {
					case <-exited:
					case <-time.After(time.Minute):
						hung = true
						cmd.Process.Signal(os.Interrupt)
					}
				}()
			}
		}
	}()
	err := cmd.Wait()
	close(exited)
	pw.Close()
	<-done
	if hung {
		c.t.Errorf("terraform %s did not stop within a minute of Ctrl-C (a second one stopped it):\n%s", args[0], out.String())
	}
	return out.String(), err
}

// apply runs terraform apply and fails the test unless it succeeds.
func (c *cluster) apply() string {
	c.t.Helper()
	out, err := c.terraform("apply", "-auto-approve")
	if err != nil {
		c.t.Fatalf("terraform apply: %v\n%s", err, out)
	}
	c.readID()
	return out
}

// applyInBackground starts terraform apply and returns a function that
// waits for it, with its output and error.
func (c *cluster) applyInBackground() func() (string, error) {
	type result struct {
		out string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		out, err := c.terraformUntil(nil, "apply", "-auto-approve")
		ch <- result{out, err}
	}()
	return func() (string, error) {
		r := <-ch
		return r.out, r.err
	}
}

// readID reads the deployment's id from the Terraform state.
func (c *cluster) readID() {
	c.t.Helper()
	out, err := c.terraform("output", "-raw", "deployment_id")
	if err == nil && strings.TrimSpace(out) != "" && !strings.Contains(out, "Warning") {
		c.id = strings.TrimSpace(out)
		return
	}
	out, err = c.terraform("state", "show", "slipstream_deployment.faults")
	if err != nil {
		c.t.Fatalf("terraform state show: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "id"); ok {
			if v, ok := strings.CutPrefix(strings.TrimSpace(v), "="); ok {
				c.id = strings.Trim(strings.TrimSpace(v), `"`)
				return
			}
		}
	}
	c.t.Fatalf("no deployment id in the state:\n%s", out)
}

// deploymentID finds the recipe's deployment at the coordinator (before
// the apply has finished and written it to the state). On the clouds the
// image builds have deployments of their own meanwhile (image-…).
func (c *cluster) deploymentID() string {
	c.t.Helper()
	var id string
	c.eventually("the deployment registered", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		list, err := c.coord.client("").Deployments(ctx)
		if err != nil {
			return false
		}
		var ours []string
		for _, d := range list {
			if strings.HasPrefix(d.ID, "faults-") {
				ours = append(ours, d.ID)
			}
		}
		if len(ours) > 1 {
			c.t.Fatalf("the coordinator has %d deployments of the recipe: %v", len(ours), ours)
		}
		if len(ours) == 0 {
			return false
		}
		id = ours[0]
		return true
	})
	return id
}

// eventually polls cond for up to two minutes.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			c.t.Fatalf("waited two minutes for %s", what)
		}
	}
}

// blocked waits until the given instances are blocked in ss-get.
func (c *cluster) blocked(id string, instances ...string) {
	c.t.Helper()
	c.eventually(strings.Join(instances, ", ")+" blocked in ss-get", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waits, err := c.coord.client(id).Waits(ctx)
		if err != nil {
			return false
		}
		seen := map[string]bool{}
		for _, w := range waits {
			seen[w.Instance] = true
		}
		for _, inst := range instances {
			if !seen[inst] {
				return false
			}
		}
		return true
	})
}

// on runs a shell command on a machine.
func (c *cluster) on(m machine, command string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := m.run(ctx, command)
	if err != nil {
		c.t.Fatalf("%s on %s: %v\n%s", command, m.label(), err, out)
	}
	return out
}

// openGate lets a machine's script go on past its gate.
func (c *cluster) openGate(machines ...machine) {
	c.t.Helper()
	for _, m := range machines {
		c.on(m, "mkdir -p /var/lib/faults && touch /var/lib/faults/gate")
	}
}

// partition cuts a machine off the network (its end of the link on the
// bridge goes down: every packet to and from it is dropped, connections
// stay open) and returns the function that joins it again.
func (c *cluster) partition(m machine) (heal func()) {
	c.t.Helper()
	link := m.link()
	if out, err := exec.Command("ip", "link", "set", "dev", link, "down").CombinedOutput(); err != nil {
		c.t.Fatalf("cutting %s off: %v\n%s", m.label(), err, out)
	}
	healed := false
	heal = func() {
		if healed {
			return
		}
		healed = true
		if out, err := exec.Command("ip", "link", "set", "dev", link, "up").CombinedOutput(); err != nil {
			c.t.Fatalf("joining %s again: %v\n%s", m.label(), err, out)
		}
	}
	c.t.Cleanup(heal)
	return heal
}

// reboot kills every process of a host but its sshd with SIGKILL (the
// agent, its supervisor, the script it runs), as a power cut does, then
// boots it as far as the agent goes: on these hosts, which have neither
// systemd nor cloud-init, by running the start script that the bootstrap
// left for boot (coordination/bootstrap/start.sh.tmpl) as cloud-init's
// per-boot scripts run it on a cloud machine.
func (c *cluster) reboot(m machine) {
	c.t.Helper()
	if c.clouds != nil {
		c.clouds.reboot(c.t, m)
		return
	}
	h := m.(sshHost).Host
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		pids := hostProcesses(h)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("processes %v on %s survive SIGKILL", pids, h.Name)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	c.on(m, "/etc/slipstream/start-agent")
}

// keepLogs copies the scenario's logs (the coordinator's, Terraform's
// TRACE log, the agents') into the test's artifact folder (go test
// -artifacts keeps it: make test-faults puts it under test-artifacts/).
func (c *cluster) keepLogs() {
	dir := c.t.ArtifactDir()
	for _, m := range c.hosts() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := m.run(ctx, "cat /var/log/slipstream-agent.log 2>/dev/null")
		cancel()
		os.WriteFile(filepath.Join(dir, "agent-"+m.label()+".log"), []byte(out), 0o600)
	}
	for _, path := range c.logs {
		if b, err := os.ReadFile(path); err == nil {
			os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o600)
		}
	}
	if c.clouds != nil {
		for _, g := range c.clouds.rt.Instances() { // what cloud-init printed
			os.WriteFile(filepath.Join(dir, "console-"+g.Name()+".log"), []byte(g.Console()), 0o600)
		}
	}
	c.t.Logf("the scenario's logs: %s", dir)
}

// agentToken reads the agent token a machine's agent keeps ("" when none).
func (c *cluster) agentToken(m machine) string {
	c.t.Helper()
	return strings.TrimSpace(c.on(m, `sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' /var/lib/slipstream/token.json 2>/dev/null || true`))
}

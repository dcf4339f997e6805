package main

// Tests that run the real binaries: a `slipc serve` process and
// `slipstream-agent` processes (run, ss-get, ss-set, ss-abort), talking
// over loopback HTTP as they do on machines.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

// built is one binary the tests build, once per test process.
type built struct {
	once sync.Once
	path string
	err  error
}

var bins struct {
	dirOnce sync.Once
	dir     string
	dirErr  error
	slipc   built
	agent   built
}

// build builds pkg into the tests' folder as out, once.
func build(t testing.TB, b *built, out, pkg string) string {
	t.Helper()
	bins.dirOnce.Do(func() { bins.dir, bins.dirErr = os.MkdirTemp("", "slipstream-bins-") })
	if bins.dirErr != nil {
		t.Fatal(bins.dirErr)
	}
	b.once.Do(func() {
		path := filepath.Join(bins.dir, out)
		if msg, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
			return
		}
		b.path = path
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// agentBinary builds slipstream-agent once per test process.
func agentBinary(t testing.TB) string {
	return build(t, &bins.agent, "slipstream-agent", "github.com/slipstream/terraform-provider-slipstream/cmd/slipstream-agent")
}

// binaries builds slipc and slipstream-agent once per test process.
func binaries(t testing.TB) (slipc, agentBin string) {
	t.Helper()
	slipc = build(t, &bins.slipc, "slipc", "github.com/slipstream/terraform-provider-slipstream/cmd/slipc")
	return slipc, agentBinary(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// coordinatorProcess is a running `slipc serve`.
type coordinatorProcess struct {
	t     testing.TB
	URL   string
	addr  string
	data  string
	cmd   *exec.Cmd
	token string
	out   *syncBuffer
	// fingerprint is the CA's when started with -tls-self-signed; the
	// test's own requests then pin it, as agents do.
	fingerprint string
	http        *http.Client
}

var (
	listening   = regexp.MustCompile(`listening on (https?)://(\S+)`)
	caPrintedAs = regexp.MustCompile(`CA fingerprint \(pin it: SLIPSTREAM_CA_FINGERPRINT\): ([0-9a-f]{64})`)
)

// startCoordinator starts `slipc serve` on a free loopback port (or addr,
// to restart one on the same address) with its data in data.
func startCoordinator(t testing.TB, data, addr string, args ...string) *coordinatorProcess {
	t.Helper()
	slipc, _ := binaries(t)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	p := &coordinatorProcess{t: t, data: data, token: "admin-token-for-process-tests-0123456789", out: &syncBuffer{}, http: http.DefaultClient}
	p.cmd = exec.Command(slipc, append([]string{"serve", "-listen", addr, "-data", data}, args...)...)
	p.cmd.Env = append(os.Environ(), "SLIPSTREAM_ADMIN_TOKEN="+p.token)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.out.Write([]byte(sc.Text() + "\n"))
			if m := caPrintedAs.FindStringSubmatch(sc.Text()); m != nil {
				p.fingerprint = m[1]
			}
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1] + "://" + m[2]
			}
		}
	}()
	select {
	case u := <-found:
		p.URL = u
		_, p.addr, _ = strings.Cut(u, "://")
		if p.fingerprint != "" {
			p.http = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsutil.PinnedConfig(p.fingerprint)}}
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("slipc serve did not start:\n%s", p.out.String())
	}
	t.Cleanup(p.kill)
	return p
}

// kill stops the coordinator with SIGKILL: nothing is flushed or closed.
func (p *coordinatorProcess) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// admin calls the API with the admin token; out may be nil.
func (p *coordinatorProcess) admin(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+p.token)
	res, err := p.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, b)
	}
	if out != nil && len(b) > 0 {
		return res.StatusCode, json.Unmarshal(b, out)
	}
	return res.StatusCode, nil
}

// create registers a deployment and returns the instance tokens.
func (p *coordinatorProcess) create(d any) map[string]string {
	p.t.Helper()
	var out struct{ Tokens map[string]string }
	if _, err := p.admin("POST", "/v1/deployments", d, &out); err != nil {
		p.t.Fatal(err)
	}
	return out.Tokens
}

// exchange trades an instance's bootstrap token for an agent token, as
// `slipstream-agent run` does when it starts, for tests that run ss-*
// commands without an agent.
func (p *coordinatorProcess) exchange(id, bootstrap string) string {
	p.t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(tok))
	req, _ := http.NewRequest("POST", p.URL+"/v1/deployments/"+id+"/exchange", strings.NewReader(`{"token_sha256":"`+hex.EncodeToString(sum[:])+`"}`))
	req.Header.Set("Authorization", "Bearer "+bootstrap)
	res, err := p.http.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		p.t.Fatalf("exchange: %s %s", res.Status, b)
	}
	return tok
}

// exchangeAll is exchange for every instance.
func (p *coordinatorProcess) exchangeAll(id string, bootstrap map[string]string) map[string]string {
	out := map[string]string{}
	for inst, tok := range bootstrap {
		out[inst] = p.exchange(id, tok)
	}
	return out
}

// agentToken is the token an agent made for itself in its state folder.
func agentToken(t testing.TB, stateDir string) string {
	t.Helper()
	c, err := agent.LoadCredentials(agent.TokenFile(stateDir))
	if err != nil {
		t.Fatal(err)
	}
	return c.Token
}

func (p *coordinatorProcess) status(id string) (state, abort string) {
	var out struct{ State, Abort string }
	p.admin("GET", "/v1/deployments/"+id, nil, &out)
	return out.State, out.Abort
}

func (p *coordinatorProcess) params(id string) map[string]string {
	var out struct{ Parameters map[string]string }
	if _, err := p.admin("GET", "/v1/deployments/"+id+"/parameters", nil, &out); err != nil {
		p.t.Fatal(err)
	}
	return out.Parameters
}

// waitState waits for the run to reach state (or to be aborted, when
// abort is true). It follows the state with long-polls, as the provider
// will.
func (p *coordinatorProcess) waitState(id, want string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		state, abort := p.status(id)
		if state == want {
			return abort
		}
		if abort != "" {
			p.t.Fatalf("deployment %s was aborted in %s, waiting for %s: %s", id, state, want, abort)
		}
		var out struct{ Value string }
		p.admin("GET", "/v1/deployments/"+id+"/parameters/ss:state?ignoreabort=true&wait=2s&changed_from="+state, nil, &out)
	}
	state, abort := p.status(id)
	p.t.Fatalf("deployment %s is %s (abort %q), want %s\ncoordinator:\n%s", id, state, abort, want, p.out.String())
	return ""
}

// agentProcess is a running `slipstream-agent run`.
type agentProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startAgent(t testing.TB, coord *coordinatorProcess, id, inst, token, stateDir string, extraEnv ...string) *agentProcess {
	t.Helper()
	agentBin := agentBinary(t)
	a := &agentProcess{out: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(agentBin, "run", "-state-dir", stateDir)
	a.cmd.Env = append(os.Environ(),
		"SLIPSTREAM_SERVICEURL="+coord.URL, "SLIPSTREAM_DIID="+id, "SLIPSTREAM_NODE_INSTANCE_NAME="+inst,
		"SLIPSTREAM_TOKEN="+token, "SLIPSTREAM_CLOUD=fixed")
	a.cmd.Env = append(a.cmd.Env, extraEnv...)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.done
		if t.Failed() {
			t.Logf("agent %s output:\n%s", inst, a.out.String())
		}
	})
	return a
}

// wait waits for the agent to exit and returns its exit code.
func (a *agentProcess) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-a.done:
		return a.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		a.cmd.Process.Signal(syscall.SIGQUIT) // Go prints every goroutine's stack
		select {
		case <-a.done:
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("agent still running after %s:\n%s", timeout, a.out.String())
		return -1
	}
}

// ss runs an ss-* command as a process, as a script would.
func ss(t testing.TB, ctx context.Context, coord *coordinatorProcess, id, inst, token string, args ...string) *exec.Cmd {
	t.Helper()
	agentBin := agentBinary(t)
	cmd := exec.CommandContext(ctx, agentBin, args...)
	cmd.Env = append(os.Environ(), "SLIPSTREAM_SERVICEURL="+coord.URL, "SLIPSTREAM_DIID="+id,
		"SLIPSTREAM_NODE_INSTANCE_NAME="+inst, "SLIPSTREAM_TOKEN="+token)
	return cmd
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud/guest"
	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

const testAdminToken = "provider-acceptance-admin-token-0123456789"

// accPreCheck skips unless the acceptance tests were asked for with the
// real Terraform CLI.
func accPreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" || os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("set TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make testacc) to run against the real Terraform CLI")
	}
}

// testCoordinator is a real coordinator (API, core, bbolt store) on a
// loopback port. Its agent folder holds the real agent, built for this
// machine.
type testCoordinator struct {
	URL   string
	coord *coordinator.Coordinator
	srv   *httptest.Server // Close stops it: a coordinator that is down
	h     http.Handler
}

// restart serves the coordinator again on the address it had (after
// srv.Close), as a restarted slipc serve does.
func (c *testCoordinator) restart(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", c.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("listening again on %s: %v", c.srv.Listener.Addr(), err)
	}
	c.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: c.h}}
	c.srv.Start()
	t.Cleanup(c.srv.Close)
}

var agentBuild struct {
	once sync.Once
	dir  string
	err  error
}

// agentDir builds slipstream-agent once into a folder laid out as slipc
// serve -agent-dir expects, with ss-* links beside it.
func agentDir(t *testing.T) string {
	t.Helper()
	agentBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "slipstream-agent-")
		if err != nil {
			agentBuild.err = err
			return
		}
		bin := filepath.Join(dir, "slipstream-agent-linux-amd64")
		// As make build builds the agents it ships.
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/slipstream/terraform-provider-slipstream/cmd/slipstream-agent")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			agentBuild.err = fmt.Errorf("building the agent: %v\n%s", err, out)
			return
		}
		links := filepath.Join(dir, "bin")
		os.Mkdir(links, 0o755)
		for _, name := range bootstrap.Commands {
			os.Symlink(bin, filepath.Join(links, name))
		}
		agentBuild.dir = dir
	})
	if agentBuild.err != nil {
		t.Fatal(agentBuild.err)
	}
	return agentBuild.dir
}

func startTestCoordinator(t *testing.T) *testCoordinator {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "coordinator.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	h, err := api.New(c, api.Options{AdminToken: testAdminToken, AgentDir: agentDir(t), ReportDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	return &testCoordinator{URL: srv.URL, coord: c, srv: srv, h: h}
}

// localAgents runs the real agent (coordination/agent) in this process for
// every instance the provider registers: the machines of these tests are
// local, so the deployment and ready resources can be exercised without
// SSH. Scripts run as local processes with the ss-* commands on PATH.
type localAgents struct {
	t      *testing.T
	url    string
	ctx    context.Context
	mu     sync.Mutex
	done   map[string]chan error
	cancel context.CancelFunc
}

func newLocalAgents(t *testing.T, url string) *localAgents {
	ctx, cancel := context.WithCancel(context.Background())
	a := &localAgents{t: t, url: url, ctx: ctx, cancel: cancel, done: map[string]chan error{}}
	t.Cleanup(func() {
		cancel()
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, ch := range a.done {
			<-ch
		}
	})
	return a
}

// added issues bootstrap tokens for a deployment's new instances, as a
// machine resource does when it starts a machine, and starts an agent
// with each.
func (a *localAgents) added(deployment string, instances []string) {
	cl := &client.Client{BaseURL: a.url, Deployment: deployment, Token: testAdminToken}
	tokens, err := cl.ReissueTokens(a.ctx, instances)
	if err != nil {
		a.t.Errorf("issuing tokens for %v of %s: %v", instances, deployment, err)
		return
	}
	a.start(deployment, tokens)
}

func (a *localAgents) start(deployment string, tokens map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for inst, tok := range tokens {
		k, err := coordinator.Qualify(inst+":x", nil)
		in, ok := k.Instance()
		if err != nil || !ok {
			a.t.Errorf("bad instance %q", inst)
			continue
		}
		r := &agent.Runner{
			Client:   &client.Client{BaseURL: a.url, Deployment: deployment, Token: tok},
			Config:   agent.Config{ServiceURL: a.url, Deployment: deployment, Instance: inst, Token: tok, Cloud: "local"},
			Instance: in, StateDir: a.t.TempDir(), BinDir: filepath.Join(agentDir(a.t), "bin"),
			Env: os.Environ(), Log: &testLog{t: a.t, prefix: inst},
		}
		ch := make(chan error, 1)
		a.done[deployment+"/"+inst] = ch
		go func() {
			err := r.Run(a.ctx)
			if errors.Is(err, agent.ErrGone) || errors.Is(err, context.Canceled) {
				err = nil
			}
			ch <- err
		}()
	}
}

type testLog struct {
	t      *testing.T
	prefix string
}

func (l *testLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Logf("[%s] %s", l.prefix, line)
	}
	return len(p), nil
}

// factories serves the provider to Terraform with the agents hooked in.
func factories(agents *localAgents) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"slipstream": providerserver.NewProtocol6WithError(&slipstreamProvider{version: "test", hooks: &hooks{instancesAdded: agents.added}}),
	}
}

func providerBlock(url string) string {
	return fmt.Sprintf("provider \"slipstream\" {\n  coordinator_url = %q\n  token = %q\n}\n", url, testAdminToken)
}

func TestMain(m *testing.M) {
	// Hosts and guests of earlier runs that were killed before they
	// could remove them (their process is gone; live runs' are kept).
	if os.Geteuid() == 0 {
		if err := nshost.CleanupStale("tfa"); err != nil {
			fmt.Fprintln(os.Stderr, "removing stale test hosts:", err)
		}
		if err := guest.CleanupStale("tfg"); err != nil {
			fmt.Fprintln(os.Stderr, "removing stale test guests:", err)
		}
	}
	code := m.Run()
	if agentBuild.dir != "" {
		os.RemoveAll(agentBuild.dir)
	}
	os.Exit(code)
}

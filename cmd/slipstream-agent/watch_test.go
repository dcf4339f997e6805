package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// longPolls is a reverse proxy in front of the coordinator that counts
// the long-polls in flight through it, by kind: the agent's watches on the
// run, and the scripts' parameter gets.
type longPolls struct {
	mu              sync.Mutex
	run, get, other int
	most            int // the most run watches in flight at once
}

func (l *longPolls) serve(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("wait") == "" {
			proxy.ServeHTTP(w, r)
			return
		}
		count := &l.other
		switch {
		case strings.HasSuffix(r.URL.Path, "/run"):
			count = &l.run
		case strings.Contains(r.URL.Path, "/parameters/"):
			count = &l.get
		}
		l.mu.Lock()
		*count++
		l.most = max(l.most, l.run)
		l.mu.Unlock()
		defer func() { l.mu.Lock(); *count--; l.mu.Unlock() }()
		proxy.ServeHTTP(w, r)
	}))
	// A script's ss-get can outlive its killed agent: cut its connection
	// rather than wait for it.
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL
}

func (l *longPolls) now() (run, get, other, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.run, l.get, l.other, l.most
}

// TestRun_oneWatchPerMachine: while its deploy script blocks in ss-get,
// and while it waits in Ready, an agent holds one long-poll on the run —
// not one for the state and one for the abort — beside the script's get.
// At 10,000 machines that is 10,000 connections fewer at the coordinator.
func TestRun_oneWatchPerMachine(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	d := coordinator.Deployment{ID: "one", Nodes: map[string]*coordinator.Node{
		"web": {Multiplicity: 1, Params: map[string]coordinator.Param{"go": {}},
			Scripts: map[string][]string{"deploy": {"set -e\nss-get --timeout 0 go > /dev/null\n"}}},
	}}
	tokens := coord.create(d)
	var polls longPolls
	proxied := *coord
	proxied.URL = polls.serve(t, coord.URL)
	startAgent(t, &proxied, "one", "web.1", tokens["web.1"], t.TempDir())

	// steady waits for the counts to be want for a while: a watch that is
	// being asked again is briefly absent, never doubled.
	steady := func(what string, wantRun, wantGet int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		since := time.Time{}
		for time.Now().Before(deadline) {
			run, get, other, _ := polls.now()
			if run == wantRun && get == wantGet && other == 0 {
				if since.IsZero() {
					since = time.Now()
				}
				if time.Since(since) > 500*time.Millisecond {
					return
				}
			} else {
				since = time.Time{}
			}
			time.Sleep(20 * time.Millisecond)
		}
		run, get, other, _ := polls.now()
		t.Fatalf("%s: %d run watches, %d gets, %d other long-polls in flight; want %d, %d, 0", what, run, get, other, wantRun, wantGet)
	}
	steady("while the deploy script blocks in ss-get", 1, 1)
	if _, err := coord.admin("PUT", "/v1/deployments/one/parameters/web.1:go", map[string]string{"value": "yes"}, nil); err != nil {
		t.Fatal(err)
	}
	coord.waitState("one", coordinator.Ready, 30*time.Second)
	steady("in Ready", 1, 0)
	if _, _, _, most := polls.now(); most != 1 {
		t.Fatalf("at most %d run watches were in flight at once, want 1", most)
	}
}

// TestRun_cancelledAbortRetries: a deploy script fails and aborts the run,
// which stays up (keep_running always); once the abort is cancelled
// (ss-abort --cancel, here the provider's call), the agent wakes, runs the
// script again and the run goes on to Ready. Before, the agent kept
// waiting: a cancelled abort woke nobody.
func TestRun_cancelledAbortRetries(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	marker := filepath.Join(t.TempDir(), "failed-once")
	d := coordinator.Deployment{ID: "retry", KeepRunning: "always", Nodes: map[string]*coordinator.Node{
		"web": {Multiplicity: 1, Params: map[string]coordinator.Param{"url": {Output: true}},
			Scripts: map[string][]string{"deploy": {"set -e\nif [ ! -e " + marker + " ]; then touch " + marker + "; echo 'first try fails' >&2; exit 1; fi\nss-set url ok\n"}}},
	}}
	tokens := coord.create(d)
	a := startAgent(t, coord, "retry", "web.1", tokens["web.1"], t.TempDir())
	deadline := time.Now().Add(30 * time.Second)
	for {
		state, abort := coord.status("retry")
		if strings.Contains(abort, "first try fails") && state == coordinator.Executing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run is %s, abort %q; want it aborted in Executing", state, abort)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Let the agent send its reports and settle in its wait.
	waitFor(t, 30*time.Second, func() bool { return strings.Contains(a.out.String(), "the run is aborted") })
	time.Sleep(300 * time.Millisecond)
	if _, err := coord.admin("POST", "/v1/deployments/retry/abort", map[string]any{"cancel": true}, nil); err != nil {
		t.Fatal(err)
	}
	coord.waitState("retry", coordinator.Ready, 30*time.Second)
	if p := coord.params("retry"); p["web.1:url"] != "ok" {
		t.Fatalf("web.1:url = %q after the retry", p["web.1:url"])
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal(err)
	}
}

// TestRun_deletedDeploymentStopsTheScript: a deployment deleted while a
// script runs (terraform destroy of a run that hangs) stops the script at
// once, and the agent exits quietly, instead of letting the script run to
// its end for nothing.
func TestRun_deletedDeploymentStopsTheScript(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	d := coordinator.Deployment{ID: "gone", Nodes: map[string]*coordinator.Node{
		"web": {Multiplicity: 1, Scripts: map[string][]string{"deploy": {"echo deploying\nsleep 300\n"}}},
	}}
	tokens := coord.create(d)
	state := t.TempDir()
	a := startAgent(t, coord, "gone", "web.1", tokens["web.1"], state)
	waitFor(t, 30*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(state, "logs", "deploy.log"))
		return strings.Contains(string(b), "deploying")
	})
	if _, err := coord.admin("DELETE", "/v1/deployments/gone", nil, nil); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("agent exited %d", code)
	}
	if out := a.out.String(); !strings.Contains(out, "deploy stopped") || !strings.Contains(out, "stopping:") {
		t.Fatalf("agent output:\n%s", out)
	}
}

package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

const admin = "admin-token-for-the-client-tests"

// newCoordinator is the real API over a bbolt store on loopback.
func newCoordinator(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	s, err := api.New(c, api.Options{AdminToken: admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	return srv
}

// loseAnswers is a transport that sends requests matching drop to the
// server, lets the server act on them, and then loses their answers, as
// a connection cut at the wrong moment does: the caller sees a network
// error for a request that committed.
type loseAnswers struct {
	drop    func(*http.Request) bool
	dropped atomic.Int32
	limit   int32
}

func (l *loseAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !l.drop(req) || l.dropped.Load() >= l.limit {
		return res, err
	}
	l.dropped.Add(1)
	res.Body.Close()
	return nil, errors.New("connection reset by peer (answer lost by the test)")
}

func deployment() *coordinator.Deployment {
	return &coordinator.Deployment{ID: "lamp-1", Nodes: map[string]*coordinator.Node{
		"db":  {Multiplicity: 1, Params: map[string]coordinator.Param{"password": {Output: true, Sensitive: true}}},
		"web": {Multiplicity: 2, Params: map[string]coordinator.Param{"db_password": {Sensitive: true}}, Mappings: map[string]string{"db_password": "db:password"}},
	}}
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestCreateDeployment_answerLost: the create commits, its answer is
// lost, the client sends it again, and the tokens it returns are the
// ones the coordinator holds: nothing orphaned, every instance reachable.
func TestCreateDeployment_answerLost(t *testing.T) {
	srv := newCoordinator(t)
	lose := &loseAnswers{limit: 1, drop: func(r *http.Request) bool { return r.Method == "POST" && r.URL.Path == "/v1/deployments" }}
	cl := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin, HTTP: &http.Client{Transport: lose}, RetryFor: 10 * time.Second}
	tokens, err := cl.CreateDeployment(bg(t), deployment())
	if err != nil {
		t.Fatalf("create with its first answer lost: %v", err)
	}
	if lose.dropped.Load() != 1 {
		t.Fatal("the test lost no answer")
	}
	if len(tokens) != 3 {
		t.Fatalf("tokens: %v", tokens)
	}
	for inst, tok := range tokens {
		m := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: tok}
		if got, err := m.Exchange(bg(t), TokenHash("agent of "+inst)); err != nil || got != inst {
			t.Fatalf("%s's bootstrap token does not work: %q %v", inst, got, err)
		}
	}
}

// TestScale_answerLost: the same for a scale: the new instances' tokens
// work although the first answer never arrived.
func TestScale_answerLost(t *testing.T) {
	srv := newCoordinator(t)
	cl := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin}
	if _, err := cl.CreateDeployment(bg(t), deployment()); err != nil {
		t.Fatal(err)
	}
	lose := &loseAnswers{limit: 1, drop: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/scale") }}
	cl.HTTP = &http.Client{Transport: lose}
	_, added, err := cl.Scale(bg(t), "web", 2, 4)
	if err != nil {
		t.Fatalf("scale with its first answer lost: %v", err)
	}
	if lose.dropped.Load() != 1 || len(added) != 2 || added["web.3"] == "" || added["web.4"] == "" {
		t.Fatalf("dropped %d, added %v", lose.dropped.Load(), added)
	}
	for inst, tok := range added {
		m := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: tok}
		if got, err := m.Exchange(bg(t), TokenHash("agent of "+inst)); err != nil || got != inst {
			t.Fatalf("%s's bootstrap token does not work: %q %v", inst, got, err)
		}
	}
}

// TestSend_unsafeRequestNotResent: a request that is not safe to repeat
// is not sent again once it reached the server; one that never left is.
func TestSend_unsafeRequestNotResent(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	cl := &Client{BaseURL: srv.URL, Token: admin, RetryFor: time.Second}
	err := cl.send(bg(t), request{method: "POST", path: "/x", safe: false})
	if err == nil || calls.Load() != 1 {
		t.Fatalf("unsafe request: %v after %d calls, want one call", err, calls.Load())
	}
	calls.Store(0)
	err = cl.send(bg(t), request{method: "POST", path: "/x", safe: true})
	if err == nil || calls.Load() < 2 {
		t.Fatalf("safe request: %v after %d calls, want retries", err, calls.Load())
	}
}

// TestSend_budget: a coordinator that is down makes a call fail once
// RetryFor has passed, with a message naming it and the cause.
func TestSend_budget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	cl := &Client{BaseURL: "http://" + addr, Deployment: "d", Token: admin, RetryFor: 700 * time.Millisecond}
	start := time.Now()
	_, err = cl.Run(bg(t))
	var e *Error
	if !errors.As(err, &e) || e.Code != "unreachable" || e.ExitCode() != ExitNetwork {
		t.Fatalf("err %v, want unreachable", err)
	}
	if !strings.Contains(e.Message, "coordinator at http://"+addr+" unreachable for") || !strings.Contains(e.Message, "connection refused") {
		t.Fatalf("message %q", e.Message)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("gave up after %s", took)
	}
}

// TestSend_hungCoordinator: a coordinator that accepts connections but
// never answers is given up on after AttemptTimeout, then RetryFor.
func TestSend_hungCoordinator(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // read nothing, answer nothing
		}
	}()
	cl := &Client{BaseURL: "http://" + l.Addr().String(), Deployment: "d", Token: admin, RetryFor: 500 * time.Millisecond, AttemptTimeout: 200 * time.Millisecond}
	_, err = cl.Run(bg(t))
	var e *Error
	if !errors.As(err, &e) || e.Code != "unreachable" || !strings.Contains(e.Message, "did not answer within 200ms") {
		t.Fatalf("err %v", err)
	}
}

// TestRenewSpentTokens: over the API, an instance whose machine exchanged
// its bootstrap token gets a new one that works; the others keep theirs.
func TestRenewSpentTokens(t *testing.T) {
	srv := newCoordinator(t)
	cl := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin}
	tokens, err := cl.CreateDeployment(bg(t), deployment())
	if err != nil {
		t.Fatal(err)
	}
	first := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: tokens["web.1"]}
	if _, err := first.Exchange(bg(t), TokenHash("first machine")); err != nil {
		t.Fatal(err)
	}
	renewed, err := cl.RenewSpentTokens(bg(t), map[string]string{"web.1": tokens["web.1"], "web.2": tokens["web.2"]})
	if err != nil || len(renewed) != 1 || renewed["web.1"] == "" || renewed["web.1"] == tokens["web.1"] {
		t.Fatalf("renewed %v %v, want a new token for web.1 only", renewed, err)
	}
	second := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: renewed["web.1"]}
	if got, err := second.Exchange(bg(t), TokenHash("second machine")); err != nil || got != "web.1" {
		t.Fatalf("the renewed token: %q %v", got, err)
	}
}

// TestWaitRun_acrossShortPolls: the server cuts each long-poll short
// (MaxWait); WaitRun asks again until the run changes, and with a wait of
// its own ends in a timeout error carrying the run as it was seen.
func TestWaitRun_acrossShortPolls(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	s, err := api.New(c, api.Options{AdminToken: admin, MaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	cl := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin}
	if _, err := cl.CreateDeployment(bg(t), deployment()); err != nil {
		t.Fatal(err)
	}
	seen := coordinator.Run{State: coordinator.Initializing}
	var e *Error
	if r, err := cl.WaitRun(bg(t), seen, 300*time.Millisecond); !errors.As(err, &e) || e.Code != "timeout" || r != seen {
		t.Fatalf("unchanged run: %+v %v, want a timeout", r, err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond) // several server rounds
		cl.Finalize(context.Background())
	}()
	if r, err := cl.WaitRun(bg(t), seen, 0); err != nil || r.State != coordinator.Finalizing {
		t.Fatalf("after finalize: %+v %v", r, err)
	}
}

// TestSend_recoveredReportsTheOutage: a call the coordinator failed, then
// answered, is reported to Recovered with how long it failed; a call that
// never failed is not.
func TestSend_recoveredReportsTheOutage(t *testing.T) {
	var failures atomic.Int32
	failures.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failures.Add(-1) >= 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{"code":"unavailable","message":"the coordinator is shutting down; ask again"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"state":"Executing"}`))
	}))
	defer srv.Close()
	var calls []time.Duration
	var last error
	cl := &Client{BaseURL: srv.URL, Deployment: "d", Token: admin, MaxBackoff: 50 * time.Millisecond,
		Recovered: func(d time.Duration, err error) { calls, last = append(calls, d), err }}
	if _, err := cl.Run(bg(t)); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] <= 0 || last == nil || !strings.Contains(last.Error(), "shutting down") {
		t.Fatalf("Recovered called %v, last error %v", calls, last)
	}
	if _, err := cl.Run(bg(t)); err != nil || len(calls) != 1 {
		t.Fatalf("a call that did not fail was reported: %v %v", calls, err)
	}
}

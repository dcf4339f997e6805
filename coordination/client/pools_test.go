package client

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// TestRegisterDeploymentAndResize_answersLost: the provider's calls
// without tokens go through lost answers: the coordinator takes the
// second sending as the same registration or resize, and no token exists
// until the provider asks for one.
func TestRegisterDeploymentAndResize_answersLost(t *testing.T) {
	srv := newCoordinator(t)
	lose := &loseAnswers{limit: 2, drop: func(r *http.Request) bool {
		return r.Method == "POST" && (r.URL.Path == "/v1/deployments" || strings.HasSuffix(r.URL.Path, "/scale"))
	}}
	cl := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin, HTTP: &http.Client{Transport: lose}, RetryFor: 10 * time.Second}
	if err := cl.RegisterDeployment(bg(t), deployment()); err != nil {
		t.Fatalf("register with its first answer lost: %v", err)
	}
	state, err := cl.Resize(bg(t), "web", 5)
	if err != nil || state != coordinator.Initializing {
		t.Fatalf("resize with its first answer lost: %q %v", state, err)
	}
	if lose.dropped.Load() != 2 {
		t.Fatalf("the test lost %d answers, want 2", lose.dropped.Load())
	}
	run, err := cl.Run(bg(t))
	if err != nil || run.Deployment.Nodes["web"].Multiplicity != 5 {
		t.Fatalf("the deployment: %+v %v", run, err)
	}
	// No instance has a token until the provider asks for one.
	_, hash := NewToken()
	nobody := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: strings.Repeat("0", 64)}
	var e *Error
	if _, err := nobody.Exchange(bg(t), hash); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("an exchange with no token issued: %v", err)
	}
	tokens, err := cl.ReissueTokens(bg(t), []string{"web.3"})
	if err != nil {
		t.Fatal(err)
	}
	m := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: tokens["web.3"]}
	if got, err := m.Exchange(bg(t), hash); err != nil || got != "web.3" {
		t.Fatalf("web.3's token: %q %v", got, err)
	}
}

// TestPools: a pool token registered, its members set (through lost
// answers) and exchanged by machine id, then removed.
func TestPools(t *testing.T) {
	srv := newCoordinator(t)
	lose := &loseAnswers{limit: 3, drop: func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/pools") || strings.HasSuffix(r.URL.Path, "/members")
	}}
	cl := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin, HTTP: &http.Client{Transport: lose}, RetryFor: 10 * time.Second}
	if err := cl.RegisterDeployment(bg(t), deployment()); err != nil {
		t.Fatal(err)
	}
	pool, poolHash := NewToken()
	if len(pool) != 64 || TokenHash(pool) != poolHash {
		t.Fatalf("NewToken: %q %q", pool, poolHash)
	}
	if err := cl.RegisterPool(bg(t), "web", poolHash); err != nil {
		t.Fatalf("register the pool: %v", err)
	}
	if err := cl.SetPoolMembers(bg(t), poolHash, map[string]string{"i-0abc": "web.1", "i-0abd": "web.2"}); err != nil {
		t.Fatalf("members: %v", err)
	}
	machine := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: pool}
	agent, agentHash := NewToken()
	var e *Error
	if _, err := machine.ExchangeMachine(bg(t), agentHash, "i-0abe"); !errors.As(err, &e) || e.Code != "not_registered" || e.Status != 409 {
		t.Fatalf("a machine not registered: %v", err)
	}
	if got, err := machine.ExchangeMachine(bg(t), agentHash, "i-0abd"); err != nil || got != "web.2" {
		t.Fatalf("exchange: %q %v", got, err)
	}
	if lose.dropped.Load() != 3 {
		t.Fatalf("the test lost %d answers, want 3", lose.dropped.Load())
	}
	web2 := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: agent}
	if err := web2.Set(bg(t), "statecustom", "pooled", false); err != nil {
		t.Fatalf("the agent token: %v", err)
	}
	if err := cl.SetPoolMembers(bg(t), poolHash, map[string]string{"i-0abe": "db.1"}); !errors.As(err, &e) || e.Code != "invalid" {
		t.Fatalf("a member of another node: %v", err)
	}
	if m, err := cl.PoolMembers(bg(t), "web"); err != nil || len(m) != 2 || m["i-0abc"] != "web.1" || m["i-0abd"] != "web.2" {
		t.Fatalf("web's members: %v %v", m, err)
	}
	if m, err := cl.PoolMembers(bg(t), "db"); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("db's members: %v %v", m, err)
	}
	if err := cl.RemovePoolMembers(bg(t), []string{"i-0abd"}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := web2.Set(bg(t), "statecustom", "gone", false); !errors.As(err, &e) || e.Code != "unauthorized" {
		t.Fatalf("a removed member's agent token: %v", err)
	}
	_, otherHash := NewToken()
	if _, err := machine.ExchangeMachine(bg(t), otherHash, "i-0abd"); !errors.As(err, &e) || e.Code != "not_registered" {
		t.Fatalf("a removed member claims: %v", err)
	}
	if m, err := cl.PoolMembers(bg(t), ""); err != nil || len(m) != 1 || m["i-0abc"] != "web.1" {
		t.Fatalf("the members after the removal: %v %v", m, err)
	}
	if err := cl.RemovePoolMembers(bg(t), nil); err != nil {
		t.Fatalf("removing nothing: %v", err)
	}
}

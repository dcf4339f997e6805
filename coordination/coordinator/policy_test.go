package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

var lampInstances = []Instance{{"db", 1}, {"web", 1}, {"web", 2}, {"web", 3}}

func hashesFor(prefix string, insts ...string) map[string]string {
	out := map[string]string{}
	for _, in := range insts {
		sum := sha256.Sum256([]byte(prefix + in))
		out[in] = hex.EncodeToString(sum[:])
	}
	return out
}

// TestKeepRunning_policies: SlipStream's keep-running policy decides
// whether a run that is Ready, or aborted, is finalized.
func TestKeepRunning_policies(t *testing.T) {
	for _, tc := range []struct {
		policy           string
		atReady, atAbort string
	}{
		{"", Ready, Finalizing}, // on-success, the default
		{KeepOnSuccess, Ready, Finalizing},
		{KeepAlways, Ready, Initializing},
		{KeepOnError, Finalizing, Initializing},
		{KeepNever, Finalizing, Finalizing},
	} {
		t.Run("policy="+tc.policy, func(t *testing.T) {
			c := newCoordinator(t)
			d := lamp()
			d.KeepRunning = tc.policy
			if err := c.CreateDeployment(bg(t), d, nil); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{Initializing, Provisioning, Executing} {
				completeAll(t, c, lampInstances, s)
			}
			if now := completeAll(t, c, lampInstances, SendingReports); now != tc.atReady {
				t.Fatalf("after SendingReports: %s, want %s", now, tc.atReady)
			}
			if tc.atReady == Finalizing {
				if now := completeAll(t, c, lampInstances, Finalizing); now != Done {
					t.Fatalf("after Finalizing: %s, want Done", now)
				}
			}

			d.ID = "lamp2"
			if err := c.CreateDeployment(bg(t), d, nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Abort(bg(t), "lamp2", inst("web", 2), "disk full", false); err != nil {
				t.Fatal(err)
			}
			r, _ := c.Status(bg(t), "lamp2")
			if r.State != tc.atAbort || r.Abort != "web.2: disk full" {
				t.Fatalf("after the abort: %+v, want state %s", r, tc.atAbort)
			}
		})
	}
}

// TestUpdateSettings_policyAppliesAtOnce: a Ready run whose policy
// becomes never is finalized; the settings are in the spec afterwards.
func TestUpdateSettings_policyAppliesAtOnce(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	toReady(t, c, lampInstances)
	never := KeepNever
	now, err := c.UpdateSettings(bg(t), "lamp", Settings{KeepRunning: &never, MaxProvisioningFailures: map[string]int{"web": 2}, Meta: []byte(`{"x":1}`)})
	if err != nil || now != Finalizing {
		t.Fatalf("update: %q %v, want Finalizing", now, err)
	}
	d, _, _ := c.Spec(bg(t), "lamp")
	if d.KeepRunning != KeepNever || d.Nodes["web"].MaxProvisioningFailures != 2 || string(d.Meta) != `{"x":1}` {
		t.Fatalf("spec after update: %+v %+v", d, d.Nodes["web"])
	}
	bad := "sometimes"
	var invalid *InvalidError
	if _, err := c.UpdateSettings(bg(t), "lamp", Settings{KeepRunning: &bad}); !errors.As(err, &invalid) {
		t.Fatalf("bad policy: %v", err)
	}
	if _, err := c.UpdateSettings(bg(t), "lamp", Settings{MaxProvisioningFailures: map[string]int{"nope": 1}}); !errors.As(err, &invalid) {
		t.Fatalf("unknown node: %v", err)
	}
}

// TestCreate_retryIsTheSameRegistration: the same registration with the
// same token hashes again (a create whose answer was lost) succeeds and
// changes nothing; anything else under that id is ErrExists.
func TestCreate_retryIsTheSameRegistration(t *testing.T) {
	c := newCoordinator(t)
	hashes := hashesFor("a", "db.1", "web.1", "web.2", "web.3")
	if err := c.CreateDeployment(bg(t), lamp(), hashes); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(bg(t), "lamp", inst("db", 1), "password", "s3cret", false); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDeployment(bg(t), lamp(), hashes); err != nil {
		t.Fatalf("retried create: %v", err)
	}
	if v, _ := c.Get(bg(t), "lamp", nil, "db.1:password", 0, false); v != "s3cret" {
		t.Fatalf("the retry reset the deployment: password %q", v)
	}
	if err := c.CreateDeployment(bg(t), lamp(), hashesFor("b", "db.1", "web.1", "web.2", "web.3")); !errors.Is(err, ErrExists) {
		t.Fatalf("other tokens: %v, want ErrExists", err)
	}
	other := lamp()
	other.Nodes["web"].Multiplicity = 2
	if err := c.CreateDeployment(bg(t), other, hashesFor("a", "db.1", "web.1", "web.2")); !errors.Is(err, ErrExists) {
		t.Fatalf("other spec: %v, want ErrExists", err)
	}
	if err := c.CreateDeployment(bg(t), lamp(), nil); !errors.Is(err, ErrExists) {
		t.Fatalf("no tokens: %v, want ErrExists", err)
	}
}

// TestScale_retryAfterCommit: a scale sent again after it committed (its
// answer lost) succeeds even though the run has left Ready; with other
// tokens it is refused, since another request did the scaling.
func TestScale_retryAfterCommit(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	toReady(t, c, lampInstances)
	added := hashesFor("s", "web.4", "web.5")
	if now, err := c.Scale(bg(t), "lamp", "web", 5, added); err != nil || now != Provisioning {
		t.Fatalf("scale: %q %v", now, err)
	}
	if now, err := c.Scale(bg(t), "lamp", "web", 5, added); err != nil || now != Provisioning {
		t.Fatalf("retried scale: %q %v, want success in Provisioning", now, err)
	}
	if rec, err := c.Token(bg(t), "lamp", added["web.5"]); err != nil || rec.Instance.String() != "web.5" || rec.Kind != TokenBootstrap {
		t.Fatalf("web.5's token: %+v %v, want its bootstrap token", rec, err)
	}
	if _, err := c.Scale(bg(t), "lamp", "web", 5, hashesFor("t", "web.4", "web.5")); !errors.Is(err, ErrState) {
		t.Fatalf("scale with other tokens: %v, want ErrState", err)
	}
}

// TestReissueTokens: a new bootstrap token replaces an instance's
// unexchanged one; giving the same again changes nothing; an agent
// already running keeps its own token until the new bootstrap token is
// exchanged, which retires it; an unknown instance is refused.
func TestReissueTokens(t *testing.T) {
	c := newCoordinator(t)
	old := hashesFor("a", "db.1", "web.1", "web.2", "web.3")
	c.CreateDeployment(bg(t), lamp(), old)
	agent1 := hashesFor("agent", "web.1")["web.1"]
	if _, err := c.Exchange(bg(t), "lamp", old["web.1"], agent1); err != nil {
		t.Fatal(err)
	}
	fresh := hashesFor("b", "web.1", "web.2")
	for range 2 {
		if err := c.ReissueTokens(bg(t), "lamp", fresh); err != nil {
			t.Fatal(err)
		}
	}
	kind := func(hash string) string {
		t.Helper()
		rec, err := c.Token(bg(t), "lamp", hash)
		if errors.Is(err, ErrNotFound) {
			return "revoked"
		}
		if err != nil {
			t.Fatal(err)
		}
		return rec.Instance.String() + " " + rec.Kind
	}
	for hash, want := range map[string]string{
		old["web.2"]:   "revoked",
		fresh["web.2"]: "web.2 bootstrap",
		old["web.3"]:   "web.3 bootstrap", // not reissued
		agent1:         "web.1 agent",     // still running
		fresh["web.1"]: "web.1 bootstrap",
	} {
		if got := kind(hash); got != want {
			t.Errorf("token %.8s: %s, want %s", hash, got, want)
		}
	}
	// The machine started with the reissued token exchanges it: the old
	// agent's token stops working.
	agent2 := hashesFor("agent2", "web.1")["web.1"]
	if _, err := c.Exchange(bg(t), "lamp", fresh["web.1"], agent2); err != nil {
		t.Fatal(err)
	}
	if got := kind(agent1); got != "revoked" {
		t.Errorf("old agent token of web.1 after the new exchange: %s, want revoked", got)
	}
	if in, err := c.InstanceForToken(bg(t), "lamp", agent2); err != nil || in.String() != "web.1" {
		t.Errorf("new agent token of web.1: %v %v", in, err)
	}
	if err := c.ReissueTokens(bg(t), "lamp", hashesFor("c", "web.9")); !errors.Is(err, ErrUnknown) {
		t.Fatalf("web.9: %v, want ErrUnknown", err)
	}
	if err := c.ReissueTokens(bg(t), "lamp", map[string]string{"web.2": agent2}); !errors.Is(err, ErrExists) {
		t.Fatalf("web.2 given web.1's agent token hash: %v, want ErrExists", err)
	}
}

// TestDeployments_listsEvery: the admin's listing shows each deployment
// with its state, abort and size.
func TestDeployments_listsEvery(t *testing.T) {
	c := newCoordinator(t)
	d := lamp()
	d.Meta = []byte(`{"name":"lamp"}`)
	c.CreateDeployment(bg(t), d, nil)
	d.ID, d.KeepRunning = "other", KeepAlways
	c.CreateDeployment(bg(t), d, nil)
	c.Abort(bg(t), "other", nil, "stop", false)
	list, err := c.Deployments(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if l := list[0]; l.ID != "lamp" || l.State != Initializing || l.Instances != 4 || l.Abort != "" || string(l.Meta) != `{"name":"lamp"}` {
		t.Fatalf("lamp: %+v", l)
	}
	if l := list[1]; l.ID != "other" || l.Abort != "the provider: stop" {
		t.Fatalf("other: %+v", l)
	}
}

// TestInstanceFailed_withinTolerance: a node that tolerates one failed
// instance goes on without it (the barrier counts the others); a second
// failure aborts the run with the reason.
func TestInstanceFailed_withinTolerance(t *testing.T) {
	c := newCoordinator(t)
	d := lamp()
	d.KeepRunning = KeepAlways
	d.Nodes["web"].MaxProvisioningFailures = 1
	c.CreateDeployment(bg(t), d, nil)
	completeAll(t, c, []Instance{{"db", 1}, {"web", 1}, {"web", 3}}, Initializing)
	tolerated, err := c.InstanceFailed(bg(t), "lamp", Instance{"web", 2}, "no such host")
	if err != nil || !tolerated {
		t.Fatalf("first failure: %v %v, want tolerated", tolerated, err)
	}
	if r, _ := c.Status(bg(t), "lamp"); r.State != Provisioning {
		t.Fatalf("the barrier did not pass without web.2: %+v", r)
	}
	if again, err := c.InstanceFailed(bg(t), "lamp", Instance{"web", 2}, "no such host"); err != nil || !again {
		t.Fatalf("the same failure again: %v %v", again, err)
	}
	if _, err := c.Complete(bg(t), "lamp", Instance{"web", 2}, Provisioning); !errors.Is(err, ErrState) {
		t.Fatalf("a failed instance completed: %v", err)
	}
	if now := completeAll(t, c, []Instance{{"db", 1}, {"web", 1}, {"web", 3}}, Provisioning); now != Executing {
		t.Fatalf("after Provisioning: %s", now)
	}
	tolerated, err = c.InstanceFailed(bg(t), "lamp", Instance{"web", 3}, "disk full")
	if err != nil || tolerated {
		t.Fatalf("second failure: %v %v, want an abort", tolerated, err)
	}
	r, _ := c.Status(bg(t), "lamp")
	if !strings.Contains(r.Abort, "web.3: failed to provision: disk full") || !strings.Contains(r.Abort, "tolerates 1") {
		t.Fatalf("abort: %q", r.Abort)
	}
	if _, err := c.InstanceFailed(bg(t), "lamp", Instance{"web", 7}, "x"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("web.7: %v", err)
	}
}

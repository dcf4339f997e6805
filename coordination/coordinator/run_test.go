package coordinator

import (
	"errors"
	"testing"
	"time"
)

// completeAll has every live instance of lamp complete state.
func completeAll(t *testing.T, c *Coordinator, all []Instance, state string) string {
	t.Helper()
	var now string
	for _, in := range all {
		var err error
		if now, err = c.Complete(bg(t), "lamp", in, state); err != nil {
			t.Fatalf("%s completes %s: %v", in, state, err)
		}
	}
	return now
}

func toReady(t *testing.T, c *Coordinator, all []Instance) {
	t.Helper()
	for _, s := range []string{Initializing, Provisioning, Executing, SendingReports} {
		completeAll(t, c, all, s)
	}
	if r, _ := c.Status(bg(t), "lamp"); r.State != Ready {
		t.Fatalf("run is %s, want Ready", r.State)
	}
}

// TestWaitChange_followsTheState: an agent that completed a state waits
// for the run to leave it; a wait on a value that is already different
// returns at once, and one that stays put times out.
func TestWaitChange_followsTheState(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	if v, err := c.WaitChange(bg(t), "lamp", inst("db", 1), "ss:state", Ready, time.Second, false); err != nil || v != Initializing {
		t.Fatalf("already different: %q %v", v, err)
	}
	if _, err := c.WaitChange(bg(t), "lamp", inst("db", 1), "ss:state", Initializing, 50*time.Millisecond, false); !errors.Is(err, ErrTimeout) {
		t.Fatalf("unchanged: %v, want ErrTimeout", err)
	}
	if _, err := c.WaitChange(bg(t), "lamp", inst("db", 1), "ss:state", Initializing, 0, false); !errors.Is(err, ErrTimeout) {
		t.Fatalf("unchanged, no wait: %v, want ErrTimeout", err)
	}
	got := make(chan string, 1)
	go func() {
		v, err := c.WaitChange(bg(t), "lamp", inst("web", 2), "ss:state", Initializing, 20*time.Second, false)
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()
	time.Sleep(50 * time.Millisecond)
	completeAll(t, c, []Instance{{"db", 1}, {"web", 1}, {"web", 2}, {"web", 3}}, Initializing)
	if v := <-got; v != Provisioning {
		t.Fatalf("woken with %q, want Provisioning", v)
	}
}

// TestWaitChange_setToSameValueKeepsWaiting: a set that writes the value
// the waiter already knows does not end the wait; a later different one
// does.
func TestWaitChange_setToSameValueKeepsWaiting(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	c.Set(bg(t), "lamp", inst("web", 1), "title", "a", false)
	got := make(chan string, 1)
	go func() {
		v, err := c.WaitChange(bg(t), "lamp", nil, "web.1:title", "a", 20*time.Second, false)
		if err != nil {
			v = err.Error()
		}
		got <- v
	}()
	time.Sleep(50 * time.Millisecond)
	c.Set(bg(t), "lamp", inst("web", 1), "title", "a", false)
	select {
	case v := <-got:
		t.Fatalf("woken by the same value: %q", v)
	case <-time.After(100 * time.Millisecond):
	}
	c.Set(bg(t), "lamp", inst("web", 1), "title", "b", false)
	if v := <-got; v != "b" {
		t.Fatalf("got %q, want b", v)
	}
}

// TestGet_abortBeforeSetWins: the value handed to waiters by a set never
// hides an abort committed before it.
func TestGet_abortBeforeSetWins(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(bg(t), "lamp", inst("web", 1), "db_password", 20*time.Second, false)
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Abort(bg(t), "lamp", inst("web", 3), "broken", false)
	c.Set(bg(t), "lamp", inst("db", 1), "password", "p", true)
	var ae *AbortError
	if err := <-errc; !errors.As(err, &ae) {
		t.Fatalf("got %v, want the abort", err)
	}
}

// TestScale_upAndDown: scaling a Ready run adds instances that get their
// inputs (mapped ones from values already published) and sends the run
// back to Provisioning with the scaling keys set; scaling down removes the
// instances' parameters and tokens.
func TestScale_upAndDown(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), map[string]string{"web.3": "h3"})
	all := []Instance{{"db", 1}, {"web", 1}, {"web", 2}, {"web", 3}}
	if _, err := c.Scale(bg(t), "lamp", "web", 5, nil); err != nil {
		t.Fatalf("scale in Initializing: %v", err)
	}
	if _, err := c.Scale(bg(t), "lamp", "web", 3, nil); err != nil {
		t.Fatalf("scale back in Initializing: %v", err)
	}
	completeAll(t, c, all, Initializing)
	if _, err := c.Scale(bg(t), "lamp", "web", 4, nil); !errors.Is(err, ErrState) {
		t.Fatalf("scale while Provisioning: %v, want ErrState", err)
	}
	completeAll(t, c, all, Provisioning)
	c.Set(bg(t), "lamp", inst("db", 1), "password", "s3cret", false)
	completeAll(t, c, all, Executing)
	completeAll(t, c, all, SendingReports)

	now, err := c.Scale(bg(t), "lamp", "web", 5, map[string]string{"web.4": "h4", "web.5": "h5"})
	if err != nil || now != Provisioning {
		t.Fatalf("scale up: %q %v", now, err)
	}
	for key, want := range map[string]string{
		"web.4:db_password": "s3cret", "web.5:title": "LAMP", "web:multiplicity": "5", "web:ids": "1,2,3,4,5",
		"ss:scaling.action": ScaleAdd, "ss:scaling.node": "web", "ss:scaling.vms": "web.4 web.5", "ss:scaling.generation": "1",
	} {
		if v, err := c.Get(bg(t), "lamp", nil, key, 0, false); err != nil || v != want {
			t.Errorf("%s = %q (%v), want %q", key, v, err, want)
		}
	}
	if rec, err := c.Token(bg(t), "lamp", "h5"); err != nil || rec.Instance.String() != "web.5" || rec.Kind != TokenBootstrap {
		t.Fatalf("new token: %v %v", rec, err)
	}
	all = append(all, Instance{"web", 4}, Instance{"web", 5})
	completeAll(t, c, all[:5], Provisioning)
	if r, _ := c.Status(bg(t), "lamp"); r.State != Provisioning {
		t.Fatalf("web.5 has not completed, yet the run is %s", r.State)
	}
	toReadyFrom(t, c, all, Provisioning)

	agent3 := hash('3')
	if _, err := c.Exchange(bg(t), "lamp", "h3", agent3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scale(bg(t), "lamp", "web", 2, nil); err != nil {
		t.Fatalf("scale down: %v", err)
	}
	if _, err := c.Token(bg(t), "lamp", agent3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed instance's agent token still works: %v", err)
	}
	if _, err := c.Get(bg(t), "lamp", nil, "web.3:title", 0, false); !errors.Is(err, ErrUnknown) {
		t.Fatalf("removed instance's parameter: %v, want ErrUnknown", err)
	}
	if _, err := c.InstanceForToken(bg(t), "lamp", "h3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed instance's token still works: %v", err)
	}
	if v, _ := c.Get(bg(t), "lamp", nil, "ss:scaling.vms", 0, false); v != "web.3 web.4 web.5" {
		t.Fatalf("scaling.vms = %q", v)
	}
	toReadyFrom(t, c, all[:3], Provisioning)
	if _, err := c.Scale(bg(t), "lamp", "nope", 2, nil); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown node: %v", err)
	}
}

func toReadyFrom(t *testing.T, c *Coordinator, all []Instance, from string) {
	t.Helper()
	for s := from; s != Ready; s = nextState[s] {
		completeAll(t, c, all, s)
	}
	if r, _ := c.Status(bg(t), "lamp"); r.State != Ready {
		t.Fatalf("run is %s, want Ready", r.State)
	}
}

// TestFinalize: finalizing a Ready run waits for every instance to
// complete Finalizing; a deployment without instances passes its barriers
// at once; finalizing twice is fine.
func TestFinalize(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	all := []Instance{{"db", 1}, {"web", 1}, {"web", 2}, {"web", 3}}
	toReady(t, c, all)
	if now, err := c.Finalize(bg(t), "lamp"); err != nil || now != Finalizing {
		t.Fatalf("finalize: %q %v", now, err)
	}
	if now := completeAll(t, c, all, Finalizing); now != Done {
		t.Fatalf("after every instance finalized: %s", now)
	}
	if now, err := c.Finalize(bg(t), "lamp"); err != nil || now != Done {
		t.Fatalf("finalize again: %q %v", now, err)
	}

	empty := Deployment{ID: "empty", Nodes: map[string]*Node{"web": {Multiplicity: 0}}}
	c.CreateDeployment(bg(t), empty, nil)
	if r, _ := c.Status(bg(t), "empty"); r.State != Ready {
		t.Fatalf("empty deployment is %s, want Ready", r.State)
	}
	if now, _ := c.Finalize(bg(t), "empty"); now != Done {
		t.Fatalf("empty deployment finalized: %s", now)
	}
	if _, err := c.Finalize(bg(t), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown deployment: %v", err)
	}
}

// TestFinalize_abortedRun: an aborted run can still be finalized, and its
// status carries the abort.
func TestFinalize_abortedRun(t *testing.T) {
	c := newCoordinator(t)
	d := lamp()
	d.KeepRunning = KeepAlways // on-success would finalize it at the abort
	c.CreateDeployment(bg(t), d, nil)
	c.Abort(bg(t), "lamp", inst("web", 2), "disk full", false)
	if r, _ := c.Status(bg(t), "lamp"); r.Abort != "web.2: disk full" || r.State != Initializing {
		t.Fatalf("status %+v", r)
	}
	if _, err := c.Scale(bg(t), "lamp", "web", 4, nil); err == nil {
		t.Fatal("scaled an aborted run")
	}
	if now, err := c.Finalize(bg(t), "lamp"); err != nil || now != Finalizing {
		t.Fatalf("finalize: %q %v", now, err)
	}
}

// TestCreate_scriptsValidated: unknown phases and package names that could
// smuggle options are refused.
func TestCreate_scriptsValidated(t *testing.T) {
	c := newCoordinator(t)
	d := lamp()
	d.Nodes["db"].Scripts = map[string][]string{"deploy": {"echo"}, "execute": {"echo"}}
	if err := c.CreateDeployment(bg(t), d, nil); err == nil {
		t.Fatal("unknown phase accepted")
	}
	d = lamp()
	d.Nodes["db"].Packages = []string{"mariadb-server", "--allow-unauthenticated"}
	if err := c.CreateDeployment(bg(t), d, nil); err == nil {
		t.Fatal("an option as a package name accepted")
	}
}

// TestWatch_closedWhenIdle: a deployment's store watch is closed once
// nobody has waited on it for a while, and a later get starts a new one.
func TestWatch_closedWhenIdle(t *testing.T) {
	idleWatch = 10 * time.Millisecond
	defer func() { idleWatch = 30 * time.Second }()
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	if _, err := c.Get(bg(t), "lamp", nil, "db.1:password", 20*time.Millisecond, false); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	watches := func() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.watches) }
	deadline := time.Now().Add(5 * time.Second)
	for watches() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle watch was never closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Set(bg(t), "lamp", inst("db", 1), "password", "p", false)
	}()
	if v, err := c.Get(bg(t), "lamp", nil, "db.1:password", 10*time.Second, false); err != nil || v != "p" {
		t.Fatalf("after the watch was closed: %q %v", v, err)
	}
}

// TestScale_inInitializingKeepsCompletions: instances that completed
// Initializing before a node was resized are not asked again, and removing
// the last instance that had not completed passes the barrier.
func TestScale_inInitializingKeepsCompletions(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	for _, in := range []Instance{{"db", 1}, {"web", 1}, {"web", 2}} {
		c.Complete(bg(t), "lamp", in, Initializing)
	}
	if now, _ := c.Scale(bg(t), "lamp", "web", 4, nil); now != Initializing {
		t.Fatalf("after growing: %s", now)
	}
	if now, _ := c.Complete(bg(t), "lamp", Instance{"web", 4}, Initializing); now != Initializing {
		t.Fatalf("web.3 has not completed, yet the run is %s", now)
	}
	// Removing web.3 and web.4 leaves db.1, web.1 and web.2, all done.
	if now, _ := c.Scale(bg(t), "lamp", "web", 2, nil); now != Provisioning {
		t.Fatalf("after shrinking to the instances that completed: %s, want Provisioning", now)
	}
}

// TestWaitChange_cancelledAbortWakes: an agent that reported an abort
// waits for it to change; cancelling it (ss-abort --cancel) must end that
// wait, not leave the agent parked until the run's state moves.
func TestWaitChange_cancelledAbortWakes(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	if err := c.Abort(bg(t), "lamp", inst("db", 1), "disk full", false); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		v, err := c.WaitChange(bg(t), "lamp", inst("web", 1), "ss:abort", "db.1: disk full", 10*time.Second, true)
		if err == nil && v != "" {
			err = errors.New("woke with " + v)
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it block
	if err := c.Abort(bg(t), "lamp", inst("db", 1), "", true); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("wait on the abort after it was cancelled: %v", err)
	}
}

// TestWaitRun: one wait follows both the run's state and its abort: it
// answers at once when the run already differs from what the caller saw,
// wakes on a state change, an abort and a cancelled abort, and times out
// with the run unchanged.
func TestWaitRun(t *testing.T) {
	c := newCoordinator(t)
	d := lamp()
	d.KeepRunning = "always" // an aborted run stays in its state: only the abort changes
	c.CreateDeployment(bg(t), d, nil)
	if r, err := c.WaitRun(bg(t), "lamp", Run{State: Ready}, time.Second); err != nil || r.State != Initializing {
		t.Fatalf("already different: %+v %v", r, err)
	}
	if r, err := c.WaitRun(bg(t), "lamp", Run{State: Initializing}, 50*time.Millisecond); !errors.Is(err, ErrTimeout) || r.State != Initializing {
		t.Fatalf("unchanged: %+v %v, want a timeout with the run as it is", r, err)
	}
	wake := func(seen Run, change func()) Run {
		t.Helper()
		got := make(chan Run, 1)
		go func() {
			r, err := c.WaitRun(bg(t), "lamp", seen, 10*time.Second)
			if err != nil {
				t.Errorf("wait from %+v: %v", seen, err)
			}
			got <- r
		}()
		time.Sleep(50 * time.Millisecond) // let it block
		change()
		return <-got
	}
	all := []Instance{{"db", 1}, {"web", 1}, {"web", 2}, {"web", 3}}
	if r := wake(Run{State: Initializing}, func() { completeAll(t, c, all, Initializing) }); r != (Run{State: Provisioning}) {
		t.Fatalf("after the barrier: %+v", r)
	}
	if r := wake(Run{State: Provisioning}, func() { c.Abort(bg(t), "lamp", inst("web", 2), "no disk", false) }); r != (Run{State: Provisioning, Abort: "web.2: no disk"}) {
		t.Fatalf("after the abort: %+v", r)
	}
	if r := wake(Run{State: Provisioning, Abort: "web.2: no disk"}, func() { c.Abort(bg(t), "lamp", inst("web", 2), "", true) }); r != (Run{State: Provisioning}) {
		t.Fatalf("after the abort was cancelled: %+v", r)
	}
	if _, err := c.WaitRun(bg(t), "nope", Run{}, time.Second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown deployment: %v", err)
	}
	// A deployment deleted while waited on ends the wait.
	got := make(chan error, 1)
	go func() {
		_, err := c.WaitRun(bg(t), "lamp", Run{State: Provisioning}, 10*time.Second)
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := c.DeleteDeployment(bg(t), "lamp"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted while waited on: %v", err)
	}
}

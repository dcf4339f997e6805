package coordinator

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

func newCoordinator(t *testing.T) *Coordinator {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := New(st, Options{MaxValue: 1024})
	t.Cleanup(func() { c.Close(); st.Close() })
	return c
}

func lamp() Deployment {
	return Deployment{ID: "lamp", Nodes: map[string]*Node{
		"db": {Multiplicity: 1, Params: map[string]Param{"password": {Output: true, Sensitive: true}, "port": {}},
			Inputs: map[string]string{"port": "3306"}},
		"web": {Multiplicity: 3, Params: map[string]Param{"db_password": {Sensitive: true}, "title": {}},
			Inputs: map[string]string{"title": "LAMP"}, Mappings: map[string]string{"db_password": "db:password"}},
	}}
}

func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func inst(node string, i int) *Instance { return &Instance{Node: node, Index: i} }

// TestLamp_mappingWakesBlockedGets: three web instances block on their
// mapped input; the database's set reaches all three.
func TestLamp_mappingWakesBlockedGets(t *testing.T) {
	c := newCoordinator(t)
	if err := c.CreateDeployment(bg(t), lamp(), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDeployment(bg(t), lamp(), nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if v, err := c.Get(bg(t), "lamp", inst("db", 1), "port", 0, false); err != nil || v != "3306" {
		t.Fatalf("input with a starting value: %q, %v", v, err)
	}
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, err := c.Get(bg(t), "lamp", inst("web", i), "db_password", 20*time.Second, false)
			if err != nil {
				t.Errorf("web.%d: %v", i, err)
			}
			got[i] = v
		}(i)
	}
	time.Sleep(50 * time.Millisecond) // let them block
	if err := c.Set(bg(t), "lamp", inst("db", 1), "password", "s3cret", false); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := 1; i <= 3; i++ {
		if got[i] != "s3cret" {
			t.Errorf("web.%d got %q", i, got[i])
		}
	}
	values, sensitive, err := c.Parameters(bg(t), "lamp")
	if err != nil {
		t.Fatal(err)
	}
	if values["web.2:db_password"] != "s3cret" || !sensitive["web.2:db_password"] || values["web:ids"] != "1,2,3" || values["ss:state"] != Initializing {
		t.Fatalf("parameters %v sensitive %v", values, sensitive)
	}
	// The qualified forms read the same values.
	if v, _ := c.Get(bg(t), "lamp", inst("web", 2), "db:password", 0, false); v != "s3cret" {
		t.Fatalf("db:password from web.2 = %q", v)
	}
}

func TestErrors(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"set another node's key", c.Set(bg(t), "lamp", inst("web", 1), "db:password", "x", false), ErrForbidden},
		{"set a sibling's key", c.Set(bg(t), "lamp", inst("web", 1), "web.2:title", "x", false), ErrForbidden},
		{"set a run-wide key", c.Set(bg(t), "lamp", nil, "ss:state", "Done", false), ErrForbidden},
		{"set complete directly", c.Set(bg(t), "lamp", inst("web", 1), "complete", "x", false), ErrForbidden},
		{"undeclared parameter", c.Set(bg(t), "lamp", inst("web", 1), "nope", "x", false), ErrUnknown},
		{"instance beyond multiplicity", c.Set(bg(t), "lamp", inst("web", 4), "title", "x", false), ErrUnknown},
		{"value too large", c.Set(bg(t), "lamp", inst("web", 1), "title", strings.Repeat("x", 2000), false), ErrTooLarge},
		{"no such deployment", c.Set(bg(t), "nope", inst("web", 1), "title", "x", false), ErrNotFound},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := c.Get(bg(t), "lamp", inst("web", 1), "db_password", 0, false); !errors.Is(err, ErrNotSet) {
		t.Errorf("noblock get of an unset key: %v", err)
	}
	if _, err := c.Get(bg(t), "lamp", inst("web", 1), "db_password", 100*time.Millisecond, false); !errors.Is(err, ErrTimeout) {
		t.Errorf("get with a timeout: %v", err)
	}
	var kerr *KeyError
	if err := c.Set(bg(t), "lamp", inst("web", 1), "db.x:y", "v", false); !errors.As(err, &kerr) {
		t.Errorf("malformed key: %v", err)
	}
	if err := c.CreateDeployment(bg(t), Deployment{ID: "bad", Nodes: map[string]*Node{
		"web": {Multiplicity: 1, Params: map[string]Param{"a": {}}, Mappings: map[string]string{"a": "ghost:x"}},
	}}, nil); err == nil || !strings.Contains(err.Error(), "names no node") {
		t.Errorf("mapping from a missing node: %v", err)
	}
}

// TestAbort_wakesEveryWaiter: one abort fails every blocked get at once;
// the first message wins; cancel clears it.
func TestAbort_wakesEveryWaiter(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	const waiters = 200
	errs := make(chan error, waiters)
	for i := 0; i < waiters; i++ {
		go func(i int) {
			_, err := c.Get(bg(t), "lamp", inst("web", 1+i%3), "db_password", 20*time.Second, false)
			errs <- err
		}(i)
	}
	time.Sleep(50 * time.Millisecond)
	if err := c.Abort(bg(t), "lamp", inst("db", 1), "disk full", false); err != nil {
		t.Fatal(err)
	}
	c.Abort(bg(t), "lamp", inst("web", 2), "second", false)
	for i := 0; i < waiters; i++ {
		var ab *AbortError
		if err := <-errs; !errors.As(err, &ab) || ab.Message != "db.1: disk full" {
			t.Fatalf("waiter got %v, want the first abort", err)
		}
	}
	if err := c.Set(bg(t), "lamp", inst("web", 1), "title", "x", false); err == nil {
		t.Fatal("set during abort succeeded")
	}
	if err := c.Set(bg(t), "lamp", inst("web", 1), "title", "x", true); err != nil {
		t.Fatalf("set with ignoreAbort: %v", err)
	}
	if err := c.Abort(bg(t), "lamp", inst("db", 1), "", true); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(bg(t), "lamp", inst("web", 1), "title", "y", false); err != nil {
		t.Fatalf("set after cancel: %v", err)
	}
}

// TestBarrier: the run moves on only when every instance completed the
// current state.
func TestBarrier(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	all := []Instance{{"db", 1}, {"web", 1}, {"web", 2}, {"web", 3}}
	for _, state := range []string{Initializing, Provisioning, Executing, SendingReports} {
		for i, in := range all {
			now, err := c.Complete(bg(t), "lamp", in, state)
			if err != nil {
				t.Fatalf("%s completes %s: %v", in, state, err)
			}
			if last := i == len(all)-1; (now == nextState[state]) != last {
				t.Fatalf("after %s completed %s the run is %s", in, state, now)
			}
		}
	}
	if _, err := c.Complete(bg(t), "lamp", Instance{"db", 1}, Ready); !errors.Is(err, ErrState) {
		t.Fatalf("completing Ready: %v", err)
	}
	if _, err := c.Complete(bg(t), "lamp", Instance{"db", 1}, Executing); !errors.Is(err, ErrState) {
		t.Fatalf("completing a past state: %v", err)
	}
}

// TestManyWaitersOneSet: a thousand blocked gets on one key are all woken
// by one set.
func TestManyWaitersOneSet(t *testing.T) {
	c := newCoordinator(t)
	c.CreateDeployment(bg(t), lamp(), nil)
	const n = 1000
	done := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			v, err := c.Get(bg(t), "lamp", nil, "db.1:password", 20*time.Second, false)
			if err != nil {
				v = err.Error()
			}
			done <- v
		}()
	}
	time.Sleep(100 * time.Millisecond)
	c.Set(bg(t), "lamp", inst("db", 1), "password", "p", false)
	for i := 0; i < n; i++ {
		if v := <-done; v != "p" {
			t.Fatalf("waiter got %q", v)
		}
	}
}

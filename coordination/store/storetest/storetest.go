// Package storetest is the conformance suite every store.Store passes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// Opener opens the store under test. Calling it again after the store was
// closed must reopen the same data (for the durability test).
type Opener func(t *testing.T) store.Store

// Factory returns a fresh Opener over empty storage for each subtest.
type Factory func(t *testing.T) Opener

// Run runs every conformance test.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"PutGetDelete", testPutGetDelete},
		{"ListIsSortedByKeyAndPrefix", testList},
		{"NamespacesAreIsolated", testNamespaces},
		{"FailedUpdateChangesNothing", testFailedUpdate},
		{"RevisionsIncrease", testRevisions},
		{"WatchReplaysThenFollows", testWatch},
		{"WatchEndsWithContext", testWatchCancel},
		{"ConcurrentUpdatesAreSerializable", testConcurrent},
		{"DataSurvivesReopen", testReopen},
		{"DeleteNamespace", testDeleteNamespace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, s store.Store, ns string, kv ...string) int64 {
	t.Helper()
	rev, err := s.Update(ctx(t), ns, func(tx store.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			tx.Put(kv[i], kv[i+1])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rev
}

func get(t *testing.T, s store.Store, ns, key string) (store.KV, bool) {
	t.Helper()
	var kv store.KV
	var ok bool
	if _, err := s.View(ctx(t), ns, func(tx store.Tx) error { kv, ok = tx.Get(key); return nil }); err != nil {
		t.Fatalf("View: %v", err)
	}
	return kv, ok
}

func testPutGetDelete(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	rev := put(t, s, "d1", "web.1:hostname", "10.0.0.2")
	kv, ok := get(t, s, "d1", "web.1:hostname")
	if !ok || kv.Value != "10.0.0.2" || kv.Rev != rev || rev <= 0 {
		t.Fatalf("Get = %+v %v, want value 10.0.0.2 at rev %d", kv, ok, rev)
	}
	if _, ok := get(t, s, "d1", "web.2:hostname"); ok {
		t.Fatal("Get of a missing key found it")
	}
	// Writes are visible to reads later in the same transaction.
	_, err := s.Update(ctx(t), "d1", func(tx store.Tx) error {
		tx.Put("a", "1")
		if kv, ok := tx.Get("a"); !ok || kv.Value != "1" {
			return fmt.Errorf("own write not visible: %+v %v", kv, ok)
		}
		tx.Delete("web.1:hostname")
		if _, ok := tx.Get("web.1:hostname"); ok {
			return errors.New("own delete not visible")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, s, "d1", "web.1:hostname"); ok {
		t.Fatal("deleted key still there")
	}
	// Writing in a read-only transaction is an error, not a silent no-op.
	if _, err := s.View(ctx(t), "d1", func(tx store.Tx) error { tx.Put("x", "y"); return nil }); err == nil {
		t.Fatal("Put inside View did not fail")
	}
	if _, ok := get(t, s, "d1", "x"); ok {
		t.Fatal("Put inside View wrote")
	}
	// Values are binary-safe and may be large.
	big := string(make([]byte, 1<<20)) + "end\x00\xff"
	put(t, s, "d1", "big", big)
	if kv, _ := get(t, s, "d1", "big"); kv.Value != big {
		t.Fatal("large value not stored intact")
	}
}

func testList(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	put(t, s, "d", "web.2:x", "b", "web.1:x", "a", "db.1:x", "c", "web.10:x", "d", "webby", "e")
	var got []string
	if _, err := s.View(ctx(t), "d", func(tx store.Tx) error {
		for _, kv := range tx.List("web.") {
			got = append(got, kv.Key+"="+kv.Value)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Sorted bytewise, as etcd and bbolt order keys: "web.10:" < "web.1:".
	want := []string{"web.10:x=d", "web.1:x=a", "web.2:x=b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List(web.) = %v, want %v", got, want)
	}
	var all int
	if _, err := s.View(ctx(t), "d", func(tx store.Tx) error { all = len(tx.List("")); return nil }); err != nil {
		t.Fatal(err)
	}
	if all != 5 {
		t.Fatalf("List(\"\") has %d keys, want 5", all)
	}
}

func testNamespaces(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	put(t, s, "alpha", "k", "1")
	put(t, s, "beta", "k", "2")
	if kv, _ := get(t, s, "alpha", "k"); kv.Value != "1" {
		t.Fatalf("alpha/k = %q", kv.Value)
	}
	if kv, _ := get(t, s, "beta", "k"); kv.Value != "2" {
		t.Fatalf("beta/k = %q", kv.Value)
	}
	// A namespace whose name is a prefix of another's is still separate.
	put(t, s, "alph", "k", "3")
	if kv, _ := get(t, s, "alpha", "k"); kv.Value != "1" {
		t.Fatal("namespaces alph and alpha overlap")
	}
	nss, err := s.Namespaces(ctx(t))
	if err != nil || fmt.Sprint(nss) != "[alph alpha beta]" {
		t.Fatalf("Namespaces = %v, %v", nss, err)
	}
}

func testFailedUpdate(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	put(t, s, "d", "a", "1")
	before, _ := s.Revision(ctx(t))
	boom := errors.New("boom")
	rev, err := s.Update(ctx(t), "d", func(tx store.Tx) error {
		tx.Put("a", "2")
		tx.Put("b", "x")
		return boom
	})
	if !errors.Is(err, boom) || rev != 0 {
		t.Fatalf("Update = %d, %v; want 0, boom", rev, err)
	}
	if kv, _ := get(t, s, "d", "a"); kv.Value != "1" {
		t.Fatal("a failed update changed a key")
	}
	if _, ok := get(t, s, "d", "b"); ok {
		t.Fatal("a failed update added a key")
	}
	if after, _ := s.Revision(ctx(t)); after != before {
		t.Fatalf("a failed update moved the revision %d -> %d", before, after)
	}
	// An update that writes nothing commits no revision.
	if rev, err := s.Update(ctx(t), "d", func(tx store.Tx) error { tx.Get("a"); return nil }); err != nil || rev != 0 {
		t.Fatalf("read-only Update = %d, %v", rev, err)
	}
}

func testRevisions(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	var last int64
	for i := 0; i < 20; i++ {
		rev := put(t, s, fmt.Sprintf("ns%d", i%3), "k", strconv.Itoa(i))
		if rev <= last {
			t.Fatalf("revision %d after %d", rev, last)
		}
		last = rev
	}
	if cur, _ := s.Revision(ctx(t)); cur != last {
		t.Fatalf("Revision = %d, want %d", cur, last)
	}
	viewRev, _ := s.View(ctx(t), "ns0", func(store.Tx) error { return nil })
	if viewRev < last {
		t.Fatalf("View at revision %d, older than the last commit %d", viewRev, last)
	}
}

func next(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	return store.Event{}
}

func testWatch(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	r1 := put(t, s, "d", "a", "1")
	put(t, s, "other", "x", "y")
	r2 := put(t, s, "d", "b", "2", "c", "3")
	ch, err := s.Watch(ctx(t), "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []store.Event{{Rev: r1, Key: "a", Value: "1"}, {Rev: r2, Key: "b", Value: "2"}, {Rev: r2, Key: "c", Value: "3"}} {
		if ev := next(t, ch); ev.Rev != want.Rev || ev.Key != want.Key || ev.Value != want.Value || ev.Err != nil {
			t.Fatalf("replayed %+v, want %+v", ev, want)
		}
	}
	// From a revision on, only later changes.
	from, err := s.Watch(ctx(t), "d", r1)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, from); ev.Rev != r2 {
		t.Fatalf("watch after %d started at %+v", r1, ev)
	}
	// Live changes, including deletes, in order.
	r3, _ := s.Update(ctx(t), "d", func(tx store.Tx) error { tx.Delete("a"); tx.Put("d", "4"); return nil })
	for _, c := range []<-chan store.Event{ch, from} {
		if ev := next(t, c); c == ch && (ev.Rev != r3 || ev.Key != "a" || !ev.Deleted) {
			t.Fatalf("live event %+v, want delete of a at %d", ev, r3)
		}
	}
	if ev := next(t, ch); ev.Key != "d" || ev.Value != "4" {
		t.Fatalf("live event %+v", ev)
	}
}

func testWatchCancel(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	c, cancel := context.WithCancel(context.Background())
	ch, err := s.Watch(c, "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed after its context ended")
		}
	}
}

// testConcurrent increments one counter from many goroutines: lost
// updates would show as a smaller total.
func testConcurrent(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	const workers, each = 50, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_, err := s.Update(context.Background(), "d", func(tx store.Tx) error {
					n := 0
					if kv, ok := tx.Get("counter"); ok {
						n, _ = strconv.Atoi(kv.Value)
					}
					tx.Put("counter", strconv.Itoa(n+1))
					tx.Put(fmt.Sprintf("w%d.%d", w, i), "x")
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if kv, _ := get(t, s, "d", "counter"); kv.Value != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", kv.Value, workers*each)
	}
}

func testReopen(t *testing.T, open Opener) {
	s := open(t)
	rev := put(t, s, "d", "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx(t), "d", func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Update after Close: %v, want ErrClosed", err)
	}
	s = open(t)
	defer s.Close()
	if kv, ok := get(t, s, "d", "k"); !ok || kv.Value != "v" || kv.Rev != rev {
		t.Fatalf("after reopen: %+v %v, want v at %d", kv, ok, rev)
	}
	if next := put(t, s, "d", "k2", "v2"); next <= rev {
		t.Fatalf("revision went back after reopen: %d <= %d", next, rev)
	}
}

func testDeleteNamespace(t *testing.T, open Opener) {
	s := open(t)
	defer s.Close()
	put(t, s, "d", "a", "1", "b", "2")
	put(t, s, "keep", "a", "1")
	ch, err := s.Watch(ctx(t), "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	next(t, ch)
	next(t, ch)
	rev, err := s.DeleteNamespace(ctx(t), "d")
	if err != nil || rev == 0 {
		t.Fatalf("DeleteNamespace = %d, %v", rev, err)
	}
	for i := 0; i < 2; i++ {
		if ev := next(t, ch); !ev.Deleted || ev.Rev != rev {
			t.Fatalf("event %+v, want a delete at %d", ev, rev)
		}
	}
	if _, ok := get(t, s, "d", "a"); ok {
		t.Fatal("key survived DeleteNamespace")
	}
	if nss, _ := s.Namespaces(ctx(t)); fmt.Sprint(nss) != "[keep]" {
		t.Fatalf("Namespaces = %v", nss)
	}
	if rev, err := s.DeleteNamespace(ctx(t), "never-used"); err != nil || rev != 0 {
		t.Fatalf("DeleteNamespace of an empty namespace = %d, %v; want 0", rev, err)
	}
}

package etcdstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore/etcdtest"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/storetest"
)

// newClient connects to the etcd at endpoint; the client is closed when the
// test ends, after any Store using it (cleanups run last-registered first).
func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:          []string{endpoint},
		DialTimeout:        10 * time.Second,
		MaxCallSendMsgSize: 8 << 20,
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestConformance runs the shared suite, each subtest on its own etcd so
// that store-wide revisions start afresh. Reopening creates a new client
// and Store on the same server, as a restarted replica would.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		endpoint := etcdtest.Start(t)
		return func(t *testing.T) store.Store {
			return etcdstore.New(newClient(t, endpoint), "/slipstream")
		}
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
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

// TestReplicasSeeEachOther is the reason this package exists: two
// coordinator replicas, each with its own client and Store on one etcd,
// learn about each other's writes through Watch, and their Updates stay
// serializable across replicas.
func TestReplicasSeeEachOther(t *testing.T) {
	endpoint := etcdtest.Start(t)
	a := etcdstore.New(newClient(t, endpoint), "/slipstream")
	defer a.Close()
	b := etcdstore.New(newClient(t, endpoint), "/slipstream")
	defer b.Close()

	chA, err := a.Watch(ctx(t), "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	chB, err := b.Watch(ctx(t), "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	revA, err := a.Update(ctx(t), "d", func(tx store.Tx) error { tx.Put("from", "a"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, chB); ev.Rev != revA || ev.Key != "from" || ev.Value != "a" {
		t.Fatalf("replica b saw %+v, want a's write at %d", ev, revA)
	}
	revB, err := b.Update(ctx(t), "d", func(tx store.Tx) error { tx.Delete("from"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, chA); ev.Rev != revA {
		t.Fatalf("replica a saw %+v first, want its own write at %d", ev, revA)
	}
	if ev := next(t, chA); ev.Rev != revB || ev.Key != "from" || !ev.Deleted {
		t.Fatalf("replica a saw %+v, want b's delete at %d", ev, revB)
	}

	// Interleave conflicting read-modify-writes on the two replicas: a's
	// fn reads the counter, then b commits an increment before a commits,
	// so a must detect the conflict and run again.
	runs := 0
	_, err = a.Update(ctx(t), "d", func(tx store.Tx) error {
		runs++
		n := len(tx.List("n."))
		if runs == 1 {
			if _, err := b.Update(ctx(t), "d", func(tx store.Tx) error { tx.Put("n.b", ""); return nil }); err != nil {
				return err
			}
		}
		tx.Put("count", string(rune('0'+n)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("a's fn ran %d times, want 2 (conflict on its List not detected)", runs)
	}
	var count string
	if _, err := b.View(ctx(t), "d", func(tx store.Tx) error { kv, _ := tx.Get("count"); count = kv.Value; return nil }); err != nil {
		t.Fatal(err)
	}
	if count != "1" {
		t.Fatalf("count = %q, want 1", count)
	}
}

// TestListConflictOnDelete checks the part of List's conflict detection a
// range compare cannot do: another replica deleting a listed key.
func TestListConflictOnDelete(t *testing.T) {
	endpoint := etcdtest.Start(t)
	a := etcdstore.New(newClient(t, endpoint), "p")
	defer a.Close()
	b := etcdstore.New(newClient(t, endpoint), "p")
	defer b.Close()
	if _, err := a.Update(ctx(t), "d", func(tx store.Tx) error { tx.Put("k.1", ""); tx.Put("k.2", ""); return nil }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	var seen int
	_, err := a.Update(ctx(t), "d", func(tx store.Tx) error {
		runs++
		seen = len(tx.List("k."))
		if runs == 1 {
			if _, err := b.Update(ctx(t), "d", func(tx store.Tx) error { tx.Delete("k.1"); return nil }); err != nil {
				return err
			}
		}
		tx.Put("seen", "")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || seen != 1 {
		t.Fatalf("fn ran %d times and last saw %d keys; want 2 runs, 1 key", runs, seen)
	}
}

// TestViewRejectsWrites checks that a write inside View is an error rather
// than silently dropped.
func TestViewRejectsWrites(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	if _, err := s.View(ctx(t), "d", func(tx store.Tx) error { tx.Put("k", "v"); return nil }); err == nil {
		t.Fatal("View with a Put succeeded")
	}
}

// TestCloseEndsWatch checks that Close ends watchers with ErrClosed and
// that a closed store refuses new calls.
func TestCloseEndsWatch(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	ch, err := s.Watch(ctx(t), "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if ev := next(t, ch); !errors.Is(ev.Err, store.ErrClosed) {
		t.Fatalf("event after Close = %+v, want ErrClosed", ev)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel still open after ErrClosed")
	}
	if _, err := s.Watch(ctx(t), "d", 0); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
}

// TestWatchCompacted checks that asking for compacted history yields
// ErrCompacted, telling the watcher to re-read and watch again.
func TestWatchCompacted(t *testing.T) {
	c := newClient(t, etcdtest.Start(t))
	s := etcdstore.New(c, "p")
	defer s.Close()
	var last int64
	for _, v := range []string{"1", "2", "3"} {
		rev, err := s.Update(ctx(t), "d", func(tx store.Tx) error { tx.Put("k", v); return nil })
		if err != nil {
			t.Fatal(err)
		}
		last = rev
	}
	if _, err := c.Compact(ctx(t), last); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx(t), "d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); !errors.Is(ev.Err, store.ErrCompacted) {
		t.Fatalf("event = %+v, want ErrCompacted", ev)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel still open after ErrCompacted")
	}
}

// TestOddNamespaceNames checks the escaping: names with the separator and
// the escape character stay distinct and round-trip through Namespaces.
func TestOddNamespaceNames(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	names := []string{"a/b", "a", "a%2Fb", "", "a/"}
	for i, ns := range names {
		if _, err := s.Update(ctx(t), ns, func(tx store.Tx) error { tx.Put("k", string(rune('0'+i))); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for i, ns := range names {
		var got string
		s.View(ctx(t), ns, func(tx store.Tx) error { kv, _ := tx.Get("k"); got = kv.Value; return nil })
		if got != string(rune('0'+i)) {
			t.Fatalf("namespace %q holds %q, want %q", ns, got, string(rune('0'+i)))
		}
	}
	got, err := s.Namespaces(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "a", "a%2Fb", "a/", "a/b"}
	if len(got) != len(want) {
		t.Fatalf("Namespaces = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Namespaces = %q, want %q", got, want)
		}
	}
}

// TestConcurrentReplicas increments one counter from several goroutines on
// each of several replicas. Within a replica Updates are queued, so the
// conformance suite's concurrency test never conflicts in etcd; across
// replicas they do, and only the Txn conditions prevent lost updates.
func TestConcurrentReplicas(t *testing.T) {
	endpoint := etcdtest.Start(t)
	const replicas, workers, each = 3, 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, replicas*workers)
	stores := make([]store.Store, replicas)
	for r := range stores {
		stores[r] = etcdstore.New(newClient(t, endpoint), "p")
		defer stores[r].Close()
	}
	for _, s := range stores {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					_, err := s.Update(context.Background(), "d", func(tx store.Tx) error {
						n := 0
						if kv, ok := tx.Get("counter"); ok {
							n, _ = strconv.Atoi(kv.Value)
						}
						tx.Put("counter", strconv.Itoa(n+1))
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var got string
	if _, err := stores[0].View(ctx(t), "d", func(tx store.Tx) error { kv, _ := tx.Get("counter"); got = kv.Value; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(replicas * workers * each); got != want {
		t.Fatalf("counter = %s, want %s", got, want)
	}
}

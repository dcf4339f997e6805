package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore/etcdtest"
)

// The tests of group commit. Those that need several Updates in one batch
// first make the namespace's runner busy with hold, queue the Updates
// (waiting until each is queued, so their order is known) and then release
// the runner, which takes them all into the blocker's batch. Nothing
// depends on timing: the waits below only guard against a hang.

type result struct {
	rev int64
	err error
}

func (r result) String() string { return fmt.Sprintf("(revision %d, error %v)", r.rev, r.err) }

// updateAsync runs s.Update in a goroutine.
func updateAsync(c context.Context, s *etcdstore.Store, ns string, fn func(store.Tx) error) <-chan result {
	ch := make(chan result, 1)
	go func() {
		rev, err := s.Update(c, ns, fn)
		ch <- result{rev, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("Update did not return within 30s")
	}
	return result{}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after 30s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitQueued(t *testing.T, s *etcdstore.Store, ns string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d queued Updates on %q", n, ns), func() bool { return etcdstore.Queued(s, ns) == n })
}

// waitIdle checks that the runners end and leave no queue behind once no
// Update is waiting.
func waitIdle(t *testing.T, s *etcdstore.Store) {
	t.Helper()
	done := make(chan struct{})
	go func() { etcdstore.WaitIdle(s); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a runner goroutine is still running 30s after the last Update returned")
	}
	if n := etcdstore.Queues(s); n != 0 {
		t.Fatalf("%d namespace queues left behind", n)
	}
}

// hold makes ns's runner busy: it starts an Update with ctx c whose
// function runs work and then, on its first run only, blocks until release
// is called. hold returns once that function is blocked.
func hold(t *testing.T, c context.Context, s *etcdstore.Store, ns string, work func(store.Tx) error) (release func(), done <-chan result) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	done = updateAsync(c, s, ns, func(tx store.Tx) error {
		err := work(tx)
		select {
		case <-started: // run again: do not block
		default:
			close(started)
			<-gate
		}
		return err
	})
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("blocking Update ended early: %v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("blocking Update's function did not start within 30s")
	}
	return release, done
}

func put(key, value string) func(store.Tx) error {
	return func(tx store.Tx) error { tx.Put(key, value); return nil }
}

func incr(tx store.Tx) error {
	n := 0
	if kv, ok := tx.Get("counter"); ok {
		n, _ = strconv.Atoi(kv.Value)
	}
	tx.Put("counter", strconv.Itoa(n+1))
	return nil
}

func view(t *testing.T, s store.Store, ns, key string) (store.KV, bool) {
	t.Helper()
	var kv store.KV
	var ok bool
	if _, err := s.View(ctx(t), ns, func(tx store.Tx) error { kv, ok = tx.Get(key); return nil }); err != nil {
		t.Fatal(err)
	}
	return kv, ok
}

// TestUpdate_batchesConcurrentWriters increments one counter from 500
// goroutines at once: none is lost, and they share few etcd Txns.
func TestUpdate_batchesConcurrentWriters(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	const n = 500
	start := make(chan struct{})
	revs := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			revs[i], errs[i] = s.Update(context.Background(), "d", incr)
		}()
	}
	close(start)
	wg.Wait()
	distinct := map[int64]bool{}
	var last int64
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Update %d: %v", i, errs[i])
		}
		if revs[i] <= 0 {
			t.Fatalf("Update %d returned revision %d", i, revs[i])
		}
		distinct[revs[i]] = true
		last = max(last, revs[i])
	}
	kv, _ := view(t, s, "d", "counter")
	if kv.Value != strconv.Itoa(n) || kv.Rev != last {
		t.Fatalf("counter = %q at %d, want %d at %d", kv.Value, kv.Rev, n, last)
	}
	txns := etcdstore.Txns(s)
	t.Logf("%d Updates, %d Txns, %d revisions", n, txns, len(distinct))
	// Each Txn is a round trip and an fsync; the first batch may hold a
	// single Update, every later one all those queued meanwhile. One Txn
	// in five Updates is already far more than that.
	if txns > n/5 {
		t.Fatalf("%d Updates took %d etcd Txns: not batched", n, txns)
	}
	if int64(len(distinct)) > txns {
		t.Fatalf("%d distinct revisions from %d Txns", len(distinct), txns)
	}
	waitIdle(t, s)
}

// TestUpdate_batchesAcrossReplicas increments one counter from two Stores
// on one etcd, each batching its own Updates. Both batches read the
// counter before either commits, so one of them must conflict and run
// again; the total is still exact.
func TestUpdate_batchesAcrossReplicas(t *testing.T) {
	endpoint := etcdtest.Start(t)
	a := etcdstore.New(newClient(t, endpoint), "p")
	defer a.Close()
	b := etcdstore.New(newClient(t, endpoint), "p")
	defer b.Close()
	const each = 250
	relA, doneA := hold(t, context.Background(), a, "d", incr)
	relB, doneB := hold(t, context.Background(), b, "d", incr)
	var chs []<-chan result
	for _, s := range []*etcdstore.Store{a, b} {
		for range each {
			chs = append(chs, updateAsync(context.Background(), s, "d", incr))
		}
		waitQueued(t, s, "d", each)
	}
	relA()
	relB()
	for _, ch := range append(chs, doneA, doneB) {
		if r := wait(t, ch); r.err != nil || r.rev <= 0 {
			t.Fatalf("Update = %v", r)
		}
	}
	kv, _ := view(t, a, "d", "counter")
	if want := strconv.Itoa(2*each + 2); kv.Value != want {
		t.Fatalf("counter = %s, want %s", kv.Value, want)
	}
	conflicts := etcdstore.Conflicts(a) + etcdstore.Conflicts(b)
	t.Logf("Txns %d + %d, conflicts %d", etcdstore.Txns(a), etcdstore.Txns(b), conflicts)
	if conflicts == 0 {
		t.Fatal("two batches that read the counter at one revision both committed without a conflict")
	}
	waitIdle(t, a)
	waitIdle(t, b)
}

// TestUpdate_failedFunctionInBatch checks a batch's isolation: a function
// that fails has none of its writes committed and is invisible to the
// functions after it, which see the earlier functions' writes (not yet
// committed, so at revision 0); all commit in one Txn at one revision.
func TestUpdate_failedFunctionInBatch(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	before := etcdstore.Txns(s)
	release, held := hold(t, context.Background(), s, "d", put("hold", "1"))
	boom := errors.New("boom")
	var sawA2, sawA3, sawB3 store.KV
	var okA2, okA3, okB3 bool
	fns := []func(store.Tx) error{
		put("a", "1"),
		func(tx store.Tx) error {
			sawA2, okA2 = tx.Get("a")
			tx.Put("b", "2")
			tx.Put("a", "overwritten by a failed function")
			return boom
		},
		func(tx store.Tx) error {
			sawA3, okA3 = tx.Get("a")
			sawB3, okB3 = tx.Get("b")
			tx.Put("c", "3")
			return nil
		},
	}
	var chs []<-chan result
	for i, fn := range fns {
		chs = append(chs, updateAsync(context.Background(), s, "d", fn))
		waitQueued(t, s, "d", i+1)
	}
	release()
	hr := wait(t, held)
	r1, r2, r3 := wait(t, chs[0]), wait(t, chs[1]), wait(t, chs[2])
	if hr.err != nil || r1.err != nil || r3.err != nil || hr.rev <= 0 || r1.rev != hr.rev || r3.rev != hr.rev {
		t.Fatalf("results %v %v %v, want one shared revision", hr, r1, r3)
	}
	if !errors.Is(r2.err, boom) || r2.rev != 0 {
		t.Fatalf("failed function's Update = %v, want 0, boom", r2)
	}
	if n := etcdstore.Txns(s) - before; n != 1 {
		t.Fatalf("the batch took %d Txns, want 1", n)
	}
	if !okA2 || sawA2.Value != "1" || sawA2.Rev != 0 {
		t.Fatalf("second function read a = %+v %v, want the first's write at revision 0", sawA2, okA2)
	}
	if !okA3 || sawA3.Value != "1" || sawA3.Rev != 0 {
		t.Fatalf("third function read a = %+v %v, want the first's write at revision 0", sawA3, okA3)
	}
	if okB3 {
		t.Fatalf("third function read the failed function's write: %+v", sawB3)
	}
	for key, want := range map[string]string{"hold": "1", "a": "1", "c": "3"} {
		if kv, ok := view(t, s, "d", key); !ok || kv.Value != want || kv.Rev != hr.rev {
			t.Fatalf("%s = %+v %v, want %q at %d", key, kv, ok, want, hr.rev)
		}
	}
	if kv, ok := view(t, s, "d", "b"); ok {
		t.Fatalf("the failed function's write was committed: %+v", kv)
	}
	waitIdle(t, s)
}

// TestUpdate_failedFunctionReadsAreChecked checks that a failed function's
// reads are among the batch's conditions, so that its answer holds at the
// commit: another replica changes the only key it read before the batch
// commits, and the whole batch runs again. It also checks that a function
// run again starts afresh, without its earlier run's writes.
func TestUpdate_failedFunctionReadsAreChecked(t *testing.T) {
	endpoint := etcdtest.Start(t)
	a := etcdstore.New(newClient(t, endpoint), "p")
	defer a.Close()
	b := etcdstore.New(newClient(t, endpoint), "p")
	defer b.Close()
	release, held := hold(t, context.Background(), a, "d", put("hold", "1"))
	boom := errors.New("x is not set")
	failRuns, lastRuns := 0, 0
	stale := false
	failed := updateAsync(context.Background(), a, "d", func(tx store.Tx) error {
		failRuns++
		if _, ok := tx.Get("x"); !ok {
			return boom
		}
		return nil
	})
	waitQueued(t, a, "d", 1)
	last := updateAsync(context.Background(), a, "d", func(tx store.Tx) error {
		lastRuns++
		if _, ok := tx.Get("y"); ok {
			stale = true
		}
		if lastRuns == 1 {
			// The other replica sets x while this batch is open.
			if _, err := b.Update(context.Background(), "d", put("x", "1")); err != nil {
				return err
			}
		}
		tx.Put("y", strconv.Itoa(lastRuns))
		return nil
	})
	waitQueued(t, a, "d", 2)
	release()
	if r := wait(t, held); r.err != nil {
		t.Fatal(r.err)
	}
	if r := wait(t, last); r.err != nil {
		t.Fatal(r.err)
	}
	r := wait(t, failed)
	if failRuns != 2 || lastRuns != 2 {
		t.Fatalf("functions ran %d and %d times, want 2 each: the failed function's read of x was not checked", failRuns, lastRuns)
	}
	if r.err != nil {
		t.Fatalf("run again after x was set, the function still failed: %v", r.err)
	}
	if stale {
		t.Fatal("a function run again saw its earlier run's write")
	}
	if n := etcdstore.Conflicts(a); n != 1 {
		t.Fatalf("%d conflicts, want 1", n)
	}
	if kv, _ := view(t, a, "d", "y"); kv.Value != "2" {
		t.Fatalf("y = %q, want the second run's 2", kv.Value)
	}
}

// defaultLimits restores etcd's default request limits, which
// etcdtest.Start raises for the size of a request.
func defaultLimits(cfg *embed.Config) {
	cfg.MaxTxnOps = embed.DefaultMaxTxnOps
	cfg.MaxRequestBytes = embed.DefaultMaxRequestBytes
}

// queueWrites holds ns's runner, queues n Updates each putting key<i> to
// value, releases the runner and returns every result (the blocker's,
// which puts "hold", last).
func queueWrites(t *testing.T, s *etcdstore.Store, ns string, n int, value string) []result {
	t.Helper()
	release, held := hold(t, context.Background(), s, ns, put("hold", "1"))
	var chs []<-chan result
	for i := range n {
		chs = append(chs, updateAsync(context.Background(), s, ns, put(fmt.Sprint("key", i), value)))
	}
	waitQueued(t, s, ns, n)
	release()
	var out []result
	for _, ch := range append(chs, held) {
		r := wait(t, ch)
		if r.err != nil || r.rev <= 0 {
			t.Fatalf("Update = %v", r)
		}
		out = append(out, r)
	}
	return out
}

// perCommit counts the Updates committed at each revision.
func perCommit(results []result) map[int64]int {
	n := map[int64]int{}
	for _, r := range results {
		n[r.rev]++
	}
	return n
}

// TestUpdate_splitsBatchesAtTxnOpsLimit queues 300 Updates writing
// distinct keys on an etcd with the default --max-txn-ops of 128: they
// cannot share one Txn, and must be split into batches before etcd sees
// them, none refused.
func TestUpdate_splitsBatchesAtTxnOpsLimit(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.StartConfig(t, defaultLimits)), "p")
	defer s.Close()
	const n = 300
	before := etcdstore.Txns(s)
	commits := perCommit(queueWrites(t, s, "d", n, "v"))
	for rev, keys := range commits {
		if keys > 128 {
			t.Fatalf("%d keys committed at revision %d, over etcd's limit", keys, rev)
		}
	}
	var keys int
	if _, err := s.View(ctx(t), "d", func(tx store.Tx) error { keys = len(tx.List("key")); return nil }); err != nil {
		t.Fatal(err)
	}
	txns := etcdstore.Txns(s) - before
	t.Logf("%d Txns, %d commits: %v", txns, len(commits), commits)
	if keys != n {
		t.Fatalf("%d keys stored, want %d", keys, n)
	}
	if r := etcdstore.Refused(s); r != 0 {
		t.Fatalf("etcd refused %d batches: the batches were not kept under its limits", r)
	}
	if txns < 3 || txns > 10 {
		t.Fatalf("%d Updates took %d Txns, want a few (3 at 128 keys each)", n+1, txns)
	}
	waitIdle(t, s)
}

// TestUpdate_splitsBatchesAtRequestBytes queues Updates whose values add
// up to more than etcd's default --max-request-bytes of 1.5 MiB.
func TestUpdate_splitsBatchesAtRequestBytes(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.StartConfig(t, defaultLimits)), "p")
	defer s.Close()
	const n = 12
	value := strings.Repeat("v", 200<<10)
	before := etcdstore.Txns(s)
	// The blocker's tiny write is last; count the values only.
	commits := perCommit(queueWrites(t, s, "d", n, value)[:n])
	for rev, keys := range commits {
		if keys*len(value) > 1<<20 {
			t.Fatalf("%d values of %d bytes committed at revision %d", keys, len(value), rev)
		}
	}
	for i := range n {
		if kv, ok := view(t, s, "d", fmt.Sprint("key", i)); !ok || kv.Value != value {
			t.Fatalf("key%d not stored intact", i)
		}
	}
	if r := etcdstore.Refused(s); r != 0 {
		t.Fatalf("etcd refused %d batches as too large", r)
	}
	if txns := etcdstore.Txns(s) - before; txns < 3 {
		t.Fatalf("%d Txns for 2.4 MB of values, want at least 3", txns)
	}
}

// TestUpdate_splitsWhenServerRefuses runs against an etcd whose
// --max-txn-ops is below the default: batches it refuses are split until
// they fit, and every Update still succeeds.
func TestUpdate_splitsWhenServerRefuses(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.StartConfig(t, func(cfg *embed.Config) { cfg.MaxTxnOps = 16 })), "p")
	defer s.Close()
	const n = 100
	commits := perCommit(queueWrites(t, s, "d", n, "v"))
	for rev, keys := range commits {
		if keys > 16 {
			t.Fatalf("%d keys committed at revision %d, over the server's limit", keys, rev)
		}
	}
	if etcdstore.Refused(s) == 0 {
		t.Fatal("no batch refused: the test did not exercise the split")
	}
	// A single Update over the server's limit still fails as it would
	// without batching.
	_, err := s.Update(ctx(t), "d", func(tx store.Tx) error {
		for i := range 17 {
			tx.Put(fmt.Sprint("big", i), "v")
		}
		return nil
	})
	if err == nil {
		t.Fatal("an Update of 17 keys succeeded on a server allowing 16")
	}
	// The error says what the Update needed and which limits to raise,
	// and still wraps etcd's own.
	if msg := err.Error(); !strings.Contains(msg, "17 writes") || !strings.Contains(msg, "--max-txn-ops") || !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("the refusal of a single Update: %v", err)
	}
	waitIdle(t, s)
}

// TestUpdate_cancelWhileQueued checks that a caller whose ctx ends while
// its Update waits in the queue gets ctx's error, and that its function
// never runs.
func TestUpdate_cancelWhileQueued(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	release, held := hold(t, context.Background(), s, "d", put("hold", "1"))
	c, cancel := context.WithCancel(context.Background())
	ran := false
	gone := updateAsync(c, s, "d", func(tx store.Tx) error { ran = true; tx.Put("gone", "1"); return nil })
	waitQueued(t, s, "d", 1)
	cancel()
	if r := wait(t, gone); !errors.Is(r.err, context.Canceled) || r.rev != 0 {
		t.Fatalf("cancelled Update = %+v, want context.Canceled", r)
	}
	if n := etcdstore.Queued(s, "d"); n != 0 {
		t.Fatalf("%d Updates still queued after the only one left", n)
	}
	release()
	if r := wait(t, held); r.err != nil {
		t.Fatal(r.err)
	}
	waitIdle(t, s)
	if ran {
		t.Fatal("the cancelled Update's function ran")
	}
	if _, ok := view(t, s, "d", "gone"); ok {
		t.Fatal("the cancelled Update's write was committed")
	}
}

// TestUpdate_callerLeavingMidBatch checks that a caller giving up once its
// function is in a batch does not fail the batch for the others: their
// Txn does not run on the leaving caller's ctx.
func TestUpdate_callerLeavingMidBatch(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	release1, left := hold(t, c, s, "d", put("first", "1"))
	started, gate := make(chan struct{}, 1), make(chan struct{})
	other := updateAsync(context.Background(), s, "d", func(tx store.Tx) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
		tx.Put("second", "2")
		return nil
	})
	waitQueued(t, s, "d", 1)
	release1()
	<-started // both are in the batch now
	cancel()
	if r := wait(t, left); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("the leaving caller got %+v, want context.Canceled", r)
	}
	close(gate)
	r := wait(t, other)
	if r.err != nil || r.rev <= 0 {
		t.Fatalf("the remaining caller got %v", r)
	}
	if kv, ok := view(t, s, "d", "second"); !ok || kv.Rev != r.rev {
		t.Fatalf("second = %+v %v, want it at %d", kv, ok, r.rev)
	}
	waitIdle(t, s)
}

// TestUpdate_runnersEndWhenIdle checks that the per-namespace runners and
// queues go away once their Updates are done, including after callers
// left and after every caller of a batch left.
func TestUpdate_runnersEndWhenIdle(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%7 == 0 {
				cancel() // some callers give up at once
			}
			if _, err := s.Update(c, fmt.Sprint("ns", i%5), incr); err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitIdle(t, s)

	// The only caller of a batch leaves while its function runs: the
	// batch gives up, writes nothing, and its runner ends.
	c, cancel := context.WithCancel(context.Background())
	release, held := hold(t, c, s, "alone", put("k", "v"))
	cancel()
	if r := wait(t, held); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Update = %+v, want context.Canceled", r)
	}
	release()
	waitIdle(t, s)
	if _, ok := view(t, s, "alone", "k"); ok {
		t.Fatal("a batch whose every caller left still committed")
	}
}

// TestUpdate_closeEndsQueued checks that Close ends the Updates waiting in
// a queue and the batch running with ErrClosed, without committing them,
// and that the runner then ends.
func TestUpdate_closeEndsQueued(t *testing.T) {
	endpoint := etcdtest.Start(t)
	s := etcdstore.New(newClient(t, endpoint), "p")
	release, held := hold(t, context.Background(), s, "d", put("hold", "1"))
	var chs []<-chan result
	for i := range 5 {
		chs = append(chs, updateAsync(context.Background(), s, "d", put(fmt.Sprint("key", i), "v")))
	}
	waitQueued(t, s, "d", 5)
	s.Close()
	for _, ch := range append(chs, held) {
		if r := wait(t, ch); !errors.Is(r.err, store.ErrClosed) {
			t.Fatalf("Update = %+v, want ErrClosed", r)
		}
	}
	release()
	waitIdle(t, s)
	if _, err := s.Update(ctx(t), "d", put("late", "1")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
	other := etcdstore.New(newClient(t, endpoint), "p")
	defer other.Close()
	if nss, err := other.Namespaces(ctx(t)); err != nil || len(nss) != 0 {
		t.Fatalf("after Close: namespaces %v, %v; want none written", nss, err)
	}
}

// TestUpdate_panicReachesCaller checks that a function's panic is raised
// in its caller's goroutine, not the runner's, and spares the batch.
func TestUpdate_panicReachesCaller(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	release, held := hold(t, context.Background(), s, "d", put("hold", "1"))
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		s.Update(context.Background(), "d", func(tx store.Tx) error {
			tx.Put("panicked", "1")
			panic("boom")
		})
	}()
	waitQueued(t, s, "d", 1)
	ok := updateAsync(context.Background(), s, "d", put("fine", "1"))
	waitQueued(t, s, "d", 2)
	release()
	select {
	case v := <-recovered:
		if v != "boom" {
			t.Fatalf("caller recovered %v, want boom", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the panicking Update did not return")
	}
	if r := wait(t, ok); r.err != nil || r.rev <= 0 {
		t.Fatalf("Update beside the panic = %v", r)
	}
	if r := wait(t, held); r.err != nil {
		t.Fatal(r.err)
	}
	if _, ok := view(t, s, "d", "panicked"); ok {
		t.Fatal("the panicking function's write was committed")
	}
	if _, err := s.Update(ctx(t), "d", put("after", "1")); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s)
}

// TestUpdate_goexitInFunction checks that a function ending its goroutine
// (t.FailNow in a test, say) fails its Update, while the others of its
// batch and those queued still commit, rather than leaving the namespace
// without a runner.
func TestUpdate_goexitInFunction(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	release, held := hold(t, context.Background(), s, "d", put("hold", "1"))
	exits := updateAsync(context.Background(), s, "d", func(store.Tx) error { runtime.Goexit(); return nil })
	waitQueued(t, s, "d", 1)
	next := updateAsync(context.Background(), s, "d", put("next", "1"))
	waitQueued(t, s, "d", 2)
	release()
	if r := wait(t, exits); r.err == nil || !strings.Contains(r.err.Error(), "Goexit") {
		t.Fatalf("Update = %+v, want an error about Goexit", r)
	}
	if r := wait(t, held); r.err != nil || r.rev <= 0 {
		t.Fatalf("Update batched with the exiting one = %v", r)
	}
	if _, ok := view(t, s, "d", "hold"); !ok {
		t.Fatal("the write of the Update batched with the exiting one is missing")
	}
	if r := wait(t, next); r.err != nil || r.rev <= 0 {
		t.Fatalf("Update queued behind = %v", r)
	}
	if _, err := s.Update(ctx(t), "d", put("after", "1")); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s)
}

// TestUpdate_revisionsOfDeletesInBatch checks the revision each caller of
// a batch gets when its function only deletes: the commit's when a key it
// deleted existed just before it ran (in etcd or written by an earlier
// function of the batch), 0 when it changed nothing.
func TestUpdate_revisionsOfDeletesInBatch(t *testing.T) {
	s := etcdstore.New(newClient(t, etcdtest.Start(t)), "p")
	defer s.Close()
	if _, err := s.Update(ctx(t), "d", func(tx store.Tx) error {
		tx.Put("present", "1")
		tx.Put("k3", "1")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	del := func(key string) func(store.Tx) error {
		return func(tx store.Tx) error { tx.Delete(key); return nil }
	}
	release, held := hold(t, context.Background(), s, "d", put("hold", "1"))
	steps := []struct {
		name    string
		fn      func(store.Tx) error
		changed bool
	}{
		{"delete absent", del("absent"), false},
		{"delete present", del("present"), true},
		{"put x", put("x", "1"), true},
		{"delete x put before", del("x"), true},
		{"delete absent k2, put after", del("k2"), false},
		{"put k2", put("k2", "1"), true},
		{"delete present k3, put after", del("k3"), true},
		{"put k3", put("k3", "2"), true},
		{"read only", func(tx store.Tx) error { tx.Get("k3"); return nil }, false},
	}
	var chs []<-chan result
	for i, st := range steps {
		chs = append(chs, updateAsync(context.Background(), s, "d", st.fn))
		waitQueued(t, s, "d", i+1)
	}
	release()
	hr := wait(t, held)
	if hr.err != nil || hr.rev <= 0 {
		t.Fatalf("blocker = %v", hr)
	}
	for i, st := range steps {
		r := wait(t, chs[i])
		want := int64(0)
		if st.changed {
			want = hr.rev
		}
		if r.err != nil || r.rev != want {
			t.Errorf("%s: Update = %+v, want revision %d", st.name, r, want)
		}
	}

	// A batch that only deletes keys that do not exist commits nothing.
	before, err := s.Revision(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	release, held = hold(t, context.Background(), s, "d", del("nope0"))
	chs = nil
	for i := 1; i <= 3; i++ {
		chs = append(chs, updateAsync(context.Background(), s, "d", del(fmt.Sprint("nope", i))))
		waitQueued(t, s, "d", i)
	}
	release()
	for _, ch := range append(chs, held) {
		if r := wait(t, ch); r.err != nil || r.rev != 0 {
			t.Fatalf("deleting an absent key = %+v, want 0", r)
		}
	}
	if after, _ := s.Revision(ctx(t)); after != before {
		t.Fatalf("deleting absent keys moved the revision %d -> %d", before, after)
	}
}

// TestUpdate_rerunsOnCompactedSnapshot compacts etcd past the batch's
// snapshot while its function runs: the read that follows fails, and the
// batch runs again on a new snapshot instead of failing.
func TestUpdate_rerunsOnCompactedSnapshot(t *testing.T) {
	endpoint := etcdtest.Start(t)
	c := newClient(t, endpoint)
	s := etcdstore.New(newClient(t, endpoint), "p")
	defer s.Close()
	if _, err := s.Update(ctx(t), "d", put("a", "1")); err != nil {
		t.Fatal(err)
	}
	runs := 0
	rev, err := s.Update(ctx(t), "d", func(tx store.Tx) error {
		runs++
		a, _ := tx.Get("a") // fixes the snapshot
		if runs == 1 {
			resp, err := c.Put(ctx(t), "elsewhere", "x")
			if err != nil {
				return err
			}
			if _, err := c.Compact(ctx(t), resp.Header.Revision); err != nil {
				return err
			}
		}
		b, _ := tx.Get("b")
		tx.Put("c", a.Value+b.Value+"!")
		return nil
	})
	if err != nil || rev <= 0 {
		t.Fatalf("Update = %d, %v", rev, err)
	}
	if runs != 2 {
		t.Fatalf("function ran %d times, want 2", runs)
	}
	if kv, _ := view(t, s, "d", "c"); kv.Value != "1!" {
		t.Fatalf("c = %q, want 1!", kv.Value)
	}
}

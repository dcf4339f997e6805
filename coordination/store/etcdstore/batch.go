package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// etcd's default bounds on one transaction, which a batch stays within so
// that combining Updates never makes etcd refuse what it would accept one
// by one.
const (
	// maxTxnOps is etcd's default --max-txn-ops. It bounds the compares
	// and the operations of a Txn separately.
	maxTxnOps = 128
	// maxBatchBytes bounds the keys and values of a batch's Txn, well
	// under etcd's default --max-request-bytes of 1.5 MiB, leaving room for
	// the request's framing.
	maxBatchBytes = 1 << 20
	// maxBatchUpdates bounds the functions of one batch, so that a stream
	// of Updates touching the same few keys (which never reach the limits
	// above) still commits at regular intervals instead of growing one
	// batch for as long as it lasts.
	maxBatchUpdates = 1024
)

// errGoexit is returned to an Update whose function called
// runtime.Goexit (t.FailNow in a test, say), which ends the runner
// goroutine.
var errGoexit = errors.New("etcdstore: the Update function called runtime.Goexit")

// queue holds one namespace's Updates that wait for its runner. It exists,
// and its runner goroutine with it, only while there are Updates to run.
type queue struct {
	ns      string
	pending []*update // guarded by Store.mu; in arrival order
}

// update is one Update call, waiting in a queue or taken into a batch.
type update struct {
	fn func(store.Tx) error

	// done is closed when the outcome below is set.
	done     chan struct{}
	rev      int64
	err      error
	panicked bool
	panicVal any

	q *queue // set by enqueue
	// Guarded by Store.mu.
	batch *batch // the batch that took it; nil while queued
	left  bool   // the caller stopped waiting
}

func (u *update) finish(rev int64, err error) {
	u.rev, u.err = rev, err
	close(u.done)
}

// batch is the Updates a runner took to commit together. It lasts until
// they have their outcomes, over as many attempts as conflicts require.
type batch struct {
	members []*update // in the order their functions run
	// cancel ends the batch's etcd requests once no member's caller waits
	// any more, so that a runner stuck on an unreachable etcd still goes
	// away with its callers.
	cancel context.CancelFunc
	live   int  // members whose callers still wait; guarded by Store.mu
	over   bool // set when live reaches 0: take no more members
}

// enqueue adds u to ns's queue, starting the queue's runner if it has
// none.
func (s *Store) enqueue(ns string, u *update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	q := s.queues[ns]
	if q == nil {
		q = &queue{ns: ns}
		s.queues[ns] = q
		s.runners.Add(1)
		go s.runQueue(q)
	}
	u.q = q
	q.pending = append(q.pending, u)
	return nil
}

// leave is called when u's caller stops waiting. Still queued, u is
// removed and its function never runs; taken into a batch, it stays there
// (its writes may or may not commit, as with any Update whose caller gives
// up), but the batch stops working for nobody once its last caller leaves.
func (s *Store) leave(u *update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.left = true
	if b := u.batch; b != nil {
		if b.live--; b.live == 0 {
			b.over = true
			b.cancel()
		}
		return
	}
	if i := slices.Index(u.q.pending, u); i >= 0 {
		u.q.pending = slices.Delete(u.q.pending, i, i+1)
	}
}

// take moves the first queued update into b, or returns nil.
func (s *Store) take(q *queue, b *batch) *update {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(q.pending) == 0 || b.over || s.closed {
		return nil
	}
	u := q.pending[0]
	q.pending[0] = nil
	q.pending = q.pending[1:]
	u.batch = b
	b.live++
	b.members = append(b.members, u)
	return u
}

// putBack returns b's members from i on to the front of the queue, in
// order, for the next batch. Callers that left meanwhile are dropped.
func (s *Store) putBack(q *queue, b *batch, i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var back []*update
	for _, u := range b.members[i:] {
		if u.left {
			continue
		}
		u.batch = nil
		b.live--
		back = append(back, u)
	}
	q.pending = append(back, q.pending...)
	clear(b.members[i:])
	b.members = b.members[:i]
}

// runQueue is the runner of one namespace: it commits batches of the
// queue's Updates, one after the other, and ends (dropping the queue) as
// soon as none is waiting.
func (s *Store) runQueue(q *queue) {
	normal := false
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !normal && len(q.pending) > 0 && !s.closed {
			// A function ended this goroutine with runtime.Goexit; the
			// queue still needs a runner.
			s.runners.Add(1)
			go s.runQueue(q)
		} else {
			for _, u := range q.pending {
				u.finish(0, store.ErrClosed)
			}
			q.pending = nil
			delete(s.queues, q.ns)
		}
		s.runners.Done()
	}()
	for {
		s.mu.Lock()
		idle := len(q.pending) == 0 || s.closed
		s.mu.Unlock()
		if idle {
			normal = true
			return
		}
		s.runBatch(q)
	}
}

// outcome is what running one member's function in an attempt gave.
type outcome struct {
	u        *update
	err      error
	panicked bool
	panicVal any
	eff      effect
}

func (o *outcome) ok() bool { return o.err == nil && !o.panicked }

// call runs fn, turning a panic into a value to re-raise in the caller's
// goroutine: the runner must survive it, and the caller (an HTTP handler,
// say) may recover from it as it would have before batching.
func call(fn func(store.Tx) error, t *tx) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o.panicked, o.panicVal = true, r
		}
	}()
	o.err = fn(t)
	return o
}

// runBatch takes the queue's waiting Updates and commits them as one etcd
// transaction, rerunning them all on a fresh snapshot after a conflict.
// Updates that do not fit under etcd's limits go back to the queue.
func (s *Store) runBatch(q *queue) {
	// The batch's requests do not depend on any one caller's ctx: a caller
	// that leaves must not fail the others.
	ctx, cancel := context.WithCancel(s.closeCtx)
	defer cancel()
	b := &batch{cancel: cancel}
	delivered := false
	var running *update // whose function is running
	defer func() {
		if !delivered && running != nil {
			// Only runtime.Goexit in running's function ends up here: fail
			// that Update, and return the others to the queue for the
			// runner that takes over (see runQueue).
			s.mu.Lock()
			b.members = slices.DeleteFunc(b.members, func(u *update) bool { return u == running })
			s.mu.Unlock()
			running.finish(0, errGoexit)
			s.putBack(q, b, 0)
		}
	}()
	failAll := func(err error) {
		delivered = true
		for _, u := range b.members {
			u.finish(0, s.fail(err))
		}
	}
	limit := maxBatchUpdates
	for {
		s.mu.Lock()
		b.members = slices.DeleteFunc(b.members, func(u *update) bool { return u.left })
		s.mu.Unlock()
		if err := ctx.Err(); err != nil {
			// Closed, or every caller left.
			failAll(err)
			return
		}
		a := s.newAttempt(ctx, q.ns)
		var outs []outcome
		for i := 0; ; i++ {
			if len(outs) >= limit {
				s.putBack(q, b, i)
				break
			}
			var u *update
			if i < len(b.members) {
				u = b.members[i]
			} else if u = s.take(q, b); u == nil {
				break
			}
			t := newTx(a.snap, a.writes, true)
			running = u
			o := call(u.fn, t)
			o.u = u
			if a.snap.err != nil {
				break
			}
			// A function that alone exceeds the limits still runs, alone,
			// and etcd decides.
			if len(outs) > 0 && !a.fits(t, o.ok()) {
				s.putBack(q, b, i)
				break
			}
			o.eff = a.add(t, o.ok())
			outs = append(outs, o)
		}
		err := a.snap.err
		if err == nil {
			// Closed, or every caller left, while the functions ran.
			err = ctx.Err()
		}
		if err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				// The snapshot was compacted away while the functions
				// ran: start over on a new one.
				continue
			}
			failAll(err)
			return
		}
		rev, existed, ok, err := a.commit()
		if err != nil {
			if len(outs) > 1 && tooLarge(err) {
				// The server's limits are below etcd's defaults: halve
				// the batch until it fits, down to one Update, which then
				// fails (or not) exactly as it would on its own.
				s.refused.Add(1)
				limit = len(outs) / 2
				continue
			}
			if tooLarge(err) {
				// One Update alone: say what it needed, so the operator
				// knows which etcd limit to raise.
				err = fmt.Errorf("etcd refused a transaction of %d writes, %d compares and %d bytes of keys and values (its limits are --max-txn-ops, 128 by default, for writes and compares alike, and --max-request-bytes, 1.5 MiB by default): %w",
					len(a.writes), len(a.reads)+len(a.ranges), a.bytes, err)
			}
			failAll(err)
			return
		}
		if !ok {
			// Another replica changed something a function read.
			s.conflicts.Add(1)
			continue
		}
		delivered = true
		for i := range outs {
			o := &outs[i]
			switch {
			case o.panicked:
				o.u.panicked, o.u.panicVal = true, o.panicVal
				o.u.finish(0, nil)
			case o.err != nil:
				o.u.finish(0, o.err)
			case rev != 0 && o.eff.changed(existed):
				o.u.finish(rev, nil)
			default:
				o.u.finish(0, nil)
			}
		}
		return
	}
}

// attempt is one run of a batch's functions on one snapshot: the union of
// what they read, which the commit checks, and their merged writes.
type attempt struct {
	snap   *snapshot
	reads  map[string]int64
	ranges map[string]string
	// writes are the successful functions' writes by namespace-relative
	// key, a later write replacing an earlier one: etcd rejects a Txn
	// that writes one key twice. Each function sees those of the
	// functions before it.
	writes map[string]*string
	bytes  int // of the compares' keys and the writes, toward maxBatchBytes
	// prior marks the deleted keys whose existence before the commit
	// decides whether a delete-only function changed anything (see
	// effect); the commit asks etcd for it.
	prior map[string]bool
}

func (s *Store) newAttempt(ctx context.Context, ns string) *attempt {
	return &attempt{
		snap:   s.newSnapshot(ctx, ns),
		reads:  make(map[string]int64),
		ranges: make(map[string]string),
		writes: make(map[string]*string),
		prior:  make(map[string]bool),
	}
}

func vlen(v *string) int {
	if v == nil {
		return 0
	}
	return len(*v)
}

// fits reports whether adding t (with its writes if ok, its reads in any
// case) keeps the attempt's Txn within etcd's default limits.
func (a *attempt) fits(t *tx, ok bool) bool {
	cmps, ops, size := len(a.reads)+len(a.ranges), len(a.writes), a.bytes
	for key := range t.reads {
		if _, dup := a.reads[key]; !dup {
			cmps++
			size += len(key)
		}
	}
	for start, end := range t.ranges {
		if _, dup := a.ranges[start]; !dup {
			cmps++
			size += len(start) + len(end)
		}
	}
	if ok {
		for key, v := range t.writes {
			if old, dup := a.writes[key]; dup {
				size += vlen(v) - vlen(old)
			} else {
				ops++
				size += len(a.snap.prefix) + len(key) + vlen(v)
			}
		}
	}
	return cmps <= maxTxnOps && ops <= maxTxnOps && size <= maxBatchBytes
}

// effect is what a function's revision depends on: Update returns the
// commit's revision, or 0 when the function changed nothing.
type effect struct {
	put bool // it put a key: it changed something
	// gone is set when it deleted a key that a function before it in
	// the batch had put.
	gone bool
	// deleted are the keys it deleted that no function before it wrote:
	// whether they existed just before it is whether they existed before
	// the commit, which only the Txn's responses tell.
	deleted []string
}

func (e *effect) changed(existed map[string]bool) bool {
	if e.put || e.gone {
		return true
	}
	for _, key := range e.deleted {
		if existed[key] {
			return true
		}
	}
	return false
}

// add merges t into the attempt: its reads always, so that even a failed
// function's answer holds at the commit, and its writes if ok.
func (a *attempt) add(t *tx, ok bool) effect {
	for key, rev := range t.reads {
		if _, dup := a.reads[key]; !dup {
			a.reads[key] = rev
			a.bytes += len(key)
		}
	}
	for start, end := range t.ranges {
		if _, dup := a.ranges[start]; !dup {
			a.ranges[start] = end
			a.bytes += len(start) + len(end)
		}
	}
	var e effect
	if !ok {
		return e
	}
	for key, v := range t.writes {
		old, dup := a.writes[key]
		switch {
		case v != nil:
			e.put = true
		case dup && old != nil:
			e.gone = true
		case !dup:
			e.deleted = append(e.deleted, key)
			a.prior[key] = true
		}
		if dup {
			a.bytes += vlen(v) - vlen(old)
		} else {
			a.bytes += len(a.snap.prefix) + len(key) + vlen(v)
		}
		a.writes[key] = v
	}
	return e
}

// commit applies the merged writes if nothing any function read has
// changed since the snapshot. ok is false on such a conflict; the batch
// then runs again. rev is 0 when the commit changed nothing; existed
// tells, for the keys in prior, whether they existed before it.
func (a *attempt) commit() (rev int64, existed map[string]bool, ok bool, err error) {
	if len(a.writes) == 0 {
		// Nothing to write: the reads were one consistent snapshot, so
		// the functions' answers stand as they are, as in View.
		return 0, nil, true, nil
	}
	var cmps []clientv3.Cmp
	for _, key := range sortedKeys(a.reads) {
		// For a key read as absent, etcd compares ModRevision 0, so this
		// also fails if the key has been created since.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", a.reads[key]))
	}
	for _, start := range sortedKeys(a.ranges) {
		// No key in the range was created or modified after the snapshot.
		// Deletions do not show in a range compare; the per-key compares
		// above catch those, as List recorded every key it returned.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(start).WithRange(a.ranges[start]), "<", a.snap.rev+1))
	}
	keys := sortedKeys(a.writes) // deterministic requests help when debugging
	ops := make([]clientv3.Op, 0, len(keys))
	puts := 0
	for _, key := range keys {
		if v := a.writes[key]; v != nil {
			var opts []clientv3.OpOption
			if a.prior[key] {
				// A later function put the key a delete-only one deleted:
				// the previous value tells whether the delete did anything.
				opts = append(opts, clientv3.WithPrevKV())
			}
			ops = append(ops, clientv3.OpPut(a.snap.prefix+key, *v, opts...))
			puts++
		} else {
			ops = append(ops, clientv3.OpDelete(a.snap.prefix+key))
		}
	}
	a.snap.s.txns.Add(1)
	resp, err := a.snap.s.client.Txn(a.snap.ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, nil, false, err
	}
	if !resp.Succeeded {
		return 0, nil, false, nil
	}
	var deleted int64
	existed = make(map[string]bool, len(a.prior))
	for i, r := range resp.Responses {
		if d := r.GetResponseDeleteRange(); d != nil {
			deleted += d.Deleted
			existed[keys[i]] = d.Deleted > 0
		} else if p := r.GetResponsePut(); p != nil && a.prior[keys[i]] {
			existed[keys[i]] = p.PrevKv != nil
		}
	}
	if puts == 0 && deleted == 0 {
		// Only deletions of keys that did not exist: etcd committed no
		// new revision, and the header revision is someone else's.
		return 0, existed, true, nil
	}
	return resp.Header.Revision, existed, true, nil
}

// tooLarge reports whether a request was refused for its size or its
// number of operations, by etcd or by gRPC on either side.
func tooLarge(err error) bool {
	if errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return true
	}
	// gRPC's message size limits (on the server, etcd's request limit
	// plus 512 KiB; on the client, MaxCallSendMsgSize) answer this code
	// without etcd seeing the request. etcd's full database answers it
	// too, but as an etcd error, not a gRPC status.
	return status.Code(err) == codes.ResourceExhausted
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

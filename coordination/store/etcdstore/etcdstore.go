// Package etcdstore implements store.Store on an etcd v3 cluster, so that
// several coordinator replicas can share one durable, watchable state.
//
// # Layout
//
// Every key of namespace ns lives at
//
//	<prefix>/ns/<escaped ns>/<key>
//
// where the escaping replaces "%" with "%25" and "/" with "%2F". An escaped
// name therefore never contains "/", so the "/" that ends the namespace
// segment cannot occur inside it and no namespace's keys fall under another
// namespace's range, even when one name is a prefix of the other ("alph"
// and "alpha"). Keys and values are stored unchanged and may hold any bytes.
//
// # Revisions
//
// Revisions are etcd's own: a KV's Rev is the key's ModRevision and a
// commit's revision is the header revision of its transaction. They are
// cluster-wide, so when other programs write to the same etcd cluster the
// store's revisions jump by their writes too; they still only increase.
//
// # Transactions
//
// Update is optimistic: functions run against a snapshot at one etcd
// revision, every key they read (with its ModRevision) and every range they
// listed is recorded, and their writes are committed in one etcd Txn whose
// conditions hold only if none of those reads would give a different
// answer now. Otherwise they run again on a fresh snapshot.
//
// Concurrent Updates from one Store on the same namespace are committed
// together (group commit), since each commit costs etcd a round trip and
// an fsync however little it writes. They wait in a per-namespace queue;
// a runner goroutine, which exists only while the queue has work, takes
// everything waiting and runs the functions one after the other, each on
// its own transaction layered over the batch: it sees the snapshot plus
// the writes of the functions before it, so the batch is equivalent to
// running them in that order. A function that returns an error has its
// writes dropped and gets its error back, but its reads still count among
// the conditions, so that its answer holds at the commit too. The rest are
// merged (a later write of a key replacing an earlier one) into one Txn,
// and every caller gets that commit's revision, or 0 if its function
// changed nothing. On a conflict the whole batch runs again, so within one
// Store conflicts only arise between replicas. The functions run on the
// runner goroutine; a panic in one is re-raised in its caller's. A
// function must not itself wait for an Update on the same namespace of the
// same Store: that Update would wait for the function's batch to end.
//
// A caller whose ctx ends while its Update is queued gets ctx's error and
// its function never runs. Once the function is in a batch the caller
// still returns when ctx ends, but the batch goes on for the others (its
// requests use the Store's own context), so that write may or may not
// commit, as with any etcd request abandoned in flight.
//
// # Limits
//
// etcd bounds each request: by default a request may be at most 1.5 MiB
// (--max-request-bytes) and a transaction may hold at most 128 conditions
// and 128 operations (--max-txn-ops). A batch stays within those defaults
// (128 conditions, 128 written keys, 1 MiB of keys and values): an Update
// that would take it over waits for the next batch. An Update that alone
// exceeds them runs alone, and etcd refuses it unless the server's limits
// were raised: one Update may write at most 128 keys, of at most 1.5 MiB
// with the rest of the request, and needs one condition per key read with
// Get, plus one per key returned by List, plus one per List. Should a
// server's limits be lower than the defaults, a batch it refuses is split
// in halves until it fits or holds a single Update.
package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// errReadOnly is recorded when fn writes inside View.
var errReadOnly = errors.New("etcdstore: write in a read-only transaction")

// Store is a store.Store on etcd. It is safe for concurrent use.
type Store struct {
	client *clientv3.Client
	// nsRoot is "<prefix>/ns/", the common prefix of every namespace.
	nsRoot string

	// closeCtx is cancelled by Close; watchers and in-flight calls derive
	// from it so that Close stops them.
	closeCtx context.Context
	closeFn  context.CancelFunc

	mu     sync.Mutex
	queues map[string]*queue // per-namespace Update queues, see runQueue
	closed bool

	// runners counts the queues' runner goroutines, so that tests can
	// wait for them to end.
	runners sync.WaitGroup
	// Counters for tests: commit Txns sent, conflicts (Txns that failed
	// their conditions) and batches etcd refused as too large.
	txns, conflicts, refused atomic.Int64
}

var _ store.Store = (*Store)(nil)

// New returns a Store keeping its data under prefix (a trailing "/" is
// ignored) on client. The caller keeps ownership of client: Close stops the
// Store's watchers but does not close the client, so one client may serve
// several Stores and other uses.
func New(client *clientv3.Client, prefix string) *Store {
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{
		client:   client,
		nsRoot:   strings.TrimSuffix(prefix, "/") + "/ns/",
		closeCtx: ctx,
		closeFn:  cancel,
		queues:   make(map[string]*queue),
	}
}

// Close stops all watchers (they receive ErrClosed) and makes later calls
// return store.ErrClosed. It does not close the etcd client.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.closeFn()
	return nil
}

// begin checks that the store is open and returns a context that ends with
// either ctx or Close. The caller must call the returned cancel function.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, nil, store.ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closeCtx, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

// fail maps an error caused by Close cancelling an operation to
// store.ErrClosed, so callers see why it ended.
func (s *Store) fail(err error) error {
	if err != nil && s.closeCtx.Err() != nil {
		return store.ErrClosed
	}
	return err
}

// escape makes a namespace name safe to use as one key segment: the result
// never contains "/" and distinct names stay distinct.
func escape(ns string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(ns)
}

// nsPrefix is the etcd key prefix of the namespace, ending in "/".
func (s *Store) nsPrefix(ns string) string { return s.nsRoot + escape(ns) + "/" }

// Update runs fn in a serializable read-write transaction. It queues fn
// for the namespace's runner, which commits it together with the other
// Updates waiting (see Transactions in the package comment).
func (s *Store) Update(ctx context.Context, ns string, fn func(store.Tx) error) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, s.fail(err)
	}
	u := &update{fn: fn, done: make(chan struct{})}
	if err := s.enqueue(ns, u); err != nil {
		return 0, err
	}
	select {
	case <-u.done:
		return u.result()
	case <-ctx.Done():
	case <-s.closeCtx.Done():
	}
	select {
	case <-u.done: // the outcome came at the same time
		return u.result()
	default:
	}
	s.leave(u)
	if s.closeCtx.Err() != nil {
		return 0, store.ErrClosed
	}
	return 0, ctx.Err()
}

// result is u's outcome, for its caller once done is closed.
func (u *update) result() (int64, error) {
	if u.panicked {
		panic(u.panicVal)
	}
	return u.rev, u.err
}

// View runs fn against a consistent snapshot of ns and returns its
// revision.
func (s *Store) View(ctx context.Context, ns string, fn func(store.Tx) error) (int64, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	snap := s.newSnapshot(ctx, ns)
	if err := fn(newTx(snap, nil, false)); err != nil {
		return 0, err
	}
	if snap.err != nil {
		return 0, s.fail(snap.err)
	}
	if snap.rev == 0 {
		// fn read nothing; report the revision it would have read at.
		if err := snap.fix(); err != nil {
			return 0, s.fail(err)
		}
	}
	return snap.rev, nil
}

// Watch streams the changes to ns after revision after. The goroutine it
// starts ends, closing the channel, when ctx ends, the Store closes (after
// an ErrClosed event), or etcd no longer holds the requested revisions
// (after an ErrCompacted event).
func (s *Store) Watch(ctx context.Context, ns string, after int64) (<-chan store.Event, error) {
	wctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	prefix := s.nsPrefix(ns)
	// WithRequireLeader makes etcd end the watch when the member loses its
	// leader instead of silently stalling; the loop reports that as an error.
	wch := s.client.Watch(clientv3.WithRequireLeader(wctx), prefix,
		clientv3.WithPrefix(), clientv3.WithRev(after+1))
	out := make(chan store.Event, 16)
	go func() {
		defer close(out)
		defer cancel()
		// final reports why the watch ended, unless the caller's ctx did,
		// in which case nobody is listening and the channel just closes.
		final := func(err error) {
			if ctx.Err() != nil {
				return
			}
			if s.closeCtx.Err() != nil {
				err = store.ErrClosed
			}
			select {
			case out <- store.Event{Err: err}:
			case <-ctx.Done():
			}
		}
		for {
			resp, ok := <-wch
			if !ok {
				// etcd's channel closes when wctx ends (ctx or Close) or
				// the client is closed underneath us.
				final(store.ErrClosed)
				return
			}
			if err := resp.Err(); err != nil {
				if resp.CompactRevision != 0 || errors.Is(err, rpctypes.ErrCompacted) {
					err = store.ErrCompacted
				}
				final(err)
				return
			}
			for _, ev := range resp.Events {
				e := store.Event{
					Rev:     ev.Kv.ModRevision,
					Key:     strings.TrimPrefix(string(ev.Kv.Key), prefix),
					Deleted: ev.Type == mvccpb.DELETE,
				}
				if !e.Deleted {
					e.Value = string(ev.Kv.Value)
				}
				select {
				case out <- e:
				case <-wctx.Done():
					final(store.ErrClosed)
					return
				}
			}
		}
	}()
	return out, nil
}

// DeleteNamespace deletes every key of ns in one request, so watchers see
// all the deletions at one revision. It returns that revision, or 0 when
// the namespace was already empty and nothing was committed.
func (s *Store) DeleteNamespace(ctx context.Context, ns string) (int64, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	resp, err := s.client.Delete(ctx, s.nsPrefix(ns), clientv3.WithPrefix())
	if err != nil {
		return 0, s.fail(err)
	}
	if resp.Deleted == 0 {
		return 0, nil
	}
	return resp.Header.Revision, nil
}

// Namespaces lists the namespaces holding keys. Rather than reading every
// key, it reads the first key at or after a position and then skips past
// that key's whole namespace, so it costs one request per namespace; all
// requests read at the first one's revision, giving a consistent answer.
func (s *Store) Namespaces(ctx context.Context) ([]string, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	end := clientv3.GetPrefixRangeEnd(s.nsRoot)
	from := s.nsRoot
	var rev int64
	var out []string
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(1)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, from, opts...)
		if err != nil {
			return nil, s.fail(err)
		}
		rev = resp.Header.Revision
		if len(resp.Kvs) == 0 {
			break
		}
		escaped, _, ok := strings.Cut(strings.TrimPrefix(string(resp.Kvs[0].Key), s.nsRoot), "/")
		if !ok {
			return nil, fmt.Errorf("etcdstore: unexpected key %q under %q", resp.Kvs[0].Key, s.nsRoot)
		}
		ns, err := url.PathUnescape(escaped)
		if err != nil {
			return nil, fmt.Errorf("etcdstore: bad namespace segment %q: %w", escaped, err)
		}
		out = append(out, ns)
		// "0" is the byte after "/": the smallest key past every key of
		// this namespace.
		from = s.nsRoot + escaped + "0"
	}
	// Keys sort by escaped name, which can differ from the order of the
	// names themselves ("%" sorts before most characters).
	sort.Strings(out)
	return out, nil
}

// Revision returns etcd's current revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	// Any linearizable read returns the current revision in its header;
	// counting one key costs the server and the network next to nothing.
	resp, err := s.client.Get(ctx, s.nsRoot, clientv3.WithCountOnly())
	if err != nil {
		return 0, s.fail(err)
	}
	return resp.Header.Revision, nil
}

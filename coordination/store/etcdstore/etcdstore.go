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
// Update is optimistic: fn runs against a snapshot at one etcd revision,
// every key it read (with its ModRevision) and every range it listed is
// recorded, and the writes are committed in one etcd Txn whose conditions
// hold only if none of those reads would give a different answer now.
// Otherwise fn runs again on a fresh snapshot. Updates from one Store on
// the same namespace are additionally queued in-process, so conflicts (and
// retries) only happen between replicas.
//
// # Limits
//
// etcd bounds each request: by default a request may be at most 1.5 MiB
// (--max-request-bytes; a key's value plus everything else in the same
// Update must fit) and a transaction may hold at most 128 operations
// (--max-txn-ops), which limits both the number of keys one Update writes
// and the number of conditions it needs: one per key read with Get, plus
// one per key returned by List, plus one per List. Raise those server
// limits if the coordinator needs larger transactions.
package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"

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
	locks  map[string]*nsLock // per-namespace Update queues, see lockNS
	closed bool
}

var _ store.Store = (*Store)(nil)

// nsLock serialises this process's Updates on one namespace. It is a
// channel rather than a sync.Mutex so that waiting respects ctx.
type nsLock struct {
	ch   chan struct{}
	refs int // goroutines holding or waiting; the entry is dropped at 0
}

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
		locks:    make(map[string]*nsLock),
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

// lockNS waits for this process's turn to update ns. Without it, N
// goroutines of one replica updating the same namespace would all read the
// same snapshot and all but one would fail and retry, for O(N²) etcd round
// trips; with it, conflicts only arise between replicas.
func (s *Store) lockNS(ctx context.Context, ns string) (unlock func(), err error) {
	s.mu.Lock()
	l := s.locks[ns]
	if l == nil {
		l = &nsLock{ch: make(chan struct{}, 1)}
		s.locks[ns] = l
	}
	l.refs++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, ns)
		}
		s.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// Update runs fn in a serializable read-write transaction, retrying it on
// a fresh snapshot when another writer changed something fn read.
func (s *Store) Update(ctx context.Context, ns string, fn func(store.Tx) error) (int64, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	unlock, err := s.lockNS(ctx, ns)
	if err != nil {
		return 0, s.fail(err)
	}
	defer unlock()
	for {
		tx := s.newTx(ctx, ns, true)
		if err := fn(tx); err != nil {
			return 0, err
		}
		if tx.err != nil {
			if errors.Is(tx.err, rpctypes.ErrCompacted) {
				// The snapshot was compacted away while fn ran: start over
				// on a new one.
				continue
			}
			return 0, s.fail(tx.err)
		}
		if len(tx.writes) == 0 {
			return 0, nil
		}
		rev, ok, err := tx.commit()
		if err != nil {
			return 0, s.fail(err)
		}
		if ok {
			return rev, nil
		}
	}
}

// View runs fn against a consistent snapshot of ns and returns its
// revision.
func (s *Store) View(ctx context.Context, ns string, fn func(store.Tx) error) (int64, error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	tx := s.newTx(ctx, ns, false)
	if err := fn(tx); err != nil {
		return 0, err
	}
	if tx.err != nil {
		return 0, s.fail(tx.err)
	}
	if tx.rev == 0 {
		// fn read nothing; report the revision it would have read at.
		if err := tx.snapshot(); err != nil {
			return 0, s.fail(err)
		}
	}
	return tx.rev, nil
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

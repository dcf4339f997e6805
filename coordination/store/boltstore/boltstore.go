// Package boltstore is the embedded store.Store: one bbolt file, the
// coordinator's default.
//
// Durability: Update returns after the transaction holding its changes has
// been committed and fsynced, so an acknowledged write survives kill -9.
// Group commit: one goroutine commits. Updates that arrive while a commit
// (and its fsync) is in progress wait and are committed together in the
// next transaction, so many concurrent writers share one fsync and a lone
// writer never waits for a timer. Each Update's function runs exactly once,
// against an overlay of its own writes over the shared transaction, so a
// failing function is dropped without affecting the others in its batch.
//
// Watch history is kept in memory (the last historySize changes of each
// namespace): after a restart, or for a watcher that fell too far behind,
// older changes answer store.ErrCompacted and the watcher re-reads. A
// namespace left empty (a deployment deleted) keeps no history, only the
// revision it was emptied at (a few bytes), so that the store's memory
// follows the deployments it holds, not all it ever held.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

const (
	historySize = 4096  // changes remembered per namespace for Watch (up to twice as many)
	queueLimit  = 65536 // changes a slow watcher may lag before ErrCompacted
	maxBatch    = 4096  // updates committed in one transaction at most
)

var (
	metaBucket = []byte("meta")
	nsBucket   = []byte("ns")
	revKey     = []byte("rev")
)

// Store is a store.Store in one bbolt file.
type Store struct {
	db   *bolt.DB
	reqs chan *request
	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	rev      int64                    // last committed revision
	history  map[string][]store.Event // per namespace, oldest first
	floor    map[string]int64         // per namespace: changes at or below are forgotten
	openRev  int64                    // history starts after this revision
	watchers map[string]map[*watcher]bool
}

// Open opens (creating if needed) the store file at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{
		db: db, reqs: make(chan *request, maxBatch), done: make(chan struct{}),
		history: map[string][]store.Event{}, floor: map[string]int64{}, watchers: map[string]map[*watcher]bool{},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(nsBucket); err != nil {
			return err
		}
		if b := meta.Get(revKey); len(b) == 8 {
			u := binary.BigEndian.Uint64(b)
			if u > math.MaxInt64 {
				return fmt.Errorf("the store's revision, %d, is out of range: the file is damaged", u)
			}
			s.rev = int64(u)
		}
		return nil
	})
	if err != nil {
		_ = db.Close() // the store was not opened; the error says why
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s.openRev = s.rev
	s.wg.Add(1)
	go s.commitLoop()
	return s, nil
}

// request is one Update waiting for the committer.
type request struct {
	ns    string
	fn    func(store.Tx) error
	reply chan result
}

type result struct {
	rev int64
	err error
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, ns string, fn func(store.Tx) error) (int64, error) {
	req := &request{ns: ns, fn: fn, reply: make(chan result, 1)}
	select {
	case s.reqs <- req:
	case <-s.done:
		return 0, store.ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// Once queued the update will be committed or fail; wait for the
	// outcome even if ctx ends, so the caller never misreads a write that
	// did happen as one that did not.
	select {
	case r := <-req.reply:
		return r.rev, r.err
	case <-s.done:
		select {
		case r := <-req.reply: // committed just before Close
			return r.rev, r.err
		default:
			return 0, store.ErrClosed
		}
	}
}

// commitLoop is the single committer: it takes every update waiting and
// commits them in one transaction.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	for {
		var batch []*request
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.done:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// commit runs a batch of updates in one transaction.
func (s *Store) commit(batch []*request) {
	results := make([]result, len(batch))
	var events [][]store.Event
	var namespaces []string
	var emptied []bool
	s.mu.Lock()
	rev := s.rev
	s.mu.Unlock()
	err := s.db.Update(func(btx *bolt.Tx) error {
		events, namespaces, emptied = events[:0], namespaces[:0], emptied[:0]
		for i, req := range batch {
			t := &tx{btx: btx, ns: req.ns, writes: map[string]*string{}}
			if err := req.fn(t); err != nil {
				results[i] = result{err: err}
				continue
			}
			if len(t.order) == 0 {
				continue
			}
			rev++
			evs, empty, err := t.apply(rev)
			if err != nil {
				return err
			}
			results[i] = result{rev: rev}
			events = append(events, evs)
			namespaces = append(namespaces, req.ns)
			emptied = append(emptied, empty)
		}
		buf := make([]byte, 8)
		binary.BigEndian.PutUint64(buf, uint64(rev)) // #nosec G115 -- rev counts commits up from the revision Open checked: never negative
		return btx.Bucket(metaBucket).Put(revKey, buf)
	})
	if err != nil {
		for i := range batch {
			batch[i].reply <- result{err: fmt.Errorf("store commit: %w", err)}
		}
		return
	}
	s.mu.Lock()
	s.rev = rev
	for i, evs := range events {
		s.publish(namespaces[i], evs, emptied[i])
	}
	s.mu.Unlock()
	for i, req := range batch {
		req.reply <- results[i]
	}
}

// tx is a transaction view: the bbolt transaction plus this update's own
// writes, applied only if the update's function succeeds.
type tx struct {
	btx    *bolt.Tx
	ns     string
	writes map[string]*string // nil value: deleted; nil map: read-only
	order  []string
	err    error // a write attempted in a read-only transaction
}

var errReadOnly = errors.New("store: Put or Delete in a read-only transaction (View)")

func (t *tx) bucket() *bolt.Bucket {
	return t.btx.Bucket(nsBucket).Bucket([]byte(t.ns))
}

func decode(key string, raw []byte) store.KV {
	if len(raw) < 8 {
		return store.KV{Key: key}
	}
	return store.KV{Key: key, Rev: int64(binary.BigEndian.Uint64(raw[:8])), Value: string(raw[8:])} // #nosec G115 -- apply wrote it from a non-negative revision, in our own bbolt-locked file
}

func (t *tx) Get(key string) (store.KV, bool) {
	if v, ok := t.writes[key]; ok {
		if v == nil {
			return store.KV{}, false
		}
		return store.KV{Key: key, Value: *v}, true
	}
	b := t.bucket()
	if b == nil {
		return store.KV{}, false
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return store.KV{}, false
	}
	return decode(key, raw), true
}

func (t *tx) List(prefix string) []store.KV {
	found := map[string]store.KV{}
	if b := t.bucket(); b != nil {
		c := b.Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			found[string(k)] = decode(string(k), v)
		}
	}
	for k, v := range t.writes {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if v == nil {
			delete(found, k)
		} else {
			found[k] = store.KV{Key: k, Value: *v}
		}
	}
	out := make([]store.KV, 0, len(found))
	for _, kv := range found {
		out = append(out, kv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (t *tx) Put(key, value string) {
	if t.writes == nil {
		t.err = errReadOnly
		return
	}
	if _, seen := t.writes[key]; !seen {
		t.order = append(t.order, key)
	}
	t.writes[key] = &value
}

func (t *tx) Delete(key string) {
	if t.writes == nil {
		t.err = errReadOnly
		return
	}
	if _, ok := t.Get(key); !ok {
		delete(t.writes, key) // deleting what this update itself put
		return
	}
	if _, seen := t.writes[key]; !seen {
		t.order = append(t.order, key)
	}
	t.writes[key] = nil
}

// apply writes the update's changes at rev and returns them as events.
//
// A namespace the update leaves empty (a deployment deleted) has its bucket
// removed too: emptied says so, and its history is then dropped (publish).
func (t *tx) apply(rev int64) (evs []store.Event, emptied bool, err error) {
	evs, err = t.write(rev)
	if err != nil {
		return nil, false, err
	}
	nsb := t.bucket()
	if k, _ := nsb.Cursor().First(); k != nil {
		return evs, false, nil
	}
	if err := t.btx.Bucket(nsBucket).DeleteBucket([]byte(t.ns)); err != nil {
		return nil, false, fmt.Errorf("namespace %q: %w", t.ns, err)
	}
	return evs, true, nil
}

// write writes the update's changes into its namespace's bucket.
func (t *tx) write(rev int64) ([]store.Event, error) {
	nsb, err := t.btx.Bucket(nsBucket).CreateBucketIfNotExists([]byte(t.ns))
	if err != nil {
		return nil, fmt.Errorf("namespace %q: %w", t.ns, err)
	}
	var evs []store.Event
	for _, k := range t.order {
		v, ok := t.writes[k]
		if !ok {
			continue
		}
		if v == nil {
			if err := nsb.Delete([]byte(k)); err != nil {
				return nil, err
			}
			evs = append(evs, store.Event{Rev: rev, Key: k, Deleted: true})
			continue
		}
		raw := make([]byte, 8+len(*v))
		binary.BigEndian.PutUint64(raw, uint64(rev)) // #nosec G115 -- the commit's revision: positive
		copy(raw[8:], *v)
		if err := nsb.Put([]byte(k), raw); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		evs = append(evs, store.Event{Rev: rev, Key: k, Value: *v})
	}
	return evs, nil
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, ns string, fn func(store.Tx) error) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	var rev int64
	err := s.db.View(func(btx *bolt.Tx) error {
		if b := btx.Bucket(metaBucket).Get(revKey); len(b) == 8 {
			rev = int64(binary.BigEndian.Uint64(b)) // #nosec G115 -- Open checked the stored revision, and commits only raise it
		}
		t := &tx{btx: btx, ns: ns}
		if err := fn(t); err != nil {
			return err
		}
		return t.err
	})
	return rev, err
}

func (s *Store) check(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

// DeleteNamespace implements store.Store.
func (s *Store) DeleteNamespace(ctx context.Context, ns string) (int64, error) {
	return s.Update(ctx, ns, func(t store.Tx) error {
		for _, kv := range t.List("") {
			t.Delete(kv.Key)
		}
		return nil
	})
}

// Namespaces implements store.Store.
func (s *Store) Namespaces(ctx context.Context) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []string
	err := s.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(nsBucket).ForEachBucket(func(name []byte) error {
			if k, _ := btx.Bucket(nsBucket).Bucket(name).Cursor().First(); k != nil {
				out = append(out, string(name))
			}
			return nil
		})
	})
	sort.Strings(out)
	return out, err
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, nil
}

// Close stops the committer and the watchers and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
	return s.db.Close()
}

var _ store.Store = (*Store)(nil)

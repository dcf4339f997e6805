package etcdstore

import (
	"context"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// read is one key as the snapshot holds it: its value and ModRevision, the
// revision 0 meaning the key does not exist.
type read struct {
	value string
	rev   int64
}

// snapshot reads one namespace from etcd lazily, all at the revision of
// the first read, so the functions it serves see one consistent state
// without the namespace being loaded up front. It keeps what it read: in a
// batch, functions after the first usually read the same few keys (the
// deployment's spec, say), and then cost no round trip at all. store.Tx
// methods cannot return errors, so the first error is kept in err and
// reported after fn returns; reads after an error see nothing.
type snapshot struct {
	s      *Store
	ctx    context.Context
	prefix string // the namespace's etcd prefix

	rev int64 // 0 until the first read
	err error

	keys  map[string]read     // by full etcd key; every key listed is here too
	lists map[string][]string // by range start: the full keys in the range, sorted
}

func (s *Store) newSnapshot(ctx context.Context, ns string) *snapshot {
	return &snapshot{
		s:      s,
		ctx:    ctx,
		prefix: s.nsPrefix(ns),
		keys:   make(map[string]read),
		lists:  make(map[string][]string),
	}
}

// fix fixes the snapshot at etcd's current revision, if not yet done.
func (sn *snapshot) fix() error {
	if sn.rev != 0 {
		return nil
	}
	resp, err := sn.s.client.Get(sn.ctx, sn.prefix, clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	sn.rev = resp.Header.Revision
	return nil
}

func (sn *snapshot) fail(err error) {
	if sn.err == nil {
		sn.err = err
	}
}

// fetch reads from etcd at the snapshot revision, fixing the snapshot with
// the first read (one round trip instead of two).
func (sn *snapshot) fetch(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, bool) {
	if sn.err != nil {
		return nil, false
	}
	if sn.rev != 0 {
		opts = append(opts, clientv3.WithRev(sn.rev))
	}
	resp, err := sn.s.client.Get(sn.ctx, key, opts...)
	if err != nil {
		sn.fail(err)
		return nil, false
	}
	if sn.rev == 0 {
		sn.rev = resp.Header.Revision
	}
	return resp, true
}

// get returns the key at the snapshot; ok is false only after an error.
func (sn *snapshot) get(full string) (r read, ok bool) {
	if r, ok := sn.keys[full]; ok {
		return r, sn.err == nil
	}
	resp, ok := sn.fetch(full)
	if !ok {
		return read{}, false
	}
	if len(resp.Kvs) > 0 {
		r = read{value: string(resp.Kvs[0].Value), rev: resp.Kvs[0].ModRevision}
	}
	sn.keys[full] = r
	return r, true
}

// list returns the full keys in the prefix range from start, sorted; their
// values are then in keys. ok is false only after an error.
func (sn *snapshot) list(start, end string) (keys []string, ok bool) {
	if keys, ok := sn.lists[start]; ok {
		return keys, sn.err == nil
	}
	resp, ok := sn.fetch(start, clientv3.WithRange(end))
	if !ok {
		return nil, false
	}
	keys = make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = string(kv.Key)
		sn.keys[keys[i]] = read{value: string(kv.Value), rev: kv.ModRevision}
	}
	sn.lists[start] = keys
	return keys, true
}

// tx is the store.Tx of one function: of View, or of one Update in a
// batch. It reads through its own writes, then the writes of the functions
// before it in the batch (below), then the snapshot, and records what it
// read from the snapshot: those reads are what the commit must check.
type tx struct {
	snap     *snapshot
	below    map[string]*string // by namespace-relative key; nil deletes
	writable bool

	// reads maps each etcd key fn read from the snapshot (through Get or
	// List) to its ModRevision there, 0 for a key read as absent. At
	// commit each must be unchanged.
	reads map[string]int64
	// ranges are the key ranges fn listed. At commit no key in them may
	// have changed after the snapshot; together with reads (which catch
	// deletions of listed keys) that means every List would return the
	// same.
	ranges map[string]string // start -> end
	// writes are fn's changes by namespace-relative key; nil deletes.
	writes map[string]*string
}

func newTx(snap *snapshot, below map[string]*string, writable bool) *tx {
	return &tx{
		snap:     snap,
		below:    below,
		writable: writable,
		reads:    make(map[string]int64),
		ranges:   make(map[string]string),
		writes:   make(map[string]*string),
	}
}

// Get returns the key's value, from the batch's own writes first.
func (t *tx) Get(key string) (store.KV, bool) {
	v, ok := t.writes[key]
	if !ok {
		v, ok = t.below[key]
	}
	if ok {
		if v == nil {
			return store.KV{}, false
		}
		// Not committed yet, so it has no revision.
		return store.KV{Key: key, Value: *v}, true
	}
	full := t.snap.prefix + key
	r, ok := t.snap.get(full)
	if !ok {
		return store.KV{}, false
	}
	t.reads[full] = r.rev
	if r.rev == 0 {
		return store.KV{}, false
	}
	return store.KV{Key: key, Value: r.value, Rev: r.rev}, true
}

// List returns the keys with the prefix at the snapshot, merged with the
// batch's own writes, sorted by key.
func (t *tx) List(prefix string) []store.KV {
	start := t.snap.prefix + prefix
	// The namespace prefix ends in "/", so start is never empty and its
	// prefix range end stays inside the namespace.
	end := clientv3.GetPrefixRangeEnd(start)
	keys, ok := t.snap.list(start, end)
	if !ok {
		return nil
	}
	t.ranges[start] = end
	merged := make(map[string]store.KV, len(keys))
	for _, full := range keys {
		r := t.snap.keys[full]
		t.reads[full] = r.rev
		key := strings.TrimPrefix(full, t.snap.prefix)
		merged[key] = store.KV{Key: key, Value: r.value, Rev: r.rev}
	}
	for _, writes := range []map[string]*string{t.below, t.writes} {
		for key, v := range writes {
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			if v == nil {
				delete(merged, key)
			} else {
				merged[key] = store.KV{Key: key, Value: *v}
			}
		}
	}
	out := make([]store.KV, 0, len(merged))
	for _, kv := range merged {
		out = append(out, kv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Put records a write, applied at commit.
func (t *tx) Put(key, value string) {
	if !t.writable {
		t.snap.fail(errReadOnly)
		return
	}
	t.writes[key] = &value
}

// Delete records a deletion, applied at commit.
func (t *tx) Delete(key string) {
	if !t.writable {
		t.snap.fail(errReadOnly)
		return
	}
	t.writes[key] = nil
}

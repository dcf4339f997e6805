package etcdstore

import (
	"context"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// tx is the store.Tx of Update and View. Reads go to etcd lazily, all at
// the revision of the first one, so fn sees one consistent snapshot without
// the namespace being loaded up front. store.Tx methods cannot return
// errors, so the first etcd error is kept in err and reported by
// Update/View after fn returns (reads after an error see nothing).
type tx struct {
	s        *Store
	ctx      context.Context
	prefix   string // the namespace's etcd prefix
	writable bool

	rev int64 // snapshot revision; 0 until the first read
	err error

	// reads maps each etcd key fn has seen (through Get or List) to its
	// ModRevision at rev, 0 for a key read as absent. At commit each must
	// be unchanged.
	reads map[string]int64
	// cache holds values of keys in reads, so repeated reads cost nothing.
	cache map[string]string
	// ranges are the key ranges fn listed. At commit no key in them may
	// have changed after rev; together with reads (which catch deletions
	// of listed keys) that means every List would return the same.
	ranges map[string]string // start -> end
	// writes are fn's changes by namespace-relative key; nil deletes.
	writes map[string]*string
}

func (s *Store) newTx(ctx context.Context, ns string, writable bool) *tx {
	return &tx{
		s:        s,
		ctx:      ctx,
		prefix:   s.nsPrefix(ns),
		writable: writable,
		reads:    make(map[string]int64),
		cache:    make(map[string]string),
		ranges:   make(map[string]string),
		writes:   make(map[string]*string),
	}
}

// snapshot fixes the snapshot at etcd's current revision, if not yet done.
func (t *tx) snapshot() error {
	if t.rev != 0 {
		return nil
	}
	resp, err := t.s.client.Get(t.ctx, t.prefix, clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	t.rev = resp.Header.Revision
	return nil
}

// get reads from etcd at the snapshot revision, fixing the snapshot with
// the first read (one round trip instead of two).
func (t *tx) get(key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, bool) {
	if t.err != nil {
		return nil, false
	}
	if t.rev != 0 {
		opts = append(opts, clientv3.WithRev(t.rev))
	}
	resp, err := t.s.client.Get(t.ctx, key, opts...)
	if err != nil {
		t.err = err
		return nil, false
	}
	if t.rev == 0 {
		t.rev = resp.Header.Revision
	}
	return resp, true
}

// Get returns the key's value, from fn's own writes first.
func (t *tx) Get(key string) (store.KV, bool) {
	if v, ok := t.writes[key]; ok {
		if v == nil {
			return store.KV{}, false
		}
		// Not committed yet, so it has no revision.
		return store.KV{Key: key, Value: *v}, true
	}
	full := t.prefix + key
	if rev, ok := t.reads[full]; ok {
		if rev == 0 {
			return store.KV{}, false
		}
		return store.KV{Key: key, Value: t.cache[full], Rev: rev}, true
	}
	resp, ok := t.get(full)
	if !ok {
		return store.KV{}, false
	}
	if len(resp.Kvs) == 0 {
		t.reads[full] = 0
		return store.KV{}, false
	}
	kv := resp.Kvs[0]
	t.reads[full] = kv.ModRevision
	t.cache[full] = string(kv.Value)
	return store.KV{Key: key, Value: string(kv.Value), Rev: kv.ModRevision}, true
}

// List returns the keys with the prefix at the snapshot, merged with fn's
// own writes, sorted by key.
func (t *tx) List(prefix string) []store.KV {
	start := t.prefix + prefix
	// The namespace prefix ends in "/", so start is never empty and its
	// prefix range end stays inside the namespace.
	end := clientv3.GetPrefixRangeEnd(start)
	resp, ok := t.get(start, clientv3.WithRange(end))
	if !ok {
		return nil
	}
	t.ranges[start] = end
	merged := make(map[string]store.KV, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		full := string(kv.Key)
		t.reads[full] = kv.ModRevision
		t.cache[full] = string(kv.Value)
		key := strings.TrimPrefix(full, t.prefix)
		merged[key] = store.KV{Key: key, Value: string(kv.Value), Rev: kv.ModRevision}
	}
	for key, v := range t.writes {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if v == nil {
			delete(merged, key)
		} else {
			merged[key] = store.KV{Key: key, Value: *v}
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
		t.fail(errReadOnly)
		return
	}
	t.writes[key] = &value
}

// Delete records a deletion, applied at commit.
func (t *tx) Delete(key string) {
	if !t.writable {
		t.fail(errReadOnly)
		return
	}
	t.writes[key] = nil
}

func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// commit applies the writes if nothing fn read has changed since the
// snapshot. ok is false on such a conflict; the caller then retries.
func (t *tx) commit() (rev int64, ok bool, err error) {
	var cmps []clientv3.Cmp
	for key, modRev := range t.reads {
		// For a key read as absent, etcd compares ModRevision 0, so this
		// also fails if the key has been created since.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", modRev))
	}
	for start, end := range t.ranges {
		// No key in the range was created or modified after the snapshot.
		// Deletions do not show in a range compare; the per-key compares
		// above catch those, as List recorded every key it returned.
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(start).WithRange(end), "<", t.rev+1))
	}
	keys := make([]string, 0, len(t.writes))
	for key := range t.writes {
		keys = append(keys, key)
	}
	sort.Strings(keys) // deterministic requests help when debugging
	ops := make([]clientv3.Op, 0, len(keys))
	puts := 0
	for _, key := range keys {
		if v := t.writes[key]; v != nil {
			ops = append(ops, clientv3.OpPut(t.prefix+key, *v))
			puts++
		} else {
			ops = append(ops, clientv3.OpDelete(t.prefix+key))
		}
	}
	resp, err := t.s.client.Txn(t.ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, false, err
	}
	if !resp.Succeeded {
		return 0, false, nil
	}
	if puts == 0 {
		// Only deletions: when none of the keys existed, etcd committed no
		// new revision, and the header revision is someone else's.
		var deleted int64
		for _, r := range resp.Responses {
			if d := r.GetResponseDeleteRange(); d != nil {
				deleted += d.Deleted
			}
		}
		if deleted == 0 {
			return 0, true, nil
		}
	}
	return resp.Header.Revision, true, nil
}

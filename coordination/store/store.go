// Package store is the coordinator's durable state behind one interface,
// with two implementations: an embedded bbolt file (package boltstore, the
// default) and an etcd cluster (package etcdstore) for several coordinator
// replicas. Package storetest holds the conformance suite both pass.
//
// The model is deliberately small. Data lives in namespaces (one per
// deployment) of string keys and values. Every committed change gets a
// store-wide revision, increasing with each commit; a commit's changes share
// its revision. Reads and writes happen in transactions (Update, View), so
// the coordinator can apply a state-machine step or a pushed mapping
// atomically. Watch streams a namespace's changes in revision order, from
// a given revision on, which is how waiters are woken and how replicas
// sharing one etcd learn about each other's writes.
package store

import (
	"context"
	"errors"
)

var (
	// ErrCompacted means the changes a watcher asked for (or fell behind
	// on) are no longer retained; it should re-read with View and watch
	// again from that revision.
	ErrCompacted = errors.New("store: requested revision is no longer retained")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store: closed")
)

// KV is one key with its value and the revision that last changed it.
type KV struct {
	Key   string
	Value string
	Rev   int64
}

// Event is one change. Err is set (and the channel then closed) when the
// watch ends for a reason other than its context: ErrCompacted, ErrClosed.
type Event struct {
	Rev     int64
	Key     string
	Value   string
	Deleted bool
	Err     error
}

// Tx reads and writes one namespace inside a transaction. Writes are
// visible to later reads in the same transaction; a key written by the
// transaction itself reads back with Rev 0 until it commits. Tx methods
// cannot return errors: an implementation that fails to read holds the
// error and fails the Update or View that ran the function. Put and Delete
// inside View are errors.
type Tx interface {
	Get(key string) (KV, bool)
	// List returns the keys with the prefix, sorted by key.
	List(prefix string) []KV
	Put(key, value string)
	Delete(key string)
}

// Store is a durable, transactional, watchable key-value store.
type Store interface {
	// Update runs fn in a serializable read-write transaction on the
	// namespace. When Update returns nil the changes are durable (they
	// survive a crash of the process); fn's error aborts the transaction and
	// is returned. The revision is the commit's, or 0 when fn changed
	// nothing. fn may run more than once (after a conflict), so it must have
	// no other side effects.
	Update(ctx context.Context, ns string, fn func(Tx) error) (int64, error)
	// View runs fn in a read-only transaction and returns the revision the
	// data was read at.
	View(ctx context.Context, ns string, fn func(Tx) error) (int64, error)
	// Watch delivers every change to the namespace with a revision greater
	// than after, in revision order, then new changes as they commit, until
	// ctx ends (the channel is then closed). A watcher that falls too far
	// behind, or asks for changes no longer retained, gets an Event with
	// Err = ErrCompacted and the channel is closed.
	Watch(ctx context.Context, ns string, after int64) (<-chan Event, error)
	// DeleteNamespace removes the namespace and everything in it; watchers
	// see a Deleted event for each key. Like an Update that changes
	// nothing, deleting an empty namespace returns revision 0.
	DeleteNamespace(ctx context.Context, ns string) (int64, error)
	// Namespaces lists the namespaces that hold at least one key, sorted.
	Namespaces(ctx context.Context) ([]string, error)
	// Revision is the store's current revision. On etcd it counts every
	// write to the cluster, including ones outside this store's prefix.
	Revision(ctx context.Context) (int64, error)
	Close() error
}

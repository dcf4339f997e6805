package coordinator

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// depWatch follows one deployment's changes in the store and wakes the
// gets waiting on them. One watch serves every waiter of the deployment,
// so 1,000 blocked gets cost one store watch, not 1,000 polls.
type depWatch struct {
	cancel  context.CancelFunc
	id      string
	c       *Coordinator
	mu      sync.Mutex
	waiters map[string]map[*waiter]bool // by storage key
}

// idleWatch is how long a deployment's watch outlives its last waiter:
// agents ask again right after an answer, so closing at once would
// restart the watch constantly; never closing it kept a goroutine and a
// store watch (on etcd, a live etcd watch) for every deployment ever
// waited on, deleted ones included.
var idleWatch = 30 * time.Second

// waiter is one blocked get. Its channel holds at most one pending
// wake-up, the latest.
type waiter struct {
	ch   chan wakeup
	keys []string // the storage keys it waits on: one, or the run's two
	dw   *depWatch
	// fn, for a parked wait (Park), replaces ch: called on the first
	// wake-up, from the watch's goroutine.
	fn   func()
	once sync.Once
	// tag names who waits on which parameter, for Waits; nil for the
	// run's waits and the admin's.
	tag *waitTag
}

// waitTag is a parameter wait of an instance (an ss-get).
type waitTag struct {
	who, key string
	since    time.Time
}

// wakeup tells a waiter what changed. A set hands over the value itself,
// so 1,000 gets woken by one set return without 1,000 store reads (that
// was the tail of the wake-up latency); anything else (a delete, an abort,
// a watch that lost track) makes the get read the store again.
type wakeup struct {
	rev    int64
	value  string
	abort  string // the run was aborted with this message
	reread bool
	// rewatch: the deployment's watch ended; register with a new one.
	rewatch bool
}

// deliver replaces a pending wake-up with u. Two values merge into the
// newer one; any other pair (an abort and a value, say) becomes a re-read,
// so an abort committed before a set is still seen by a get that does not
// ignore aborts, and a get that does is not left without the value.
func (w *waiter) deliver(u wakeup) {
	if w.fn != nil {
		w.once.Do(w.fn)
		return
	}
	for {
		select {
		case w.ch <- u:
			return
		default:
		}
		select {
		case old := <-w.ch:
			if old.reread || old.abort != "" || u.abort != "" {
				u = wakeup{reread: true, rewatch: u.rewatch || old.rewatch}
			}
		default:
		}
	}
}

func (w *waiter) release() {
	dw := w.dw
	dw.mu.Lock()
	for _, key := range w.keys {
		delete(dw.waiters[key], w)
		if len(dw.waiters[key]) == 0 {
			delete(dw.waiters, key)
		}
	}
	idle := len(dw.waiters) == 0
	dw.mu.Unlock()
	if idle {
		time.AfterFunc(idleWatch, dw.closeIfIdle)
	}
}

// closeIfIdle stops the watch if nobody waits on the deployment any more.
// Both locks are held, in the order wait takes them, so a waiter is never
// registered on a watch being closed.
func (dw *depWatch) closeIfIdle() {
	dw.c.mu.Lock()
	defer dw.c.mu.Unlock()
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if len(dw.waiters) == 0 && dw.c.watches[dw.id] == dw {
		delete(dw.c.watches, dw.id)
		dw.cancel()
	}
}

// wait registers a waiter for storage keys of a deployment, starting the
// deployment's watch if needed.
func (c *Coordinator) wait(id string, keys ...string) (*waiter, error) {
	return c.waitFunc(id, keys, nil, nil)
}

func (c *Coordinator) waitFunc(id string, keys []string, fn func(), tag *waitTag) (*waiter, error) {
	c.mu.Lock()
	select {
	case <-c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	default:
	}
	dw := c.watches[id]
	if dw == nil {
		rev, err := c.st.Revision(context.Background())
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		dw = &depWatch{cancel: cancel, id: id, c: c, waiters: map[string]map[*waiter]bool{}}
		c.watches[id] = dw
		go c.follow(ctx, id, dw, rev)
	}
	defer c.mu.Unlock()
	w := &waiter{keys: keys, dw: dw, fn: fn, tag: tag}
	if fn == nil {
		w.ch = make(chan wakeup, 1)
	}
	dw.mu.Lock()
	for _, key := range keys {
		if dw.waiters[key] == nil {
			dw.waiters[key] = map[*waiter]bool{}
		}
		dw.waiters[key][w] = true
	}
	dw.mu.Unlock()
	return w, nil
}

// Park registers fn to be called when the parameter raw (as caller names
// it) may have changed, or the run was aborted: a wait that holds no
// goroutine, for the API's parked long-polls. fn is called at most once,
// from the deployment watch's goroutine, so it must not block; it then
// reads the value with Get. cancel removes the registration (call it in
// every case, fired or not).
func (c *Coordinator) Park(id string, caller *Instance, raw string, fn func()) (cancel func(), err error) {
	k, err := Qualify(raw, caller)
	if err != nil {
		return nil, err
	}
	return c.park(id, []string{pkey(k)}, fn, paramTag(caller, k))
}

// paramTag tags an instance's wait on a parameter (nil for the admin's).
func paramTag(caller *Instance, k Key) *waitTag {
	if caller == nil {
		return nil
	}
	return &waitTag{who: caller.String(), key: k.String(), since: time.Now()}
}

// Wait is an instance blocked on a parameter (an ss-get) right now. For
// is the parameter whose value ends the wait: Key itself, or, for an
// input mapped from another node's output, that output (web.1:db_password
// waits for db.1:password).
type Wait struct {
	Instance string    `json:"instance"`
	Key      string    `json:"key"`
	For      string    `json:"for"`
	Since    time.Time `json:"since"`
}

// Waits lists the instances blocked on a parameter of the deployment right
// now, by key and then instance: who is waiting for whom. A get woken for
// another reason than its value (an abort it ignores) and waiting again
// counts from its new start.
func (c *Coordinator) Waits(id string) []Wait {
	c.mu.Lock()
	dw := c.watches[id]
	c.mu.Unlock()
	if dw == nil {
		return []Wait{}
	}
	out := []Wait{}
	dw.mu.Lock()
	for _, ws := range dw.waiters {
		for w := range ws {
			if w.tag != nil {
				out = append(out, Wait{Instance: w.tag.who, Key: w.tag.key, Since: w.tag.since})
			}
		}
	}
	dw.mu.Unlock()
	// The spec as the waits' own reads cached it (mappings do not change
	// while a deployment lives); without it each wait is for its own key.
	var d *Deployment
	if cached, ok := c.specs.Load(id); ok {
		d = cached.(cachedSpec).d
	}
	for i := range out {
		out[i].For = out[i].Key
		if k, err := Qualify(out[i].Key, nil); err == nil && d != nil {
			out[i].For = d.Source(k).String()
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		if out[i].Instance != out[j].Instance {
			return out[i].Instance < out[j].Instance
		}
		return out[i].Since.Before(out[j].Since)
	})
	return out
}

// ParkRun is Park for WaitRun: fn is called when the run's state or abort
// may have changed.
func (c *Coordinator) ParkRun(id string, fn func()) (cancel func(), err error) {
	return c.park(id, []string{stateKey, abortKey}, fn, nil)
}

func (c *Coordinator) park(id string, keys []string, fn func(), tag *waitTag) (cancel func(), err error) {
	w, err := c.waitFunc(id, keys, fn, tag)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(w.release) }, nil
}

// follow watches a deployment's namespace from rev on and wakes waiters.
// When the store no longer has the changes it needs (ErrCompacted), it
// wakes everyone, since each re-reads anyway, and watches again from now.
func (c *Coordinator) follow(ctx context.Context, id string, dw *depWatch, rev int64) {
	defer func() {
		if ctx.Err() != nil {
			return // closed while idle, or the coordinator closed
		}
		// The store ended the watch (closed, failing): forget it, and send
		// every waiter to register with a new one.
		c.mu.Lock()
		if c.watches[id] == dw {
			delete(c.watches, id)
		}
		c.mu.Unlock()
		dw.deliverAll(wakeup{reread: true, rewatch: true})
	}()
	for ctx.Err() == nil {
		events, err := c.st.Watch(ctx, ns(id), rev)
		if err != nil {
			return
		}
		for ev := range events {
			if ev.Err != nil {
				if !errors.Is(ev.Err, store.ErrCompacted) {
					return
				}
				dw.wakeAll()
				if now, err := c.st.Revision(ctx); err == nil {
					rev = now
				}
				break
			}
			rev = ev.Rev
			if ev.Key == abortKey && !ev.Deleted && ev.Value != "" {
				// Every get ends at once with the message. A cancelled
				// abort wakes only those waiting on the abort itself
				// (an agent that reported it, WaitRun), below.
				dw.deliverAll(wakeup{rev: ev.Rev, abort: ev.Value})
				continue
			}
			u := wakeup{rev: ev.Rev, value: ev.Value, reread: ev.Deleted}
			dw.mu.Lock()
			for w := range dw.waiters[ev.Key] {
				w.deliver(u)
			}
			dw.mu.Unlock()
		}
	}
}

// wakeAll makes every waiter read the store again.
func (dw *depWatch) wakeAll() { dw.deliverAll(wakeup{reread: true}) }

func (dw *depWatch) deliverAll(u wakeup) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	for _, ws := range dw.waiters {
		for w := range ws {
			w.deliver(u)
		}
	}
}

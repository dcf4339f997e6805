package boltstore

import (
	"context"
	"sync"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// watcher is one Watch: a queue the committer appends to without ever
// blocking, drained into the caller's channel by the watcher's goroutine.
type watcher struct {
	mu       sync.Mutex
	queue    []store.Event
	overflow bool
	notify   chan struct{}
}

// publish records committed events in the namespace's history and hands
// them to its watchers. Called with s.mu held, in revision order. When the
// events emptied the namespace, its history is dropped: its watchers have
// the events, and a later Watch from before them is told to re-read (the
// namespace's floor is their revision).
func (s *Store) publish(ns string, evs []store.Event, emptied bool) {
	if len(evs) == 0 {
		return
	}
	for w := range s.watchers[ns] {
		w.push(evs)
	}
	if emptied {
		delete(s.history, ns)
		s.floor[ns] = evs[len(evs)-1].Rev
		return
	}
	h := append(s.history[ns], evs...)
	// Trim in halves once the history reaches twice its size, so each
	// change costs O(1) amortised instead of a copy of the whole history.
	if len(h) >= 2*historySize {
		over := len(h) - historySize
		s.floor[ns] = h[over-1].Rev
		h = append(make([]store.Event, 0, 2*historySize), h[over:]...)
	}
	s.history[ns] = h
}

func (w *watcher) push(evs []store.Event) {
	w.mu.Lock()
	if len(w.queue)+len(evs) > queueLimit {
		w.overflow = true
	} else {
		w.queue = append(w.queue, evs...)
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context, ns string, after int64) (<-chan store.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	w := &watcher{notify: make(chan struct{}, 1)}
	out := make(chan store.Event, 64)
	s.mu.Lock()
	floor := s.floor[ns]
	if s.openRev > floor {
		floor = s.openRev
	}
	if after < floor {
		// The changes asked for predate what is remembered.
		w.overflow = true
	} else {
		for _, ev := range s.history[ns] {
			if ev.Rev > after {
				w.queue = append(w.queue, ev)
			}
		}
	}
	if s.watchers[ns] == nil {
		s.watchers[ns] = map[*watcher]bool{}
	}
	s.watchers[ns][w] = true
	s.mu.Unlock()
	w.notify <- struct{}{}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer func() {
			s.mu.Lock()
			delete(s.watchers[ns], w)
			if len(s.watchers[ns]) == 0 {
				delete(s.watchers, ns)
			}
			s.mu.Unlock()
		}()
		for {
			select {
			case <-w.notify:
			case <-ctx.Done():
				return
			case <-s.done:
				sendErr(ctx, out, store.ErrClosed)
				return
			}
			w.mu.Lock()
			batch, overflow := w.queue, w.overflow
			w.queue = nil
			w.mu.Unlock()
			for _, ev := range batch {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				case <-s.done:
					return
				}
			}
			if overflow {
				sendErr(ctx, out, store.ErrCompacted)
				return
			}
		}
	}()
	return out, nil
}

func sendErr(ctx context.Context, out chan<- store.Event, err error) {
	select {
	case out <- store.Event{Err: err}:
	case <-ctx.Done():
	}
}

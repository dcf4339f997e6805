// Package connlimit bounds how many connections an HTTP server works on at
// once, so the coordinator's memory follows that bound rather than the
// number of machines talking to it.
//
// Served by net/http, a connection costs its goroutine's stack, its read
// and write buffers and, while a request runs, the handler's own stack and
// allocations: about 35 KB during a burst. When 10,000 machines pass a
// barrier together and each sets a parameter and completes its state, that
// was 400 MB. With the listener below, connections beyond the limit wait,
// accepted but not yet read, in a queue of the listener's own, where each
// costs a file descriptor and a few hundred bytes, until a slot is free.
//
// The queue is ours rather than the kernel's accept queue because the
// kernel's holds only net.core.somaxconn connections (4,096 by default):
// past that, new connections are answered with SYN cookies, and one whose
// handshake the kernel then cannot complete is reset, which clients see
// as "connection reset by peer". The listener's own goroutine accepts
// every connection as soon as it arrives.
//
// Two things keep slots from being held by connections doing no work:
//
//   - A connection that will wait long with nothing to do (a parked
//     long-poll, an event stream) gives its slot back with Release; it is no
//     longer counted.
//   - When more than half the slots are in use, Busy says so and the
//     server answers with "Connection: close", so an idle kept-alive
//     connection cannot hold a slot while others wait. Below half, clients
//     keep their connections, as usual.
package connlimit

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Listener is a net.Listener whose Accept hands out a connection only
// while fewer than its limit are open and not released. It accepts from
// the inner listener continuously, queueing connections until a slot is
// free.
type Listener struct {
	inner  net.Listener
	limit  int
	slots  chan struct{}
	inUse  atomic.Int64
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	queue []net.Conn    // accepted, waiting for a slot, oldest first
	err   error         // why the inner listener stopped, once it has
	shut  bool          // Close has run: no more queueing
	ready chan struct{} // signalled when queue or err changes
}

// NewListener limits inner to n connections at once (n >= 1) and starts
// accepting from it.
func NewListener(inner net.Listener, n int) *Listener {
	n = max(n, 1)
	l := &Listener{inner: inner, limit: n, slots: make(chan struct{}, n), closed: make(chan struct{}), ready: make(chan struct{}, 1)}
	go l.acceptLoop()
	return l
}

// acceptLoop accepts connections as they come and queues them. Like
// net/http's own loop, it waits and retries after a temporary error (out of
// file descriptors); any other error ends it and is Accept's answer once
// the queue is empty.
func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne interface{ Temporary() bool }
			if errors.As(err, &ne) && ne.Temporary() && !errors.Is(err, net.ErrClosed) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.closed:
					err = net.ErrClosed
				}
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.signal()
			return
		}
		delay = 0
		l.mu.Lock()
		if l.shut {
			// Close ran while this connection was being accepted.
			l.mu.Unlock()
			_ = c.Close() // never served: the client just sees it end
			return
		}
		l.queue = append(l.queue, c)
		l.mu.Unlock()
		l.signal()
	}
}

func (l *Listener) signal() {
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				l.signal() // for another Accept waiting
			}
			l.inUse.Add(1)
			return &Conn{Conn: c, l: l}, nil
		}
		err := l.err
		l.mu.Unlock()
		if err != nil {
			<-l.slots
			l.signal() // for another Accept waiting
			return nil, err
		}
		select {
		case <-l.ready:
		case <-l.closed:
			<-l.slots
			return nil, net.ErrClosed
		}
	}
}

// Close closes the listener and the connections still queued; an Accept
// waiting returns.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	err := l.inner.Close()
	l.mu.Lock()
	queued := l.queue
	l.queue, l.shut = nil, true
	l.mu.Unlock()
	for _, c := range queued {
		_ = c.Close() // never served: the client just sees it end
	}
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Limit is the number of connections served at once.
func (l *Listener) Limit() int { return l.limit }

// InUse is the number of accepted connections holding a slot.
func (l *Listener) InUse() int { return int(l.inUse.Load()) }

// Queued is the number of connections accepted and waiting for a slot.
func (l *Listener) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// busy reports whether more than half the slots are in use.
func (l *Listener) busy() bool { return 2*l.inUse.Load() > int64(l.limit) }

func (l *Listener) free() {
	l.inUse.Add(-1)
	<-l.slots
}

// Conn is a connection accepted by a Listener; it holds a slot until it is
// closed or released.
type Conn struct {
	net.Conn
	l        *Listener
	released atomic.Bool
}

// Close closes the connection and frees its slot (once).
func (c *Conn) Close() error {
	c.release()
	return c.Conn.Close()
}

// CloseWrite shuts the sending side down, as net/http does before closing
// a connection whose request body it did not read; the wrapper would hide
// the TCP connection's method otherwise.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom lets the TCP connection copy a file with sendfile (the agent
// binaries), which the wrapper would hide otherwise.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *Conn) release() {
	if c.released.CompareAndSwap(false, true) {
		c.l.free()
	}
}

// limited finds the Conn under c: c itself, or the connection a TLS
// connection runs over (NetConn).
func limited(c net.Conn) *Conn {
	for c != nil {
		if lc, ok := c.(*Conn); ok {
			return lc
		}
		inner, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = inner.NetConn()
	}
	return nil
}

// Release frees c's slot without closing it: for a connection that will
// wait long with no work to do. It does nothing for a connection that did
// not come from a Listener, or was released before.
func Release(c net.Conn) {
	if lc := limited(c); lc != nil {
		lc.release()
	}
}

// Busy reports whether c came from a Listener with more than half its
// slots in use, so that c should be closed after its response rather than
// kept alive.
func Busy(c net.Conn) bool {
	lc := limited(c)
	return lc != nil && lc.l.busy()
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it keeps the connection in
// its requests' contexts, where FromContext finds it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// FromContext is the connection ConnContext kept, or nil.
func FromContext(ctx context.Context) net.Conn {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	return c
}

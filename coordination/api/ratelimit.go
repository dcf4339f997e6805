package api

import (
	"container/heap"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// extras is the state of the routes added to the API after its first
// version: the authentication failure limiter and the checksums of served
// files (agent binaries and reports).
type extras struct {
	limiter *failLimiter // nil: no rate limiting
	sums    sumCache
	gzipped gzipCache
}

func newExtras(opts Options) *extras {
	x := &extras{sums: sumCache{m: map[string]fileSum{}}, gzipped: gzipCache{m: map[string][]byte{}}}
	if opts.AuthFailureBurst > 0 {
		x.limiter = &failLimiter{
			burst:   float64(opts.AuthFailureBurst),
			rate:    opts.AuthFailureRate,
			max:     opts.MaxTrackedClients,
			now:     opts.Now,
			clients: map[string]*bucket{},
		}
	}
	return x
}

// limited answers 429 rate_limited, and reports true, when the request's
// client has no authentication failures left. It runs before the token is
// looked at, so a client guessing tokens learns nothing more once blocked.
func (x *extras) limited(w http.ResponseWriter, r *http.Request) bool {
	if x.limiter == nil {
		return false
	}
	wait := x.limiter.blocked(clientKey(r.RemoteAddr))
	if wait <= 0 {
		return false
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many authentication failures from this address: retry in %d s", secs))
	return true
}

// authFailed takes one token from the request's client's bucket.
func (x *extras) authFailed(r *http.Request) {
	if x.limiter != nil {
		x.limiter.fail(clientKey(r.RemoteAddr))
	}
}

// clientKey is the client a request is counted against: its IP address
// from the connection (X-Forwarded-For is not trusted), IPv4-mapped
// addresses as IPv4, and IPv6 addresses by their /64 network, since one
// host usually owns a whole /64 and could otherwise change address at will.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// failLimiter keeps a token bucket of authentication failures per client.
// A bucket holds burst tokens, each failure takes one, and it refills at
// rate tokens a second; successes do not touch it. Only buckets that are
// not full are kept (a full bucket is the same as none), at most max of
// them: when a new client fails with the table full, the bucket closest to
// full is dropped.
type failLimiter struct {
	burst, rate float64
	max         int
	now         func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
	byFull  fullHeap // the bucket that becomes full first on top
}

type bucket struct {
	client string
	tokens float64   // tokens at time at (negative: failures in flight while it emptied)
	at     time.Time // last failure
	fullAt time.Time // when it is full again
	index  int       // in byFull
}

func (l *failLimiter) level(b *bucket, now time.Time) float64 {
	elapsed := max(0, now.Sub(b.at).Seconds())
	return min(l.burst, b.tokens+elapsed*l.rate)
}

// blocked returns how long the client must wait before its bucket holds a
// token again: 0 if it holds one now.
func (l *failLimiter) blocked(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[client]
	if !ok {
		return 0
	}
	now := l.now()
	lvl := l.level(b, now)
	if lvl >= l.burst {
		l.remove(b)
	}
	if lvl >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - lvl) / l.rate * float64(time.Second)))
}

// fail takes a token from the client's bucket.
func (l *failLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.clients[client]
	if ok {
		b.tokens = l.level(b, now) - 1
	} else {
		// Drop the buckets that are full again, then, if the table is
		// still full, the one closest to full.
		for len(l.byFull) > 0 && !l.byFull[0].fullAt.After(now) {
			l.remove(l.byFull[0])
		}
		for len(l.byFull) > 0 && len(l.byFull) >= l.max {
			l.remove(l.byFull[0])
		}
		b = &bucket{client: client, tokens: l.burst - 1}
		l.clients[client] = b
		heap.Push(&l.byFull, b)
	}
	b.at = now
	b.fullAt = now.Add(time.Duration((l.burst - b.tokens) / l.rate * float64(time.Second)))
	heap.Fix(&l.byFull, b.index)
}

func (l *failLimiter) remove(b *bucket) {
	heap.Remove(&l.byFull, b.index)
	delete(l.clients, b.client)
}

// tracked is the number of buckets kept (for tests).
func (l *failLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

type fullHeap []*bucket

func (h fullHeap) Len() int           { return len(h) }
func (h fullHeap) Less(i, j int) bool { return h[i].fullAt.Before(h[j].fullAt) }
func (h fullHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *fullHeap) Push(x any) {
	b := x.(*bucket)
	b.index = len(*h)
	*h = append(*h, b)
}
func (h *fullHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return b
}

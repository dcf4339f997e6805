package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// direct sends a request straight to the handler from a client address.
func direct(s *Server, method, path, token, remote string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

// TestRateLimit_http: through a real server, the 21st failure from one
// address is a 429 with Retry-After, even with a valid token after it, and
// the address recovers as the clock moves.
func TestRateLimit_http(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	srv, _ := newExtServer(t, func(o *Options) { o.Now = clock.Now })
	tokens := create(t, srv, lampJSON)
	url := srv.URL + "/v1/deployments/lamp/parameters/db:password"
	for i := 0; i < 20; i++ {
		token := []string{"", "wrong", tokens["web.1"]}[i%3]
		path := url
		if token == tokens["web.1"] {
			path = srv.URL + "/v1/deployments/lamp/parameters" // an instance on an admin route
		}
		if res, b := fetch(t, "GET", path, token, nil); res.StatusCode != 401 {
			t.Fatalf("failure %d: %d %s", i+1, res.StatusCode, b)
		}
	}
	for _, token := range []string{"wrong", admin, tokens["web.1"]} {
		res, b := fetch(t, "GET", url, token, nil)
		if res.StatusCode != 429 || errorCode(b) != "rate_limited" || res.Header.Get("Retry-After") != "1" {
			t.Fatalf("blocked, token %.5s…: %d %q %s", token, res.StatusCode, res.Header.Get("Retry-After"), b)
		}
		if strings.Contains(string(b), token) {
			t.Fatal("the answer repeats the token")
		}
	}
	// Everything is blocked, the unauthenticated agent list too.
	if res, _ := fetch(t, "GET", srv.URL+"/v1/agent", "", nil); res.StatusCode != 429 {
		t.Fatalf("agent list while blocked: %d", res.StatusCode)
	}
	clock.Advance(499 * time.Millisecond)
	if res, _ := fetch(t, "GET", url, admin, nil); res.StatusCode != 429 {
		t.Fatalf("after 0.499 s: %d", res.StatusCode)
	}
	clock.Advance(time.Millisecond)
	if res, b := fetch(t, "GET", url, tokens["web.1"], nil); res.StatusCode != 404 || errorCode(b) != "not_set" {
		t.Fatalf("after 0.5 s: %d %s", res.StatusCode, b)
	}
	// Successes do not refill: the one token regained goes on one failure.
	for i := 0; i < 5; i++ {
		fetch(t, "GET", url, admin, nil)
	}
	if res, _ := fetch(t, "GET", url, "wrong", nil); res.StatusCode != 401 {
		t.Fatalf("the regained token: %d", res.StatusCode)
	}
	if res, _ := fetch(t, "GET", url, admin, nil); res.StatusCode != 429 {
		t.Fatalf("after spending it: %d", res.StatusCode)
	}
	// Full again after burst/rate = 10 s.
	clock.Advance(10 * time.Second)
	for i := 0; i < 20; i++ {
		if res, _ := fetch(t, "GET", url, "wrong", nil); res.StatusCode != 401 {
			t.Fatalf("refilled, failure %d: %d", i+1, res.StatusCode)
		}
	}
	if res, _ := fetch(t, "GET", url, admin, nil); res.StatusCode != 429 {
		t.Fatal("the refilled bucket held more than the burst")
	}
}

// TestRateLimit_perClient: one address's failures do not block another's
// requests; IPv6 addresses count by /64; Retry-After rounds up.
func TestRateLimit_perClient(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	_, s := newExtServer(t, func(o *Options) {
		o.Now = clock.Now
		o.AuthFailureBurst = 3
		o.AuthFailureRate = 0.25 // one token every 4 s
	})
	const path = "/v1/deployments/none"
	for i := 0; i < 3; i++ {
		if w := direct(s, "GET", path, "bad", "203.0.113.5:4000"); w.Code != 401 {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	w := direct(s, "GET", path, admin, "203.0.113.5:4001")
	if w.Code != 429 || w.Header().Get("Retry-After") != "4" || !strings.Contains(w.Body.String(), "retry in 4 s") {
		t.Fatalf("blocked: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	clock.Advance(1500 * time.Millisecond)
	if w := direct(s, "GET", path, admin, "203.0.113.5:4001"); w.Header().Get("Retry-After") != "3" {
		t.Fatalf("2.5 s to go: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	// Other addresses, and the same one as an IPv4-mapped IPv6 address.
	if w := direct(s, "GET", path, admin, "198.51.100.7:4000"); w.Code != 404 {
		t.Fatalf("another address: %d", w.Code)
	}
	if w := direct(s, "GET", path, admin, "[::ffff:203.0.113.5]:4000"); w.Code != 429 {
		t.Fatalf("the same address, IPv4-mapped: %d", w.Code)
	}
	// IPv6: the /64 is one client, the next /64 another.
	for i := 0; i < 3; i++ {
		direct(s, "GET", path, "", fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1))
	}
	if w := direct(s, "GET", path, admin, "[2001:db8:1:2:ffff::9]:443"); w.Code != 429 {
		t.Fatalf("same /64: %d", w.Code)
	}
	if w := direct(s, "GET", path, admin, "[2001:db8:1:3::1]:443"); w.Code != 404 {
		t.Fatalf("another /64: %d", w.Code)
	}
	// X-Forwarded-For is not believed.
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "203.0.113.5:4000"
	req.Header.Set("X-Forwarded-For", "192.0.2.99")
	req.Header.Set("Authorization", "Bearer "+admin)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 429 {
		t.Fatalf("X-Forwarded-For escaped the limit: %d", rec.Code)
	}
}

// TestRateLimit_memory: at most MaxTrackedClients addresses are tracked,
// and buckets that are full again are dropped.
func TestRateLimit_memory(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	_, s := newExtServer(t, func(o *Options) {
		o.Now = clock.Now
		o.AuthFailureBurst = 2
		o.AuthFailureRate = 1
		o.MaxTrackedClients = 5
	})
	l := s.ext.limiter
	// The attacker empties its bucket first, then 50 addresses fail once.
	direct(s, "GET", "/v1/deployments/x", "bad", "192.0.2.1:1")
	direct(s, "GET", "/v1/deployments/x", "bad", "192.0.2.1:1")
	for i := 0; i < 50; i++ {
		direct(s, "GET", "/v1/deployments/x", "bad", fmt.Sprintf("10.0.%d.%d:1", i/256, i%256))
		if n := l.tracked(); n > 5 {
			t.Fatalf("%d addresses tracked", n)
		}
	}
	// The evicted buckets were the ones closest to full: the empty one is
	// still there.
	if w := direct(s, "GET", "/v1/deployments/x", admin, "192.0.2.1:1"); w.Code != 429 {
		t.Fatalf("the attacker was evicted before the nearly full buckets: %d", w.Code)
	}
	// Once full again, buckets are dropped as new failures come.
	clock.Advance(3 * time.Second)
	direct(s, "GET", "/v1/deployments/x", "bad", "10.9.9.9:1")
	if n := l.tracked(); n != 1 {
		t.Fatalf("%d addresses tracked after they all refilled", n)
	}
	// And a full bucket is dropped when its client comes back.
	clock.Advance(3 * time.Second)
	direct(s, "GET", "/v1/deployments/x", admin, "10.9.9.9:1")
	if n := l.tracked(); n != 0 {
		t.Fatalf("%d addresses tracked", n)
	}
}

// TestRateLimit_off: a negative burst turns the limit off.
func TestRateLimit_off(t *testing.T) {
	_, s := newExtServer(t, func(o *Options) { o.AuthFailureBurst = -1 })
	for i := 0; i < 100; i++ {
		if w := direct(s, "GET", "/v1/deployments/x", "bad", "192.0.2.1:1"); w.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
}

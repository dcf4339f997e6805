package connlimit

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// listen is a Listener of n slots on a loopback port.
func listen(t *testing.T, n int) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, n)
	t.Cleanup(func() { l.Close() })
	return l
}

// acceptAsync accepts one connection on a goroutine.
func acceptAsync(l net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

func dial(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func expectAccepted(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("Accept failed")
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return")
		return nil
	}
}

func expectWaiting(t *testing.T, ch <-chan net.Conn) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("Accept returned a connection beyond the limit")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestListener_acceptsUpToTheLimit(t *testing.T) {
	l := listen(t, 2)
	dial(t, l)
	dial(t, l)
	dial(t, l)
	a := expectAccepted(t, acceptAsync(l))
	b := expectAccepted(t, acceptAsync(l))
	if got := l.InUse(); got != 2 {
		t.Fatalf("InUse = %d, want 2", got)
	}
	third := acceptAsync(l)
	expectWaiting(t, third)

	// Closing one frees its slot once, however often it is closed.
	a.Close()
	a.Close()
	c := expectAccepted(t, third)
	expectWaiting(t, acceptAsync(l))
	if got := l.InUse(); got != 2 {
		t.Fatalf("InUse = %d after a close and an accept, want 2", got)
	}
	b.Close()
	c.Close()
}

func TestRelease_freesTheSlotAndLeavesTheConnectionOpen(t *testing.T) {
	l := listen(t, 1)
	client := dial(t, l)
	dial(t, l)
	c := expectAccepted(t, acceptAsync(l))
	next := acceptAsync(l)
	expectWaiting(t, next)

	Release(c)
	Release(c) // a second release does not free another slot
	expectAccepted(t, next)
	if got := l.InUse(); got != 1 {
		t.Fatalf("InUse = %d, want 1", got)
	}
	// The released connection still works, and closing it later frees
	// nothing more.
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read %q, %v from the released connection", buf, err)
	}
	c.Close()
	if got := l.InUse(); got != 1 {
		t.Fatalf("InUse = %d after closing the released connection, want 1", got)
	}
}

func TestBusy_aboveHalfTheSlots(t *testing.T) {
	l := listen(t, 4)
	var conns []net.Conn
	for i := range 3 {
		dial(t, l)
		conns = append(conns, expectAccepted(t, acceptAsync(l)))
		if want := i+1 > 2; Busy(conns[i]) != want {
			t.Fatalf("Busy with %d of 4 slots in use = %v, want %v", i+1, !want, want)
		}
	}
	Release(conns[0])
	if Busy(conns[1]) {
		t.Fatal("Busy with 2 of 4 slots in use after a release")
	}
	if Busy(nil) {
		t.Fatal("Busy(nil) = true")
	}
	other, _ := net.Pipe()
	if Busy(other) {
		t.Fatal("Busy is true for a connection from another listener")
	}
	Release(other) // nothing to release: no panic
}

func TestListener_closeEndsAWaitingAccept(t *testing.T) {
	l := listen(t, 1)
	dial(t, l)
	expectAccepted(t, acceptAsync(l))
	waiting := acceptAsync(l)
	expectWaiting(t, waiting)
	l.Close()
	select {
	case _, ok := <-waiting:
		if ok {
			t.Fatal("Accept returned a connection after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

// TestServer_keepAliveEndsWhenBusy runs a real http.Server on a Listener
// with ConnContext, and a handler that closes connections when Busy, as
// the coordinator's API does: below half the slots, connections are kept
// alive; above, every answer closes its connection, so waiting clients
// get through however many idle connections there were.
func TestServer_keepAliveEndsWhenBusy(t *testing.T) {
	l := listen(t, 4)
	release := make(chan struct{})
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Busy(FromContext(r.Context())) {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + l.Addr().String()

	get := func(c *http.Client, path string) *http.Response {
		res, err := c.Get(url + path)
		if err != nil {
			t.Error(err)
			return nil
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	// Quiet: a client keeps its connection.
	quiet := &http.Client{Transport: &http.Transport{}}
	if res := get(quiet, "/"); res == nil || res.Close {
		t.Fatal("the answer closed the connection with 1 of 4 slots in use")
	}
	// Busy: two held requests and the quiet client's idle connection hold
	// 3 of 4 slots; another client's answer closes its connection.
	var held sync.WaitGroup
	for range 2 {
		held.Add(1)
		go func() {
			defer held.Done()
			get(&http.Client{Transport: &http.Transport{}}, "/hold")
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.InUse() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if res := get(&http.Client{Transport: &http.Transport{}}, "/"); res == nil || !res.Close {
		t.Fatal("the answer kept the connection alive with 4 of 4 slots in use")
	}
	close(release)
	held.Wait()
}

// TestRelease_findsTheConnectionUnderTLS: behind tls.NewListener, the
// server sees a *tls.Conn; Release and Busy find the slot under it.
func TestRelease_findsTheConnectionUnderTLS(t *testing.T) {
	l := listen(t, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := FromContext(r.Context())
		if _, ok := c.(*tls.Conn); !ok {
			t.Errorf("the server's connection is %T, want *tls.Conn", c)
		}
		state := "quiet"
		if Busy(c) {
			state = "busy"
		}
		Release(c)
		io.WriteString(w, state)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Config.ConnContext = ConnContext
	srv.StartTLS()
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "busy" {
		t.Fatalf("Busy with 1 of 1 slots in use, seen through TLS: %q, want busy", body)
	}
	if got := l.InUse(); got != 0 {
		t.Fatalf("InUse = %d after Release through TLS, want 0", got)
	}
}

package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/connlimit"
)

// newLimitedServer is newServer's API behind a connlimit.Listener of n
// slots, as slipc serve runs it.
func newLimitedServer(t *testing.T, n int) (*httptest.Server, *connlimit.Listener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(newAPI(t, func(*Options) {}))
	l := connlimit.NewListener(srv.Listener, n)
	srv.Listener = l
	srv.Config.ConnContext = connlimit.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, l
}

// oneShot is a client that opens a connection per request, as each
// machine would have its own.
func oneShot() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func doWith(t *testing.T, c *http.Client, method, url, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return nil, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestConnLimit_parkedGetsAndStreamsFreeTheirSlots: with 2 connections
// served at once, 6 parked long-polls and 2 event streams are open, and a
// set still gets through and wakes every long-poll.
func TestConnLimit_parkedGetsAndStreamsFreeTheirSlots(t *testing.T) {
	srv, l := newLimitedServer(t, 2)
	tokens := create(t, &httptest.Server{URL: srv.URL}, lampJSON)
	http.DefaultClient.CloseIdleConnections() // create's connection would hold a slot

	var streams []*bufio.Reader
	for range 2 {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/deployments/lamp/events", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := oneShot().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		streams = append(streams, bufio.NewReader(res.Body))
	}

	var gets sync.WaitGroup
	values := make(chan string, 6)
	for i := range 6 {
		gets.Add(1)
		go func() {
			defer gets.Done()
			tok := tokens[[]string{"web.1", "web.2"}[i%2]]
			res, body := doWith(t, oneShot(), "GET", srv.URL+"/v1/deployments/lamp/parameters/db_password?wait=5s", tok, "")
			if res != nil && res.StatusCode == http.StatusOK {
				values <- body
			}
		}()
	}
	// Every get parked: no slot is held.
	deadline := time.Now().Add(5 * time.Second)
	for l.InUse() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := l.InUse(); n != 0 {
		t.Fatalf("%d slots in use with only parked gets and event streams open", n)
	}
	time.Sleep(100 * time.Millisecond) // let the last gets park after their read

	res, body := doWith(t, oneShot(), "PUT", srv.URL+"/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"pw"}`)
	if res == nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("set behind parked gets and streams: %v %s", res, body)
	}
	gets.Wait()
	close(values)
	n := 0
	for v := range values {
		if !strings.Contains(v, `"pw"`) {
			t.Errorf("a parked get answered %s", v)
		}
		n++
	}
	if n != 6 {
		t.Fatalf("%d of 6 parked gets answered with the value", n)
	}
	for i, st := range streams {
		found := false
		for !found {
			line, err := st.ReadString('\n')
			if err != nil {
				t.Fatalf("event stream %d: %v", i, err)
			}
			found = strings.Contains(line, "db.1:password")
		}
	}
}

// TestConnLimit_busyAnswersClose: once more than half the slots are taken,
// answers close their connection instead of keeping it idle in a slot.
func TestConnLimit_busyAnswersClose(t *testing.T) {
	srv, l := newLimitedServer(t, 4)
	keep := &http.Client{Transport: &http.Transport{}}
	res, _ := doWith(t, keep, "GET", srv.URL+"/v1/agent", "", "")
	if res == nil || res.Close {
		t.Fatal("an answer with 1 of 4 slots in use closed its connection")
	}
	// Two connections that have sent nothing hold two more slots.
	for range 2 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.InUse() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res, _ = doWith(t, keep, "GET", srv.URL+"/v1/agent", "", "")
	if res == nil || !res.Close {
		t.Fatalf("an answer with %d of 4 slots in use kept its connection alive", l.InUse())
	}
}

package csapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an API double that records requests and answers with a
// handler of the test's.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func serve(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r)
		rec.body = append(rec.body, string(b))
		rec.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL + "/api/2.0", Username: "user.email@domain.tld", Password: "pass123"})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestRequestShape(t *testing.T) {
	c, rec := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"action": "start", "result": "success", "uuid": "s1"}`)
	})
	res, err := c.ServerAction(context.Background(), "s1", ActionStart)
	if err != nil || res.Result != "success" {
		t.Fatalf("start: %+v, %v", res, err)
	}
	r := rec.reqs[0]
	user, pass, ok := r.BasicAuth()
	switch {
	case r.Method != "POST" || r.URL.Path != "/api/2.0/servers/s1/action/" || r.URL.Query().Get("do") != "start":
		t.Errorf("request %s %s", r.Method, r.URL)
	case !ok || user != "user.email@domain.tld" || pass != "pass123":
		t.Errorf("basic auth %q %q %v", user, pass, ok)
	case r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json":
		t.Errorf("headers %v", r.Header)
	case r.Header.Get("User-Agent") != DefaultUserAgent:
		t.Errorf("user agent %q", r.Header.Get("User-Agent"))
	case rec.body[0] != "{}":
		t.Errorf("an action's body is %q, want {}", rec.body[0])
	}
}

func TestErrorAnswer(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `[{"error_point": null, "error_type": "permission", "error_message": "Usage limits exceeded"}]`)
	})
	_, err := c.CreateServers(context.Background(), []Server{{Name: "x"}})
	var e *Error
	if !errors.As(err, &e) || e.Status != 403 || e.Type() != TypePermission || e.Op() != "POST /servers/" {
		t.Fatalf("error %v (%T)", err, err)
	}
	if want := "cloudsigma POST /servers/: HTTP 403 permission: Usage limits exceeded"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestNoAnswerIsARequestError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := New(Options{BaseURL: "http://" + addr + "/api/2.0/", Username: "u", Password: "secret-password", Timeout: time.Second})
	_, err = c.GetServer(context.Background(), "s1")
	var re *RequestError
	if !errors.As(err, &re) || re.Op() != "GET /servers/s1/" {
		t.Fatalf("error %v (%T)", err, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) {
		t.Errorf("%v does not unwrap to a net.Error", err)
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestNotJSONAnswer(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>ok</html>") })
	_, err := c.GetServer(context.Background(), "s1")
	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "decoding the answer") {
		t.Errorf("a 200 that is not JSON: %v", err)
	}
}

func TestIDsStayOneSegment(t *testing.T) {
	c, rec := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, id := range []string{"", ".", ".."} {
		if err := c.DeleteServer(context.Background(), id, ""); !errors.Is(err, ErrBadID) {
			t.Errorf("DeleteServer(%q): %v, want ErrBadID", id, err)
		}
	}
	if len(rec.reqs) != 0 {
		t.Errorf("requests were sent for bad ids: %v", rec.reqs[0].URL)
	}
	if err := c.DeleteDrive(context.Background(), "../servers/x?y"); err != nil {
		t.Fatal(err)
	}
	if got := rec.reqs[0].URL.EscapedPath(); got != "/api/2.0/drives/..%2Fservers%2Fx%3Fy/" {
		t.Errorf("an id with slashes went to %s", got)
	}
	if err := c.DeleteServer(context.Background(), "s1", RecurseAllDrives); err != nil {
		t.Fatal(err)
	}
	if got := rec.reqs[1].URL.String(); got != "/api/2.0/servers/s1/?recurse=all_drives" {
		t.Errorf("recursive delete went to %s", got)
	}
}

// pagedServers answers list requests from n objects, honouring limit and
// offset; ignoreZero makes limit=0 return 2 objects, as an API that caps
// its pages might.
func pagedServers(n int, ignoreZero bool) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if limit == 0 && ignoreZero {
			limit = 2
		}
		end := n
		if limit > 0 {
			end = min(offset+limit, n)
		}
		var objs []map[string]any
		for i := offset; i < end; i++ {
			objs = append(objs, map[string]any{"uuid": fmt.Sprintf("s%d", i), "name": fmt.Sprintf("n%d", i)})
		}
		json.NewEncoder(w).Encode(map[string]any{"meta": map[string]any{"limit": limit, "offset": offset, "total_count": n}, "objects": objs})
	}
}

func TestListFollowsPages(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pageSize   int
		ignoreZero bool
		calls      int
	}{
		{"limit 0 is everything", 0, false, 1},
		{"pages of 2", 2, false, 3},
		{"limit 0 answered with fewer than the total", 0, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := serve(t, pagedServers(5, tc.ignoreZero))
			c.pageSize = tc.pageSize
			ss, err := c.ListServers(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != 5 || ss[4].UUID != "s4" || len(rec.reqs) != tc.calls {
				t.Errorf("%d servers in %d calls", len(ss), len(rec.reqs))
			}
			if r := rec.reqs[0]; r.URL.Path != "/api/2.0/servers/detail/" || r.URL.Query().Get("limit") != strconv.Itoa(tc.pageSize) {
				t.Errorf("first request %s", r.URL)
			}
		})
	}
}

func TestNewRefusesBadBaseURLs(t *testing.T) {
	for _, u := range []string{"", "zrh.cloudsigma.com/api/2.0/", "ftp://x/", "http://", "://x", "https://me:secret@zrh.cloudsigma.com/api/2.0/", "https://me:secret@zrh.cloud sigma.com/\x00"} {
		_, err := New(Options{BaseURL: u})
		if err == nil {
			t.Errorf("New(%q) took it", u)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%q): the error shows the password: %v", u, err)
		}
	}
	c, err := New(Options{BaseURL: LocationURL("zrh")})
	if err != nil || c.BaseURL() != "https://zrh.cloudsigma.com/api/2.0/" {
		t.Errorf("LocationURL(zrh): %v, %v", c, err)
	}
}

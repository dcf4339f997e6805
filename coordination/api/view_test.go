package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// viewerToken issues a viewer token through the API.
func viewerToken(t *testing.T, srv *httptest.Server, body string) string {
	t.Helper()
	r := call(t, srv, "POST", "/v1/viewers", admin, body)
	if r.status != http.StatusCreated {
		t.Fatalf("viewer: %d %s", r.status, r.raw)
	}
	return r.body["token"].(string)
}

// lampBlocked registers the lamp deployment, has db.1 set its secret and
// web.1 wait on a parameter nobody set, and returns the agents' tokens.
func lampBlocked(t *testing.T, srv *httptest.Server) map[string]string {
	t.Helper()
	tokens := create(t, srv, strings.Replace(lampJSON, `"db_password":{"sensitive":true}`, `"db_password":{"sensitive":true},"note":{},"url":{"output":true}`, 1))
	if r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"s3cret-db-password"}`); r.status != 204 {
		t.Fatalf("set: %d %s", r.status, r.raw)
	}
	call(t, srv, "PUT", "/v1/deployments/lamp/parameters/statecustom", tokens["web.2"], `{"value":"installing apache"}`)
	go park(srv, "/v1/deployments/lamp/parameters/web.2:url?wait=5s", tokens["web.1"])
	waitFor(t, func() bool {
		return strings.Contains(call(t, srv, "GET", "/v1/deployments/lamp/waits", admin, "").raw, "web.2:url")
	})
	return tokens
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
	}
}

// TestAPI_viewerReadsButNeverASecret: a viewer token reads what the web
// view shows, and nothing it reads (overview, instances, parameters, the
// deployment, the event stream) holds a sensitive value.
func TestAPI_viewerReadsButNeverASecret(t *testing.T) {
	srv := newServer(t)
	tokens := lampBlocked(t, srv)
	viewer := viewerToken(t, srv, `{"name":"alice","ttl":"1h"}`)
	for _, path := range []string{
		"/v1/whoami", "/v1/deployments", "/v1/deployments?states=1", "/v1/deployments/lamp", "/v1/deployments/lamp/run",
		"/v1/deployments/lamp/overview", "/v1/deployments/lamp/instances", "/v1/deployments/lamp/instances?node=web&state=Waiting",
		"/v1/deployments/lamp/instances/db.1", "/v1/deployments/lamp/instances/web.2", "/v1/deployments/lamp/parameters",
		"/v1/deployments/lamp/waits",
	} {
		r := call(t, srv, "GET", path, viewer, "")
		if r.status != 200 {
			t.Fatalf("viewer GET %s: %d %s", path, r.status, r.raw)
		}
		if strings.Contains(r.raw, "s3cret") {
			t.Fatalf("viewer GET %s shows a sensitive value: %s", path, r.raw)
		}
	}
	if r := call(t, srv, "GET", "/v1/whoami", viewer, ""); r.body["role"] != "viewer" || r.body["name"] != "alice" {
		t.Fatalf("whoami: %s", r.raw)
	}
	// What the view shows: who waits for what, the display message, the
	// secret's existence without its value.
	o := call(t, srv, "GET", "/v1/deployments/lamp/overview", viewer, "")
	if !strings.Contains(o.raw, `"instance":"web.1","key":"web.2:url"`) || !strings.Contains(o.raw, `"Waiting":1`) {
		t.Fatalf("overview: %s", o.raw)
	}
	web := call(t, srv, "GET", "/v1/deployments/lamp/instances?node=web", viewer, "")
	if web.body["total"] != 2.0 || !strings.Contains(web.raw, `"display":"installing apache"`) || !strings.Contains(web.raw, `"state":"Waiting"`) {
		t.Fatalf("instances: %s", web.raw)
	}
	detail := call(t, srv, "GET", "/v1/deployments/lamp/instances/web.1", viewer, "")
	if !strings.Contains(detail.raw, `{"name":"db_password","set":true,"sensitive":true}`) {
		t.Fatalf("detail: %s", detail.raw)
	}
	// The admin reads the values through the provider's calls, but the
	// view's own endpoints hold none for the admin either.
	for _, path := range []string{"/v1/deployments/lamp/overview", "/v1/deployments/lamp/instances", "/v1/deployments/lamp/instances/web.1"} {
		if r := call(t, srv, "GET", path, admin, ""); r.status != 200 || strings.Contains(r.raw, "s3cret") {
			t.Fatalf("admin GET %s: %d %s", path, r.status, r.raw)
		}
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp/parameters", admin, ""); !strings.Contains(r.raw, "s3cret") {
		t.Fatalf("the admin's parameters lost the value: %s", r.raw)
	}

	// The viewer can change nothing, and reads no report.
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/deployments/lamp/parameters/web.1:note", `{"value":"x"}`},
		{"POST", "/v1/deployments/lamp/abort", `{"message":"x"}`},
		{"POST", "/v1/deployments/lamp/complete", `{"state":"Initializing"}`},
		{"POST", "/v1/deployments/lamp/finalize", `{}`},
		{"DELETE", "/v1/deployments/lamp", ""},
		{"POST", "/v1/deployments", lampJSON},
		{"POST", "/v1/viewers", `{}`},
		{"GET", "/v1/viewers", ""},
		{"GET", "/v1/deployments/lamp/reports/web.1", ""},
		{"GET", "/v1/deployments/lamp/parameters/db.1:password", ""},
		{"PATCH", "/v1/deployments/lamp", `{"keep_running":"always"}`},
	} {
		if r := call(t, srv, c.method, c.path, viewer, c.body); r.status != 401 && r.status != 403 {
			t.Fatalf("viewer %s %s: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp", admin, ""); r.body["state"] != "Initializing" || r.body["abort"] != "" {
		t.Fatalf("after the viewer's attempts: %s", r.raw)
	}

	// An instance token does not open the view.
	for _, path := range []string{"/v1/deployments", "/v1/whoami", "/v1/deployments/lamp/overview", "/v1/deployments/lamp/instances"} {
		if r := call(t, srv, "GET", path, tokens["web.1"], ""); r.status != 401 {
			t.Fatalf("instance token GET %s: %d %s", path, r.status, r.raw)
		}
	}

	// The event stream, as the page reads it: every change, no secret.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/deployments/lamp/events", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("viewer events: %v %v", err, res)
	}
	defer res.Body.Close()
	call(t, srv, "PUT", "/v1/deployments/lamp/parameters/note", tokens["web.1"], `{"value":"done"}`)
	var seen []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"web.1:note"`) {
		seen = append(seen, sc.Text())
	}
	all := strings.Join(seen, "\n")
	if !strings.Contains(all, `"key":"db.1:password","sensitive":true`) || strings.Contains(all, "s3cret") {
		t.Fatalf("viewer's events:\n%s", all)
	}
}

// TestAPI_viewerTokensExpireAndRevoke: a viewer token limited to one
// deployment sees only it; an expired or revoked one opens nothing.
func TestAPI_viewerTokensExpireAndRevoke(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	srv, _ := newExtServer(t, func(o *Options) { o.Now = func() time.Time { return now } })
	create(t, srv, lampJSON)
	create(t, srv, strings.Replace(lampJSON, `"id":"lamp"`, `"id":"other"`, 1))
	only := viewerToken(t, srv, `{"name":"lamp-only","deployment":"lamp","ttl":"2h"}`)
	list := call(t, srv, "GET", "/v1/deployments", only, "")
	if list.status != 200 || strings.Contains(list.raw, `"other"`) || !strings.Contains(list.raw, `"lamp"`) {
		t.Fatalf("scoped list: %s", list.raw)
	}
	if strings.Contains(list.raw, "meta") {
		t.Fatalf("a viewer sees the provider's configuration: %s", list.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/other/overview", only, ""); r.status != 403 {
		t.Fatalf("other deployment: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/other/run", only, ""); r.status != 403 {
		t.Fatalf("other deployment's run: %d %s", r.status, r.raw)
	}
	// Names are unique while their token lives; bad requests say why.
	for body, want := range map[string]int{
		`{"name":"lamp-only"}`:            409,
		`{"name":"a b"}`:                  400,
		`{"ttl":"forever"}`:               400,
		`{"ttl":"-1h"}`:                   400,
		`{"deployment":"nope"}`:           404,
		`{"name":"x","unknown":true}`:     400,
		`{"name":"ok","ttl":"8784h1s"}`:   400,
		`{"name":"fine","ttl":"8784h0s"}`: 201,
	} {
		if r := call(t, srv, "POST", "/v1/viewers", admin, body); r.status != want {
			t.Errorf("POST /v1/viewers %s: %d %s, want %d", body, r.status, r.raw, want)
		}
	}
	listed := call(t, srv, "GET", "/v1/viewers", admin, "")
	if !strings.Contains(listed.raw, `"name":"lamp-only","deployment":"lamp"`) || strings.Contains(listed.raw, "sha256") {
		t.Fatalf("viewers: %s", listed.raw)
	}

	now = now.Add(2 * time.Hour)
	if r := call(t, srv, "GET", "/v1/deployments/lamp/overview", only, ""); r.status != 401 || !strings.Contains(r.raw, "expired") {
		t.Fatalf("expired: %d %s", r.status, r.raw)
	}
	// The name of an expired token may be given again.
	again := viewerToken(t, srv, `{"name":"lamp-only","deployment":"lamp"}`)
	if r := call(t, srv, "GET", "/v1/deployments/lamp/overview", again, ""); r.status != 200 {
		t.Fatalf("renewed: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "DELETE", "/v1/viewers/lamp-only", admin, ""); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp/overview", again, ""); r.status != 401 {
		t.Fatalf("revoked: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "DELETE", "/v1/viewers/lamp-only", admin, ""); r.status != 404 {
		t.Fatalf("revoke twice: %d %s", r.status, r.raw)
	}
}

// TestAPI_overviewShowsAbortAndDeadlock: the overview names the abort's
// author, time and who was waiting, and the cycles among the waits.
func TestAPI_overviewShowsAbortAndDeadlock(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, `{"id":"ring","nodes":{
	 "a":{"multiplicity":1,"params":{"x":{"output":true}}},
	 "b":{"multiplicity":1,"params":{"y":{"output":true}}},
	 "c":{"multiplicity":1,"params":{}}}}`)
	go park(srv, "/v1/deployments/ring/parameters/b.1:y?wait=5s", tokens["a.1"])
	go park(srv, "/v1/deployments/ring/parameters/a.1:x?wait=5s", tokens["b.1"])
	go park(srv, "/v1/deployments/ring/parameters/a.1:x?wait=5s", tokens["c.1"])
	var o struct {
		Waits     []map[string]any
		Deadlocks [][]string
		States    map[string]int
		Instances int
		Abort     *struct {
			Message, By string
			At          time.Time
			Waiting     []map[string]any
		}
	}
	waitFor(t, func() bool {
		r := call(t, srv, "GET", "/v1/deployments/ring/overview", admin, "")
		json.Unmarshal([]byte(r.raw), &o)
		return len(o.Waits) == 3
	})
	if len(o.Deadlocks) != 1 || strings.Join(o.Deadlocks[0], " ") != "a.1 b.1" || o.States["Waiting"] != 3 || o.Instances != 3 {
		t.Fatalf("overview: %+v", o)
	}
	if r := call(t, srv, "POST", "/v1/deployments/ring/abort", tokens["c.1"], `{"message":"a and b wait for each other"}`); r.status != 204 {
		t.Fatalf("abort: %d %s", r.status, r.raw)
	}
	r := call(t, srv, "GET", "/v1/deployments/ring/overview", admin, "")
	json.Unmarshal([]byte(r.raw), &o)
	if o.Abort == nil || o.Abort.By != "c.1" || o.Abort.Message != "a and b wait for each other" || time.Since(o.Abort.At) > time.Minute || len(o.Abort.Waiting) != 3 {
		t.Fatalf("abort: %s", r.raw)
	}
	if o.States["Aborted"] != 1 {
		t.Fatalf("states: %v", o.States)
	}
	// Paging and filters answer what they are asked, and refuse nonsense.
	if r := call(t, srv, "GET", "/v1/deployments/ring/instances?limit=1&offset=1", admin, ""); r.body["total"] != 3.0 || !strings.Contains(r.raw, `"name":"b.1"`) || strings.Contains(r.raw, `"name":"a.1"`) {
		t.Fatalf("page: %s", r.raw)
	}
	for _, q := range []string{"state=Sleeping", "offset=-1", "limit=x"} {
		if r := call(t, srv, "GET", "/v1/deployments/ring/instances?"+q, admin, ""); r.status != 400 {
			t.Fatalf("%s: %d %s", q, r.status, r.raw)
		}
	}
	for _, name := range []string{"d.1", "a.2", "a", "a.0"} {
		if r := call(t, srv, "GET", "/v1/deployments/ring/instances/"+name, admin, ""); r.status != 404 {
			t.Fatalf("instance %s: %d %s", name, r.status, r.raw)
		}
	}
	if r := call(t, srv, "GET", "/v1/deployments/nope/overview", admin, ""); r.status != 404 {
		t.Fatalf("no deployment: %d %s", r.status, r.raw)
	}
}

// TestAPI_stats: the admin reads the process's vital signs; nobody else.
func TestAPI_stats(t *testing.T) {
	srv := newServer(t)
	r := call(t, srv, "GET", "/v1/stats", admin, "")
	if r.status != 200 || r.body["goroutines"].(float64) < 1 || r.body["heap_bytes"].(float64) <= 0 || r.body["open_files"].(float64) < 1 {
		t.Fatalf("stats: %d %s", r.status, r.raw)
	}
	viewer := viewerToken(t, srv, `{}`)
	if r := call(t, srv, "GET", "/v1/stats", viewer, ""); r.status != 401 {
		t.Fatalf("a viewer read the stats: %d", r.status)
	}
}

// TestAPI_answersAreNotCached: API answers carry no-store.
func TestAPI_answersAreNotCached(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{"/v1/deployments", "/v1/whoami"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %v", path, res.Header)
		}
	}
}

// park makes a blocking get from its own goroutine (the answer does not
// matter: the test looks at the coordinator's waits meanwhile).
func park(srv *httptest.Server, path, token string) {
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
}

package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const admin = "admin-token-for-tests-0123456789"

func newServer(t testing.TB) *httptest.Server {
	t.Helper()
	srv, _ := newExtServer(t, func(*Options) {})
	return srv
}

type resp struct {
	status int
	body   map[string]any
	raw    string
}

func call(t testing.TB, srv *httptest.Server, method, path, token, body string) resp {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, raw: string(b)}
	json.Unmarshal(b, &r.body)
	return r
}

func code(r resp) string {
	if e, ok := r.body["error"].(map[string]any); ok {
		return e["code"].(string)
	}
	return ""
}

const lampJSON = `{"id":"lamp","nodes":{
 "db":{"multiplicity":1,"params":{"password":{"output":true,"sensitive":true}}},
 "web":{"multiplicity":2,"params":{"db_password":{"sensitive":true}},"mappings":{"db_password":"db:password"}}}}`

// create registers a deployment and returns its instances' agent tokens:
// the bootstrap tokens the create answers, each exchanged as the agent
// does when it starts (createBootstrap keeps them as they are).
func create(t *testing.T, srv *httptest.Server, body string) map[string]string {
	t.Helper()
	var d struct{ ID string }
	json.Unmarshal([]byte(body), &d)
	return exchangeAll(t, srv, d.ID, createBootstrap(t, srv, body))
}

func createBootstrap(t *testing.T, srv *httptest.Server, body string) map[string]string {
	t.Helper()
	r := call(t, srv, "POST", "/v1/deployments", admin, body)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	tokens := map[string]string{}
	for k, v := range r.body["tokens"].(map[string]any) {
		tokens[k] = v.(string)
	}
	return tokens
}

// TestAPI_lamp runs the lamp exchange through HTTP: web instances long-poll
// their mapped input, the database sets it with its own token.
func TestAPI_lamp(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, lampJSON)
	if len(tokens) != 3 || tokens["web.2"] == "" || tokens["web.1"] == tokens["web.2"] {
		t.Fatalf("tokens %v", tokens)
	}
	got := make(chan resp, 2)
	for _, inst := range []string{"web.1", "web.2"} {
		go func(tok string) {
			got <- call(t, srv, "GET", "/v1/deployments/lamp/parameters/db_password?wait=5s", tok, "")
		}(tokens[inst])
	}
	time.Sleep(50 * time.Millisecond)
	if r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"s3cret"}`); r.status != http.StatusNoContent {
		t.Fatalf("set: %d %s", r.status, r.raw)
	}
	for i := 0; i < 2; i++ {
		if r := <-got; r.status != 200 || r.body["value"] != "s3cret" {
			t.Fatalf("long-poll get: %d %s", r.status, r.raw)
		}
	}
	r := call(t, srv, "GET", "/v1/deployments/lamp/parameters", admin, "")
	if r.status != 200 || !strings.Contains(r.raw, `"web.2:db_password":"s3cret"`) || !strings.Contains(r.raw, `"web.2:db_password":true`) {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp", admin, ""); r.status != 200 || r.body["state"] != "Initializing" {
		t.Fatalf("get deployment: %d %s", r.status, r.raw)
	}
	// The barrier through the API.
	for _, inst := range []string{"db.1", "web.1", "web.2"} {
		r = call(t, srv, "POST", "/v1/deployments/lamp/complete", tokens[inst], `{"state":"Initializing"}`)
	}
	if r.status != 200 || r.body["state"] != "Provisioning" {
		t.Fatalf("complete: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "DELETE", "/v1/deployments/lamp", admin, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp", admin, ""); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp/parameters/db:password", tokens["web.1"], ""); r.status != 401 {
		t.Fatalf("a deleted deployment's token still works: %d", r.status)
	}
}

// TestAPI_errors checks every error the API gives, with its status and code.
func TestAPI_errors(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, lampJSON)
	other := create(t, srv, strings.Replace(lampJSON, `"lamp"`, `"other"`, 1))
	web1 := tokens["web.1"]
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "GET", "/v1/deployments/lamp/parameters/db:password", "", "", 401, "unauthorized"},
		{"bad token", "GET", "/v1/deployments/lamp/parameters/db:password", "nope", "", 401, "unauthorized"},
		{"another deployment's token", "GET", "/v1/deployments/lamp/parameters/db:password", other["web.1"], "", 401, "unauthorized"},
		{"instance on an admin endpoint", "GET", "/v1/deployments/lamp/parameters", web1, "", 401, "unauthorized"},
		{"instance creating", "POST", "/v1/deployments", web1, lampJSON, 401, "unauthorized"},
		{"another node's key", "PUT", "/v1/deployments/lamp/parameters/db:password", web1, `{"value":"x"}`, 403, "forbidden"},
		{"a sibling's key", "PUT", "/v1/deployments/lamp/parameters/web.2:db_password", web1, `{"value":"x"}`, 403, "forbidden"},
		{"undeclared key", "PUT", "/v1/deployments/lamp/parameters/nope", web1, `{"value":"x"}`, 404, "not_found"},
		{"invalid key", "GET", "/v1/deployments/lamp/parameters/db.0:password", web1, "", 400, "invalid"},
		{"path trick in key", "GET", "/v1/deployments/lamp/parameters/..%2F..%2Fetc:passwd", web1, "", 400, "invalid"},
		{"unset, no wait", "GET", "/v1/deployments/lamp/parameters/db:password", web1, "", 404, "not_set"},
		{"timeout", "GET", "/v1/deployments/lamp/parameters/db:password?wait=50ms", web1, "", 408, "timeout"},
		{"bad wait", "GET", "/v1/deployments/lamp/parameters/db:password?wait=soon", web1, "", 400, "invalid"},
		{"malformed JSON", "PUT", "/v1/deployments/lamp/parameters/db_password", web1, `{"value":`, 400, "invalid"},
		{"unknown field", "PUT", "/v1/deployments/lamp/parameters/db_password", web1, `{"value":"x","evil":1}`, 400, "invalid"},
		{"missing value", "PUT", "/v1/deployments/lamp/parameters/db_password", web1, `{}`, 400, "invalid"},
		{"value too large", "PUT", "/v1/deployments/lamp/parameters/db_password", web1, `{"value":"` + strings.Repeat("x", 5000) + `"}`, 413, "too_large"},
		{"body too large", "PUT", "/v1/deployments/lamp/parameters/db_password", web1, `{"value":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large"},
		{"no such deployment", "GET", "/v1/deployments/nope", admin, "", 404, "not_found"},
		{"create twice", "POST", "/v1/deployments", admin, lampJSON, 409, "exists"},
		{"invalid deployment", "POST", "/v1/deployments", admin, `{"id":"x","nodes":{"a-b":{"multiplicity":1}}}`, 400, "invalid"},
		{"too many instances", "POST", "/v1/deployments", admin, `{"id":"big","nodes":{"a":{"multiplicity":1000000000}}}`, 400, "invalid"},
		{"wrong state", "POST", "/v1/deployments/lamp/complete", web1, `{"state":"Ready"}`, 409, "state"},
		{"admin completing", "POST", "/v1/deployments/lamp/complete", admin, `{"state":"Initializing"}`, 403, "forbidden"},
	}
	for _, c := range cases {
		r := call(t, srv, c.method, c.path, c.token, c.body)
		if r.status != c.status || code(r) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
	}
}

// TestAPI_abort: an abort ends every long-poll at once with the message.
func TestAPI_abort(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, lampJSON)
	got := make(chan resp, 1)
	go func() {
		got <- call(t, srv, "GET", "/v1/deployments/lamp/parameters/db_password?wait=5s", tokens["web.1"], "")
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if r := call(t, srv, "POST", "/v1/deployments/lamp/abort", tokens["db.1"], `{"message":"cannot format disk"}`); r.status != 204 {
		t.Fatalf("abort: %d %s", r.status, r.raw)
	}
	r := <-got
	if r.status != 409 || code(r) != "aborted" || !strings.Contains(r.raw, "db.1: cannot format disk") {
		t.Fatalf("waiter: %d %s", r.status, r.raw)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("the waiter was not ended by the abort")
	}
	if r := call(t, srv, "POST", "/v1/deployments/lamp/abort", tokens["db.1"], `{"cancel":true}`); r.status != 204 {
		t.Fatalf("cancel: %d", r.status)
	}
	if r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"x"}`); r.status != 204 {
		t.Fatalf("set after cancel: %d %s", r.status, r.raw)
	}
}

// FuzzAPI sends arbitrary requests with the admin token: the server must
// never panic or answer 5xx.
func FuzzAPI(f *testing.F) {
	f.Add("POST", "/v1/deployments", []byte(lampJSON))
	f.Add("PUT", "/v1/deployments/lamp/parameters/db.1:password", []byte(`{"value":"x"}`))
	f.Add("GET", "/v1/deployments/lamp/parameters/web:ids?wait=1ms", []byte(nil))
	f.Add("POST", "/v1/deployments/lamp/abort", []byte(`{"message":"m"}`))
	f.Add("PUT", "/v1/deployments/lamp/reports/web.1", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	f.Add("GET", "/v1/deployments/lamp/reports/web.1", []byte(nil))
	f.Add("GET", "/v1/agent/linux/amd64", []byte(nil))
	f.Add("POST", "/v1/deployments/lamp/scale", []byte(`{"node":"web","multiplicity":3}`))
	f.Add("POST", "/v1/deployments/lamp/finalize", []byte(nil))
	f.Add("GET", "/v1/deployments/lamp/parameters/ss:state?wait=1ms&changed_from=Ready", []byte(nil))
	f.Add("GET", "/v1/deployments/lamp/run?wait=1ms&state=Ready&abort=x", []byte(nil))
	f.Add("POST", "/v1/deployments", []byte(`{"defer_tokens":true,"id":"farm","nodes":{"worker":{"multiplicity":3}}}`))
	f.Add("POST", "/v1/deployments/farm/scale", []byte(`{"node":"worker","multiplicity":4,"defer_tokens":true}`))
	f.Add("POST", "/v1/deployments/farm/pools", []byte(`{"node":"worker","token_sha256":"`+strings.Repeat("ab", 32)+`"}`))
	f.Add("PUT", "/v1/deployments/farm/pools/"+strings.Repeat("ab", 32)+"/members", []byte(`{"members":{"i-0abc":"worker.2"}}`))
	f.Add("DELETE", "/v1/deployments/farm/members", []byte(`{"machine_ids":["i-0abc"]}`))
	f.Add("GET", "/v1/deployments/farm/members?node=worker", []byte(nil))
	f.Add("POST", "/v1/deployments/farm/exchange", []byte(`{"token_sha256":"`+strings.Repeat("cd", 32)+`","machine_id":"i-0abc"}`))
	f.Add("POST", "/v1/viewers", []byte(`{"name":"v","ttl":"1h","deployment":"lamp"}`))
	f.Add("DELETE", "/v1/viewers/v", []byte(nil))
	f.Add("GET", "/v1/deployments/lamp/overview", []byte(nil))
	f.Add("GET", "/v1/deployments/lamp/instances?node=web&state=Waiting&match=1&offset=1&limit=2", []byte(nil))
	f.Add("GET", "/v1/deployments/lamp/instances/web.2", []byte(nil))
	f.Add("GET", "/v1/deployments?states=1", []byte(nil))
	srv := newServer(f)
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s %q: status %d", method, path, body, res.StatusCode)
		}
	})
}

// TestAPI_events streams parameter changes as server-sent events, with
// sensitive values left out.
func TestAPI_events(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, strings.Replace(lampJSON, `"db_password":{"sensitive":true}`, `"db_password":{"sensitive":true},"note":{}`, 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/deployments/lamp/events", nil)
	req.Header.Set("Authorization", "Bearer "+tokens["web.1"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", res.StatusCode, ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	call(t, srv, "PUT", "/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"s3cret"}`)
	call(t, srv, "PUT", "/v1/deployments/lamp/parameters/note", tokens["web.1"], `{"value":"hello"}`)
	var data []string
	timeout := time.After(10 * time.Second)
	// The stream replays the registration first, then the two sets.
	for !strings.Contains(strings.Join(data, "\n"), `"key":"web.1:note"`) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended after %v", data)
			}
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				data = append(data, d)
			}
		case <-timeout:
			t.Fatalf("events so far: %v", data)
		}
	}
	all := strings.Join(data, "\n")
	if strings.Contains(all, "s3cret") {
		t.Fatalf("a sensitive value reached the event stream:\n%s", all)
	}
	if !strings.Contains(all, `"key":"web.2:db_password"`) || !strings.Contains(all, `"sensitive":true`) || !strings.Contains(all, `"key":"web.1:note","value":"hello"`) {
		t.Fatalf("events:\n%s", all)
	}
}

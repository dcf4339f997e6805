package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPI_scaleAndFinalize: only the admin scales and finalizes; scaling
// issues tokens for the new instances that work at once; bad bodies and
// unknown nodes are client errors; a finalized run reports Finalizing.
func TestAPI_scaleAndFinalize(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, lampJSON)
	if r := call(t, srv, "POST", "/v1/deployments/lamp/scale", tokens["web.1"], `{"node":"web","multiplicity":3}`); r.status != http.StatusUnauthorized {
		t.Fatalf("scale with an instance token: %d", r.status)
	}
	for body, want := range map[string]int{
		`{"node":"web"}`:                        http.StatusBadRequest,
		`{"node":"web","multiplicity":-1}`:      http.StatusBadRequest,
		`{"node":"nope","multiplicity":2}`:      http.StatusNotFound,
		`{"node":"web","multiplicity":999999}`:  http.StatusBadRequest,
		`{"node":"web","multiplicity":2,"x":1}`: http.StatusBadRequest,
	} {
		if r := call(t, srv, "POST", "/v1/deployments/lamp/scale", admin, body); r.status != want {
			t.Errorf("scale %s: %d %s, want %d", body, r.status, r.raw, want)
		}
	}
	r := call(t, srv, "POST", "/v1/deployments/lamp/scale", admin, `{"node":"web","multiplicity":3}`)
	var scaled struct {
		State  string
		Tokens map[string]string
	}
	json.Unmarshal([]byte(r.raw), &scaled)
	if r.status != http.StatusOK || scaled.State != "Initializing" || len(scaled.Tokens) != 1 || scaled.Tokens["web.3"] == "" {
		t.Fatalf("scale: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/statecustom", exchangeToken(t, srv, "lamp", scaled.Tokens["web.3"]), `{"value":"hi"}`); r.status != http.StatusNoContent {
		t.Fatalf("the new instance's token: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp", tokens["web.1"], ""); r.status != http.StatusOK || !strings.Contains(r.raw, `"multiplicity":3`) {
		t.Fatalf("an instance reads its deployment: %d %s", r.status, r.raw)
	}

	// A get for a changed state, woken by the finalize.
	got := make(chan resp, 1)
	go func() {
		got <- call(t, srv, "GET", "/v1/deployments/lamp/parameters/ss:state?wait=10s&changed_from=Initializing", tokens["web.1"], "")
	}()
	if r := call(t, srv, "POST", "/v1/deployments/lamp/finalize", tokens["web.1"], ""); r.status != http.StatusUnauthorized {
		t.Fatalf("finalize with an instance token: %d", r.status)
	}
	if r := call(t, srv, "POST", "/v1/deployments/lamp/finalize", admin, ""); r.status != http.StatusOK || !strings.Contains(r.raw, `"Finalizing"`) {
		t.Fatalf("finalize: %d %s", r.status, r.raw)
	}
	if r := <-got; r.status != http.StatusOK || !strings.Contains(r.raw, `"Finalizing"`) {
		t.Fatalf("changed_from get: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp/parameters/ss:state?changed_from=Finalizing", tokens["web.1"], ""); r.status != http.StatusRequestTimeout {
		t.Fatalf("changed_from without a wait on an unchanged value: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "POST", "/v1/deployments/nope/finalize", admin, ""); r.status != http.StatusNotFound {
		t.Fatalf("finalize an unknown deployment: %d", r.status)
	}
}

// TestAPI_runLongPoll: GET …/run answers the run's state and abort, and
// with the run as the caller saw it long-polls until it differs — an
// abort, a cancelled abort — whether the wait is parked or blocks.
func TestAPI_runLongPoll(t *testing.T) {
	for _, parking := range []bool{true, false} {
		t.Run(map[bool]string{true: "parked", false: "blocking"}[parking], func(t *testing.T) {
			srv, _ := newExtServer(t, func(o *Options) { o.NoParking = !parking })
			// on-error: the aborted run stays up, so only the abort changes.
			tokens := create(t, srv, strings.Replace(lampJSON, `{"id":"lamp",`, `{"id":"lamp","keep_running":"on-error",`, 1))
			if r := call(t, srv, "GET", "/v1/deployments/lamp/run", tokens["web.1"], ""); r.status != 200 || r.body["state"] != "Initializing" || r.body["abort"] != nil {
				t.Fatalf("run now: %d %s", r.status, r.raw)
			}
			if r := call(t, srv, "GET", "/v1/deployments/lamp/run?state=Initializing&wait=100ms", tokens["web.1"], ""); r.status != 408 || code(r) != "timeout" {
				t.Fatalf("unchanged run: %d %s, want a timeout", r.status, r.raw)
			}
			if r := call(t, srv, "GET", "/v1/deployments/lamp/run?state=Ready&wait=5s", tokens["web.1"], ""); r.status != 200 || r.body["state"] != "Initializing" {
				t.Fatalf("already different: %d %s", r.status, r.raw)
			}
			for _, bad := range []string{"wait=soon&state=Initializing", "wait=-1s&state=Initializing"} {
				if r := call(t, srv, "GET", "/v1/deployments/lamp/run?"+bad, tokens["web.1"], ""); r.status != 400 || !strings.Contains(r.raw, "wait must be a duration") {
					t.Fatalf("%s: %d %s", bad, r.status, r.raw)
				}
			}
			if r := call(t, srv, "GET", "/v1/deployments/lamp/run", "", ""); r.status != 401 {
				t.Fatalf("no token: %d %s", r.status, r.raw)
			}
			poll := func(query string, change func()) resp {
				t.Helper()
				got := make(chan resp, 1)
				go func() { got <- call(t, srv, "GET", "/v1/deployments/lamp/run?"+query, tokens["web.2"], "") }()
				time.Sleep(100 * time.Millisecond) // let it park
				change()
				select {
				case r := <-got:
					return r
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: not woken", query)
					return resp{}
				}
			}
			r := poll("state=Initializing&wait=30s", func() {
				call(t, srv, "POST", "/v1/deployments/lamp/abort", tokens["db.1"], `{"message":"no disk"}`)
			})
			if r.status != 200 || r.body["state"] != "Initializing" || r.body["abort"] != "db.1: no disk" {
				t.Fatalf("after the abort: %d %s", r.status, r.raw)
			}
			r = poll("state=Initializing&abort=db.1%3A+no+disk&wait=30s", func() {
				call(t, srv, "POST", "/v1/deployments/lamp/abort", tokens["db.1"], `{"cancel":true}`)
			})
			if r.status != 200 || r.body["state"] != "Initializing" || r.body["abort"] != nil {
				t.Fatalf("after the abort was cancelled: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestAPI_shutdownEndsParkedWaits: when the coordinator closes (a
// restart), the waits parked on it end with 503 and Retry-After, which
// the clients retry against the next process; nothing is logged as an
// internal error.
func TestAPI_shutdownEndsParkedWaits(t *testing.T) {
	srv, s := newExtServer(t, func(*Options) {})
	tokens := create(t, srv, lampJSON)
	got := make(chan *http.Response, 2)
	for _, path := range []string{"/run?state=Initializing&wait=30s", "/parameters/db_password?wait=30s"} {
		go func() {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/deployments/lamp"+path, nil)
			req.Header.Set("Authorization", "Bearer "+tokens["web.1"])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
			}
			got <- res
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them park
	s.c.Close()
	for range 2 {
		select {
		case res := <-got:
			if res == nil {
				t.FailNow()
			}
			var body struct{ Error struct{ Code string } }
			json.NewDecoder(res.Body).Decode(&body)
			res.Body.Close()
			if res.StatusCode != 503 || body.Error.Code != "unavailable" || res.Header.Get("Retry-After") == "" {
				t.Fatalf("after the shutdown: %d %+v %v", res.StatusCode, body, res.Header)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a parked wait outlived the coordinator")
		}
	}
}

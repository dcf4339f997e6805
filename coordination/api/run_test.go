package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
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

package api

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const farmJSON = `{"id":"farm","nodes":{
 "worker":{"multiplicity":8,"params":{"load":{"output":true}}},
 "db":{"multiplicity":1,"params":{}}}}`

func withDefer(body string) string {
	return strings.Replace(body, `{"id"`, `{"defer_tokens":true,"id"`, 1)
}

// TestDeferTokens: a create or a scale with "defer_tokens" issues no
// token, and sending it again succeeds; another spec under the id is
// still a conflict.
func TestDeferTokens(t *testing.T) {
	srv := newServer(t)
	for i := range 2 { // the second: the answer to the first was lost
		r := call(t, srv, "POST", "/v1/deployments", admin, withDefer(farmJSON))
		if r.status != http.StatusCreated || r.body["id"] != "farm" || r.body["tokens"] != nil {
			t.Fatalf("create %d with defer_tokens: %d %s", i+1, r.status, r.raw)
		}
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"another spec", "POST", "/v1/deployments", withDefer(strings.Replace(farmJSON, `"multiplicity":8`, `"multiplicity":9`, 1)), 409, "exists"},
		{"the same spec, tokens issued", "POST", "/v1/deployments", farmJSON, 409, "exists"},
		{"defer_tokens and hashes", "POST", "/v1/deployments", strings.Replace(withDefer(farmJSON), `"id"`, `"token_sha256":{"db.1":"`+hashOf("x")+`"},"id"`, 1), 400, "invalid"},
		{"defer_tokens, invalid", "POST", "/v1/deployments", `{"defer_tokens":true,"id":"x","nodes":{"a-b":{"multiplicity":1}}}`, 400, "invalid"},
		{"defer_tokens, too many", "POST", "/v1/deployments", `{"defer_tokens":true,"id":"big","nodes":{"a":{"multiplicity":1000000}}}`, 400, "invalid"},
		{"scale, defer_tokens and hashes", "POST", "/v1/deployments/farm/scale", `{"node":"worker","multiplicity":9,"defer_tokens":true,"token_sha256":{}}`, 400, "invalid"},
	} {
		if r := call(t, srv, c.method, c.path, admin, c.body); r.status != c.status || code(r) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
	}
	for i := range 2 {
		r := call(t, srv, "POST", "/v1/deployments/farm/scale", admin, `{"node":"worker","multiplicity":10,"defer_tokens":true}`)
		if r.status != http.StatusOK || r.body["state"] != "Initializing" || r.body["tokens"] != nil {
			t.Fatalf("scale %d with defer_tokens: %d %s", i+1, r.status, r.raw)
		}
	}
	// No token exists: the provider gets one per instance when it needs it.
	tok, hash := newAgentToken()
	if r := call(t, srv, "POST", "/v1/deployments/farm/tokens", admin, `{"token_sha256":{"worker.10":"`+hash+`"}}`); r.status != http.StatusNoContent {
		t.Fatalf("a token for worker.10: %d %s", r.status, r.raw)
	}
	if agent := exchangeToken(t, srv, "farm", tok); agent == "" {
		t.Fatal("no agent token")
	}
}

// TestPools: the HTTP shapes of pools, members and the exchange with a
// machine id, with their statuses and codes.
func TestPools(t *testing.T) {
	srv := newServer(t)
	if r := call(t, srv, "POST", "/v1/deployments", admin, withDefer(farmJSON)); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	boot := createBootstrap(t, srv, strings.Replace(lampJSON, `"lamp"`, `"other"`, 1))
	pool, poolHash := newAgentToken()
	_, otherHash := newAgentToken()
	members := "/v1/deployments/farm/pools/" + poolHash + "/members"
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"pool of an unknown deployment", "POST", "/v1/deployments/nope/pools", admin, `{"node":"worker","token_sha256":"` + poolHash + `"}`, 404, "not_found"},
		{"pool of an unknown node", "POST", "/v1/deployments/farm/pools", admin, `{"node":"web","token_sha256":"` + poolHash + `"}`, 404, "not_found"},
		{"pool without a node", "POST", "/v1/deployments/farm/pools", admin, `{"token_sha256":"` + poolHash + `"}`, 400, "invalid"},
		{"pool with a bad hash", "POST", "/v1/deployments/farm/pools", admin, `{"node":"worker","token_sha256":"xyz"}`, 400, "invalid"},
		{"pool by an instance", "POST", "/v1/deployments/other/pools", boot["web.1"], `{"node":"web","token_sha256":"` + poolHash + `"}`, 401, "unauthorized"},
		{"pool", "POST", "/v1/deployments/farm/pools", admin, `{"node":"worker","token_sha256":"` + poolHash + `"}`, 204, ""},
		{"pool again", "POST", "/v1/deployments/farm/pools", admin, `{"node":"worker","token_sha256":"` + poolHash + `"}`, 204, ""},
		{"pool's hash for another node", "POST", "/v1/deployments/farm/pools", admin, `{"node":"db","token_sha256":"` + poolHash + `"}`, 409, "exists"},
		{"members of an unknown pool token", "PUT", "/v1/deployments/farm/pools/" + otherHash + "/members", admin, `{"members":{"i-a":"worker.7"}}`, 404, "not_found"},
		{"members without members", "PUT", members, admin, `{}`, 400, "invalid"},
		{"members of another node", "PUT", members, admin, `{"members":{"i-a":"db.1"}}`, 400, "invalid"},
		{"members beyond the multiplicity", "PUT", members, admin, `{"members":{"i-a":"worker.9"}}`, 404, "not_found"},
		{"a machine id with a slash", "PUT", members, admin, `{"members":{"i/a":"worker.7"}}`, 400, "invalid"},
		{"a machine id too long", "PUT", members, admin, `{"members":{"` + strings.Repeat("i", 129) + `":"worker.7"}}`, 400, "invalid"},
		{"members by an instance", "PUT", members, boot["web.1"], `{"members":{"i-a":"worker.7"}}`, 401, "unauthorized"},
		{"remove without machine_ids", "DELETE", "/v1/deployments/farm/members", admin, `{}`, 400, "invalid"},
		{"remove an invalid machine id", "DELETE", "/v1/deployments/farm/members", admin, `{"machine_ids":["a b"]}`, 400, "invalid"},
		{"remove in an unknown deployment", "DELETE", "/v1/deployments/nope/members", admin, `{"machine_ids":["i-a"]}`, 404, "not_found"},
	} {
		if r := call(t, srv, c.method, c.path, c.token, c.body); r.status != c.status || code(r) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
	}

	ex := func(token, hash, machine string) resp {
		body := `{"token_sha256":"` + hash + `"`
		if machine != "" {
			body += `,"machine_id":"` + machine + `"`
		}
		return call(t, srv, "POST", "/v1/deployments/farm/exchange", token, body+"}")
	}
	agent, agentHash := newAgentToken()
	if r := ex(pool, agentHash, ""); r.status != 400 || code(r) != "invalid" || !strings.Contains(r.raw, "machine") {
		t.Errorf("a pool token without machine_id: %d %s", r.status, r.raw)
	}
	if r := ex(pool, agentHash, "i-a"); r.status != 409 || code(r) != "not_registered" || !strings.Contains(r.raw, "ask again") {
		t.Errorf("a machine not registered yet: %d %s", r.status, r.raw)
	}
	for i := range 2 {
		if r := call(t, srv, "PUT", members, admin, `{"members":{"i-a":"worker.7","i-b":"worker.8"}}`); r.status != http.StatusNoContent {
			t.Fatalf("members %d: %d %s", i+1, r.status, r.raw)
		}
	}
	for i := range 2 { // the second: the answer to the first was lost
		if r := ex(pool, agentHash, "i-a"); r.status != http.StatusOK || r.body["instance"] != "worker.7" {
			t.Fatalf("exchange %d: %d %s", i+1, r.status, r.raw)
		}
	}
	_, otherAgent := newAgentToken()
	if r := ex(pool, otherAgent, "i-a"); r.status != 401 || code(r) != "exchanged" || !strings.Contains(r.raw, "i-a already exchanged") {
		t.Errorf("another claim of i-a: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "PUT", "/v1/deployments/farm/parameters/load", agent, `{"value":"0.5"}`); r.status != http.StatusNoContent {
		t.Fatalf("the agent token of worker.7: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/farm/parameters/worker.7:load", admin, ""); r.body["value"] != "0.5" {
		t.Fatalf("worker.7:load: %d %s", r.status, r.raw)
	}
	// The pool token opens nothing but the exchange, and says why.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/deployments/farm", ""},
		{"GET", "/v1/deployments/farm/parameters/ss:state", ""},
		{"PUT", "/v1/deployments/farm/parameters/load", `{"value":"x"}`},
		{"POST", "/v1/deployments/farm/complete", `{"state":"Initializing"}`},
		{"GET", "/v1/deployments/farm/events", ""},
		{"PUT", "/v1/deployments/farm/reports/worker.7", ""},
	} {
		if r := call(t, srv, c.method, c.path, pool, c.body); r.status != http.StatusForbidden || !strings.Contains(r.raw, "pool token") {
			t.Errorf("%s %s with the pool token: %d %s, want 403 naming the pool token", c.method, c.path, r.status, r.raw)
		}
	}
	if r := call(t, srv, "POST", "/v1/deployments/farm/pools", pool, `{"node":"worker","token_sha256":"`+otherHash+`"}`); r.status != 401 {
		t.Errorf("the pool token on an admin route: %d %s", r.status, r.raw)
	}
	// An agent token is not exchanged, with a machine id or not.
	if r := ex(agent, otherAgent, "i-b"); r.status != http.StatusForbidden {
		t.Errorf("an agent token exchanged with a machine id: %d %s", r.status, r.raw)
	}
	// A bootstrap token with a machine id: the machine id is ignored.
	if r := call(t, srv, "POST", "/v1/deployments/other/exchange", boot["web.2"], `{"token_sha256":"`+otherAgent+`","machine_id":"i-whatever"}`); r.status != http.StatusOK || r.body["instance"] != "web.2" {
		t.Errorf("a bootstrap token with a machine id: %d %s", r.status, r.raw)
	}

	if r := call(t, srv, "GET", "/v1/deployments/farm/members?node=worker", admin, ""); r.status != http.StatusOK || !strings.Contains(r.raw, `{"members":{"i-a":"worker.7","i-b":"worker.8"}}`) {
		t.Errorf("list members: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/farm/members?node=db", admin, ""); r.status != http.StatusOK || !strings.Contains(r.raw, `{"members":{}}`) {
		t.Errorf("list db's members: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/farm/members?node=web", admin, ""); r.status != 404 || code(r) != "not_found" {
		t.Errorf("list an unknown node's members: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/farm/members", agent, ""); r.status != 401 {
		t.Errorf("list members as an instance: %d %s", r.status, r.raw)
	}
	// Removed: the member can no longer claim, and its agent token is dead.
	for i := range 2 {
		if r := call(t, srv, "DELETE", "/v1/deployments/farm/members", admin, `{"machine_ids":["i-a","i-unknown"]}`); r.status != http.StatusNoContent {
			t.Fatalf("remove %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if r := call(t, srv, "GET", "/v1/deployments/farm", agent, ""); r.status != 401 || code(r) != "unauthorized" {
		t.Errorf("a removed member's agent token: %d %s", r.status, r.raw)
	}
	if r := ex(pool, agentHash, "i-a"); r.status != 409 || code(r) != "not_registered" {
		t.Errorf("a removed member claims: %d %s", r.status, r.raw)
	}
	// The pool token stays good for the other members.
	_, bHash := newAgentToken()
	if r := ex(pool, bHash, "i-b"); r.status != http.StatusOK || r.body["instance"] != "worker.8" {
		t.Errorf("i-b: %d %s", r.status, r.raw)
	}
}

// TestPools_notRegisteredIsNoAuthFailure: an agent asking again and again
// while its machine is not registered is not rate limited (its token is
// good); unknown tokens still are.
func TestPools_notRegisteredIsNoAuthFailure(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	srv, _ := newExtServer(t, func(o *Options) { o.AuthFailureBurst, o.Now = 3, clock.Now })
	if r := call(t, srv, "POST", "/v1/deployments", admin, withDefer(farmJSON)); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	pool, poolHash := newAgentToken()
	if r := call(t, srv, "POST", "/v1/deployments/farm/pools", admin, `{"node":"worker","token_sha256":"`+poolHash+`"}`); r.status != http.StatusNoContent {
		t.Fatalf("pool: %d %s", r.status, r.raw)
	}
	_, agentHash := newAgentToken()
	body := `{"token_sha256":"` + agentHash + `","machine_id":"i-a"}`
	for i := range 10 {
		if r := call(t, srv, "POST", "/v1/deployments/farm/exchange", pool, body); r.status != 409 || code(r) != "not_registered" {
			t.Fatalf("not registered, ask %d: %d %s", i+1, r.status, r.raw)
		}
	}
	for i := range 3 {
		if r := call(t, srv, "POST", "/v1/deployments/farm/exchange", "wrong", body); r.status != 401 {
			t.Fatalf("unknown token %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if r := call(t, srv, "POST", "/v1/deployments/farm/exchange", pool, body); r.status != 429 {
		t.Fatalf("after 3 unknown tokens: %d %s, want 429", r.status, r.raw)
	}
}

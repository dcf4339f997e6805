package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

func newAgentToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

// exchangeToken trades a bootstrap token for a new agent token, as the
// agent does when it starts, and returns the agent token.
func exchangeToken(t testing.TB, srv *httptest.Server, dep, bootstrap string) string {
	t.Helper()
	tok, hash := newAgentToken()
	if r := call(t, srv, "POST", "/v1/deployments/"+dep+"/exchange", bootstrap, `{"token_sha256":"`+hash+`"}`); r.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	return tok
}

func exchangeAll(t testing.TB, srv *httptest.Server, dep string, bootstrap map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for inst, tok := range bootstrap {
		out[inst] = exchangeToken(t, srv, dep, tok)
	}
	return out
}

// TestExchange: a bootstrap token can do nothing but be exchanged, once;
// the same exchange asked again succeeds, and afterwards the bootstrap
// token is refused for everything, saying why.
func TestExchange(t *testing.T) {
	srv := newServer(t)
	boot := createBootstrap(t, srv, lampJSON)
	other := createBootstrap(t, srv, strings.Replace(lampJSON, `"lamp"`, `"other"`, 1))
	web1 := boot["web.1"]
	ex := func(token, body string) resp {
		return call(t, srv, "POST", "/v1/deployments/lamp/exchange", token, body)
	}

	// Before the exchange: the bootstrap token reads, sets and completes nothing.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/deployments/lamp", ""},
		{"GET", "/v1/deployments/lamp/parameters/ss:state", ""},
		{"PUT", "/v1/deployments/lamp/parameters/statecustom", `{"value":"x"}`},
		{"POST", "/v1/deployments/lamp/complete", `{"state":"Initializing"}`},
		{"POST", "/v1/deployments/lamp/abort", `{"message":"x"}`},
		{"GET", "/v1/deployments/lamp/events", ""},
	} {
		if r := call(t, srv, c.method, c.path, web1, c.body); r.status != http.StatusForbidden || !strings.Contains(r.raw, "one-time bootstrap token") {
			t.Errorf("%s %s with a bootstrap token: %d %s, want 403 naming the bootstrap token", c.method, c.path, r.status, r.raw)
		}
	}

	tok, hash := newAgentToken()
	for _, c := range []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token", "", `{"token_sha256":"` + hash + `"}`, 401, "unauthorized"},
		{"unknown token", "nope", `{"token_sha256":"` + hash + `"}`, 401, "unauthorized"},
		{"another deployment's token", other["web.1"], `{"token_sha256":"` + hash + `"}`, 401, "unauthorized"},
		{"the admin token", admin, `{"token_sha256":"` + hash + `"}`, 403, "forbidden"},
		{"not a hash", web1, `{"token_sha256":"` + tok[:10] + `"}`, 400, "invalid"},
		{"upper-case hash", web1, `{"token_sha256":"` + strings.ToUpper(hash) + `"}`, 400, "invalid"},
		{"the bootstrap token's own hash", web1, `{"token_sha256":"` + hashOf(web1) + `"}`, 400, "invalid"},
		{"malformed body", web1, `{"token":"x"}`, 400, "invalid"},
		{"an agent token's hash taken already", boot["web.2"], `{"token_sha256":"` + hashOf(other["db.1"]) + `"}`, 200, ""}, // other deployment: separate records
	} {
		if r := ex(c.token, c.body); r.status != c.status || code(r) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
	}

	if r := ex(web1, `{"token_sha256":"`+hash+`"}`); r.status != http.StatusOK || r.body["instance"] != "web.1" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	// The answer was lost: the agent asks again with the same pair.
	if r := ex(web1, `{"token_sha256":"`+hash+`"}`); r.status != http.StatusOK || r.body["instance"] != "web.1" {
		t.Fatalf("the same exchange again: %d %s", r.status, r.raw)
	}
	// The agent token works.
	if r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/statecustom", tok, `{"value":"hi"}`); r.status != http.StatusNoContent {
		t.Fatalf("set with the agent token: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp/parameters/statecustom", tok, ""); r.status != http.StatusOK || r.body["value"] != "hi" {
		t.Fatalf("get with the agent token: %d %s", r.status, r.raw)
	}
	// The spent bootstrap token opens nothing, and says so.
	_, other2 := newAgentToken()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/deployments/lamp", ""},
		{"GET", "/v1/deployments/lamp/parameters/statecustom", ""},
		{"PUT", "/v1/deployments/lamp/parameters/statecustom", `{"value":"x"}`},
		{"PUT", "/v1/deployments/lamp/reports/web.1", ""},
		{"POST", "/v1/deployments/lamp/exchange", `{"token_sha256":"` + other2 + `"}`},
	} {
		if r := call(t, srv, c.method, c.path, web1, c.body); r.status != http.StatusUnauthorized || code(r) != "exchanged" || !strings.Contains(r.raw, "already exchanged") {
			t.Errorf("%s %s with the spent bootstrap token: %d %s, want 401 exchanged", c.method, c.path, r.status, r.raw)
		}
	}
	// An agent token is not exchanged again.
	if r := ex(tok, `{"token_sha256":"`+other2+`"}`); r.status != http.StatusForbidden {
		t.Errorf("exchanging an agent token: %d %s", r.status, r.raw)
	}
	// Exchanging into a hash in use (the agent token of web.1) is refused.
	if r := ex(boot["db.1"], `{"token_sha256":"`+hash+`"}`); r.status != http.StatusConflict {
		t.Errorf("exchange into a hash in use: %d %s", r.status, r.raw)
	}

	// Scaled away, the instance's tokens of every kind are gone.
	if r := call(t, srv, "POST", "/v1/deployments/lamp/scale", admin, `{"node":"web","multiplicity":0}`); r.status != http.StatusOK {
		t.Fatalf("scale: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp", tok, ""); r.status != http.StatusUnauthorized || code(r) != "unauthorized" {
		t.Errorf("a scaled-away instance's agent token: %d %s", r.status, r.raw)
	}
	if r := ex(web1, `{"token_sha256":"`+hash+`"}`); r.status != http.StatusUnauthorized || code(r) != "unauthorized" {
		t.Errorf("a scaled-away instance's bootstrap token: %d %s", r.status, r.raw)
	}
}

func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// loseFirstAnswer is a transport whose first exchange reaches the server
// and commits, but whose answer never arrives: the client sees a network
// error, as when a connection drops after the request was sent.
type loseFirstAnswer struct{ lost atomic.Bool }

func (l *loseFirstAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, "/exchange") && l.lost.CompareAndSwap(false, true) {
		res.Body.Close()
		return nil, errors.New("connection reset by peer (injected)")
	}
	return res, err
}

// TestExchange_lostAnswer: the client retries an exchange whose answer
// was lost, and the retry succeeds: the coordinator recognises the same
// exchange.
func TestExchange_lostAnswer(t *testing.T) {
	srv := newServer(t)
	boot := createBootstrap(t, srv, lampJSON)
	tr := &loseFirstAnswer{}
	c := &client.Client{BaseURL: srv.URL, Deployment: "lamp", Token: boot["db.1"], HTTP: &http.Client{Transport: tr}, MaxBackoff: 50 * time.Millisecond}
	tok, hash := newAgentToken()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inst, err := c.Exchange(ctx, hash)
	if err != nil || inst != "db.1" || !tr.lost.Load() {
		t.Fatalf("exchange through a lost answer: %q, %v (answer lost: %v)", inst, err, tr.lost.Load())
	}
	c.Token = tok
	if err := c.Set(ctx, "password", "pw", false); err != nil {
		t.Fatalf("set with the agent token: %v", err)
	}
}

// TestSensitiveReads: an instance reads the secrets it owns or is given
// by a mapping, and no other; the provider reads everything.
func TestSensitiveReads(t *testing.T) {
	srv := newServer(t)
	// db's password is mapped into web; cache's key into nobody; web has
	// a sensitive output of its own.
	tokens := create(t, srv, `{"id":"lamp","nodes":{
	 "db":{"multiplicity":1,"params":{"password":{"output":true,"sensitive":true},"other":{"output":true,"sensitive":true}}},
	 "cache":{"multiplicity":1,"params":{"key":{"output":true,"sensitive":true},"port":{"output":true}}},
	 "web":{"multiplicity":2,"params":{"db_password":{},"session":{"output":true,"sensitive":true},"api_key":{"sensitive":true}},
	        "inputs":{"api_key":"k3y"},"mappings":{"db_password":"db:password"}}}}`)
	set := func(tok, key, value string) {
		t.Helper()
		if r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/"+key, tok, `{"value":"`+value+`"}`); r.status != http.StatusNoContent {
			t.Fatalf("set %s: %d %s", key, r.status, r.raw)
		}
	}
	set(tokens["db.1"], "password", "pw")
	set(tokens["db.1"], "other", "o")
	set(tokens["cache.1"], "key", "ck")
	set(tokens["cache.1"], "port", "6379")
	set(tokens["web.1"], "session", "s1")
	for _, c := range []struct {
		who, key string
		ok       bool
	}{
		{"web.1", "db_password", true},           // its own (mapped) input
		{"web.1", "db.1:password", true},         // the source of its node's mapping
		{"web.1", "db:password", true},           // the same key, unqualified
		{"web.2", "web.1:db_password", true},     // an input of its own node
		{"web.2", "web.1:api_key", true},         // ditto, a starting value
		{"web.1", "session", true},               // its own output
		{"web.2", "web.1:session", false},        // another instance's secret
		{"web.1", "db.1:other", false},           // not mapped into web
		{"web.1", "cache.1:key", false},          // not mapped into web
		{"web.1", "cache.1:port", true},          // not sensitive
		{"db.1", "web.1:db_password", false},     // a copy of its own password, but web's
		{"db.1", "web.1:api_key", false},         // web's secret
		{"cache.1", "db:password", false},        // not mapped into cache
		{"cache.1", "key", true},                 // its own
		{"admin", "cache.1:key", true},           // the provider
		{"admin", "web.2:db_password", true},     // the provider
		{"db.1", "web.1:session?wait=5s", false}, // a long-poll is refused at once too
	} {
		tok := admin
		if c.who != "admin" {
			tok = tokens[c.who]
		}
		r := call(t, srv, "GET", "/v1/deployments/lamp/parameters/"+c.key, tok, "")
		switch {
		case c.ok && r.status != http.StatusOK:
			t.Errorf("%s reads %s: %d %s, want 200", c.who, c.key, r.status, r.raw)
		case !c.ok && (r.status != http.StatusForbidden || !strings.Contains(r.raw, "is sensitive")):
			t.Errorf("%s reads %s: %d %s, want 403 saying it is sensitive", c.who, c.key, r.status, r.raw)
		}
	}
	// The spec an instance reads holds no other node's secret either.
	if r := call(t, srv, "GET", "/v1/deployments/lamp", tokens["db.1"], ""); r.status != http.StatusOK || strings.Contains(r.raw, "k3y") {
		t.Errorf("db.1 reads the deployment: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/v1/deployments/lamp", tokens["web.1"], ""); r.status != http.StatusOK || !strings.Contains(r.raw, "k3y") {
		t.Errorf("web.1 reads the deployment (its own node's inputs): %d %s", r.status, r.raw)
	}
}

// TestSensitivityFollowsMappings: an input fed from a sensitive output is
// sensitive, though not declared so: the listing marks it and the event
// stream leaves its value out.
func TestSensitivityFollowsMappings(t *testing.T) {
	srv := newServer(t)
	tokens := create(t, srv, strings.Replace(lampJSON, `"db_password":{"sensitive":true}`, `"db_password":{}`, 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/deployments/lamp/events", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	call(t, srv, "PUT", "/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"s3cret"}`)
	call(t, srv, "PUT", "/v1/deployments/lamp/parameters/statecustom", tokens["web.2"], `{"value":"done"}`)
	var events []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"key":"web.2:statecustom"`) {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, d)
		}
	}
	all := strings.Join(events, "\n")
	if strings.Contains(all, "s3cret") || !strings.Contains(all, `{"rev":`) || !strings.Contains(all, `"key":"web.2:db_password","sensitive":true`) {
		t.Errorf("events:\n%s", all)
	}
	r := call(t, srv, "GET", "/v1/deployments/lamp/parameters", admin, "")
	if !strings.Contains(r.raw, `"web.1:db_password":true`) || !strings.Contains(r.raw, `"web.2:db_password":true`) {
		t.Errorf("the listing does not mark the mapped inputs sensitive: %s", r.raw)
	}
}

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

const admin = "admin-token-for-agent-tests-0123"

// coordinatorFor starts a real coordinator API with the lamp deployment
// and returns its URL and the instance tokens.
func coordinatorFor(t *testing.T) (string, map[string]string) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	h, _ := api.New(c, api.Options{AdminToken: admin})
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	body := `{"id":"lamp","nodes":{"db":{"multiplicity":1,"params":{"password":{"output":true}}},
	  "web":{"multiplicity":2,"params":{"db_password":{},"ready":{"output":true}},"mappings":{"db_password":"db:password"}}}}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1/deployments", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", err, res)
	}
	var out struct{ Tokens map[string]string }
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	// The commands use agent tokens: exchange the bootstrap ones, as the
	// agent does when it starts.
	agentTokens := map[string]string{}
	for inst, boot := range out.Tokens {
		b := make([]byte, 32)
		rand.Read(b)
		tok := hex.EncodeToString(b)
		sum := sha256.Sum256([]byte(tok))
		req, _ := http.NewRequest("POST", srv.URL+"/v1/deployments/lamp/exchange", strings.NewReader(`{"token_sha256":"`+hex.EncodeToString(sum[:])+`"}`))
		req.Header.Set("Authorization", "Bearer "+boot)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("exchange: %v %v", err, res)
		}
		res.Body.Close()
		agentTokens[inst] = tok
	}
	return srv.URL, agentTokens
}

// as runs an ss-* command as one instance and returns exit code and output.
func as(url, token, inst string, args ...string) (int, string, string) {
	env := map[string]string{"SLIPSTREAM_SERVICEURL": url, "SLIPSTREAM_DIID": "lamp", "SLIPSTREAM_TOKEN": token,
		"SLIPSTREAM_NODE_INSTANCE_NAME": inst, "SLIPSTREAM_RETRY_TIMEOUT": "2s"}
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"/usr/local/bin/" + args[0]}, args[1:]...), func(k string) string { return env[k] }, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestAgentCommands(t *testing.T) {
	url, tok := coordinatorFor(t)

	// The web instance waits; the database generates and publishes.
	got := make(chan string, 1)
	go func() {
		code, out, errOut := as(url, tok["web.2"], "web.2", "ss-get", "--timeout", "20", "db_password")
		got <- strings.TrimSpace(out) + "|" + errOut + "|" + string(rune('0'+code))
	}()
	time.Sleep(100 * time.Millisecond)
	code, pw, _ := as(url, tok["db.1"], "db.1", "ss-random", "-s", "24", "password")
	pw = strings.TrimSpace(pw)
	if code != 0 || len(pw) != 24 {
		t.Fatalf("ss-random: %d %q", code, pw)
	}
	if r := <-got; r != pw+"|Waiting for db_password\n|0" {
		t.Fatalf("ss-get: %q", r)
	}

	cases := []struct {
		name string
		inst string
		args []string
		code int
		out  string
	}{
		{"noblock on an unset key", "web.1", []string{"ss-get", "--noblock", "web.1:ready"}, 0, "\n"},
		{"qualified get", "web.1", []string{"ss-get", "db:password"}, 0, pw + "\n"},
		{"timeout", "db.1", []string{"ss-get", "--timeout", "1", "web.1:ready"}, 9, ""},
		{"set another node's key", "web.1", []string{"ss-set", "db:password", "x"}, 7, ""},
		{"undeclared key", "web.1", []string{"ss-set", "nope", "x"}, 7, ""},
		{"bad usage", "web.1", []string{"ss-set", "onlykey"}, 2, ""},
		{"display", "web.1", []string{"ss-display", "configuring", "apache"}, 0, ""},
		{"displayed text", "web.1", []string{"ss-get", "web.1:statecustom"}, 0, "configuring apache\n"},
		{"unknown command", "web.1", []string{"ss-frobnicate"}, 2, ""},
	}
	for _, c := range cases {
		code, out, errOut := as(url, tok[c.inst], c.inst, c.args...)
		if code != c.code || (c.out != "" && out != c.out) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q", c.name, code, out, errOut, c.code, c.out)
		}
	}

	// An abort ends a waiting ss-get with exit 8, and fails sets.
	aborted := make(chan int, 1)
	go func() {
		code, _, _ := as(url, tok["web.1"], "web.1", "ss-get", "--timeout", "20", "db:missing_output_is_not_declared")
		aborted <- code
	}()
	if code := <-aborted; code != 7 {
		t.Fatalf("get of an undeclared key: exit %d, want 7", code)
	}
	go func() {
		code, _, _ := as(url, tok["db.1"], "db.1", "ss-get", "--timeout", "20", "web.1:ready")
		aborted <- code
	}()
	time.Sleep(100 * time.Millisecond)
	if code, _, errOut := as(url, tok["web.2"], "web.2", "ss-abort", "cannot", "reach", "db"); code != 0 {
		t.Fatalf("ss-abort: %d %s", code, errOut)
	}
	if code := <-aborted; code != 8 {
		t.Fatalf("waiting ss-get after abort: exit %d, want 8", code)
	}
	if code, _, errOut := as(url, tok["web.1"], "web.1", "ss-set", "db_password", "x"); code != 8 || !strings.Contains(errOut, "web.2: cannot reach db") {
		t.Fatalf("ss-set during abort: %d %q", code, errOut)
	}
	if code, _, _ := as(url, tok["web.1"], "web.1", "ss-set", "--ignoreabort", "db_password", "x"); code != 0 {
		t.Fatalf("ss-set --ignoreabort: %d", code)
	}
	if code, _, _ := as(url, tok["web.2"], "web.2", "ss-abort", "--cancel"); code != 0 {
		t.Fatal("ss-abort --cancel failed")
	}
}

// TestAgentNetworkError: an unreachable coordinator is exit 4 once the
// retries give up.
func TestAgentNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	start := time.Now()
	code, _, errOut := as(url, "t", "web.1", "ss-set", "k", "v")
	if code != 4 || !strings.Contains(errOut, "cannot reach the coordinator") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if time.Since(start) < time.Second {
		t.Error("gave up without retrying")
	}
}

// TestSSGetAll: ss-get-all's arguments, --noblock, its timeout (SlipStream's
// way: the instances still unset printed with an empty value and named on
// stderr, exit 0), --value (an empty one checks nothing), and an abort
// ending its wait (exit 8), against a real coordinator API. The blocking wait until the
// last instance sets its key is TestProcesses_getAllWaitsForEveryInstance.
func TestSSGetAll(t *testing.T) {
	url, tok := coordinatorFor(t)
	if code, _, errOut := as(url, tok["web.1"], "web.1", "ss-set", "ready", "yes"); code != 0 {
		t.Fatalf("ss-set: %d %s", code, errOut)
	}
	cases := []struct {
		name    string
		args    []string
		code    int
		out     string // exact stdout
		errPart string // a part of stderr
	}{
		{"one argument", []string{"ss-get-all", "web"}, 2, "", "usage: ss-get-all"},
		{"an instance for the node", []string{"ss-get-all", "web.1", "ready"}, 2, "", `"web.1" is not a node name`},
		{"a qualified key", []string{"ss-get-all", "web", "db:password"}, 2, "", "must be unqualified"},
		{"a bad key", []string{"ss-get-all", "web", "x!y"}, 2, "", "parameter name"},
		{"no such node", []string{"ss-get-all", "--noblock", "cache", "ready"}, 7, "", `the deployment has no node "cache"`},
		{"noblock", []string{"ss-get-all", "--noblock", "web", "ready"}, 0, "web.1:ready yes\nweb.2:ready \n", ""},
		{"timeout", []string{"ss-get-all", "--timeout", "1", "web", "ready"}, 0, "web.1:ready yes\nweb.2:ready \n", "timed out after 1s waiting for web.2:ready: printed with an empty value"},
		{"a negative timeout", []string{"ss-get-all", "--timeout=-1", "web", "ready"}, 0, "web.1:ready yes\nweb.2:ready \n", "timed out (--timeout -1: no wait) waiting for web.2:ready"},
		{"value check after a timeout", []string{"ss-get-all", "--timeout", "1", "--value", "yes", "web", "ready"}, 1, "web.1:ready yes\nweb.2:ready \n", `web.2:ready not equal to the expected value "yes"`},
		{"value check after the arguments", []string{"ss-get-all", "--noblock", "web", "ready", "--value", "yes"}, 1, "web.1:ready yes\nweb.2:ready \n", `web.2:ready not equal to the expected value "yes"`},
		{"an empty value checks nothing", []string{"ss-get-all", "--noblock", "--value=", "web", "ready"}, 0, "web.1:ready yes\nweb.2:ready \n", ""},
		{"SlipStream's spellings", []string{"ss-get-all", "-v", "--run", "lamp", "--endpoint", "https://nuv.la", "--ignore-abort", "--noblock", "web", "ready"}, 0, "web.1:ready yes\nweb.2:ready \n", "GET "},
	}
	for _, c := range cases {
		code, out, errOut := as(url, tok["db.1"], "db.1", c.args...)
		if code != c.code || out != c.out || !strings.Contains(errOut, c.errPart) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", c.name, code, out, errOut, c.code, c.out, c.errPart)
		}
	}

	aborted := make(chan string, 1)
	go func() {
		code, _, errOut := as(url, tok["db.1"], "db.1", "ss-get-all", "--timeout", "20", "web", "ready")
		aborted <- string(rune('0'+code)) + "|" + errOut
	}()
	time.Sleep(200 * time.Millisecond)
	if code, _, errOut := as(url, tok["web.2"], "web.2", "ss-abort", "disk full"); code != 0 {
		t.Fatalf("ss-abort: %d %s", code, errOut)
	}
	select {
	case r := <-aborted:
		if !strings.HasPrefix(r, "8|") || !strings.Contains(r, "Waiting for web.2:ready") || !strings.Contains(r, "disk full") {
			t.Fatalf("ss-get-all during an abort: %q, want exit 8 after waiting for web.2:ready", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ss-get-all still waiting after the abort")
	}
	if code, out, _ := as(url, tok["db.1"], "db.1", "ss-get-all", "--noblock", "--ignoreabort", "web", "ready"); code != 0 || out != "web.1:ready yes\nweb.2:ready \n" {
		t.Fatalf("ss-get-all --ignoreabort during an abort: %d %q", code, out)
	}
}

// TestCommandsAreLinked: the names the agent answers to (commands, the keys
// of its dispatch table ssCommands) are the ones the bootstrap links, so a
// command cannot be answered but missing on a machine.
func TestCommandsAreLinked(t *testing.T) {
	answered := map[string]bool{}
	for _, name := range commands {
		answered[name] = true
	}
	for _, name := range bootstrap.Commands {
		if !answered[name] {
			t.Errorf("the bootstrap links %s, which the agent does not answer to", name)
		}
		delete(answered, name)
	}
	for name := range answered {
		t.Errorf("the agent answers to %s, which the bootstrap does not link", name)
	}
}

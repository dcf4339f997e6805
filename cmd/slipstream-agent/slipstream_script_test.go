package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

// inProcessCoordinator serves the coordinator's API from the test process
// on a loopback port: the agents, real processes, reach it as they reach
// `slipc serve`, without building slipc.
func inProcessCoordinator(t *testing.T) *coordinatorProcess {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	const token = "admin-token-for-script-tests-0123456789"
	h, err := api.New(c, api.Options{AdminToken: token, ReportDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	return &coordinatorProcess{t: t, URL: srv.URL, token: token, out: &syncBuffer{}, http: srv.Client()}
}

// legacyDB and legacyWeb are scripts written for SlipStream, as its users
// wrote them: SlipStream's option spellings (--ignore-abort, -v, --run,
// --endpoint pointing at the old server, --size), ss-display, ss-random,
// and its SLIPSTREAM_* variables. MARKS is where they leave what the test
// checks. The database sets ready before the password the web server
// waits for, so that the web server's --noblock get of ready finds it.
const legacyDB = `#!/bin/sh
set -e
ss-set --ignore-abort --run "$SLIPSTREAM_DIID" -- ready "-yes-"
ss-display -v --ignore-abort "Generating the admin password"
pw=$(ss-random --size 20 --run "$SLIPSTREAM_DIID" --endpoint https://slipstream.example.com admin_password)
[ ${#pw} -eq 20 ]
echo "written during deploy" > "$SLIPSTREAM_REPORT_DIR/deploy.txt"
env | grep '^SLIPSTREAM_' | sort > "$MARKS/db.env"
`

const legacyWeb = `#!/bin/sh
set -e
ss-display "Waiting for the database"
pw=$(ss-get --ignore-abort --timeout 60 -v --run "$SLIPSTREAM_DIID" --endpoint https://slipstream.example.com db_password 2> "$MARKS/web-get.err")
ready=$(ss-get --noblock db:ready)
set +e
ss-get --ignore-abort --timeout 1 a:b 2> /dev/null; echo "unknown node $?" >> "$MARKS/codes"
ss-get --timeout 1 url 2> /dev/null; echo "timeout $?" >> "$MARKS/codes"
ss-get --ignore-abort --timeout=-1 url 2> /dev/null; echo "no wait $?" >> "$MARKS/codes"
ss-get --bogus url 2> /dev/null; echo "usage $?" >> "$MARKS/codes"
set -e
echo "$SLIPSTREAM_NODE_INSTANCE_NAME $pw $ready" > "$MARKS/$SLIPSTREAM_NODE_INSTANCE_NAME"
ss-set url "http://$(ss-get hostname)/"
`

// TestSlipStreamScript_runsUnchanged: scripts written for SlipStream run
// unchanged through the agent's script path (real agents, their ss-*
// links on the scripts' PATH, an in-process coordinator): SlipStream's
// options are accepted and its exit codes come back, the scripts read
// SlipStream's variables with their meaning (SLIPSTREAM_REPORT_DIR, whose
// files written in deploy are in the report; SLIPSTREAM_SCALING_* in a
// scale hook), and none of the variables that would hand out credentials.
func TestSlipStreamScript_runsUnchanged(t *testing.T) {
	coord := inProcessCoordinator(t)
	marks := t.TempDir()
	d := coordinator.Deployment{ID: "legacy", Nodes: map[string]*coordinator.Node{
		"db": {Multiplicity: 1,
			Params: map[string]coordinator.Param{"admin_password": {Output: true, Sensitive: true}, "ready": {Output: true}},
			Scripts: map[string][]string{
				"deploy":    {legacyDB},
				"on_vm_add": {`echo "$SLIPSTREAM_SCALING_ACTION|$SLIPSTREAM_SCALING_NODE|$SLIPSTREAM_SCALING_VMS" >> "$MARKS/hook"`},
			}},
		"web": {Multiplicity: 1,
			Params:   map[string]coordinator.Param{"db_password": {Sensitive: true}, "url": {Output: true}},
			Mappings: map[string]string{"db_password": "db:admin_password"},
			Scripts:  map[string][]string{"deploy": {legacyWeb}}},
	}}
	tokens := coord.create(d)
	states := map[string]string{}
	var agents []*agentProcess
	for _, inst := range []string{"web.1", "db.1"} { // web first: it waits for the password
		states[inst] = t.TempDir()
		agents = append(agents, startAgent(t, coord, "legacy", inst, tokens[inst], states[inst], "MARKS="+marks))
	}
	coord.waitState("legacy", coordinator.Ready, 90*time.Second)

	p := coord.params("legacy")
	pw := p["db.1:admin_password"]
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(marks, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		return string(b)
	}
	if len(pw) != 20 || read("web.1") != "web.1 "+pw+" -yes-\n" {
		t.Errorf("web.1 read %q; db.1 published the password %q and ready -yes-", read("web.1"), pw)
	}
	if got, want := read("codes"), "unknown node 7\ntimeout 9\nno wait 9\nusage 2\n"; got != want {
		t.Errorf("exit codes seen by the script: %q, want %q", got, want)
	}
	if p["db.1:statecustom"] != "Generating the admin password" || p["web.1:statecustom"] != "Waiting for the database" {
		t.Errorf("ss-display: db.1 %q, web.1 %q", p["db.1:statecustom"], p["web.1:statecustom"])
	}
	if p["web.1:url"] != "http://"+p["web.1:hostname"]+"/" {
		t.Errorf("web.1:url = %q", p["web.1:url"])
	}
	// -v told the script's stderr what it did, and no secret.
	getErr := read("web-get.err")
	for _, want := range []string{"ss-get: coordinator " + coord.URL + " ", "deployment legacy, instance web.1, the agent's token in " + states["web.1"], "ss-get: GET " + coord.URL + "/v1/deployments/legacy/parameters/db_password?"} {
		if !strings.Contains(getErr, want) {
			t.Errorf("ss-get -v's stderr lacks %q:\n%s", want, getErr)
		}
	}
	if strings.Contains(getErr, pw) || strings.Contains(getErr, tokens["web.1"]) || strings.Contains(getErr, "slipstream.example.com") && !strings.Contains(getErr, "--endpoint https://slipstream.example.com ignored") {
		t.Errorf("ss-get -v's stderr shows a secret, or used --endpoint:\n%s", getErr)
	}

	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(read("db.env")), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"SLIPSTREAM_DIID": "legacy", "SLIPSTREAM_SERVICEURL": coord.URL, "SLIPSTREAM_NODE_INSTANCE_NAME": "db.1",
		"SLIPSTREAM_CLOUD": "fixed", "SLIPSTREAM_CONNECTOR_INSTANCE": "fixed", "SLIPSTREAM_REPORT_DIR": filepath.Join(states["db.1"], "reports"),
	} {
		if env[k] != want {
			t.Errorf("db.1's script: %s=%q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"SLIPSTREAM_TOKEN", "SLIPSTREAM_API_KEY", "SLIPSTREAM_API_SECRET", "SLIPSTREAM_COOKIE", "SLIPSTREAM_SCALING_NODE"} {
		if v, ok := env[k]; ok {
			t.Errorf("db.1's deploy script has %s=%q", k, v)
		}
	}
	// A file a deploy script put in SLIPSTREAM_REPORT_DIR is in the
	// report, as in SlipStream.
	if files := report(t, coord, "legacy", "db.1"); files["deploy.txt"] != "written during deploy\n" {
		t.Errorf("db.1's report: deploy.txt = %q (files %v)", files["deploy.txt"], keys(files))
	}

	// A scale action: db.1's on_vm_add reads SLIPSTREAM_SCALING_*.
	var scaled struct{ Tokens map[string]string }
	if _, err := coord.admin("POST", "/v1/deployments/legacy/scale", map[string]any{"node": "web", "multiplicity": 2}, &scaled); err != nil {
		t.Fatal(err)
	}
	agents = append(agents, startAgent(t, coord, "legacy", "web.2", scaled.Tokens["web.2"], t.TempDir(), "MARKS="+marks))
	coord.waitState("legacy", coordinator.Ready, 90*time.Second)
	if got := read("hook"); got != "vm_add|web|web.2\n" {
		t.Errorf("db.1's on_vm_add saw %q, want SLIPSTREAM_SCALING_ACTION|NODE|VMS = vm_add|web|web.2", got)
	}
	if got := read("web.2"); got != "web.2 "+pw+" -yes-\n" {
		t.Errorf("web.2 read %q", got)
	}

	if _, err := coord.admin("POST", "/v1/deployments/legacy/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if code := a.wait(t, 30*time.Second); code != 0 {
			t.Errorf("agent exited %d:\n%s", code, a.out.String())
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

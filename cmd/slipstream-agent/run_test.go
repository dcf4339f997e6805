package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// fakePackageManager puts an apt-get in a folder first on the agents'
// PATH that records what it was asked to install: the test proves the
// packages phase runs, with the right names, without changing this
// machine.
func fakePackageManager(t *testing.T) (pathEnv, record string) {
	dir := t.TempDir()
	record = filepath.Join(dir, "installed")
	script := "#!/bin/sh\necho \"$@\" >> " + record + "\n"
	if err := os.WriteFile(filepath.Join(dir, "apt-get"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + ":" + os.Getenv("PATH"), record
}

func lampRun() coordinator.Deployment {
	return coordinator.Deployment{ID: "lamp", Nodes: map[string]*coordinator.Node{
		"db": {Multiplicity: 1,
			Params:   map[string]coordinator.Param{"password": {Output: true, Sensitive: true}},
			Packages: []string{"mariadb-server"},
			Scripts: map[string][]string{
				"pre_install": {"echo base image step >> steps"},
				"deploy":      {"#!/bin/sh\nset -e\nss-random -s 16 password > /dev/null\necho db deployed\n"},
				"report":      {"echo \"db report from $SLIPSTREAM_NODE_INSTANCE_NAME\" > \"$SLIPSTREAM_REPORT_DIR/db.txt\""},
			}},
		"web": {Multiplicity: 2,
			Params:   map[string]coordinator.Param{"db_password": {Sensitive: true}, "url": {Output: true}},
			Mappings: map[string]string{"db_password": "db:password"},
			Scripts: map[string][]string{
				"deploy": {"set -e\npw=$(ss-get db_password)\nss-set url \"http://$(ss-get hostname)/?k=$pw\"\n"},
			}},
	}}
}

// TestRun_lamp: real agents take a deployment through every state: the
// database installs its packages, generates its password and publishes it;
// the web servers block on it, get it through the mapping and publish
// their URLs; reports are uploaded; finalizing stops every agent.
func TestRun_lamp(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	d := lampRun()
	// The report runs after every deploy (a barrier), so every web URL is
	// set; ss-get-all is found on the scripts' PATH as the other commands.
	d.Nodes["db"].Scripts["report"] = append(d.Nodes["db"].Scripts["report"], "ss-get-all --timeout 10 web url > \"$SLIPSTREAM_REPORT_DIR/urls.txt\"")
	tokens := coord.create(d)
	pathEnv, installed := fakePackageManager(t)
	var agents []*agentProcess
	for _, inst := range []string{"web.1", "web.2", "db.1"} { // the web servers start first and wait
		agents = append(agents, startAgent(t, coord, "lamp", inst, tokens[inst], t.TempDir(), pathEnv))
	}
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)

	p := coord.params("lamp")
	pw := p["db.1:password"]
	if len(pw) != 16 {
		t.Fatalf("db.1:password = %q, want 16 random characters", pw)
	}
	for _, w := range []string{"web.1", "web.2"} {
		if want := "http://" + p[w+":hostname"] + "/?k=" + pw; p[w+":url"] != want {
			t.Errorf("%s:url = %q, want %q", w, p[w+":url"], want)
		}
		if p[w+":scale.state"] != "operational" || p[w+":instanceid"] == "" {
			t.Errorf("%s built-ins: scale.state %q, instanceid %q", w, p[w+":scale.state"], p[w+":instanceid"])
		}
	}
	if b, err := os.ReadFile(installed); err != nil || !strings.Contains(string(b), "install -y -q --no-install-recommends mariadb-server") {
		t.Errorf("packages phase: %q, %v", b, err)
	}
	files := report(t, coord, "lamp", "db.1")
	if !strings.Contains(files["db.txt"], "db report from db.1") || !strings.Contains(files["logs/deploy.log"], "db deployed") {
		t.Errorf("db.1's report: %v", files)
	}
	if want := "web.1:url " + p["web.1:url"] + "\nweb.2:url " + p["web.2:url"] + "\n"; files["urls.txt"] != want {
		t.Errorf("db.1's report script's ss-get-all wrote %q, want %q", files["urls.txt"], want)
	}

	if _, err := coord.admin("POST", "/v1/deployments/lamp/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if code := a.wait(t, 30*time.Second); code != 0 {
			t.Errorf("agent exited %d:\n%s", code, a.out.String())
		}
	}
	if state, _ := coord.status("lamp"); state != coordinator.Done {
		t.Fatalf("after finalize: %s", state)
	}
}

// report fetches an instance's report tarball and returns its files.
func report(t *testing.T, coord *coordinatorProcess, id, inst string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest("GET", coord.URL+"/v1/deployments/"+id+"/reports/"+inst, nil)
	req.Header.Set("Authorization", "Bearer "+coord.token)
	res, err := coord.http.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("report of %s: %v %v", inst, err, res)
	}
	defer res.Body.Close()
	gz, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

// TestRun_failingScriptAborts: a deploy script that fails aborts the run
// with its last stderr line, naming the instance; the database's script,
// blocked in ss-get, is ended by the abort at once; reports are still
// sent; finalizing the aborted run stops every agent.
func TestRun_failingScriptAborts(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	d := lampRun()
	d.Nodes["db"].Packages = nil
	d.Nodes["db"].Scripts["deploy"] = []string{"set -e\nss-get --timeout 0 web.1:url\n"} // waits for ever
	d.Nodes["web"].Scripts["deploy"] = []string{"echo starting\necho 'disk is full' >&2\nexit 3\n"}
	tokens := coord.create(d)
	var agents []*agentProcess
	for _, inst := range []string{"db.1", "web.1", "web.2"} {
		agents = append(agents, startAgent(t, coord, "lamp", inst, tokens[inst], t.TempDir()))
	}
	deadline := time.Now().Add(60 * time.Second)
	var abort string
	for abort == "" && time.Now().Before(deadline) {
		var out struct{ Value string }
		coord.admin("GET", "/v1/deployments/lamp/parameters/ss:abort?ignoreabort=true&wait=2s", nil, &out)
		abort = out.Value
	}
	if !strings.HasSuffix(abort, ": deploy exited with status 3: disk is full") || !strings.HasPrefix(abort, "web.") {
		t.Fatalf("abort message %q", abort)
	}
	// The database's blocked get ended with the abort (exit 8), and its
	// reports were still sent, with the script's output.
	waitFor(t, 30*time.Second, func() bool {
		req, _ := http.NewRequest("GET", coord.URL+"/v1/deployments/lamp/reports/db.1", nil)
		req.Header.Set("Authorization", "Bearer "+coord.token)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	// The report script ran after the abort, and the scripts' logs came
	// with it (which scripts db.1 got to run depends on how fast web
	// failed).
	if files := report(t, coord, "lamp", "db.1"); !strings.Contains(files["db.txt"], "db report from db.1") || !strings.Contains(files["logs/report.log"], "==> ") {
		t.Errorf("db.1's report after the abort: %v", files)
	}
	if _, err := coord.admin("POST", "/v1/deployments/lamp/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if code := a.wait(t, 30*time.Second); code != 0 {
			t.Errorf("agent exited %d", code)
		}
	}
}

func waitFor(t *testing.T, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRun_killedAgentResumes: an agent killed with SIGKILL while its
// deploy script blocks is started again; it does not rerun the build step
// that had finished, reruns the interrupted deploy script, and the run
// completes.
func TestRun_killedAgentResumes(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	marks := t.TempDir()
	d := lampRun()
	d.Nodes["db"].Packages = nil
	d.Nodes["db"].Scripts["deploy"] = []string{"set -e\nss-get --timeout 0 web.1:url >/dev/null\nss-set password s3cret\n"}
	d.Nodes["web"].Multiplicity = 1
	d.Nodes["web"].Scripts = map[string][]string{
		"pre_install": {"echo pre >> " + marks + "/pre"},
		"deploy":      {"set -e\necho deploy >> " + marks + "/deploy\nss-get --timeout 0 go >/dev/null\nss-set url http://x\n"},
	}
	d.Nodes["web"].Params["go"] = coordinator.Param{}
	tokens := coord.create(d)
	db := startAgent(t, coord, "lamp", "db.1", tokens["db.1"], t.TempDir())
	webState := t.TempDir()
	web := startAgent(t, coord, "lamp", "web.1", tokens["web.1"], webState)

	waitFor(t, 60*time.Second, func() bool { b, _ := os.ReadFile(marks + "/deploy"); return len(b) > 0 })
	web.cmd.Process.Kill() // SIGKILL: no clean-up
	web.wait(t, 10*time.Second)
	web = startAgent(t, coord, "lamp", "web.1", tokens["web.1"], webState)
	waitFor(t, 60*time.Second, func() bool { b, _ := os.ReadFile(marks + "/deploy"); return strings.Count(string(b), "deploy") == 2 })
	// Release the rerun deploy script: it waits for its own "go".
	if err := ss(t, context.Background(), coord, "lamp", "web.1", agentToken(t, webState), "ss-set", "go", "1").Run(); err != nil {
		t.Fatal(err)
	}
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)
	if b, _ := os.ReadFile(marks + "/pre"); string(b) != "pre\n" {
		t.Errorf("pre_install ran %q times, want once", b)
	}
	coord.admin("POST", "/v1/deployments/lamp/finalize", nil, nil)
	for _, a := range []*agentProcess{db, web} {
		if code := a.wait(t, 30*time.Second); code != 0 {
			t.Errorf("agent exited %d", code)
		}
	}
}

// TestProcesses_blockingGetWokenBySet: an ss-get process blocks until an
// ss-set process publishes the value, and prints it.
func TestProcesses_blockingGetWokenBySet(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	tokens := coord.exchangeAll("lamp", coord.create(lampRun()))
	get := ss(t, context.Background(), coord, "lamp", "web.1", tokens["web.1"], "ss-get", "--timeout", "60", "db_password")
	var out, errOut syncBuffer
	get.Stdout, get.Stderr = &out, &errOut
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(errOut.String(), "Waiting for db_password") })
	if b, err := ss(t, context.Background(), coord, "lamp", "db.1", tokens["db.1"], "ss-set", "password", "pa55").CombinedOutput(); err != nil {
		t.Fatalf("ss-set: %v %s", err, b)
	}
	if err := get.Wait(); err != nil || out.String() != "pa55\n" {
		t.Fatalf("ss-get: %v, printed %q", err, out.String())
	}
}

// TestProcesses_getAllWaitsForEveryInstance: an ss-get-all process blocks
// until the last instance of the node has set the key, then prints one
// "node.i:key value" line per instance; with --value it is silent when all
// agree and exits 1 when one differs. Real slipc serve, real agent binary.
func TestProcesses_getAllWaitsForEveryInstance(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	tokens := coord.exchangeAll("pool", coord.create(coordinator.Deployment{ID: "pool", Nodes: map[string]*coordinator.Node{
		"lb":  {Multiplicity: 1},
		"web": {Multiplicity: 3, Params: map[string]coordinator.Param{"ready": {Output: true}}},
	}}))
	set := func(inst, value string) {
		t.Helper()
		if b, err := ss(t, context.Background(), coord, "pool", inst, tokens[inst], "ss-set", "ready", value).CombinedOutput(); err != nil {
			t.Fatalf("ss-set on %s: %v %s", inst, err, b)
		}
	}
	getAll := ss(t, context.Background(), coord, "pool", "lb.1", tokens["lb.1"], "ss-get-all", "--timeout", "60", "web", "ready")
	var out, errOut syncBuffer
	getAll.Stdout, getAll.Stderr = &out, &errOut
	if err := getAll.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- getAll.Wait() }()
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(errOut.String(), "Waiting for web.1:ready") && strings.Contains(errOut.String(), "Waiting for web.3:ready")
	})
	set("web.1", "yes")
	set("web.3", "yes")
	select {
	case err := <-done:
		t.Fatalf("ss-get-all returned before web.2 set its key: %v, printed %q, stderr %q", err, out.String(), errOut.String())
	case <-time.After(500 * time.Millisecond):
	}
	set("web.2", "yes")
	select {
	case err := <-done:
		if want := "web.1:ready yes\nweb.2:ready yes\nweb.3:ready yes\n"; err != nil || out.String() != want {
			t.Fatalf("ss-get-all: %v, printed %q, want %q (stderr %q)", err, out.String(), want, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ss-get-all still waiting after every instance set its key; stderr %q", errOut.String())
	}

	check := ss(t, context.Background(), coord, "pool", "lb.1", tokens["lb.1"], "ss-get-all", "--value", "yes", "web", "ready")
	if b, err := check.CombinedOutput(); err != nil || len(b) != 0 {
		t.Fatalf("ss-get-all --value yes with every instance at yes: %v, printed %q", err, b)
	}
	set("web.2", "no")
	check = ss(t, context.Background(), coord, "pool", "lb.1", tokens["lb.1"], "ss-get-all", "--value", "yes", "web", "ready")
	var cout, cerr syncBuffer
	check.Stdout, check.Stderr = &cout, &cerr
	check.Run()
	if code := check.ProcessState.ExitCode(); code != 1 || cout.String() != "web.1:ready yes\nweb.2:ready no\nweb.3:ready yes\n" ||
		!strings.Contains(cerr.String(), `web.2:ready not equal to the expected value "yes"`) {
		t.Fatalf("ss-get-all --value yes with web.2 at no: exit %d, stdout %q, stderr %q", code, cout.String(), cerr.String())
	}
}

// TestProcesses_abortEndsEveryWaiter: ss-get processes blocked on keys of
// several instances all exit 8 when another process aborts the run. How
// long they took is logged; the 100 ms target is measured by
// BenchmarkAbortWakeup, not asserted here (shared machines are noisy).
func TestProcesses_abortEndsEveryWaiter(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	tokens := coord.exchangeAll("lamp", coord.create(lampRun()))
	const n = 20
	type result struct {
		code int
		at   time.Time
	}
	results := make(chan result, n)
	var started sync.WaitGroup
	for i := 0; i < n; i++ {
		inst := []string{"web.1", "web.2", "db.1"}[i%3]
		get := ss(t, context.Background(), coord, "lamp", inst, tokens[inst], "ss-get", "--timeout", "60", "db.1:password")
		var errOut syncBuffer
		get.Stderr = &errOut
		if err := get.Start(); err != nil {
			t.Fatal(err)
		}
		started.Add(1)
		go func() {
			waitFor(t, 20*time.Second, func() bool { return strings.Contains(errOut.String(), "Waiting for") })
			started.Done()
			get.Wait()
			results <- result{get.ProcessState.ExitCode(), time.Now()}
		}()
	}
	started.Wait()
	time.Sleep(200 * time.Millisecond) // past "Waiting for", into the long-poll
	abortCmd := ss(t, context.Background(), coord, "lamp", "web.2", tokens["web.2"], "ss-abort", "stop everything")
	if b, err := abortCmd.CombinedOutput(); err != nil {
		t.Fatalf("ss-abort: %v %s", err, b)
	}
	acked := time.Now()
	var lat []time.Duration
	for i := 0; i < n; i++ {
		r := <-results
		if r.code != 8 {
			t.Errorf("a waiter exited %d, want 8", r.code)
		}
		lat = append(lat, r.at.Sub(acked))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("%d blocked ss-get processes ended by the abort; slowest %s after ss-abort returned (process exit included)", n, lat[n-1])
	if _, abort := coord.status("lamp"); abort != "web.2: stop everything" {
		t.Fatalf("abort message %q", abort)
	}
}

// TestRun_scaleRunsHooks: scaling a Ready run up starts the new instance's
// whole workflow (its mapped input already there) while the existing
// instances run on_vm_add with SlipStream's SLIPSTREAM_SCALING_*; scaling
// down stops the removed instance's agent and runs on_vm_remove on the
// others.
func TestRun_scaleRunsHooks(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	marks := t.TempDir()
	d := lampRun()
	d.Nodes["db"].Packages = nil
	d.Nodes["web"].Multiplicity = 1
	hook := "echo \"$SLIPSTREAM_NODE_INSTANCE_NAME $SLIPSTREAM_SCALING_ACTION $SLIPSTREAM_SCALING_NODE $SLIPSTREAM_SCALING_VMS\" >> " + marks + "/hooks\n"
	for _, n := range d.Nodes {
		n.Scripts["on_vm_add"] = []string{hook}
		n.Scripts["on_vm_remove"] = []string{hook}
	}
	tokens := coord.create(d)
	agents := map[string]*agentProcess{}
	for _, inst := range []string{"db.1", "web.1"} {
		agents[inst] = startAgent(t, coord, "lamp", inst, tokens[inst], t.TempDir())
	}
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)

	var scaled struct {
		State  string
		Tokens map[string]string
	}
	if _, err := coord.admin("POST", "/v1/deployments/lamp/scale", map[string]any{"node": "web", "multiplicity": 2}, &scaled); err != nil {
		t.Fatal(err)
	}
	if scaled.State != coordinator.Provisioning || scaled.Tokens["web.2"] == "" {
		t.Fatalf("scale up answered %+v", scaled)
	}
	agents["web.2"] = startAgent(t, coord, "lamp", "web.2", scaled.Tokens["web.2"], t.TempDir())
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)
	p := coord.params("lamp")
	if p["web.2:url"] != "http://"+p["web.2:hostname"]+"/?k="+p["db.1:password"] {
		t.Errorf("the new instance's url: %q", p["web.2:url"])
	}
	hooks := func() []string {
		b, _ := os.ReadFile(marks + "/hooks")
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		sort.Strings(lines)
		return lines
	}
	if got, want := strings.Join(hooks(), "|"), "db.1 vm_add web web.2|web.1 vm_add web web.2"; got != want {
		t.Errorf("on_vm_add ran as %q, want %q", got, want)
	}

	if _, err := coord.admin("POST", "/v1/deployments/lamp/scale", map[string]any{"node": "web", "multiplicity": 1}, &scaled); err != nil {
		t.Fatal(err)
	}
	if code := agents["web.2"].wait(t, 30*time.Second); code != 0 {
		t.Errorf("the removed instance's agent exited %d", code)
	}
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)
	if got, want := strings.Join(hooks(), "|"), "db.1 vm_add web web.2|db.1 vm_remove web web.2|web.1 vm_add web web.2|web.1 vm_remove web web.2"; got != want {
		t.Errorf("hooks ran as %q, want %q", got, want)
	}
	coord.admin("POST", "/v1/deployments/lamp/finalize", nil, nil)
	for _, inst := range []string{"db.1", "web.1"} {
		if code := agents[inst].wait(t, 30*time.Second); code != 0 {
			t.Errorf("%s exited %d", inst, code)
		}
	}
}

// TestRun_killedBeforeTheExchangeAnswer: an agent killed after recording
// its new token and sending the exchange, before the answer arrived (the
// coordinator committed it), asks again with the same token when it
// restarts, is answered yes, and runs on with that token.
func TestRun_killedBeforeTheExchangeAnswer(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	d := coordinator.Deployment{ID: "solo", Nodes: map[string]*coordinator.Node{
		"app": {Multiplicity: 1, Params: map[string]coordinator.Param{},
			Scripts: map[string][]string{"deploy": {"ss-set statecustom deployed"}}},
	}}
	boot := coord.create(d)["app.1"]
	state := t.TempDir()
	// What the killed agent left: its token on disk, not marked exchanged,
	// and the exchange committed at the coordinator.
	own, ownHash := newHash(t)
	bootSum := sha256.Sum256([]byte(boot))
	creds, _ := json.Marshal(agent.Credentials{Deployment: "solo", Instance: "app.1", BootstrapSHA256: hex.EncodeToString(bootSum[:]), Token: own})
	if err := os.WriteFile(agent.TokenFile(state), creds, 0o600); err != nil {
		t.Fatal(err)
	}
	if status, body := callAs(t, coord, boot, "POST", "/v1/deployments/solo/exchange", `{"token_sha256":"`+ownHash+`"}`); status != 200 {
		t.Fatalf("exchange: %d %s", status, body)
	}
	a := startAgent(t, coord, "solo", "app.1", boot, state)
	coord.waitState("solo", coordinator.Ready, 60*time.Second)
	if p := coord.params("solo"); p["app.1:statecustom"] != "deployed" {
		t.Errorf("app.1:statecustom = %q", p["app.1:statecustom"])
	}
	if c, err := agent.LoadCredentials(agent.TokenFile(state)); err != nil || c.Token != own || !c.Exchanged {
		t.Errorf("token file after the restart: %+v, %v", c, err)
	}
	coord.admin("POST", "/v1/deployments/solo/finalize", nil, nil)
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Errorf("agent exited %d:\n%s", code, a.out.String())
	}
}

// TestRun_spentBootstrapToken: an agent whose state folder was lost after
// its exchange cannot use the machine's bootstrap token again: it fails
// saying why (systemd keeps restarting it, and the log tells the operator
// to have the provider issue a new bootstrap token).
func TestRun_spentBootstrapToken(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	tokens := coord.create(lampRun())
	coord.exchange("lamp", tokens["web.1"]) // exchanged by an agent whose state is now gone
	a := startAgent(t, coord, "lamp", "web.1", tokens["web.1"], t.TempDir())
	if code := a.wait(t, 30*time.Second); code != 1 || !strings.Contains(a.out.String(), "already exchanged") {
		t.Errorf("agent exited %d, want 1 saying the bootstrap token was already exchanged:\n%s", code, a.out.String())
	}
}

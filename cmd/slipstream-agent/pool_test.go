package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// startPoolAgent starts `slipstream-agent run` configured only by its
// agent.json, as the bootstrap starts it.
func startPoolAgent(t *testing.T, configPath, stateDir string) *agentProcess {
	t.Helper()
	agentBin := agentBinary(t)
	a := &agentProcess{out: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(agentBin, "run", "-state-dir", stateDir)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLIPSTREAM_") {
			a.cmd.Env = append(a.cmd.Env, kv)
		}
	}
	a.cmd.Env = append(a.cmd.Env, "SLIPSTREAM_AGENT_CONFIG="+configPath)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.done
		if t.Failed() {
			t.Logf("pool agent output:\n%s", a.out.String())
		}
	})
	return a
}

func (a *agentProcess) waitOutput(t *testing.T, text string) {
	t.Helper()
	waitFor(t, 30*time.Second, func() bool {
		select {
		case <-a.done:
			t.Fatalf("the agent exited before it said %q:\n%s", text, a.out.String())
		default:
		}
		return strings.Contains(a.out.String(), text)
	})
}

// TestRun_poolMachine: an agent configured as a machine of node worker's
// pool (agent.json with the node, the pool token and the machine id file,
// no instance) waits for its machine id, then for the provider to register
// the machine, becomes worker.7 and runs worker.7's scripts. Restarted, it
// is worker.7 again from its token file, without an exchange; on another
// machine (the id changed: an image of the first), it exchanges again, and
// its new token takes the run to its end.
func TestRun_poolMachine(t *testing.T) {
	coord := startCoordinator(t, t.TempDir(), "")
	marks := t.TempDir()
	d := coordinator.Deployment{ID: "farm", Nodes: map[string]*coordinator.Node{
		"worker": {Multiplicity: 7, MaxProvisioningFailures: 6, Params: map[string]coordinator.Param{},
			Scripts: map[string][]string{"deploy": {"set -e\necho \"$SLIPSTREAM_NODE_INSTANCE_NAME\" >> " + marks + "/deployed\nss-set statecustom \"deployed as $SLIPSTREAM_NODE_INSTANCE_NAME\"\n"}}},
	}}
	var created struct{ Tokens map[string]string }
	if _, err := coord.admin("POST", "/v1/deployments", struct {
		coordinator.Deployment
		DeferTokens bool `json:"defer_tokens"`
	}{d, true}, &created); err != nil {
		t.Fatal(err)
	}
	if len(created.Tokens) != 0 {
		t.Fatalf("tokens issued: %v", created.Tokens)
	}
	// Only worker.7 gets a machine here; the run goes on without the others.
	for i := 1; i <= 6; i++ {
		if _, err := coord.admin("POST", "/v1/deployments/farm/instances/worker."+string(rune('0'+i))+"/failed", map[string]string{"reason": "not started by this test"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	pool, poolHash := client.NewToken()
	if _, err := coord.admin("POST", "/v1/deployments/farm/pools", map[string]string{"node": "worker", "token_sha256": poolHash}, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idFile := filepath.Join(dir, "instance-id")
	config := filepath.Join(dir, "agent.json")
	b, _ := json.Marshal(map[string]string{"service_url": coord.URL, "deployment": "farm", "instance": "", "token": pool,
		"ca_fingerprint": "", "cloud": "ec2", "node": "worker", "machine_id_file": idFile})
	if err := os.WriteFile(config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()

	a := startPoolAgent(t, config, state)
	a.waitOutput(t, "waiting for the machine id in "+idFile)
	if err := os.WriteFile(idFile, []byte("i-0abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitOutput(t, "machine i-0abc of node worker's pool: waiting for the provider to register it")
	if _, err := coord.admin("PUT", "/v1/deployments/farm/pools/"+poolHash+"/members", map[string]any{"members": map[string]string{"i-0abc": "worker.7"}}, nil); err != nil {
		t.Fatal(err)
	}
	coord.waitState("farm", coordinator.Ready, 60*time.Second)
	p := coord.params("farm")
	if p["worker.7:statecustom"] != "deployed as worker.7" || p["worker.7:instanceid"] != "i-0abc" {
		t.Fatalf("worker.7: statecustom %q, instanceid %q", p["worker.7:statecustom"], p["worker.7:instanceid"])
	}
	first, err := agent.LoadCredentials(agent.TokenFile(state))
	if err != nil || first.Instance != "worker.7" || first.MachineID != "i-0abc" || !first.Exchanged {
		t.Fatalf("token file: %+v %v", first, err)
	}
	// ss-* commands on the machine, configured by the same agent.json,
	// act as worker.7 with the agent's token.
	agentBin := agentBinary(t)
	get := exec.Command(agentBin, "ss-get", "statecustom")
	get.Env = []string{"PATH=" + os.Getenv("PATH"), "SLIPSTREAM_AGENT_CONFIG=" + config, "SLIPSTREAM_STATE_DIR=" + state}
	if out, err := get.CombinedOutput(); err != nil || string(out) != "deployed as worker.7\n" {
		t.Fatalf("ss-get on the pool machine: %q %v", out, err)
	}

	// A reboot: the same machine, worker.7 from the token file (an
	// exchange would be refused: the member is spent).
	a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	a = startPoolAgent(t, config, state)
	a.waitOutput(t, "worker.7 of deployment farm")
	time.Sleep(500 * time.Millisecond)
	select {
	case <-a.done:
		t.Fatalf("the restarted agent exited:\n%s", a.out.String())
	default:
	}
	if strings.Contains(a.out.String(), "exchanged") {
		t.Errorf("the restarted agent exchanged again:\n%s", a.out.String())
	}
	if again, _ := agent.LoadCredentials(agent.TokenFile(state)); again.Token != first.Token {
		t.Errorf("the restarted agent made a new token")
	}

	// Another machine from an image of this one replaces worker.7.
	a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	if err := os.WriteFile(idFile, []byte("i-0new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := coord.admin("PUT", "/v1/deployments/farm/pools/"+poolHash+"/members", map[string]any{"members": map[string]string{"i-0new": "worker.7"}}, nil); err != nil {
		t.Fatal(err)
	}
	a = startPoolAgent(t, config, state)
	a.waitOutput(t, "machine i-0new of node worker's pool is worker.7")
	if !strings.Contains(a.out.String(), "is the token of machine i-0abc, but this is machine i-0new") {
		t.Errorf("the agent does not say why it made a new token:\n%s", a.out.String())
	}
	moved, err := agent.LoadCredentials(agent.TokenFile(state))
	if err != nil || moved.Token == first.Token || moved.MachineID != "i-0new" || moved.Instance != "worker.7" {
		t.Fatalf("token file on the new machine: %+v %v", moved, err)
	}
	if status, body := callAs(t, coord, first.Token, "GET", "/v1/deployments/farm", ""); status != 401 {
		t.Errorf("the first machine's token after the second's exchange: %d %s", status, body)
	}
	if _, err := coord.admin("POST", "/v1/deployments/farm/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t, 30*time.Second); code != 0 {
		t.Errorf("agent exited %d:\n%s", code, a.out.String())
	}
	if state, _ := coord.status("farm"); state != coordinator.Done {
		t.Fatalf("after finalize: %s", state)
	}
	if b, _ := os.ReadFile(filepath.Join(marks, "deployed")); string(b) != "worker.7\n" {
		t.Errorf("the deploy script ran as %q, want once as worker.7", b)
	}
}

package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// poolConfig is baseConfig for a machine of node worker's pool.
func poolConfig() Config {
	c := baseConfig()
	c.Instance, c.Node = "", "worker"
	return c
}

// agentJSONOf decodes the agent.json a rendered view holds.
func agentJSONOf(t *testing.T, c Config) agentConfig {
	t.Helper()
	v, err := c.view()
	if err != nil {
		t.Fatal(err)
	}
	var got agentConfig
	if err := json.Unmarshal([]byte(v.JSON), &got); err != nil {
		t.Fatalf("agent.json %s: %v", v.JSON, err)
	}
	return got
}

// TestPool_rendering: a pool machine's agent.json names no instance, its
// node and the machine id file; its owner line is "<deployment>
// <node>.pool". One instance's agent.json is as before, without them.
func TestPool_rendering(t *testing.T) {
	c := poolConfig()
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"instance":""`, `"node":"worker"`, `"machine_id_file":"/var/lib/cloud/data/instance-id"`,
		"me='" + c.Deployment + " worker.pool'",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the pool machine's script lacks %s", want)
		}
	}
	want := agentConfig{ServiceURL: c.ServiceURL, Deployment: c.Deployment, Token: c.Token, Cloud: c.Cloud,
		Node: "worker", MachineIDFile: MachineIDFile}
	if got := agentJSONOf(t, c); got != want {
		t.Errorf("agent.json\n%+v\nwant\n%+v", got, want)
	}
	c.Root = "/tmp/test-root"
	if got := agentJSONOf(t, c); got.MachineIDFile != "/tmp/test-root"+MachineIDFile {
		t.Errorf("with Root, the machine id file is %q", got.MachineIDFile)
	}

	one, err := Script(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(one, `"node"`) || strings.Contains(one, "machine_id_file") || !strings.Contains(one, `"instance":"web.2"`) {
		t.Errorf("one instance's script names a node or a machine id file:\n%s", one)
	}
}

func TestPool_validation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"instance and node", func(c *Config) { c.Instance = "worker.1" }, `Config.Instance ("worker.1") and Config.Node ("worker") are both set`},
		{"node with a dash", func(c *Config) { c.Node = "wor-ker" }, `Config.Node "wor-ker" is not a node name`},
		{"node with an index", func(c *Config) { c.Node = "worker.1" }, `Config.Node "worker.1" is not a node name`},
		{"node with a quote", func(c *Config) { c.Node = "wor'ker" }, `Config.Node "wor'ker" is not a node name`},
		{"neither", func(c *Config) { c.Node = "" }, "Config.Instance is empty: set it (one instance's machine), or Config.Node"},
	} {
		c := poolConfig()
		tc.edit(&c)
		for name, render := range map[string]func(Config) (string, error){"Script": Script, "UserData": UserData, "UninstallScript": UninstallScript} {
			s, err := render(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || s != "" {
				t.Errorf("%s, %s: %v, want an error containing %q", tc.name, name, err, tc.want)
			}
		}
	}
}

// TestPool_tokenSwap: the provider renders a pool's user-data once, then
// swaps the real pool token in; TokenOf finds it.
func TestPool_tokenSwap(t *testing.T) {
	c := poolConfig()
	c.Token = "placeholder0"
	ud, err := UserData(c)
	if err != nil {
		t.Fatal(err)
	}
	if tok, ok := TokenOf(ud); !ok || tok != "placeholder0" {
		t.Fatalf("TokenOf the pool user-data: %q %v", tok, ok)
	}
	real := randomHex(t, 64)
	swapped, err := WithToken(ud, real)
	if err != nil {
		t.Fatal(err)
	}
	c.Token = real
	if want, _ := UserData(c); swapped != want {
		t.Errorf("the swapped user-data differs from one rendered with the token")
	}
	if tok, ok := TokenOf(swapped); !ok || tok != real {
		t.Errorf("TokenOf the swapped user-data: %q %v", tok, ok)
	}
}

func TestPool_userDataSize(t *testing.T) {
	rsaPEM, rsaFP := newCA(t, 2048)
	c := poolConfig()
	c.ServiceURL = "https://slipstream-coordinator.build-cluster.eu-west-1.internal.example-corporation.com:8680"
	c.Node = "database_primary_replica_pool"
	c.Token, c.CAPEM, c.CAFingerprint = randomHex(t, 64), rsaPEM, rsaFP
	ud, err := UserData(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a pool machine's user-data with an RSA-2048 CA: %d bytes", len(ud))
	if len(ud) > userDataBudget {
		t.Errorf("the pool machine's user-data is %d bytes; it should stay under %d", len(ud), userDataBudget)
	}
	c.CAPEM = strings.Repeat(rsaPEM, 16)
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("the user-data is %d bytes, %d over the %d-byte limit", len(s), len(s)-MaxUserData, MaxUserData)
	if _, err := UserData(c); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("UserData error %v, want one containing %q", err, want)
	}
}

// TestPool_install: a pool machine's script installs an agent.json with
// the node and the machine id file; the host's owner is "<deployment>
// <node>.pool", which another deployment's bootstrap and guarded
// uninstall respect and the pool's own guarded uninstall removes.
func TestPool_install(t *testing.T) {
	t.Parallel()
	checkHostUntouched(t)
	root := t.TempDir()
	stopLeftovers(t, root)
	os.WriteFile(filepath.Join(root, "hold"), nil, 0o600)
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, agent, 0o600)
	c := poolConfig()
	c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "")
	checkInstalled(t, c, agent)
	checkAgentRan(t, root)
	out := mustRun(t, mustOwnerScript(t, root), "")
	if d, i, ok := ParseOwner(out); !ok || d != c.Deployment || i != PoolOwner("worker") || i != "worker.pool" {
		t.Errorf("OwnerScript printed %q: %q %q %v", out, d, i, ok)
	}
	if out := mustRun(t, s, ""); !strings.Contains(out, "already running with this configuration") {
		t.Errorf("the pool machine's re-run:\n%s", out)
	}

	other := c
	other.Deployment = "other-deployment"
	s, _ = Script(other)
	out, err = runScript(t, s, "")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitOwnedByOther || !strings.Contains(out, "belongs to instance worker.pool of deployment "+c.Deployment) {
		t.Errorf("another deployment's pool machine: %v\n%s", err, out)
	}
	for name, guard := range map[string]Config{
		"another deployment's pool": {Root: root, Deployment: "other-deployment", Node: "worker"},
		"another node's pool":       {Root: root, Deployment: c.Deployment, Node: "db"},
		"an instance of the node":   {Root: root, Deployment: c.Deployment, Instance: "worker.1"},
	} {
		un, err := UninstallScript(guard)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := runScript(t, un, ""); !errors.As(err, &exit) || exit.ExitCode() != ExitOwnedByOther {
			t.Errorf("%s: guarded uninstall %v, want exit status %d\n%s", name, err, ExitOwnedByOther, out)
		}
	}
	if len(supervisors(t, root)) != 1 {
		t.Fatalf("a refused uninstall stopped the agent")
	}
	checkUninstall(t, Config{Root: root, Deployment: c.Deployment, Node: "worker"})
}

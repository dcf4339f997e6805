package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// TestBootstrap_endToEnd: the bootstrap script each machine runs fetches
// the agent from a real coordinator serving TLS with its own CA (pinned,
// checksum verified), writes the agent's configuration, and starts it
// under a supervisor; the agents take a deployment to Ready, stop when it
// is finalized, and the uninstall script removes everything. The install
// root is a temporary folder, so the test leaves this machine alone.
func TestBootstrap_endToEnd(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if _, err := exec.LookPath("wget"); err != nil {
			t.Fatal("the bootstrap needs curl or wget: make deps installs curl")
		}
	}
	_, agentBin := binaries(t)
	agentDir := t.TempDir()
	b, err := os.ReadFile(agentBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(agentDir, "slipstream-agent-linux-"+runtime.GOARCH), b, 0o755); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	coord := startCoordinator(t, data, "", "-tls-self-signed", "-agent-dir", agentDir)
	if !strings.HasPrefix(coord.URL, "https://") || coord.fingerprint == "" {
		t.Fatalf("expected TLS with a printed CA fingerprint, got %s %q", coord.URL, coord.fingerprint)
	}
	var agents struct {
		Agents map[string]struct{ SHA256 string }
	}
	if _, err := coord.admin("GET", "/v1/agent", nil, &agents); err != nil {
		t.Fatal(err)
	}
	sum := agents.Agents["linux/"+runtime.GOARCH].SHA256
	caPEM, err := os.ReadFile(filepath.Join(data, "ca.pem"))
	if err != nil || sum == "" {
		t.Fatalf("ca.pem: %v; agent checksum %q", err, sum)
	}

	d := lampRun()
	d.Nodes["db"].Packages = nil
	tokens := coord.create(d)
	roots := map[string]string{}
	for _, inst := range []string{"db.1", "web.1", "web.2"} {
		cfg := bootstrap.Config{
			ServiceURL: coord.URL, Deployment: "lamp", Instance: inst, Token: tokens[inst],
			CAFingerprint: coord.fingerprint, CAPEM: string(caPEM), Cloud: "fixed",
			AgentSHA256: map[string]string{runtime.GOARCH: sum}, Root: t.TempDir(),
		}
		roots[inst] = cfg.Root
		script, err := bootstrap.UserData(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("bootstrap of %s: %v\n%s", inst, err, out)
		}
		uninstall, _ := bootstrap.UninstallScript(cfg)
		t.Cleanup(func() { exec.Command("sh", "-c", uninstall).Run() })
	}
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)
	p := coord.params("lamp")
	if p["web.2:url"] != "http://"+p["web.2:hostname"]+"/?k="+p["db.1:password"] {
		t.Errorf("web.2:url = %q", p["web.2:url"])
	}
	// Every command the agent answers to is linked where scripts find it,
	// and runs through its link with the configuration the bootstrap
	// wrote: ss-get-all on the database machine reads both web URLs.
	for inst, root := range roots {
		for _, name := range commands {
			if target, err := os.Readlink(filepath.Join(root, "usr/local/bin", name)); err != nil || target != "slipstream-agent" {
				t.Errorf("%s: /usr/local/bin/%s links to %q (%v), want slipstream-agent", inst, name, target, err)
			}
		}
	}
	getAll := exec.Command(filepath.Join(roots["db.1"], "usr/local/bin/ss-get-all"), "--timeout", "10", "web", "url")
	getAll.Env = []string{"PATH=" + os.Getenv("PATH"), "SLIPSTREAM_AGENT_CONFIG=" + filepath.Join(roots["db.1"], "etc/slipstream/agent.json")}
	if out, err := getAll.Output(); err != nil || string(out) != "web.1:url "+p["web.1:url"]+"\nweb.2:url "+p["web.2:url"]+"\n" {
		t.Errorf("ss-get-all through its link on db.1: %v, printed %q", err, out)
	}

	if _, err := coord.admin("POST", "/v1/deployments/lamp/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	coord.waitState("lamp", coordinator.Done, 30*time.Second)
	for inst, root := range roots {
		// The agent exited 0, so its supervisor stopped (a zombie has an
		// empty command line).
		pid, _ := os.ReadFile(filepath.Join(root, "run", "slipstream-agent.pid"))
		waitFor(t, 30*time.Second, func() bool {
			cmdline, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/cmdline")
			return !strings.Contains(string(cmdline), "slipstream-supervisor")
		})
		uninstall, _ := bootstrap.UninstallScript(bootstrap.Config{Root: root, ServiceURL: coord.URL, Deployment: "lamp", Instance: inst, Token: tokens[inst], AgentSHA256: map[string]string{runtime.GOARCH: sum}})
		if out, err := exec.Command("sh", "-c", uninstall).CombinedOutput(); err != nil {
			t.Fatalf("uninstall of %s: %v\n%s", inst, err, out)
		}
		left, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"))
		for _, f := range left {
			if !isDir(f) {
				t.Errorf("uninstall of %s left %s", inst, f)
			}
		}
	}
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

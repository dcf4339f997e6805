package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
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
	coord, sum, caPEM := bootstrapCoordinator(t)

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
	// Every command the agent answers to is linked where scripts find it, and runs
	// through its link with the configuration the bootstrap wrote and the
	// token the agent made: ss-get-all on the database machine reads both
	// web URLs.
	for inst, root := range roots {
		for _, name := range commands {
			if target, err := os.Readlink(filepath.Join(root, "usr/local/bin", name)); err != nil || target != "slipstream-agent" {
				t.Errorf("%s: /usr/local/bin/%s links to %q (%v), want slipstream-agent", inst, name, target, err)
			}
		}
	}
	getAll := exec.Command(filepath.Join(roots["db.1"], "usr/local/bin/ss-get-all"), "--timeout", "10", "web", "url")
	getAll.Env = []string{"PATH=" + os.Getenv("PATH"), "SLIPSTREAM_AGENT_CONFIG=" + filepath.Join(roots["db.1"], "etc/slipstream/agent.json"), "SLIPSTREAM_STATE_DIR=" + filepath.Join(roots["db.1"], "var/lib/slipstream")}
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

// bootstrapCoordinator starts a coordinator serving TLS with its own CA
// and the agent binary, as the bootstrap scripts fetch it, and returns it
// with the agent's checksum and the CA.
func bootstrapCoordinator(t *testing.T) (*coordinatorProcess, string, []byte) {
	t.Helper()
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
	return coord, sum, caPEM

}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// TestBootstrap_tokensStayOffTheMachine is the end-to-end check of the
// one-time bootstrap token: machines bootstrapped from their user-data
// reach Ready, after which the tokens in their user-data are refused by
// the coordinator for everything (saying they were exchanged); no
// script's environment (dumped by a deploy and a report script that also
// use ss-get and ss-set) holds the user-data token or the agent's own;
// the agent's token is root's alone (0600); and a machine whose agent is
// stopped and bootstrapped again from the same user-data (a reboot, or
// the provider running the SSH bootstrap again) goes on with its own
// token to the end of the run.
func TestBootstrap_tokensStayOffTheMachine(t *testing.T) {
	coord, sum, caPEM := bootstrapCoordinator(t)
	marks := t.TempDir()
	d := lampRun()
	d.Nodes["db"].Packages = nil
	dump := "env > " + marks + "/$SLIPSTREAM_NODE_INSTANCE_NAME.env\n"
	d.Nodes["db"].Scripts["deploy"] = append(d.Nodes["db"].Scripts["deploy"], dump)
	d.Nodes["web"].Scripts["deploy"][0] = dump + d.Nodes["web"].Scripts["deploy"][0]
	for _, n := range d.Nodes {
		n.Scripts["report"] = []string{"set -e\nenv > \"$SLIPSTREAM_REPORT_DIR/env\"\nss-set statecustom reported\nss-get statecustom > \"$SLIPSTREAM_REPORT_DIR/got\"\n"}
	}
	tokens := coord.create(d)
	roots, scripts := map[string]string{}, map[string]string{}
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
		scripts[inst] = script
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("bootstrap of %s: %v\n%s", inst, err, out)
		}
		uninstall, _ := bootstrap.UninstallScript(cfg)
		t.Cleanup(func() { exec.Command("sh", "-c", uninstall).Run() })
	}
	coord.waitState("lamp", coordinator.Ready, 60*time.Second)
	p := coord.params("lamp")
	if p["web.2:url"] != "http://"+p["web.2:hostname"]+"/?k="+p["db.1:password"] || len(p["db.1:password"]) != 16 {
		t.Errorf("ss-get and ss-set in the deploy scripts: web.2:url = %q, db.1:password %q", p["web.2:url"], p["db.1:password"])
	}

	_, fresh := newHash(t)
	for inst, root := range roots {
		// The user-data token: dead.
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/v1/deployments/lamp", ""},
			{"GET", "/v1/deployments/lamp/parameters/db:password", ""},
			{"PUT", "/v1/deployments/lamp/parameters/statecustom", `{"value":"x"}`},
			{"POST", "/v1/deployments/lamp/exchange", `{"token_sha256":"` + fresh + `"}`},
		} {
			if status, body := callAs(t, coord, tokens[inst], c.method, c.path, c.body); status != 401 || !strings.Contains(body, `"exchanged"`) {
				t.Errorf("%s's user-data token, %s %s: %d %s; want 401 exchanged", inst, c.method, c.path, status, body)
			}
		}
		// The agent's own token: root's only, and working.
		tokenFile := filepath.Join(root, "var", "lib", "slipstream", "token.json")
		if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", tokenFile, err, fi.Mode())
		}
		own := agentToken(t, filepath.Dir(tokenFile))
		if status, body := callAs(t, coord, own, "GET", "/v1/deployments/lamp/parameters/statecustom", ""); status != 200 || !strings.Contains(body, "reported") {
			t.Errorf("%s's agent token: %d %s", inst, status, body)
		}
		// No script saw either token.
		deployEnv, err := os.ReadFile(filepath.Join(marks, inst+".env"))
		if err != nil {
			t.Fatal(err)
		}
		files := report(t, coord, "lamp", inst)
		if files["got"] != "reported\n" || files["env"] == "" {
			t.Errorf("%s's report script: got %q, env %d bytes", inst, files["got"], len(files["env"]))
		}
		for name, env := range map[string]string{"deploy": string(deployEnv), "report": files["env"]} {
			if !strings.Contains(env, "SLIPSTREAM_TOKEN_FILE=") {
				t.Errorf("%s's %s environment has no SLIPSTREAM_TOKEN_FILE:\n%s", inst, name, env)
			}
			for what, tok := range map[string]string{"user-data token": tokens[inst], "agent token": own} {
				if strings.Contains(env, tok) {
					t.Errorf("%s's %s script's environment holds its %s:\n%s", inst, name, what, env)
				}
			}
			if strings.Contains(env, "SLIPSTREAM_TOKEN=") {
				t.Errorf("%s's %s script's environment has SLIPSTREAM_TOKEN", inst, name)
			}
		}
	}

	// web.2's agent stops (a reboot); the same user-data runs again.
	pid, _ := os.ReadFile(filepath.Join(roots["web.2"], "run", "slipstream-agent.pid"))
	pgid, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		t.Fatalf("supervisor pid %q: %v", pid, err)
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // the supervisor leads its group (setsid)
	waitFor(t, 30*time.Second, func() bool {
		cmdline, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/cmdline")
		return !strings.Contains(string(cmdline), "slipstream-supervisor")
	})
	for _, inst := range []string{"web.1", "web.2"} { // web.1's agent still runs
		if out, err := exec.Command("sh", "-c", scripts[inst]).CombinedOutput(); err != nil {
			t.Fatalf("bootstrap of %s again: %v\n%s", inst, err, out)
		}
	}
	if _, err := coord.admin("POST", "/v1/deployments/lamp/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	coord.waitState("lamp", coordinator.Done, 30*time.Second)
	log, _ := os.ReadFile(filepath.Join(roots["web.2"], "var", "log", "slipstream-agent.log"))
	if n := strings.Count(string(log), "bootstrap token exchanged"); n != 1 {
		t.Errorf("web.2's agent exchanged its bootstrap token %d times, want once:\n%s", n, log)
	}
}

// newHash is a new random token and its hex SHA-256.
func newHash(t *testing.T) (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

// callAs makes a request with the given token.
func callAs(t *testing.T, coord *coordinatorProcess, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, coord.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := coord.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

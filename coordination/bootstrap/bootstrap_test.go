package bootstrap

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---- helpers ----------------------------------------------------------

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newCA makes a self-signed CA certificate as slipc serve -tls-self-signed
// does (ECDSA P-256), or with an RSA key of the given size.
func newCA(t *testing.T, rsaBits int) (pemText, fingerprint string) {
	t.Helper()
	var pub, priv any
	if rsaBits > 0 {
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "SlipStream coordinator CA", Organization: []string{"SlipStream"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), hexSum(der)
}

func sums(b []byte) map[string]string {
	s := hexSum(b)
	return map[string]string{"amd64": s, "arm64": s}
}

// baseConfig is valid and downloads from a plain-HTTP loopback URL.
func baseConfig() Config {
	return Config{
		ServiceURL: "http://127.0.0.1:8680",
		Deployment: "3f2c1a9e-5d7b-4e0a-9c1f-2b8d6e4a7c10",
		Instance:   "web.2",
		Token:      strings.Repeat("ab", 32),
		Cloud:      "ec2",
		AgentSHA256: map[string]string{
			"amd64": strings.Repeat("1", 64), "arm64": strings.Repeat("2", 64),
		},
	}
}

// fakeAgent is a stand-in for slipstream-agent: each start leaves a record
// under root/runs; it then exits 3 while root/fail exists, stays up while
// root/hold exists, and otherwise exits 0 (so the supervisor stops).
func fakeAgent(root string) []byte {
	return []byte(`#!/bin/sh
R=` + shellQuote(root) + `
mkdir -p "$R/runs"
{
	printf 'args=%s\n' "$*"
	printf 'config=%s\n' "${SLIPSTREAM_AGENT_CONFIG-unset}"
	printf 'state=%s\n' "${SLIPSTREAM_STATE_DIR-unset}"
	printf 'path=%s\n' "$PATH"
} >"$R/runs/$$.tmp"
mv "$R/runs/$$.tmp" "$R/runs/$$"
[ ! -e "$R/fail" ] || exit 3
[ ! -e "$R/hold" ] || exec sleep 600
exit 0
`)
}

// agentRuns returns the records fakeAgent left, one map per start.
func agentRuns(t *testing.T, root string) []map[string]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "runs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var runs []map[string]string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "runs", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rec := map[string]string{"pid": e.Name()}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			k, v, _ := strings.Cut(line, "=")
			rec[k] = v
		}
		runs = append(runs, rec)
	}
	return runs
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// runScript runs a rendered script as `sh -c script`, as the SSH
// bootstrapper and the fake clouds do, with PATH replaced when path != "".
func runScript(t *testing.T, script, path string) (string, error) {
	t.Helper()
	return runShell(t, "sh", script, path)
}

func runShell(t *testing.T, shell, script, path string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, "-c", script)
	if path != "" {
		cmd.Env = append(os.Environ(), "PATH="+path)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, script, path string) string {
	t.Helper()
	out, err := runScript(t, script, path)
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, out)
	}
	return out
}

// pathWithout returns a PATH whose one directory holds links to every
// command of the current PATH except the named ones (with extra first), so
// a script sees a machine without, say, curl. The directories are shared
// between tests and removed by TestMain.
func pathWithout(t *testing.T, extra string, hide ...string) string {
	t.Helper()
	key := strings.Join(hide, ",")
	pathDirs.Lock()
	defer pathDirs.Unlock()
	dir, ok := pathDirs.m[key]
	if !ok {
		var err error
		if dir, err = os.MkdirTemp("", "bootstrap-path-"); err != nil {
			t.Fatal(err)
		}
		for _, d := range filepath.SplitList(os.Getenv("PATH")) {
			entries, _ := os.ReadDir(d)
			for _, e := range entries {
				name := e.Name()
				if slices.Contains(hide, name) {
					continue
				}
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					continue // an earlier PATH entry wins, as in a lookup
				}
				os.Symlink(filepath.Join(d, name), filepath.Join(dir, name))
			}
		}
		pathDirs.m[key] = dir
	}
	if extra != "" {
		return extra + ":" + dir
	}
	return dir
}

var pathDirs = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range pathDirs.m {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// fakeUname makes a directory whose uname reports machine for -m.
func fakeUname(t *testing.T, machine string) string {
	t.Helper()
	real, err := exec.LookPath("uname")
	if err != nil {
		t.Skip("uname is not installed")
	}
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"${1-}\" = -m ] && { echo " + shellQuote(machine) + "; exit 0; }\nexec " + shellQuote(real) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "uname"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// supervisors lists the supervisor processes of the install in root. A
// supervisor's child between fork and exec looks like a supervisor too, so
// processes whose parent is a supervisor are left out.
func supervisors(t *testing.T, root string) []int {
	t.Helper()
	agent := filepath.Join(root, "usr/local/bin/slipstream-agent")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	parent := map[int]int{}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if slices.Contains(args, "slipstream-supervisor") && slices.Contains(args, agent) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			parent[pid] = ppid(pid)
		}
	}
	var pids []int
	for pid, pp := range parent {
		if _, forked := parent[pp]; !forked {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// stat returns the fields of /proc/pid/stat after the command name: state,
// ppid, pgrp, ...
func stat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// The command name is in parentheses and may hold anything.
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
}

func ppid(pid int) int {
	f := stat(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// groupMembers lists the live (non-zombie) processes in process group pgid.
func groupMembers(pgid int) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		if f := stat(pid); len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stopLeftovers kills what a failed test may leave running.
func stopLeftovers(t *testing.T, root string) {
	t.Cleanup(func() {
		for _, pid := range supervisors(t, root) {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// hostPaths are where a production install writes; a test install must
// leave them alone.
var hostPaths = []string{
	"/usr/local/bin/slipstream-agent", "/usr/local/bin/ss-get", "/etc/slipstream",
	"/var/lib/slipstream", "/var/log/slipstream-agent.log", "/run/slipstream-agent.pid",
	"/etc/systemd/system/slipstream-agent.service",
}

func checkHostUntouched(t *testing.T) {
	t.Helper()
	var before []string
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); err == nil {
			before = append(before, p)
		}
	}
	t.Cleanup(func() {
		for _, p := range hostPaths {
			if _, err := os.Lstat(p); err == nil && !slices.Contains(before, p) {
				t.Errorf("a test install wrote %s outside its root", p)
			}
		}
	})
}

// installedFiles lists the regular files and symlinks under root, except
// the test's own (runs, hold, fail).
func installedFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "runs" || rel == "hold" || rel == "fail" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	return files
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

// checkInstalled verifies the layout and agent.json of an install of c.
func checkInstalled(t *testing.T, c Config, agent []byte) {
	t.Helper()
	root := c.Root
	bin := filepath.Join(root, "usr/local/bin")
	if m := mode(t, filepath.Join(bin, "slipstream-agent")); m != 0o755 {
		t.Errorf("slipstream-agent mode %v, want -rwxr-xr-x", m)
	}
	if b, _ := os.ReadFile(filepath.Join(bin, "slipstream-agent")); string(b) != string(agent) {
		t.Errorf("slipstream-agent differs from the agent served")
	}
	// Listed here, not taken from Commands, so that dropping one from
	// Commands fails the test.
	for _, n := range []string{"ss-get", "ss-get-all", "ss-set", "ss-display", "ss-random", "ss-abort", "ss-cancel-abort"} {
		if target, err := os.Readlink(filepath.Join(bin, n)); err != nil || target != "slipstream-agent" {
			t.Errorf("%s: link to %q (%v), want slipstream-agent", n, target, err)
		}
	}
	etc := filepath.Join(root, "etc/slipstream")
	for p, want := range map[string]fs.FileMode{
		etc: fs.ModeDir | 0o700, filepath.Join(etc, "agent.json"): 0o600,
		filepath.Join(root, "var/lib/slipstream"): fs.ModeDir | 0o700,
	} {
		if m := mode(t, p); m != want {
			t.Errorf("%s: mode %v, want %v", p, m, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(etc, "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got agentConfig
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("agent.json: %v\n%s", err, b)
	}
	want := agentConfig{ServiceURL: c.ServiceURL, Deployment: c.Deployment, Instance: c.Instance, Token: c.Token,
		CAFingerprint: c.CAFingerprint, Cloud: c.Cloud}
	if c.Node != "" {
		want.Node, want.MachineIDFile = c.Node, filepath.Join(root, MachineIDFile)
	}
	if got != want {
		t.Errorf("agent.json holds\n%+v\nwant\n%+v", got, want)
	}
	ca, err := os.ReadFile(filepath.Join(etc, "ca.pem"))
	switch {
	case c.CAPEM == "" && err == nil:
		t.Errorf("ca.pem installed without Config.CAPEM")
	case c.CAPEM != "" && string(ca) != c.CAPEM:
		t.Errorf("ca.pem = %q (%v), want Config.CAPEM", ca, err)
	}
}

// checkAgentRan waits for the fake agent's first start and checks how it
// was started.
func checkAgentRan(t *testing.T, root string) {
	t.Helper()
	waitFor(t, "the agent to start", 10*time.Second, func() bool { return len(agentRuns(t, root)) > 0 })
	run := agentRuns(t, root)[0]
	if run["args"] != "run" {
		t.Errorf("agent started with args %q, want run", run["args"])
	}
	if want := filepath.Join(root, "etc/slipstream/agent.json"); run["config"] != want {
		t.Errorf("SLIPSTREAM_AGENT_CONFIG=%q, want %q", run["config"], want)
	}
	if want := filepath.Join(root, "var/lib/slipstream"); run["state"] != want {
		t.Errorf("SLIPSTREAM_STATE_DIR=%q, want %q", run["state"], want)
	}
	if !strings.HasPrefix(run["path"], filepath.Join(root, "usr/local/bin")+":") {
		t.Errorf("the agent's PATH %q does not start with the install's bin directory", run["path"])
	}
}

func checkUninstall(t *testing.T, c Config) {
	t.Helper()
	un, err := UninstallScript(c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second run finds nothing and succeeds
		out := mustRun(t, un, "")
		if files := installedFiles(t, c.Root); len(files) > 0 {
			t.Fatalf("uninstall run %d left %v\n%s", i+1, files, out)
		}
		for _, d := range []string{"etc/slipstream", "var/lib/slipstream"} {
			if _, err := os.Stat(filepath.Join(c.Root, d)); err == nil {
				t.Errorf("uninstall left %s", d)
			}
		}
	}
	if pids := supervisors(t, c.Root); len(pids) > 0 {
		t.Errorf("supervisors still running after uninstall: %v", pids)
	}
}

// agentServer serves agent at /v1/agent/linux/{amd64,arm64} over TLS with
// its own certificate, and counts the downloads.
func agentServer(t *testing.T, agent []byte) (*httptest.Server, string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/agent/linux/amd64" && r.URL.Path != "/v1/agent/linux/arm64" {
			http.NotFound(w, r)
			return
		}
		n.Add(1)
		w.Write(agent)
	}))
	t.Cleanup(srv.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	return srv, caPEM, &n
}

func need(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s is not installed", c)
		}
	}
}

// ---- rendering ----------------------------------------------------------

func TestValidation(t *testing.T) {
	caPEM, caFP := newCA(t, 0)
	keyPEM := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n"
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no service url", func(c *Config) { c.ServiceURL = "" }, "Config.ServiceURL is empty"},
		{"no deployment", func(c *Config) { c.Deployment = "" }, "Config.Deployment is empty"},
		{"no instance", func(c *Config) { c.Instance = "" }, "Config.Instance is empty"},
		{"no token", func(c *Config) { c.Token = "" }, "Config.Token is empty"},
		{"ftp url", func(c *Config) { c.ServiceURL = "ftp://10.0.0.1" }, "is not an http or https URL"},
		{"relative url", func(c *Config) { c.ServiceURL = "10.0.0.1:8680" }, "Config.ServiceURL"},
		{"url without host", func(c *Config) { c.ServiceURL = "https:///v1" }, "has no host"},
		{"url with query", func(c *Config) { c.ServiceURL = "https://h/?a=b" }, "query or fragment"},
		{"url with credentials", func(c *Config) { c.ServiceURL = "https://u:p@h" }, "carries credentials"},
		{"instance without index", func(c *Config) { c.Instance = "web" }, "is not a node instance name"},
		{"instance with quote", func(c *Config) { c.Instance = "we'b.1" }, "is not a node instance name"},
		{"instance with text index", func(c *Config) { c.Instance = "web.x" }, "is not a node instance name"},
		{"token with space", func(c *Config) { c.Token = "ab cd" }, "Config.Token holds a character"},
		{"token with newline", func(c *Config) { c.Token = "abcd\n" }, "Config.Token holds a character"},
		{"deployment with newline", func(c *Config) { c.Deployment = "a\nb" }, "Config.Deployment: \"a\\nb\" holds the control character U+000A"},
		{"deployment with NUL", func(c *Config) { c.Deployment = "a\x00b" }, "control character U+0000"},
		{"cloud with escape", func(c *Config) { c.Cloud = "ec2\x1b[0m" }, "Config.Cloud"},
		{"cloud not utf-8", func(c *Config) { c.Cloud = "ec\xff2" }, "is not valid UTF-8"},
		{"no sums", func(c *Config) { c.AgentSHA256 = nil }, "Config.AgentSHA256 is empty"},
		{"unknown arch", func(c *Config) { c.AgentSHA256["x86_64"] = strings.Repeat("a", 64) }, `architecture "x86_64"`},
		{"short sum", func(c *Config) { c.AgentSHA256["amd64"] = "abc" }, `Config.AgentSHA256["amd64"] = "abc" is not a hex SHA-256`},
		{"non-hex sum", func(c *Config) { c.AgentSHA256["arm64"] = strings.Repeat("g", 64) }, `Config.AgentSHA256["arm64"]`},
		{"bad fingerprint", func(c *Config) { c.CAFingerprint = "abc" }, "Config.CAFingerprint \"abc\" is not a hex SHA-256"},
		{"garbage pem", func(c *Config) { c.CAPEM = "not a certificate" }, "Config.CAPEM: no PEM certificate found"},
		{"private key pem", func(c *Config) { c.CAPEM = keyPEM }, `block 1 is a "EC PRIVATE KEY", not a CERTIFICATE`},
		{"pem trailing text", func(c *Config) { c.CAPEM = caPEM + "junk" }, "text after certificate 1 is not PEM"},
		{"fingerprint of another CA", func(c *Config) { c.CAPEM, c.CAFingerprint = caPEM, strings.Repeat("e", 64) }, "matches no certificate in Config.CAPEM"},
		{"private CA without PEM", func(c *Config) { c.ServiceURL, c.CAFingerprint = "https://10.0.0.1:8680", caFP }, "Config.CAPEM is empty"},
		{"relative agent path", func(c *Config) { c.AgentPath = "tmp/agent" }, "Config.AgentPath \"tmp/agent\" is not an absolute path"},
		{"agent path and url", func(c *Config) { c.AgentPath, c.AgentURL = "/tmp/a", "https://h/a/" }, "are both set"},
		{"bad agent url", func(c *Config) { c.AgentURL = "file:///tmp/agent" }, "Config.AgentURL"},
		{"relative root", func(c *Config) { c.Root = "tmp/root" }, "Config.Root \"tmp/root\" is not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := baseConfig()
			tc.edit(&c)
			for _, render := range []func(Config) (string, error){Script, UserData} {
				s, err := render(c)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one containing %q", err, tc.want)
				}
				if s != "" {
					t.Errorf("a script came with the error")
				}
			}
		})
	}

	t.Run("all problems at once", func(t *testing.T) {
		_, err := Script(Config{Instance: "x"})
		for _, want := range []string{"ServiceURL is empty", "Deployment is empty", "Instance \"x\"", "Token is empty", "AgentSHA256 is empty"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not mention %q", err, want)
			}
		}
	})

	t.Run("accepted", func(t *testing.T) {
		for name, edit := range map[string]func(*Config){
			"fingerprint with colons, upper case": func(c *Config) {
				c.CAPEM = caPEM
				c.CAFingerprint = strings.ToUpper(regexp.MustCompile("..").ReplaceAllString(caFP, "$0:"))[:95]
			},
			"fingerprint with agent path": func(c *Config) { c.ServiceURL, c.CAFingerprint, c.AgentPath = "https://h", caFP, "/tmp/agent" },
			"fingerprint with public agent url": func(c *Config) {
				c.ServiceURL, c.CAFingerprint, c.AgentURL = "https://h", caFP, "https://dl.example.com/agent-"
			},
			"one arch only":  func(c *Config) { delete(c.AgentSHA256, "arm64") },
			"upper-case sum": func(c *Config) { c.AgentSHA256["amd64"] = strings.Repeat("AB", 32) },
			"empty cloud":    func(c *Config) { c.Cloud = "" },
			"root slash":     func(c *Config) { c.Root = "/" },
		} {
			c := baseConfig()
			edit(&c)
			if _, err := Script(c); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		// The plain form reaches agent.json.
		c := baseConfig()
		c.CAPEM, c.CAFingerprint = caPEM, strings.ToUpper(caFP)
		v, err := c.view()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(v.JSON, `"ca_fingerprint":"`+caFP+`"`) {
			t.Errorf("agent.json %s lacks the normalized fingerprint", v.JSON)
		}
	})
}

// TestShellQuote runs every quoted string through real shells.
func TestShellQuote(t *testing.T) {
	values := []string{
		"", "plain", "'", "''", `it's`, `'; rm -rf / #`, "$(touch pwned)", "`touch pwned`",
		`"double" \back\slash \n`, "$HOME ${PATH} $1 $@ $$", "* ? [a-z] ~", "% %s %% \\",
		"tab\tand\nnewline\r", "ünïcødé ✓ \u2028", "a'b'c''d'''", "!event -dash",
	}
	for _, shell := range []string{"sh", "dash", "bash"} {
		if _, err := exec.LookPath(shell); err != nil {
			continue
		}
		for _, v := range values {
			out, err := exec.Command(shell, "-c", "printf '%s' "+shellQuote(v)).CombinedOutput()
			if err != nil || string(out) != v {
				t.Errorf("%s: %q came back as %q (%v)", shell, v, out, err)
			}
		}
	}
}

func TestScriptsParse(t *testing.T) {
	caPEM, caFP := newCA(t, 0)
	var scripts []string
	for _, edit := range []func(*Config){
		func(c *Config) {},
		func(c *Config) { c.ServiceURL, c.CAPEM, c.CAFingerprint = "https://10.0.0.1:8680", caPEM, caFP },
		func(c *Config) { c.AgentPath = "/tmp/slipstream-agent.upload" },
		func(c *Config) { c.AgentURL = "https://dl.example.com/slipstream/agent-" },
		func(c *Config) { c.Root = "/tmp/it's a $(root)"; c.Cloud = "'; rm -rf / #" },
		func(c *Config) { delete(c.AgentSHA256, "amd64") },
		func(c *Config) { c.Instance, c.Node = "", "worker" }, // a pool's machine
	} {
		c := baseConfig()
		edit(&c)
		unguarded := func(c Config) (string, error) { return UninstallScript(Config{Root: c.Root}) }
		for _, render := range []func(Config) (string, error){Script, UserData, UninstallScript, unguarded, OwnerScript} {
			s, err := render(c)
			if err != nil {
				t.Fatal(err)
			}
			scripts = append(scripts, s)
		}
	}
	shells := 0
	for _, shell := range []string{"sh", "dash", "bash", "busybox"} {
		if _, err := exec.LookPath(shell); err != nil {
			continue
		}
		shells++
		for _, s := range scripts {
			args := []string{"-n", "-c", s}
			if shell == "busybox" {
				args = append([]string{"sh"}, args...)
			}
			if out, err := exec.Command(shell, args...).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s\n%s", shell, err, out, s)
			}
		}
	}
	if shells == 0 {
		t.Fatal("no shell to check the scripts with")
	}
}

// TestPathsUnderRoot checks statically that every path the scripts name
// under the system directories starts with $R (Config.Root), apart from
// the ones they only read.
func TestPathsUnderRoot(t *testing.T) {
	c := baseConfig()
	c.ServiceURL = "https://coordinator.example.com"
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	u, err := UninstallScript(c)
	if err != nil {
		t.Fatal(err)
	}
	o, err := OwnerScript(c)
	if err != nil {
		t.Fatal(err)
	}
	c.Instance, c.Node = "", "worker"
	p, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	sysdir := regexp.MustCompile(`/(?:etc|usr|var|run|tmp|opt|srv|home|root|lib|bin|sbin)\b[^\s"';)]*`)
	// The machine id file is only read, by the agent (under Root in
	// tests: agent.json names Root's).
	readOnly := []string{"/run/systemd/system", "/bin/sh", MachineIDFile}
	for name, script := range map[string]string{"install": s, "uninstall": u, "owner": o, "pool install": p} {
		for _, m := range sysdir.FindAllStringIndex(script, -1) {
			p := script[m[0]:m[1]]
			if m[0] >= 2 && script[m[0]-2:m[0]] == "$R" || slices.Contains(readOnly, p) {
				continue
			}
			t.Errorf("%s script names %s outside $R", name, p)
		}
	}
}

// userDataBudget is what the bootstrap may take of EC2's 16 KiB of
// user-data (MaxUserData), leaving the rest for a CA bundle of several
// certificates.
const userDataBudget = 10 << 10

func TestUserDataSize(t *testing.T) {
	ecPEM, ecFP := newCA(t, 0)
	rsaPEM, rsaFP := newCA(t, 2048)
	for _, ca := range []struct{ name, pem, fp string }{{"ECDSA", ecPEM, ecFP}, {"RSA-2048", rsaPEM, rsaFP}} {
		c := Config{
			ServiceURL:    "https://slipstream-coordinator.build-cluster.eu-west-1.internal.example-corporation.com:8680",
			Deployment:    "3f2c1a9e-5d7b-4e0a-9c1f-2b8d6e4a7c10",
			Instance:      "database_primary.12",
			Token:         randomHex(t, 64),
			CAFingerprint: ca.fp,
			CAPEM:         ca.pem,
			Cloud:         "openstack",
			AgentSHA256:   map[string]string{"amd64": randomHex(t, 64), "arm64": randomHex(t, 64)},
		}
		ud, err := UserData(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("user-data with a %d-byte %s CA PEM: %d bytes", len(ca.pem), ca.name, len(ud))
		if !strings.HasPrefix(ud, "#!/bin/sh\n") {
			t.Errorf("user-data does not start with #!/bin/sh, so cloud-init would not run it")
		}
		if s, _ := Script(c); s != ud {
			t.Errorf("user-data differs from the script")
		}
		if len(ud) > userDataBudget {
			t.Errorf("user-data is %d bytes; it should stay under %d", len(ud), userDataBudget)
		}
		if strings.Count(ud, c.Token) != 1 {
			t.Errorf("the token appears %d times in the script, want once (in agent.json)", strings.Count(ud, c.Token))
		}
	}

	// A bundle too large for user-data: the error says by how much.
	c := baseConfig()
	c.CAPEM = strings.Repeat(rsaPEM, 16)
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = UserData(c)
	want := fmt.Sprintf("the user-data is %d bytes, %d over the %d-byte limit", len(s), len(s)-MaxUserData, MaxUserData)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("UserData error %v, want one containing %q", err, want)
	}
}

func TestCAPEMNormalized(t *testing.T) {
	caPEM, caFP := newCA(t, 0)
	c := baseConfig()
	c.CAPEM = "subject=CN = SlipStream coordinator CA\n" + strings.ReplaceAll(caPEM, "\n", "\r\n") + "\n\n"
	c.CAFingerprint = caFP
	v, err := c.view()
	if err != nil {
		t.Fatal(err)
	}
	if v.CAPEM != caPEM {
		t.Errorf("CA PEM rendered as %q, want %q", v.CAPEM, caPEM)
	}
}

// ---- running the scripts --------------------------------------------------

// install downloads the agent from a TLS server with hide hidden from PATH.
func testDownload(t *testing.T, hide ...string) {
	t.Parallel()
	checkHostUntouched(t)
	root := t.TempDir()
	stopLeftovers(t, root)
	agent := fakeAgent(root)
	srv, caPEM, downloads := agentServer(t, agent)
	c := baseConfig()
	c.ServiceURL, c.CAPEM, c.CAFingerprint = srv.URL, caPEM, hexSum(srv.Certificate().Raw)
	c.AgentSHA256, c.Root = sums(agent), root
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, s, pathWithout(t, "", hide...))
	if downloads.Load() != 1 {
		t.Errorf("%d downloads, want 1\n%s", downloads.Load(), out)
	}
	checkInstalled(t, c, agent)
	checkAgentRan(t, root)
	if m := mode(t, filepath.Join(root, "var/log/slipstream-agent.log")); m != 0o600 {
		t.Errorf("log mode %v, want -rw-------", m)
	}
	if strings.Contains(out, c.Token) {
		t.Errorf("the script printed the token:\n%s", out)
	}
	// Once the agent exited 0, the supervisor is gone.
	waitFor(t, "the supervisor to stop after exit 0", 10*time.Second, func() bool { return len(supervisors(t, root)) == 0 })

	// Run again: the binary is in place, so nothing is downloaded.
	out = mustRun(t, s, pathWithout(t, "", hide...))
	if !strings.Contains(out, "already installed") || downloads.Load() != 1 {
		t.Errorf("the second run downloaded again (%d downloads):\n%s", downloads.Load(), out)
	}
	checkUninstall(t, c)
}

func TestInstallWithCurl(t *testing.T) {
	need(t, "curl")
	testDownload(t)
}

func TestInstallWithWget(t *testing.T) {
	need(t, "wget")
	testDownload(t, "curl")
}

func TestInstallWithoutDownloader(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	c := baseConfig()
	c.Root = root
	s, _ := Script(c)
	out, err := runScript(t, s, pathWithout(t, "", "curl", "wget"))
	if err == nil || !strings.Contains(out, "slipstream-bootstrap: cannot download the agent: neither curl nor wget is installed") {
		t.Errorf("error %v, output:\n%s", err, out)
	}
	if files := installedFiles(t, root); len(files) > 0 {
		t.Errorf("a failed install left %v", files)
	}
}

func TestChecksumMismatch(t *testing.T) {
	t.Parallel()
	checkHostUntouched(t)
	root := t.TempDir()
	agent := fakeAgent(root)
	tampered := append(slices.Clone(agent), "echo tampered\n"...)

	// Downloaded.
	srv, caPEM, _ := agentServer(t, tampered)
	c := baseConfig()
	c.ServiceURL, c.CAPEM, c.AgentSHA256, c.Root = srv.URL, caPEM, sums(agent), root
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runScript(t, s, "")
	want := fmt.Sprintf("slipstream-bootstrap: checksum mismatch for the agent from %s/v1/agent/linux/amd64: expected sha256 %s, got %s",
		srv.URL, hexSum(agent), hexSum(tampered))
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("error %v, want output with %q:\n%s", err, want, out)
	}
	if files := installedFiles(t, root); len(files) > 0 {
		t.Errorf("a refused agent left %v", files)
	}

	// Uploaded.
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, tampered, 0o644)
	c = baseConfig()
	c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
	s, _ = Script(c)
	out, err = runScript(t, s, "")
	want = fmt.Sprintf("checksum mismatch for the agent from %s: expected sha256 %s, got %s", upload, hexSum(agent), hexSum(tampered))
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("error %v, want output with %q:\n%s", err, want, out)
	}
	if files := installedFiles(t, root); len(files) > 0 {
		t.Errorf("a refused agent left %v", files)
	}
}

// TestFailureNamesStep: a command failing under set -e still leaves a
// message saying which step failed.
func TestFailureNamesStep(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "usr"), []byte("a file where a directory belongs"), 0o644)
	c := baseConfig()
	c.Root = root
	s, _ := Script(c)
	out, err := runScript(t, s, "")
	if want := "slipstream-bootstrap: failed while creating directories (exit status 1)"; err == nil || !strings.Contains(out, want) {
		t.Errorf("error %v, want output with %q:\n%s", err, want, out)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1", err)
	}
}

// TestAgentPath installs an uploaded agent, without any server, into a
// root whose name needs quoting, with hostile values that must reach
// agent.json unchanged and run nothing.
func TestAgentPath(t *testing.T) {
	t.Parallel()
	checkHostUntouched(t)
	root := filepath.Join(t.TempDir(), "it's a $(touch pwned) `touch pwned` root")
	os.Mkdir(root, 0o755)
	stopLeftovers(t, root)
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "slipstream-agent.upload")
	os.WriteFile(upload, agent, 0o600)
	c := baseConfig()
	c.ServiceURL = "https://unreachable.invalid:8680/prefix/"
	c.Deployment = `dep'"$(touch pwned)` + "`touch pwned`\\n ünï ✓ <&>"
	c.Cloud = "'; rm -rf / #"
	c.Token = `tok'en"$(touch` + "`pwned`\\"
	c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // the working directory, where an injection would write
	cmd := exec.Command("sh", "-c", s)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkInstalled(t, c, agent)
	checkAgentRan(t, root)
	if _, err := os.Stat(upload); err != nil {
		t.Errorf("the uploaded agent was not left in place: %v", err)
	}
	for _, d := range []string{dir, root, filepath.Dir(root)} {
		if _, err := os.Stat(filepath.Join(d, "pwned")); err == nil {
			t.Errorf("a value was executed: %s/pwned exists", d)
		}
	}
	checkUninstall(t, c)
}

func TestChecksumTools(t *testing.T) {
	for _, tc := range []struct {
		hide []string
		uses string // the tool left to the script; "": none
		want string // empty: the install succeeds
	}{
		{hide: []string{"sha256sum"}, uses: "shasum"},
		{hide: []string{"sha256sum", "shasum"}, uses: "openssl"},
		{hide: []string{"sha256sum", "shasum", "openssl"}, want: "slipstream-bootstrap: cannot verify the agent: none of sha256sum, shasum or openssl is installed"},
	} {
		t.Run(strings.Join(tc.hide, ","), func(t *testing.T) {
			t.Parallel()
			if tc.uses != "" {
				need(t, tc.uses)
			}
			root := t.TempDir()
			stopLeftovers(t, root)
			agent := fakeAgent(root)
			upload := filepath.Join(t.TempDir(), "agent")
			os.WriteFile(upload, agent, 0o600)
			c := baseConfig()
			c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
			s, _ := Script(c)
			out, err := runScript(t, s, pathWithout(t, "", tc.hide...))
			if tc.want != "" {
				if err == nil || !strings.Contains(out, tc.want) {
					t.Errorf("error %v, want output with %q:\n%s", err, tc.want, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			checkInstalled(t, c, agent)
			checkAgentRan(t, root)
			// A second run compares the installed agent with the same tool.
			if out := mustRun(t, s, pathWithout(t, "", tc.hide...)); !strings.Contains(out, "already installed") {
				t.Errorf("second run:\n%s", out)
			}
		})
	}
}

func TestArchitecture(t *testing.T) {
	for _, tc := range []struct {
		machine string
		archs   []string
		want    string // empty: the install succeeds
	}{
		{"aarch64", []string{"arm64"}, ""},
		{"arm64", []string{"amd64", "arm64"}, ""},
		{"amd64", []string{"amd64"}, ""},
		{"riscv64", []string{"amd64", "arm64"}, "slipstream-bootstrap: unsupported machine architecture 'riscv64': the agent is built for x86_64 (amd64) and aarch64 (arm64)"},
		{"aarch64", []string{"amd64"}, "slipstream-bootstrap: this bootstrap script has no agent checksum for linux/arm64 (it has amd64)"},
		{"x86_64", []string{"arm64"}, "no agent checksum for linux/amd64 (it has arm64)"},
	} {
		t.Run(tc.machine+"-"+strings.Join(tc.archs, ","), func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			stopLeftovers(t, root)
			agent := fakeAgent(root)
			var requested atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requested.Store(r.URL.Path)
				w.Write(agent)
			}))
			defer srv.Close()
			c := baseConfig()
			c.ServiceURL, c.Root, c.AgentSHA256 = srv.URL, root, map[string]string{}
			for _, a := range tc.archs {
				c.AgentSHA256[a] = hexSum(agent)
			}
			s, err := Script(c)
			if err != nil {
				t.Fatal(err)
			}
			out, err := runScript(t, s, pathWithout(t, fakeUname(t, tc.machine)))
			if tc.want != "" {
				if err == nil || !strings.Contains(out, tc.want) {
					t.Errorf("error %v, want output with %q:\n%s", err, tc.want, out)
				}
				if files := installedFiles(t, root); len(files) > 0 {
					t.Errorf("a failed install left %v", files)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			arch := map[string]string{"aarch64": "arm64", "arm64": "arm64", "amd64": "amd64", "x86_64": "amd64"}[tc.machine]
			if got := requested.Load(); got != "/v1/agent/linux/"+arch {
				t.Errorf("downloaded %v, want /v1/agent/linux/%s", got, arch)
			}
			checkAgentRan(t, root)
		})
	}
}

// TestRerun keeps the agent up and bootstraps again: the same
// configuration leaves the running agent alone, a new token restarts it,
// and there is only ever one supervisor. It runs the script under each
// shell at hand, as /bin/sh is dash on Debian and bash on Red Hat.
func TestRerun(t *testing.T) {
	for _, shell := range []string{"sh", "dash", "bash"} {
		t.Run(shell, func(t *testing.T) {
			need(t, shell)
			t.Parallel()
			testRerun(t, shell)
		})
	}
}

func testRerun(t *testing.T, shell string) {
	checkHostUntouched(t)
	root := t.TempDir()
	stopLeftovers(t, root)
	os.WriteFile(filepath.Join(root, "hold"), nil, 0o600)
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, agent, 0o600)
	c := baseConfig()
	c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
	s, _ := Script(c)
	run := func() string {
		t.Helper()
		out, err := runShell(t, shell, s, "")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}

	run()
	checkAgentRan(t, root)
	first := supervisors(t, root)
	if len(first) != 1 {
		t.Fatalf("supervisors %v, want one", first)
	}
	if pid, _ := os.ReadFile(filepath.Join(root, "run/slipstream-agent.pid")); strings.TrimSpace(string(pid)) != strconv.Itoa(first[0]) {
		t.Errorf("pid file holds %q, the supervisor is %d", pid, first[0])
	}

	if out := run(); !strings.Contains(out, "already running with this configuration") {
		t.Errorf("second run:\n%s", out)
	}
	if got := supervisors(t, root); !slices.Equal(got, first) {
		t.Errorf("after an identical re-run the supervisors are %v, want %v", got, first)
	}
	if n := len(agentRuns(t, root)); n != 1 {
		t.Errorf("the agent started %d times, want once", n)
	}

	c.Token = randomHex(t, 64)
	s, _ = Script(c)
	run()
	checkInstalled(t, c, agent)
	second := supervisors(t, root)
	if len(second) != 1 || second[0] == first[0] {
		t.Fatalf("after a new token the supervisors are %v (before: %v), want one new one", second, first)
	}
	if left := groupMembers(first[0]); len(left) > 0 {
		t.Errorf("processes of the old supervisor's group still run: %v", left)
	}
	waitFor(t, "the agent to restart", 10*time.Second, func() bool { return len(agentRuns(t, root)) == 2 })

	checkUninstall(t, c)
	waitFor(t, "the agent's process group to end", 10*time.Second, func() bool { return len(groupMembers(second[0])) == 0 })
}

// TestSupervisor: an agent that fails is restarted after 2 s; one that
// exits 0 is not.
func TestSupervisor(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stopLeftovers(t, root)
	os.WriteFile(filepath.Join(root, "fail"), nil, 0o600)
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, agent, 0o600)
	c := baseConfig()
	c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
	s, _ := Script(c)
	start := time.Now()
	mustRun(t, s, "")
	waitFor(t, "a restart after a failure", 10*time.Second, func() bool { return len(agentRuns(t, root)) >= 2 })
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("restarted after %v, want a 2 s pause", d)
	}
	os.Remove(filepath.Join(root, "fail"))
	waitFor(t, "the supervisor to stop after exit 0", 10*time.Second, func() bool { return len(supervisors(t, root)) == 0 })
	n := len(agentRuns(t, root))
	time.Sleep(2500 * time.Millisecond)
	if m := len(agentRuns(t, root)); m != n {
		t.Errorf("the agent was started again (%d → %d) after exiting 0", n, m)
	}
	log, _ := os.ReadFile(filepath.Join(root, "var/log/slipstream-agent.log"))
	if !strings.Contains(string(log), "slipstream-supervisor: the agent failed (status 3), restarting in 2s") {
		t.Errorf("log:\n%s", log)
	}
	checkUninstall(t, c)
}

// TestStartAtBoot: on a machine without systemd but with cloud-init, the
// bootstrap links its start script among cloud-init's per-boot scripts,
// so that after a power cut (every process gone, a stale pid file left)
// the boot starts the agent again, once however often it runs; uninstall
// removes the link.
func TestStartAtBoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stopLeftovers(t, root)
	perBoot := filepath.Join(root, "var/lib/cloud/scripts/per-boot")
	if err := os.MkdirAll(perBoot, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "hold"), nil, 0o600) // the agent runs until killed
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, agent, 0o600)
	c := baseConfig()
	c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
	s, _ := Script(c)
	mustRun(t, s, "")
	start := filepath.Join(root, "etc/slipstream/start-agent")
	if fi, err := os.Stat(start); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the start script: %v %v, want mode 0700", fi, err)
	}
	link := filepath.Join(perBoot, "slipstream-agent")
	if target, err := os.Readlink(link); err != nil || target != start {
		t.Fatalf("the per-boot link: %q %v, want a link to %s", target, err, start)
	}
	sup := supervisors(t, root)
	if len(sup) != 1 {
		t.Fatalf("supervisors after the bootstrap: %v", sup)
	}

	// A power cut: the supervisor, the agent and their group die at once.
	syscall.Kill(-sup[0], syscall.SIGKILL)
	syscall.Kill(sup[0], syscall.SIGKILL)
	waitFor(t, "the supervisor to die", 5*time.Second, func() bool { return len(supervisors(t, root)) == 0 })
	if _, err := os.Stat(filepath.Join(root, "run/slipstream-agent.pid")); err != nil {
		t.Fatalf("the stale pid file should be left as a power cut leaves it: %v", err)
	}
	runs := len(agentRuns(t, root))
	for i := 0; i < 2; i++ { // cloud-init runs it at boot; a second run changes nothing
		if out, err := exec.Command(link).CombinedOutput(); err != nil {
			t.Fatalf("the per-boot script (run %d): %v\n%s", i+1, err, out)
		}
	}
	waitFor(t, "the agent started at boot", 10*time.Second, func() bool { return len(agentRuns(t, root)) == runs+1 })
	if sup := supervisors(t, root); len(sup) != 1 {
		t.Errorf("supervisors after the boot: %v, want one", sup)
	}
	checkUninstall(t, c)
	if _, err := os.Lstat(link); err == nil {
		t.Errorf("uninstall left the per-boot link %s", link)
	}
}

func TestUninstallNothing(t *testing.T) {
	t.Parallel()
	c := Config{Root: t.TempDir()}
	checkUninstall(t, c)

	// Stale pid files naming live processes that are not this install's
	// supervisor: they must survive.
	agent := filepath.Join(c.Root, "usr/local/bin/slipstream-agent")
	for _, args := range [][]string{
		{"sh", "-c", "sleep 60", "not-a-supervisor", agent},
		{"sh", "-c", "sleep 60", "slipstream-supervisor", "/elsewhere/usr/local/bin/slipstream-agent"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		os.MkdirAll(filepath.Join(c.Root, "run"), 0o755)
		os.WriteFile(filepath.Join(c.Root, "run/slipstream-agent.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
		checkUninstall(t, c)
		if f := stat(cmd.Process.Pid); len(f) == 0 || f[0] == "Z" {
			t.Errorf("uninstall killed %q", args)
		}
	}
}

// TestSystemd runs the production path (Root "") in a private mount
// namespace whose /etc, /usr/local, /var and /run are test directories,
// with a fake systemctl: the real system is never touched.
func TestSystemd(t *testing.T) {
	need(t, "mount")
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace")
	}
	tmp := t.TempDir()
	for _, d := range []string{"/etc", "/usr/local", "/var", "/run"} {
		if strings.HasPrefix(tmp+"/", d+"/") {
			t.Skipf("the test directory %s is under %s, which the test mounts over", tmp, d)
		}
	}
	dirs := map[string]string{}
	for _, d := range []string{"etc", "usrlocal", "var", "run/systemd/system", "fakebin"} {
		dirs[d] = filepath.Join(tmp, d)
		os.MkdirAll(dirs[d], 0o755)
	}
	calls := filepath.Join(tmp, "systemctl.calls")
	active := filepath.Join(tmp, "active")
	os.WriteFile(filepath.Join(dirs["fakebin"], "systemctl"), []byte(`#!/bin/sh
echo "$*" >>`+shellQuote(calls)+`
A=`+shellQuote(active)+`
case $* in
"is-active --quiet slipstream-agent") [ -e "$A" ] ;;
"enable --now slipstream-agent") : >"$A" ;;
"disable --now slipstream-agent") rm -f "$A" ;;
esac
`), 0o755)
	agent := []byte("#!/bin/sh\nexit 0\n")
	upload := filepath.Join(tmp, "agent")
	os.WriteFile(upload, agent, 0o600)

	inNamespace := func(script string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", `set -e
mount --bind "$1" /etc
mount --bind "$2" /usr/local
mount --bind "$3" /var
mount --bind "$4" /run
exec sh -c "$5"`, "sh", dirs["etc"], dirs["usrlocal"], dirs["var"], filepath.Join(tmp, "run"), script)
		cmd.Env = append(os.Environ(), "PATH="+dirs["fakebin"]+":"+os.Getenv("PATH"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		os.Remove(calls)
		out, err := cmd.CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "mount") || errors.Is(err, syscall.EPERM) {
				t.Skipf("no private mount namespace here: %v\n%s", err, out)
			}
			t.Fatalf("%v\n%s", err, out)
		}
		b, _ := os.ReadFile(calls)
		return string(b)
	}

	c := baseConfig()
	c.AgentPath, c.AgentSHA256 = upload, sums(agent)
	s, _ := Script(c)
	if got, want := inNamespace(s), "daemon-reload\nis-active --quiet slipstream-agent\nenable --now slipstream-agent\n"; got != want {
		t.Errorf("first install: systemctl calls\n%s\nwant\n%s", got, want)
	}
	unit, err := os.ReadFile(filepath.Join(dirs["etc"], "systemd/system/slipstream-agent.service"))
	if err != nil {
		t.Fatal(err)
	}
	wantUnit := `[Unit]
Description=SlipStream agent
After=network-online.target
Wants=network-online.target
[Service]
Type=simple
Environment=SLIPSTREAM_AGENT_CONFIG=/etc/slipstream/agent.json
Environment=SLIPSTREAM_STATE_DIR=/var/lib/slipstream
ExecStart=/usr/local/bin/slipstream-agent run
Restart=on-failure
RestartSec=2s
[Install]
WantedBy=multi-user.target
`
	if string(unit) != wantUnit {
		t.Errorf("unit:\n%s\nwant\n%s", unit, wantUnit)
	}
	for _, p := range []string{"usrlocal/bin/slipstream-agent", "etc/slipstream/agent.json", "usrlocal/bin/ss-get"} {
		if _, err := os.Lstat(filepath.Join(tmp, p)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	for _, p := range []string{"run/slipstream-agent.pid", "var/log/slipstream-agent.log"} {
		if _, err := os.Lstat(filepath.Join(tmp, p)); err == nil {
			t.Errorf("%s exists: the supervisor ran although systemd is there", p)
		}
	}

	// Same configuration, agent running: no restart.
	if got, want := inNamespace(s), "daemon-reload\nenable --now slipstream-agent\n"; got != want {
		t.Errorf("identical re-run: systemctl calls\n%s\nwant\n%s", got, want)
	}
	// A new token: restart.
	c.Token = randomHex(t, 64)
	s, _ = Script(c)
	if got, want := inNamespace(s), "daemon-reload\nis-active --quiet slipstream-agent\nrestart slipstream-agent\nenable --now slipstream-agent\n"; got != want {
		t.Errorf("re-run with a new token: systemctl calls\n%s\nwant\n%s", got, want)
	}

	un, _ := UninstallScript(c)
	if got, want := inNamespace(un), "disable --now slipstream-agent\ndaemon-reload\n"; got != want {
		t.Errorf("uninstall: systemctl calls\n%s\nwant\n%s", got, want)
	}
	if got := inNamespace(un); got != "" {
		t.Errorf("second uninstall called systemctl: %s", got)
	}
	var left []string
	filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(tmp, p)
		if err == nil && !d.IsDir() && (strings.HasPrefix(rel, "usrlocal/") || strings.HasPrefix(rel, "etc/") || strings.HasPrefix(rel, "var/")) {
			left = append(left, rel)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("uninstall left %v", left)
	}
}

// TestOwnership: a host belongs to the instance whose bootstrap claimed it.
// Another deployment's bootstrap, or another instance's of the same
// deployment, is refused with ExitOwnedByOther and changes nothing; the
// guarded uninstall of a non-owner leaves the agent running; the owner's
// own re-run and uninstall work.
func TestOwnership(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stopLeftovers(t, root)
	os.WriteFile(filepath.Join(root, "hold"), nil, 0o600)
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, agent, 0o600)
	owner := baseConfig()
	owner.AgentPath, owner.AgentSHA256, owner.Root = upload, sums(agent), root
	s, _ := Script(owner)
	mustRun(t, s, "")
	running := supervisors(t, root)
	if len(running) != 1 {
		t.Fatalf("supervisors %v, want one", running)
	}
	agentJSON := filepath.Join(root, "etc/slipstream/agent.json")
	before, _ := os.ReadFile(agentJSON)

	ownerScript, err := OwnerScript(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, ownerScript, "")
	if d, i, ok := ParseOwner(out); !ok || d != owner.Deployment || i != owner.Instance {
		t.Errorf("OwnerScript printed %q: %q %q %v, want %s %s", out, d, i, ok, owner.Deployment, owner.Instance)
	}

	otherDeployment := owner
	otherDeployment.Deployment, otherDeployment.Token = "other-deployment-1", randomHex(t, 64)
	otherInstance := owner
	otherInstance.Instance, otherInstance.Token = "web.3", randomHex(t, 64)
	for name, c := range map[string]Config{"another deployment": otherDeployment, "another instance": otherInstance} {
		s, _ := Script(c)
		out, err := runScript(t, s, "")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != ExitOwnedByOther {
			t.Errorf("%s: bootstrap %v, want exit status %d\n%s", name, err, ExitOwnedByOther, out)
		}
		want := "refusing to install: this host belongs to instance web.2 of deployment " + owner.Deployment
		if !strings.Contains(out, want) {
			t.Errorf("%s: output lacks %q:\n%s", name, want, out)
		}
		un, _ := UninstallScript(Config{Root: root, Deployment: c.Deployment, Instance: c.Instance})
		out, err = runScript(t, un, "")
		if !errors.As(err, &exit) || exit.ExitCode() != ExitOwnedByOther || !strings.Contains(out, "not uninstalling: this host belongs to instance web.2") {
			t.Errorf("%s: guarded uninstall %v, want exit status %d\n%s", name, err, ExitOwnedByOther, out)
		}
		if after, _ := os.ReadFile(agentJSON); string(after) != string(before) {
			t.Errorf("%s: agent.json changed:\n%s\nwas\n%s", name, after, before)
		}
		if got := supervisors(t, root); !slices.Equal(got, running) {
			t.Errorf("%s: supervisors %v, want %v untouched", name, got, running)
		}
	}

	// An install made before the owner file existed is recognised by its
	// agent.json.
	os.Remove(filepath.Join(root, "etc/slipstream/owner"))
	s, _ = Script(otherDeployment)
	if out, err := runScript(t, s, ""); err == nil || !strings.Contains(out, "belongs to instance web.2") {
		t.Errorf("legacy install: bootstrap of another deployment %v\n%s", err, out)
	}
	s, _ = Script(owner)
	if out := mustRun(t, s, ""); !strings.Contains(out, "already running with this configuration") {
		t.Errorf("the owner's re-run:\n%s", out)
	}
	checkUninstall(t, owner)
	// A free host is anybody's again.
	if out := mustRun(t, ownerScript, ""); strings.TrimSpace(out) != "" {
		t.Errorf("OwnerScript on a free host printed %q", out)
	}
	s, _ = Script(otherDeployment)
	mustRun(t, s, "")
	checkUninstall(t, otherDeployment)
}

// TestOwnerClaimRace: of bootstraps of several deployments started at once
// on a free host, exactly one installs; the others are refused.
func TestOwnerClaimRace(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	stopLeftovers(t, root)
	os.WriteFile(filepath.Join(root, "hold"), nil, 0o600)
	agent := fakeAgent(root)
	upload := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(upload, agent, 0o600)
	const n = 6
	var wg sync.WaitGroup
	var won, refused atomic.Int32
	var configs []Config
	for i := range n {
		c := baseConfig()
		c.Deployment = fmt.Sprintf("racer-%d", i)
		c.AgentPath, c.AgentSHA256, c.Root = upload, sums(agent), root
		configs = append(configs, c)
		s, _ := Script(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runScript(t, s, "")
			var exit *exec.ExitError
			switch {
			case err == nil:
				won.Add(1)
			case errors.As(err, &exit) && exit.ExitCode() == ExitOwnedByOther:
				refused.Add(1)
			default:
				t.Errorf("%s: %v\n%s", c.Deployment, err, out)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 || refused.Load() != n-1 {
		t.Fatalf("%d bootstraps installed and %d were refused, want 1 and %d", won.Load(), refused.Load(), n-1)
	}
	out := mustRun(t, mustOwnerScript(t, root), "")
	d, _, _ := ParseOwner(out)
	for _, c := range configs {
		if c.Deployment == d {
			b, _ := os.ReadFile(filepath.Join(root, "etc/slipstream/agent.json"))
			if !strings.Contains(string(b), `"deployment":"`+d+`"`) {
				t.Errorf("the owner is %s but agent.json is %s", d, b)
			}
			checkUninstall(t, c)
			return
		}
	}
	t.Errorf("owner %q is none of the racers", out)
}

func mustOwnerScript(t *testing.T, root string) string {
	t.Helper()
	s, err := OwnerScript(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseOwner(t *testing.T) {
	for _, tc := range []struct{ in, d, i string }{
		{"lamp-1a2b web.2\n", "lamp-1a2b", "web.2"},
		{"a deployment with spaces db.1", "a deployment with spaces", "db.1"},
	} {
		d, i, ok := ParseOwner(tc.in)
		if !ok || d != tc.d || i != tc.i {
			t.Errorf("ParseOwner(%q) = %q %q %v", tc.in, d, i, ok)
		}
	}
	if _, _, ok := ParseOwner(" \n"); ok {
		t.Error("ParseOwner of nothing says owned")
	}
}

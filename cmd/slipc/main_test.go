package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/compiler/imports"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

// slipc runs the CLI in-process and returns its exit code and output.
func slipc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, errOut := slipc(t); code != exitUsage || !strings.Contains(errOut, "Usage: slipc <command>") {
		t.Errorf("no arguments: code %d, stderr %q", code, errOut)
	}
	if code, out, _ := slipc(t, "--help"); code != exitOK || !strings.Contains(out, "compile") {
		t.Errorf("--help: code %d, stdout %q", code, out)
	}
	if code, _, errOut := slipc(t, "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: code %d, stderr %q", code, errOut)
	}
	if code, out, _ := slipc(t, "version"); code != exitOK || out != "slipc dev\n" {
		t.Errorf("version: code %d, stdout %q", code, out)
	}
	for _, cmd := range []string{"compile", "validate", "fmt", "graph", "version"} {
		if code, out, _ := slipc(t, cmd, "-help"); code != exitOK || !strings.Contains(out, "Usage: slipc "+cmd) {
			t.Errorf("%s -help: code %d, stdout %q", cmd, code, out)
		}
	}
	if code, _, errOut := slipc(t, "compile", "-nope", "x"); code != exitUsage || !strings.Contains(errOut, "flag provided but not defined") {
		t.Errorf("bad flag: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := slipc(t, "validate", "a", "b"); code != exitUsage || !strings.Contains(errOut, "expected one recipe PATH") {
		t.Errorf("two paths: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := slipc(t, "graph", "-format", "svg", "x"); code != exitUsage || !strings.Contains(errOut, "unknown format") {
		t.Errorf("bad format: code %d, stderr %q", code, errOut)
	}
}

func TestCompileWritesTerraform(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := slipc(t, "compile", "-o", out, "../../examples/recipes/lamp")
	if code != exitOK {
		t.Fatalf("compile: code %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "Compiled ../../examples/recipes/lamp into") {
		t.Errorf("stdout %q", stdout)
	}
	for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "scripts/components/db/deploy.sh"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "scripts/components/db/deploy.sh")); err == nil && st.Mode().Perm()&0o100 == 0 {
		t.Errorf("scripts should be executable, mode %v", st.Mode())
	}
	// A stale generated file is removed; the user's own files are kept.
	stale := filepath.Join(out, "scripts", "old.sh")
	mine := filepath.Join(out, "backend.tf")
	os.WriteFile(stale, []byte("old"), 0o644)
	os.WriteFile(mine, []byte("# mine"), 0o644)
	before, _ := os.Stat(filepath.Join(out, "main.tf"))
	if code, _, stderr := slipc(t, "compile", "-o", out, "../../examples/recipes/lamp"); code != exitOK {
		t.Fatalf("second compile: %s", stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale generated script was not removed")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Error("a file slipc does not own was removed")
	}
	after, _ := os.Stat(filepath.Join(out, "main.tf"))
	if !before.ModTime().Equal(after.ModTime()) {
		t.Error("an unchanged main.tf was rewritten")
	}
}

const brokenRecipe = `cloud "lab" {
  connector = "fixed"
  hosts     = ["192.0.2.1"]
}

component "web" {
  imgae = image.os
}
`

func TestValidateRendersDiagnostics(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.slip.hcl"), []byte(brokenRecipe), 0o644)
	code, _, stderr := slipc(t, "validate", dir)
	if code != exitDiags {
		t.Fatalf("code %d, want %d", code, exitDiags)
	}
	for _, want := range []string{
		"Error: Unsupported argument",
		"main.slip.hcl line 7",
		`  7:   imgae = image.os`,
		`Did you mean "image"?`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.slip.hcl"), []byte(brokenRecipe), 0o644)
	code, stdout, _ := slipc(t, "validate", "-json", dir)
	if code != exitDiags {
		t.Fatalf("code %d", code)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if rep.Valid || rep.ErrorCount != 1 || len(rep.Diagnostics) != 1 {
		t.Fatalf("report %+v", rep)
	}
	d := rep.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Unsupported argument" || d.Range == nil ||
		d.Range.Start.Line != 7 || d.Range.Start.Column != 3 || d.Range.End.Column != 8 {
		t.Errorf("diagnostic %+v range %+v", d, d.Range)
	}
	code, stdout, _ = slipc(t, "validate", "-json", "../../examples/recipes/lamp")
	if code != exitOK || !strings.Contains(stdout, `"valid": true`) {
		t.Errorf("valid recipe: code %d\n%s", code, stdout)
	}
}

// TestValidatePlannedConnector: a cloud on a connector the provider has no
// resource for yet is an error pointing at its connector attribute, in the
// text and the JSON form, and says which connectors are available.
func TestValidatePlannedConnector(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.slip.hcl"), []byte("cloud \"vcd\" {\n  url       = \"https://vcd.example.com/api\"\n  connector = \"vcloud\"\n  org       = \"lab\"\n}\n"), 0o644)
	code, _, stderr := slipc(t, "validate", dir)
	if code != exitDiags {
		t.Fatalf("code %d, want %d\n%s", code, exitDiags, stderr)
	}
	for _, want := range []string{
		"Error: Connector not yet available",
		"main.slip.hcl line 3",
		`  3:   connector = "vcloud"`,
		`connector "vcloud", which is planned but not yet available`,
		"The connectors available now are: " + strings.Join(catalog.Implemented(), ", ") + ".",
	} {
		// The detail is wrapped to the terminal's width.
		if !strings.Contains(stderr, want) && !strings.Contains(strings.Join(strings.Fields(stderr), " "), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, stdout, _ := slipc(t, "validate", "-json", dir)
	var rep jsonReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitDiags {
		t.Fatalf("code %d, %v\n%s", code, err, stdout)
	}
	if len(rep.Diagnostics) != 1 {
		t.Fatalf("diagnostics %+v", rep.Diagnostics)
	}
	d := rep.Diagnostics[0]
	if d.Summary != "Connector not yet available" || d.Range == nil || !strings.HasSuffix(d.Range.Filename, "main.slip.hcl") ||
		d.Range.Start.Line != 3 || d.Range.Start.Column != 15 || d.Range.End.Column != 23 {
		t.Errorf("diagnostic %+v range %+v", d, d.Range)
	}
	if c := d.Context; c == nil || c.Start.Line != 3 || c.Start.Column != 3 || c.End.Column != 23 {
		t.Errorf("context %+v, want the whole connector attribute", c)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "main.slip.hcl")
	os.WriteFile(p, []byte("image \"os\" {\nplatform=\"debian\"\n  login_user   =   \"root\"\n}\n"), 0o644)
	if code, stdout, _ := slipc(t, "fmt", "-check", dir); code != exitDiags || !strings.Contains(stdout, "main.slip.hcl") {
		t.Errorf("fmt -check on an unformatted file: code %d, stdout %q", code, stdout)
	}
	if code, _, stderr := slipc(t, "fmt", dir); code != exitOK {
		t.Fatalf("fmt: %d %s", code, stderr)
	}
	got, _ := os.ReadFile(p)
	want := "image \"os\" {\n  platform   = \"debian\"\n  login_user = \"root\"\n}\n"
	if string(got) != want {
		t.Errorf("formatted:\n%s\nwant:\n%s", got, want)
	}
	if code, stdout, _ := slipc(t, "fmt", "-check", dir); code != exitOK || stdout != "" {
		t.Errorf("fmt is not idempotent: code %d, stdout %q", code, stdout)
	}
	// Invalid syntax is reported, never mangled.
	bad := filepath.Join(dir, "bad.slip.hcl")
	os.WriteFile(bad, []byte("image \"x\" {\n"), 0o644)
	if code, _, stderr := slipc(t, "fmt", bad); code != exitDiags || !strings.Contains(stderr, "Unclosed configuration block") {
		t.Errorf("fmt of invalid syntax: code %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(bad); string(b) != "image \"x\" {\n" {
		t.Error("fmt changed a file it could not parse")
	}
}

func TestGraph(t *testing.T) {
	code, stdout, stderr := slipc(t, "graph", "../../examples/recipes/lamp")
	if code != exitOK {
		t.Fatalf("graph: %s", stderr)
	}
	for _, want := range []string{"node web: component web on cloud lab (fixed) × 3", "maps db_password ← db:password", "waits for db:password"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text graph lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = slipc(t, "graph", "-format", "dot", "../../examples/recipes/lamp")
	if code != exitOK || !strings.HasPrefix(stdout, `digraph "lamp"`) || !strings.Contains(stdout, `"web" -> "db"`) {
		t.Errorf("dot graph: code %d\n%s", code, stdout)
	}
}

// TestGraphShowsBuilds: the images a deployment builds, what each starts
// from, and which nodes start from it.
func TestGraphShowsBuilds(t *testing.T) {
	recipe := "../../compiler/testdata/golden/image_builds/recipe"
	code, stdout, stderr := slipc(t, "graph", recipe)
	if code != exitOK {
		t.Fatalf("graph: %s", stderr)
	}
	for _, want := range []string{
		"build app_aws: image app on cloud aws, from build runtime_aws; nodes web start from it",
		"build runtime_aws: image runtime on cloud aws, from native image ami-0123456789abcdef0",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text graph lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = slipc(t, "graph", "-format", "dot", recipe)
	for _, want := range []string{`"build app_aws" -> "build runtime_aws" [label = "built from"`, `"web" -> "build app_aws" [label = "starts from"`} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("dot graph lacks %q: code %d\n%s", want, code, stdout)
		}
	}
}

// TestGitImportLockFile compiles a recipe that imports a folder of a real
// git repository over file://, and checks the lock file's whole life: it is
// written, it pins the commit even after the tag moves, -upgrade moves it,
// and -lockfile-readonly refuses an unlocked import.
func TestGitImportLockFile(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	t.Setenv("SLIPSTREAM_CACHE_DIR", t.TempDir())
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+repo)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	writeLib := func(platform string) {
		os.MkdirAll(filepath.Join(repo, "images"), 0o755)
		os.WriteFile(filepath.Join(repo, "images", "base.slip.hcl"), []byte("image \"base\" {\n  platform = \""+platform+"\"\n}\n"), 0o644)
	}
	git("init", "-q")
	writeLib("debian")
	git("add", ".")
	git("commit", "-q", "-m", "v1")
	git("tag", "v1")
	first := git("rev-parse", "HEAD")

	recipe := t.TempDir()
	os.WriteFile(filepath.Join(recipe, "main.slip.hcl"), []byte(`import "lib" {
  source = "git::file://`+filepath.ToSlash(repo)+`//images?ref=v1"
}

cloud "lab" {
  connector = "fixed"
  hosts     = ["192.0.2.1"]
}

component "app" {
  image = import.lib.image.base
}

deployment "d" {
  node "app" {
    component = component.app
    cloud     = cloud.lab
  }
}
`), 0o644)
	out := t.TempDir()
	lockPath := filepath.Join(recipe, imports.LockFileName)

	if code, _, stderr := slipc(t, "compile", "-lockfile-readonly", "-o", out, recipe); code != exitDiags || !strings.Contains(stderr, "lock") {
		t.Fatalf("read-only compile without a lock entry: code %d\n%s", code, stderr)
	}
	if code, _, stderr := slipc(t, "compile", "-o", out, recipe); code != exitOK {
		t.Fatalf("compile: %s", stderr)
	}
	lock, _ := os.ReadFile(lockPath)
	if !strings.Contains(string(lock), first) || !strings.Contains(string(lock), "h1:") {
		t.Fatalf("lock file does not pin %s:\n%s", first, lock)
	}
	mainTF, _ := os.ReadFile(filepath.Join(out, "main.tf"))
	if !strings.Contains(string(mainTF), `platform = "debian"`) {
		t.Errorf("imported image not in output:\n%s", mainTF)
	}

	// Move the tag: a locked compile keeps the pinned commit.
	writeLib("alpine")
	git("commit", "-q", "-am", "v1 again")
	git("tag", "-f", "v1")
	second := git("rev-parse", "HEAD")
	if code, _, stderr := slipc(t, "compile", "-o", out, recipe); code != exitOK {
		t.Fatalf("locked compile: %s", stderr)
	}
	mainTF, _ = os.ReadFile(filepath.Join(out, "main.tf"))
	if !strings.Contains(string(mainTF), `platform = "debian"`) {
		t.Error("a locked compile followed the moved tag")
	}
	// -upgrade accepts the new commit and rewrites the lock.
	if code, _, stderr := slipc(t, "compile", "-upgrade", "-o", out, recipe); code != exitOK {
		t.Fatalf("upgrade: %s", stderr)
	}
	lock, _ = os.ReadFile(lockPath)
	mainTF, _ = os.ReadFile(filepath.Join(out, "main.tf"))
	if !strings.Contains(string(lock), second) || !strings.Contains(string(mainTF), `platform = "alpine"`) {
		t.Errorf("upgrade did not move to %s:\n%s", second, lock)
	}
}

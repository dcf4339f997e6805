package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The provider's addresses: Terraform reads source "slipstream/slipstream"
// as registry.terraform.io/slipstream/slipstream, OpenTofu as
// registry.opentofu.org/slipstream/slipstream.
var registryHosts = []string{"registry.terraform.io", "registry.opentofu.org"}

// TestAccRelease_install is the release dry run, installed as registry
// users install: it builds a snapshot of the CI platforms twice (the two
// SHA256SUMS must be the same) and checks the files against the registry's
// layout; slipc compiles examples/recipes/lamp; then, with each Terraform
// and OpenTofu CLI at hand, init and validate must pass, the lock file
// recording the zip's hashes, installing
//
//   - filesystem-mirror: the snapshot's linux_amd64 zip from a packed
//     filesystem mirror (a pre-release: the test's copy of the
//     configuration pins it exactly);
//   - registry: a release signed with a throw-away GPG key, served by a
//     loopback HTTPS server speaking the provider registry protocol from
//     the release's files as the registry would (the CLI config's host
//     block sends registry.terraform.io and registry.opentofu.org there),
//     with the configuration as compiled. Needs gpg.
//
// Gated like the acceptance tests (TF_ACC=1 and TF_ACC_TERRAFORM_PATH);
// make test-release runs it with Terraform and OpenTofu.
func TestAccRelease_install(t *testing.T) {
	if os.Getenv("TF_ACC") == "" || os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("set TF_ACC=1 and TF_ACC_TERRAFORM_PATH (make test-release) to build a snapshot release and install it with the real CLIs")
	}
	clis := releaseCLIs(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	compiled := filepath.Join(t.TempDir(), "lamp")
	slipc := exec.Command("go", "run", "./cmd/slipc", "compile", "-o", compiled, "examples/recipes/lamp")
	slipc.Dir = root
	if out, err := slipc.CombinedOutput(); err != nil {
		t.Fatalf("slipc compile: %v\n%s", err, out)
	}

	// The snapshot, twice: the second run only links again (the go build
	// cache has the rest), and must give the same bytes.
	var snap releaseRun
	for i := range 2 {
		r := runRelease(t, fmt.Sprintf("snapshot run %d", i+1), "-snapshot", "-platforms", "ci")
		if !strings.Contains(r.log, "SHA256SUMS.sig: not produced: a snapshot is not signed") {
			t.Errorf("the snapshot's output does not say that it is unsigned")
		}
		if i == 0 {
			snap = r
		} else if !bytes.Equal(r.sumsFile, snap.sumsFile) {
			t.Fatalf("two runs gave different SHA256SUMS:\n%s\n%s", snap.sumsFile, r.sumsFile)
		}
	}
	if !isSnapshotVersion(snap.version) {
		t.Fatalf("snapshot version %q", snap.version)
	}
	checkDist(t, snap, ciPlatforms, false)
	for _, p := range ciPlatforms {
		checkZip(t, snap.zip(p), snap.version, p)
	}
	mirrorConfig := mirrorSetup(t, snap)

	// The signed release for the fake registry.
	var reg *fakeRegistry
	var regConfig, regSkip string
	var regEnv []string
	if _, err := exec.LookPath("gpg"); err != nil {
		regSkip = "no gpg on PATH (apt-get install gnupg) to sign a release for the fake registry"
	} else {
		key := newTestGPGKey(t)
		rel := runRelease(t, "signed release", "-version", "0.0.1", "-gpg-key", key.fingerprint, "-platforms", "ci")
		checkDist(t, rel, ciPlatforms, true)
		testGPG(t, "--verify", rel.sumsPath+".sig", rel.sumsPath)
		reg = newFakeRegistry(t, rel, key)
		regConfig, regEnv = reg.cliConfig(t)
	}

	for _, c := range clis {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				if os.Getenv("CI") == "true" && c.required {
					t.Fatal(c.skip + " (required on CI)")
				}
				t.Skip(c.skip)
			}
			t.Run("filesystem-mirror", func(t *testing.T) {
				// Terraform and OpenTofu pick a pre-release only when asked
				// for it exactly, and the compiled configuration asks for
				// no version: the test's copy pins the snapshot.
				work := copyConfig(t, compiled)
				writeTestFile(t, filepath.Join(work, "zz_version_override.tf"), fmt.Sprintf(`terraform {
  required_providers {
    slipstream = {
      source  = "slipstream/slipstream"
      version = %q
    }
  }
}
`, snap.version))
				_, hashes := c.install(t, work, cliEnv(mirrorConfig), snap)
				// A mirror's package is not signed: the CLIs record the
				// h1: hash of what they unpacked, and zh: hashes (the
				// zips' sha256, as in SHA256SUMS) only when a registry's
				// signed SHA256SUMS vouched for them.
				for _, h := range hashes {
					if strings.HasPrefix(h, "zh:") && h != "zh:"+snap.sums[filepath.Base(snap.zip(platform{"linux", "amd64"}))] {
						t.Errorf("lock file has %s, which is not the zip's sha256", h)
					}
				}
			})
			t.Run("registry", func(t *testing.T) {
				if reg == nil {
					t.Skip(regSkip)
				}
				work := copyConfig(t, compiled)
				before := reg.fetched()
				out, hashes := c.install(t, work, append(cliEnv(regConfig), regEnv...), reg.rel)
				if !strings.Contains(out, "key ID "+reg.key.id) {
					t.Errorf("init did not say the package was signed by key %s", reg.key.id)
				}
				// Signed: every sha256 of SHA256SUMS becomes a zh: hash
				// (the CLIs take each line, the manifest's too), so the
				// lock vouches for the other platforms' zips as well.
				var want []string
				for _, sum := range reg.rel.sums {
					want = append(want, "zh:"+sum)
				}
				var got []string
				for _, h := range hashes {
					if strings.HasPrefix(h, "zh:") {
						got = append(got, h)
					}
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("lock file zh: hashes\n  %s\nwant those of SHA256SUMS\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				fetched := reg.fetched()[len(before):]
				for _, f := range []string{reg.rel.sumsName(), reg.rel.sumsName() + ".sig", filepath.Base(reg.rel.zip(platform{"linux", "amd64"}))} {
					if !slices.Contains(fetched, f) {
						t.Errorf("%s did not download %s (downloads: %v)", c.name, f, fetched)
					}
				}
			})
		})
	}
}

// releaseRun is one run of the program: its output folder and what it says.
type releaseRun struct {
	dist, version, log string
	sumsPath           string
	sumsFile           []byte
	sums               map[string]string // sha256 by file name, from SHA256SUMS
}

func (r releaseRun) sumsName() string { return filepath.Base(r.sumsPath) }

func (r releaseRun) zip(p platform) string {
	return filepath.Join(r.dist, fmt.Sprintf("%s_%s_%s.zip", projectName, r.version, p))
}

// runRelease runs the program in this process into a new folder.
func runRelease(t *testing.T, what string, args ...string) releaseRun {
	t.Helper()
	r := releaseRun{dist: filepath.Join(t.TempDir(), "dist")}
	var log bytes.Buffer
	t0 := time.Now()
	if code := run(context.Background(), append(args, "-out", r.dist), &log, &log); code != 0 {
		t.Fatalf("%s: exit %d\n%s", what, code, log.String())
	}
	r.log = log.String()
	t.Logf("%s (%s):\n%s", what, time.Since(t0).Round(time.Second), r.log)
	paths, _ := filepath.Glob(filepath.Join(r.dist, projectName+"_*_SHA256SUMS"))
	if len(paths) != 1 {
		t.Fatalf("SHA256SUMS in %s: %v", r.dist, paths)
	}
	r.sumsPath = paths[0]
	r.version = strings.TrimSuffix(strings.TrimPrefix(r.sumsName(), projectName+"_"), "_SHA256SUMS")
	if !versionRE.MatchString(r.version) {
		t.Fatalf("version %q", r.version)
	}
	r.sumsFile, _ = os.ReadFile(r.sumsPath)
	r.sums = map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(r.sumsFile), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q is not <sha256>  <file>", line)
		}
		r.sums[name] = sum
	}
	return r
}

// mirrorSetup lays the snapshot's linux_amd64 zip out as a packed
// filesystem mirror (HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_TARGET.zip)
// under both registries' names, and returns a CLI config that installs
// our provider from it and nothing from the network.
func mirrorSetup(t *testing.T, snap releaseRun) string {
	t.Helper()
	zip := snap.zip(platform{"linux", "amd64"})
	mirror := t.TempDir()
	var addrs []string
	for _, host := range registryHosts {
		dir := filepath.Join(mirror, host, "slipstream", "slipstream")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		copyTestFile(t, zip, filepath.Join(dir, filepath.Base(zip)))
		addrs = append(addrs, fmt.Sprintf("%q", host+"/slipstream/slipstream"))
	}
	config := filepath.Join(t.TempDir(), "mirror.tfrc")
	writeTestFile(t, config, fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = [%[2]s]
  }
  direct {
    exclude = [%[2]s]
  }
}
`, mirror, strings.Join(addrs, ", ")))
	return config
}

func copyConfig(t *testing.T, compiled string) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "lamp")
	if err := os.CopyFS(work, os.DirFS(compiled)); err != nil {
		t.Fatal(err)
	}
	return work
}

// install runs init and validate in work and checks what they left: the
// lock file names the release's version with the linux_amd64 zip's h1:
// hash, and the provider is unpacked where the CLI runs it from. It
// returns what init said and the lock file's hashes.
func (c releaseCLI) install(t *testing.T, work string, env []string, r releaseRun) (string, []string) {
	t.Helper()
	out := c.run(t, work, env, "init", "-input=false", "-no-color")
	if !strings.Contains(out, "Installing slipstream/slipstream v"+r.version) {
		t.Errorf("init did not say it installed slipstream/slipstream v%s:\n%s", r.version, out)
	}
	var validate struct {
		Valid      bool `json:"valid"`
		ErrorCount int  `json:"error_count"`
	}
	vout := c.run(t, work, env, "validate", "-json", "-no-color")
	if err := json.Unmarshal([]byte(vout), &validate); err != nil || !validate.Valid || validate.ErrorCount != 0 {
		t.Fatalf("validate: %v\n%s", err, vout)
	}
	lock, err := os.ReadFile(filepath.Join(work, ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	addr := c.host + "/slipstream/slipstream"
	version, hashes := lockedProvider(t, string(lock), addr)
	if version != r.version {
		t.Errorf("lock file: %s version %q, want %q", addr, version, r.version)
	}
	if h1 := zipH1(t, r.zip(platform{"linux", "amd64"})); !slices.Contains(hashes, h1) {
		t.Errorf("lock file: %s hashes %v, want the zip's %s", addr, hashes, h1)
	}
	bin := filepath.Join(work, ".terraform", "providers", c.host, "slipstream", "slipstream", r.version, "linux_amd64", projectName+"_v"+r.version)
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("installed provider %s: %v, want an executable", bin, err)
	}
	var installed string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, "Installed slipstream/slipstream") {
			installed = strings.TrimSpace(line)
		}
	}
	t.Logf("init (%s) and validate passed; lock file: %s %s %v", installed, addr, version, hashes)
	return out, hashes
}

// releaseCLI is one Terraform or OpenTofu binary to install the release
// with, or why there is none.
type releaseCLI struct {
	name, path, host string
	required         bool   // on CI (CI=true) a missing one fails the test
	skip             string // set when the CLI is missing
}

func (c releaseCLI) run(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", c.name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// releaseCLIs: Terraform at TF_ACC_TERRAFORM_PATH, OpenTofu at TOFU_PATH,
// and a terraform on PATH when it is another version.
func releaseCLIs(t *testing.T) []releaseCLI {
	tfPath := os.Getenv("TF_ACC_TERRAFORM_PATH")
	tfVersion, err := cliVersion(tfPath)
	if err != nil {
		t.Fatalf("TF_ACC_TERRAFORM_PATH=%s: %v", tfPath, err)
	}
	clis := []releaseCLI{{name: "terraform-" + tfVersion, path: tfPath, host: "registry.terraform.io", required: true}}

	tofu := releaseCLI{name: "opentofu", path: os.Getenv("TOFU_PATH"), host: "registry.opentofu.org", required: true}
	if tofu.path == "" {
		tofu.skip = "set TOFU_PATH to an OpenTofu binary (make test-release builds one and sets it) to install the release with OpenTofu"
	} else if v, err := cliVersion(tofu.path); err != nil {
		tofu.skip = fmt.Sprintf("TOFU_PATH=%s: %v: set TOFU_PATH to an OpenTofu binary", tofu.path, err)
	} else {
		tofu.name = "tofu-" + v
	}
	clis = append(clis, tofu)

	onPath := releaseCLI{name: "terraform-on-PATH", host: "registry.terraform.io"}
	if p, err := exec.LookPath("terraform"); err != nil {
		onPath.skip = "no terraform on PATH: put another Terraform version on PATH to install the release with it too"
	} else if v, err := cliVersion(p); err != nil {
		onPath.skip = fmt.Sprintf("terraform on PATH (%s): %v", p, err)
	} else if v == tfVersion {
		onPath.skip = fmt.Sprintf("terraform on PATH (%s) is %s, as TF_ACC_TERRAFORM_PATH: nothing more to try", p, v)
	} else {
		onPath.name, onPath.path = "terraform-"+v+"-on-PATH", p
	}
	return append(clis, onPath)
}

// cliVersion asks a Terraform or OpenTofu binary its version.
func cliVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version", "-json")
	cmd.Env = cliEnv(os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("version -json: %v: %s", err, out)
	}
	return v.Version, nil
}

// cliEnv is the test's environment for a CLI run: no Terraform or OpenTofu
// settings from outside (plugin caches, data dirs, extra arguments, another
// CLI config), the CLI config given (a file that exists: OpenTofu warns on
// a missing one), no checkpoint calls, automation output. TF_LOG stays.
func cliEnv(cliConfig string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(name, "TF_") || strings.HasPrefix(name, "TOFU_") || name == "TERRAFORM_CONFIG" || name == "CHECKPOINT_DISABLE") &&
			!strings.HasPrefix(name, "TF_LOG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
}

// checkDist: the output folder holds exactly the registry's files for the
// platforms (zips, manifest, SHA256SUMS, and its signature when signed),
// and SHA256SUMS lists the zips and the manifest with their sha256,
// sorted.
func checkDist(t *testing.T, r releaseRun, platforms []platform, signed bool) {
	t.Helper()
	prefix := projectName + "_" + r.version + "_"
	var want []string
	for _, p := range platforms {
		want = append(want, prefix+p.String()+".zip")
	}
	want = append(want, prefix+"manifest.json")
	listed := slices.Clone(want)
	slices.Sort(listed)
	want = append(want, prefix+"SHA256SUMS")
	if signed {
		want = append(want, prefix+"SHA256SUMS.sig")
	}
	slices.Sort(want)

	entries, err := os.ReadDir(r.dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s holds\n  %s\nwant\n  %s", r.dist, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	manifest, _ := os.ReadFile(filepath.Join(r.dist, prefix+"manifest.json"))
	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil || m.Version != 1 || !slices.Equal(m.Metadata.ProtocolVersions, []string{"6.0"}) {
		t.Errorf("manifest: %v %s, want version 1 and protocol 6.0 (tf6server)", err, manifest)
	}

	var names []string
	for line := range strings.SplitSeq(strings.TrimSuffix(string(r.sumsFile), "\n"), "\n") {
		_, name, _ := strings.Cut(line, "  ")
		names = append(names, name)
		data, err := os.ReadFile(filepath.Join(r.dist, name))
		if err != nil {
			t.Fatalf("SHA256SUMS lists %s: %v", name, err)
		}
		if fmt.Sprintf("%x", sha256.Sum256(data)) != r.sums[name] {
			t.Errorf("SHA256SUMS: %s is not the sha256 of %s", r.sums[name], name)
		}
	}
	if !slices.Equal(names, listed) {
		t.Errorf("SHA256SUMS lists %v, want %v", names, listed)
	}
}

// checkZip: the entries goreleaser packs (the binary, LICENSE, README.md),
// sorted, the binary executable and built as the scaffolding builds it for
// p: no cgo, -trimpath, the version set.
func checkZip(t *testing.T, path, version string, p platform) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	bin := projectName + "_v" + version
	if p.os == "windows" {
		bin += ".exe"
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if want := []string{"LICENSE", "README.md", bin}; !slices.Equal(names, want) {
		t.Fatalf("%s holds %v, want %v", filepath.Base(path), names, want)
	}
	f := zr.File[2]
	if f.Mode() != 0o755 || !f.Modified.Equal(zr.File[0].Modified) {
		t.Errorf("%s: %s mode %v dated %v, want 0755 and the date of the others", filepath.Base(path), bin, f.Mode(), f.Modified)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{
		"GOOS": p.os, "GOARCH": p.arch, "CGO_ENABLED": "0", "-trimpath": "true",
	} {
		if settings[k] != v {
			t.Errorf("%s for %s: build setting %s=%q, want %q", bin, p, k, settings[k], v)
		}
	}
	// Go does not record -ldflags with -trimpath; the version's string is
	// there when -X set it.
	if !bytes.Contains(data, []byte(version)) {
		t.Errorf("%s does not hold its version %s (-X main.version)", bin, version)
	}
	if info.Path != "github.com/slipstream/terraform-provider-slipstream" {
		t.Errorf("%s is %s, want the provider", bin, info.Path)
	}
}

// lockedProvider reads a provider's version and hashes from a lock file.
func lockedProvider(t *testing.T, lock, addr string) (string, []string) {
	t.Helper()
	block := regexp.MustCompile(`(?s)provider "` + regexp.QuoteMeta(addr) + `" \{(.*?)\n\}`).FindStringSubmatch(lock)
	if block == nil {
		t.Fatalf("lock file has no provider %q:\n%s", addr, lock)
	}
	var version string
	if m := regexp.MustCompile(`version\s*=\s*"([^"]*)"`).FindStringSubmatch(block[1]); m != nil {
		version = m[1]
	}
	var hashes []string
	for _, m := range regexp.MustCompile(`"((?:h1|zh):[^"]*)"`).FindAllStringSubmatch(block[1], -1) {
		hashes = append(hashes, m[1])
	}
	return version, hashes
}

// zipH1 is a package's h1: hash as Terraform computes it (Go's dirhash
// Hash1 over the zip's files): the sha256 of the lines
// "<sha256 of the file>  <name>\n", sorted by name, in base64.
func zipH1(t *testing.T, path string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := slices.Clone(zr.File)
	slices.SortFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	summary := sha256.New()
	for _, f := range files {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(summary, "%x  %s\n", h.Sum(nil), f.Name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(summary.Sum(nil))
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyTestFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeRegistry serves a release as the Terraform Registry serves one it
// took from a GitHub release: the provider registry protocol
// (/v1/providers/NAMESPACE/TYPE/versions and …/VERSION/download/OS/ARCH),
// its protocols read from the manifest, its platforms from the zips'
// names, each zip's shasum from SHA256SUMS, the signing key registered for
// the namespace, and the files themselves under /files/.
type fakeRegistry struct {
	rel releaseRun
	key testGPGKey
	srv *httptest.Server

	mu    sync.Mutex
	files []string // downloaded, in order
}

func newFakeRegistry(t *testing.T, rel releaseRun, key testGPGKey) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{rel: rel, key: key}
	manifest, err := os.ReadFile(filepath.Join(rel.dist, fmt.Sprintf("%s_%s_manifest.json", projectName, rel.version)))
	if err != nil {
		t.Fatalf("the registry needs the release's manifest: %v", err)
	}
	var m struct {
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	type plat struct {
		OS   string `json:"os"`
		Arch string `json:"arch"`
	}
	var platforms []plat
	zipRE := regexp.MustCompile(`^` + regexp.QuoteMeta(projectName+"_"+rel.version+"_") + `([a-z0-9]+)_([a-z0-9]+)\.zip$`)
	for name := range rel.sums {
		if m := zipRE.FindStringSubmatch(name); m != nil {
			platforms = append(platforms, plat{m[1], m[2]})
		}
	}
	prefix := "/v1/providers/slipstream/slipstream/"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"versions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"versions": []any{map[string]any{
			"version": rel.version, "protocols": m.Metadata.ProtocolVersions, "platforms": platforms,
		}}})
	})
	mux.HandleFunc("GET "+prefix+"{version}/download/{os}/{arch}", func(w http.ResponseWriter, req *http.Request) {
		zip := fmt.Sprintf("%s_%s_%s_%s.zip", projectName, req.PathValue("version"), req.PathValue("os"), req.PathValue("arch"))
		sum, ok := rel.sums[zip]
		if !ok {
			http.NotFound(w, req)
			return
		}
		files := r.srv.URL + "/files/"
		writeJSON(w, map[string]any{
			"protocols": m.Metadata.ProtocolVersions, "os": req.PathValue("os"), "arch": req.PathValue("arch"),
			"filename": zip, "download_url": files + zip, "shasum": sum,
			"shasums_url": files + rel.sumsName(), "shasums_signature_url": files + rel.sumsName() + ".sig",
			"signing_keys": map[string]any{"gpg_public_keys": []any{map[string]any{
				"key_id": key.id, "ascii_armor": key.armored, "trust_signature": "", "source": "", "source_url": nil,
			}}},
		})
	})
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		r.mu.Lock()
		r.files = append(r.files, name)
		r.mu.Unlock()
		http.ServeFileFS(w, req, os.DirFS(rel.dist), name)
	})
	r.srv = httptest.NewTLSServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (r *fakeRegistry) fetched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.files)
}

// cliConfig is a CLI config whose host blocks send both registries'
// provider service here, installing directly as a registry user does; and
// the environment that makes the CLIs trust the server's certificate.
func (r *fakeRegistry) cliConfig(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	ca := filepath.Join(dir, "registry-ca.pem")
	writeTestFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})))
	var b strings.Builder
	for _, host := range registryHosts {
		fmt.Fprintf(&b, "host %q {\n  services = {\n    \"providers.v1\" = %q\n  }\n}\n\n", host, r.srv.URL+"/v1/providers/")
	}
	b.WriteString("provider_installation {\n  direct {}\n}\n")
	config := filepath.Join(dir, "registry.tfrc")
	writeTestFile(t, config, b.String())
	return config, []string{"SSL_CERT_FILE=" + ca}
}

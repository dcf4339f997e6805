package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePlatforms(t *testing.T) {
	all, err := parsePlatforms("all")
	if err != nil || len(all) != 13 {
		t.Fatalf("all: %d platforms, %v; want 13", len(all), err)
	}
	for _, ignored := range []string{"darwin_386", "windows_arm", "darwin_arm"} {
		if _, err := parsePlatforms(ignored); err == nil {
			t.Errorf("%s is not a release platform, but was accepted", ignored)
		}
	}
	ci, err := parsePlatforms("ci")
	if err != nil || !slices.Contains(ci, platform{"linux", "amd64"}) {
		t.Fatalf("ci: %v, %v; want linux_amd64 in it", ci, err)
	}
	got, err := parsePlatforms("linux_arm, freebsd_386,linux_arm")
	if err != nil || !slices.Equal(got, []platform{{"linux", "arm"}, {"freebsd", "386"}}) {
		t.Fatalf("list: %v, %v", got, err)
	}
}

func TestVersions(t *testing.T) {
	if got := snapshotVersion("e4fd73c0123456789"); got != "0.0.0-snapshot-e4fd73c" || !versionRE.MatchString(got) || !isSnapshotVersion(got) {
		t.Fatalf("snapshot version %q", got)
	}
	for v, ok := range map[string]bool{"1.2.3": true, "0.1.0-rc.1": true, "1.2": false, "1.2.3+meta": false, "01.2.3": false, "1.2.3-": false, "1.0.0-RC1": false} {
		if versionRE.MatchString(v) != ok {
			t.Errorf("version %q: valid = %v, want %v", v, !ok, ok)
		}
	}
	if isSnapshotVersion("1.2.3") || isSnapshotVersion("1.2.3-rc1") || isSnapshotVersion("1.2.3-rc1-snapshot") || !isSnapshotVersion("1.2.3-snapshot.1") {
		t.Error("isSnapshotVersion")
	}
}

// TestZipReproducible: the same files give the same bytes whatever their
// times and modes on disk and the order they are given in; entries are
// sorted, dated mtime, with the mode asked for.
func TestZipReproducible(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode, at time.Time) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mtime := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	bin := write("terraform-provider-x_v1.0.0", "binary", 0o700, time.Now())
	lic := write("LICENSE", "license", 0o600, time.Now())
	files := []zipFile{{"terraform-provider-x_v1.0.0", bin, 0o755}, {"LICENSE", lic, 0o644}}
	if err := writeZip(filepath.Join(dir, "a.zip"), files, mtime); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	write("terraform-provider-x_v1.0.0", "binary", 0o755, later)
	write("LICENSE", "license", 0o644, later)
	slices.Reverse(files)
	if err := writeZip(filepath.Join(dir, "b.zip"), files, mtime); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.zip"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.zip"))
	if !bytes.Equal(a, b) {
		t.Fatal("two zips of the same files differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(mtime) {
			t.Errorf("%s dated %v, want %v", f.Name, f.Modified, mtime)
		}
	}
	if !slices.Equal(names, []string{"LICENSE", "terraform-provider-x_v1.0.0"}) {
		t.Errorf("entries %v, want sorted", names)
	}
	if zr.File[0].Mode() != 0o644 || zr.File[1].Mode() != 0o755 {
		t.Errorf("modes %v %v, want 0644 and 0755", zr.File[0].Mode(), zr.File[1].Mode())
	}
}

func TestChecksums(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"p_1.0.0_linux_amd64.zip": "a", "p_1.0.0_manifest.json": "b"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "a-folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeChecksums(dir, "p_1.0.0_SHA256SUMS"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "p_1.0.0_SHA256SUMS"))
	// sha256sum's output for the two files, in name order.
	want := "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  p_1.0.0_linux_amd64.zip\n" +
		"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  p_1.0.0_manifest.json\n"
	if string(got) != want {
		t.Fatalf("SHA256SUMS:\n%s\nwant:\n%s", got, want)
	}
}

// TestSign signs with a throw-away key in a temporary GnuPG home and
// checks the signature with gpg, as the registry checks it with the key
// registered for the namespace.
func TestSign(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("no gpg on PATH (apt-get install gnupg) to sign with")
	}
	key := newTestGPGKey(t)
	sums := filepath.Join(t.TempDir(), "p_1.0.0_SHA256SUMS")
	if err := os.WriteFile(sums, []byte("00  p_1.0.0_linux_amd64.zip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sign(context.Background(), key.fingerprint, sums); err != nil {
		t.Fatal(err)
	}
	sig, err := os.ReadFile(sums + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(sig, []byte("-----BEGIN")) {
		t.Error("the signature is armored; the registry wants a binary one")
	}
	testGPG(t, "--verify", sums+".sig", sums)
	if err := sign(context.Background(), "nobody@example.invalid", sums); err == nil {
		t.Error("signing with a key that is not there succeeded")
	}
}

type testGPGKey struct {
	fingerprint, id string // id: the last 16 hex digits, as CLIs print it
	armored         string // the public key, as registered on the registry
}

// newTestGPGKey makes a throw-away RSA signing key (the registry takes RSA
// keys) in a temporary GnuPG home, which GNUPGHOME names for the rest of
// the test.
func newTestGPGKey(t *testing.T) testGPGKey {
	t.Helper()
	home, err := os.MkdirTemp("", "gpg-") // short: gpg-agent's socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent") // the agent gpg started for this home, and only it
		kill.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = kill.Run()
		_ = os.RemoveAll(home)
	})
	t.Setenv("GNUPGHOME", home)
	email := "release-test@example.invalid"
	testGPG(t, "--passphrase", "", "--quick-generate-key", "Release Test <"+email+">", "rsa3072", "sign", "never")
	var key testGPGKey
	for line := range strings.SplitSeq(testGPG(t, "--with-colons", "--list-keys", email), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" && key.fingerprint == "" {
			key.fingerprint = f[9]
		}
	}
	if len(key.fingerprint) != 40 {
		t.Fatalf("no fingerprint for the test key")
	}
	key.id = key.fingerprint[24:]
	key.armored = testGPG(t, "--armor", "--export", key.fingerprint)
	return key
}

func testGPG(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("gpg", append([]string{"--batch"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestConfig: a release needs a key, a snapshot never signs.
func TestConfig(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if _, err := newConfig("1.2.3", false, t.TempDir(), "ci", "", 1, "go"); err == nil || !strings.Contains(err.Error(), "-gpg-key") {
		t.Errorf("a release without a key: %v, want an error naming -gpg-key", err)
	}
	cfg, err := newConfig("v1.2.3-snapshot-abc", false, t.TempDir(), "ci", "", 1, "go")
	if err != nil || !cfg.snapshot || cfg.version != "1.2.3-snapshot-abc" {
		t.Errorf("a snapshot version: %+v, %v; want an unsigned snapshot 1.2.3-snapshot-abc", cfg, err)
	}
	if cfg != nil && !cfg.mtime.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("mtime %v, want SOURCE_DATE_EPOCH", cfg.mtime)
	}
	for _, v := range []string{"1.2", "1.0.0-RC1"} {
		if _, err := newConfig(v, true, t.TempDir(), "ci", "", 1, "go"); err == nil {
			t.Errorf("version %s accepted", v)
		}
	}
}

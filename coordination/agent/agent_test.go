package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func untar(t *testing.T, b []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = string(data)
	}
}

// TestPackReports: the report folder and the logs are packed; a file that
// would break the size limit is left out and named in SKIPPED.txt; links
// are not followed.
func TestPackReports(t *testing.T) {
	reports, logs := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(reports, "sub"), 0o700)
	os.WriteFile(filepath.Join(reports, "sub", "a.txt"), []byte("alpha"), 0o600)
	os.WriteFile(filepath.Join(reports, "big.bin"), bytes.Repeat([]byte("x"), 200<<10), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(reports, "passwd"))
	os.WriteFile(filepath.Join(logs, "deploy.log"), []byte("==> deploy\n"), 0o600)

	b, err := packReports(reports, logs, 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, b)
	if files["sub/a.txt"] != "alpha" || files["logs/deploy.log"] != "==> deploy\n" {
		t.Fatalf("files: %v", files)
	}
	if _, ok := files["big.bin"]; ok || !strings.Contains(files["SKIPPED.txt"], "big.bin (204800 bytes)") {
		t.Fatalf("the oversized file: SKIPPED.txt = %q", files["SKIPPED.txt"])
	}
	if _, ok := files["passwd"]; ok {
		t.Fatal("a symbolic link was followed into the report")
	}
	if len(b) > 100<<10 {
		t.Fatalf("tarball of %d bytes over the limit", len(b))
	}
	// No report folder at all: just the logs.
	if b, err := packReports(filepath.Join(reports, "none"), logs, MaxReport); err != nil || len(untar(t, b)) != 1 {
		t.Fatalf("missing report folder: %v", err)
	}
}

// TestLastLine: the abort message is the last non-empty line written to
// stderr, across writes and without its newline, bounded in length.
func TestLastLine(t *testing.T) {
	var l lastLine
	l.Write([]byte("first\nsec"))
	l.Write([]byte("ond\n\n  \n"))
	if got := l.String(); got != "second" {
		t.Fatalf("got %q", got)
	}
	l.Write([]byte("unterminated"))
	if got := l.String(); got != "unterminated" {
		t.Fatalf("got %q", got)
	}
	l.Write([]byte("\n" + strings.Repeat("y", 5000) + "\n"))
	if got := l.String(); len(got) != maxLine {
		t.Fatalf("long line kept %d bytes, want %d", len(got), maxLine)
	}
}

// TestProgress: progress survives a reload, another deployment's progress
// is ignored, and a damaged file is an error rather than a fresh start
// (which could run deploy scripts twice).
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	p, err := loadProgress(dir, "d1", "web.1", "")
	if err != nil || p.Deployed {
		t.Fatalf("fresh: %+v %v", p, err)
	}
	p.Phases["deploy/1"], p.Deployed = true, true
	if err := p.save(dir); err != nil {
		t.Fatal(err)
	}
	if q, _ := loadProgress(dir, "d1", "web.1", ""); !q.Deployed || !q.Phases["deploy/1"] {
		t.Fatalf("reloaded: %+v", q)
	}
	if q, _ := loadProgress(dir, "d2", "web.1", ""); q.Deployed {
		t.Fatal("another deployment's progress was used")
	}
	os.WriteFile(filepath.Join(dir, progressFile), []byte("{"), 0o600)
	if _, err := loadProgress(dir, "d1", "web.1", ""); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged file: %v", err)
	}
}

// TestPackagesScript: the script is valid sh, quotes names, installs only
// what is missing with the package manager it finds (a fake apt-get and
// dpkg-query here), and does nothing when everything is installed.
func TestPackagesScript(t *testing.T) {
	script := packagesScript([]string{"nginx", "curl", "python3-pip=3.11*"})
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v %s", err, out)
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "args")
	os.WriteFile(filepath.Join(dir, "apt-get"), []byte("#!/bin/sh\necho \"$@\" >> "+record+"\n"), 0o755)
	// curl is installed, nginx is not.
	os.WriteFile(filepath.Join(dir, "dpkg-query"), []byte("#!/bin/sh\n[ \"$3\" = curl ] && echo 'install ok installed'\nexit 0\n"), 0o755)
	run := func(script string) {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	run(script)
	b, _ := os.ReadFile(record)
	if want := "update -q\ninstall -y -q --no-install-recommends nginx python3-pip=3.11*\n"; string(b) != want {
		t.Fatalf("apt-get ran with %q, want %q", b, want)
	}
	os.Remove(record)
	run(packagesScript([]string{"curl"}))
	if _, err := os.Stat(record); err == nil {
		t.Fatal("apt-get ran although every package was installed")
	}
}

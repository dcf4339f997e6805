package imports

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

func hashOf(t *testing.T, dir string) string {
	t.Helper()
	h, err := HashDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "h1:") || !isHash(h) {
		t.Fatalf("HashDir = %q, not an h1: hash", h)
	}
	return h
}

func TestHashDirStableAndDetectsChanges(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "main.slip.hcl"), "image \"debian\" {}\n")
	mustWrite(t, filepath.Join(dir, "sub", "x.slip.hcl"), "x\n")
	base := hashOf(t, dir)
	if again := hashOf(t, dir); again != base {
		t.Fatalf("HashDir is not stable: %s then %s", base, again)
	}

	// A plain folder hashes exactly as Go's own dirhash does.
	want, err := dirhash.HashDir(dir, "", dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	if base != want {
		t.Errorf("HashDir = %s, dirhash.HashDir = %s", base, want)
	}

	// Things that must not change the hash.
	mustWrite(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n")
	mustWrite(t, filepath.Join(dir, "sub", ".git"), "gitdir: ../.git/modules/sub\n")
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if h := hashOf(t, dir); h != base {
		t.Errorf(".git and empty folders changed the hash")
	}
	// The same content elsewhere hashes the same: the path of dir is not part
	// of it.
	other := t.TempDir()
	mustWrite(t, filepath.Join(other, "main.slip.hcl"), "image \"debian\" {}\n")
	mustWrite(t, filepath.Join(other, "sub", "x.slip.hcl"), "x\n")
	if h := hashOf(t, other); h != base {
		t.Errorf("same content in another folder hashes to %s, want %s", h, base)
	}

	// Things that must.
	changes := []struct {
		name string
		do   func(dir string)
	}{
		{"edit", func(d string) { mustWrite(t, filepath.Join(d, "sub", "x.slip.hcl"), "y\n") }},
		{"add", func(d string) { mustWrite(t, filepath.Join(d, "new.slip.hcl"), "") }},
		{"remove", func(d string) { os.Remove(filepath.Join(d, "sub", "x.slip.hcl")) }},
		{"rename", func(d string) {
			os.Rename(filepath.Join(d, "sub", "x.slip.hcl"), filepath.Join(d, "sub", "y.slip.hcl"))
		}},
		{"move to another folder", func(d string) {
			os.MkdirAll(filepath.Join(d, "sub2"), 0o755)
			os.Rename(filepath.Join(d, "sub", "x.slip.hcl"), filepath.Join(d, "sub2", "x.slip.hcl"))
		}},
	}
	for _, c := range changes {
		d := t.TempDir()
		mustWrite(t, filepath.Join(d, "main.slip.hcl"), "image \"debian\" {}\n")
		mustWrite(t, filepath.Join(d, "sub", "x.slip.hcl"), "x\n")
		c.do(d)
		if h := hashOf(t, d); h == base {
			t.Errorf("%s did not change the hash", c.name)
		}
	}
}

func TestHashDirSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	outside := filepath.Join(t.TempDir(), "secret")
	mustWrite(t, outside, "one")
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "a"), "a")
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	h1 := hashOf(t, dir) // must terminate despite the loop

	// The link is hashed by its target path, not followed...
	mustWrite(t, outside, "two")
	if h := hashOf(t, dir); h != h1 {
		t.Errorf("changing a file outside the folder changed the hash")
	}
	// ...so retargeting it does change the hash.
	os.Remove(filepath.Join(dir, "link"))
	if err := os.Symlink(outside+"2", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if h := hashOf(t, dir); h == h1 {
		t.Errorf("retargeting a link did not change the hash")
	}

	// A link to the folder hashes like the folder.
	viaLink := filepath.Join(t.TempDir(), "via")
	if err := os.Symlink(dir, viaLink); err != nil {
		t.Fatal(err)
	}
	if hashOf(t, viaLink) != hashOf(t, dir) {
		t.Error("hashing through a link to the folder differs")
	}
}

func TestHashDirErrors(t *testing.T) {
	if _, err := HashDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("HashDir of a missing folder succeeded")
	}
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "bad\nname"), "x")
	if _, err := HashDir(dir); err == nil {
		t.Error("HashDir accepted a file name with a newline")
	}
}

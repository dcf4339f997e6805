package imports

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "89abcdef0123456789abcdef0123456789abcdef"
	hashA   = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	hashB   = "h1:Qm3VUIB1KvkEpUkUH2kW6nf7nQpgr+o8mI0cYxPfZ5s="
)

func mustSource(t testing.TB, s string) Source {
	t.Helper()
	src, err := ParseSource(s)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

const goldenLock = `# This file is maintained automatically by "slipc".
# Manual edits may be lost in future updates.

import "git::file:///tmp/x/repo.git//sub?ref=v1" {
  commit = "0123456789abcdef0123456789abcdef01234567"
  hash   = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

import "git::https://example.com/recipes.git//images/debian?ref=v1.2" {
  commit = "89abcdef0123456789abcdef0123456789abcdef"
  hash   = "h1:Qm3VUIB1KvkEpUkUH2kW6nf7nQpgr+o8mI0cYxPfZ5s="
}
`

func goldenLockValue(t *testing.T) *Lock {
	l := NewLock()
	// Added in the opposite order to the output, to show sorting.
	l.Add(mustSource(t, "git::https://example.com/recipes.git//images/debian?ref=v1.2"), Fetched{Commit: commitB, Hash: hashB})
	l.Add(mustSource(t, "git::file:///tmp/x/repo.git//sub?ref=v1"), Fetched{Commit: commitA, Hash: hashA})
	l.Add(mustSource(t, "./local"), Fetched{Dir: "/x", Hash: hashA}) // ignored: not locked
	return l
}

func TestLockBytesGolden(t *testing.T) {
	l := goldenLockValue(t)
	got := string(l.Bytes())
	if got != goldenLock {
		t.Fatalf("Bytes() =\n%s\nwant\n%s", got, goldenLock)
	}
	for range 10 {
		if string(l.Bytes()) != got {
			t.Fatal("Bytes() is not deterministic")
		}
	}
	if empty := string(NewLock().Bytes()); empty != lockHeader {
		t.Errorf("empty lock renders as %q", empty)
	}
}

func TestLockRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFileName)
	want := goldenLockValue(t)
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); got != goldenLock {
		t.Fatalf("saved file =\n%s", got)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o644 {
		t.Errorf("lock file mode %v, want 0644", info.Mode().Perm())
	}
	got, diags := LoadLock(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadLock = %+v, want %+v", got, want)
	}
	if string(got.Bytes()) != goldenLock {
		t.Error("a loaded lock does not render identically")
	}
	e, ok := got.Get(mustSource(t, "git::file:///tmp/x/repo.git//sub/?ref=v1")) // non-canonical spelling
	if !ok || e.Commit != commitA {
		t.Errorf("Get = %+v, %v", e, ok)
	}
}

func TestLockSaveOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockFileName)

	// An empty lock does not create a file...
	if err := NewLock().Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("saving an empty lock created the file: %v", err)
	}

	l := goldenLockValue(t)
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); !info.ModTime().Equal(old) {
		t.Error("Save rewrote an unchanged lock file")
	}

	l.Add(mustSource(t, "git::https://example.com/other.git"), Fetched{Commit: commitA, Hash: hashA})
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.ModTime().Equal(old) {
		t.Error("Save did not write a changed lock file")
	}
	// ...but emptying an existing one does rewrite it.
	l.Retain(nil)
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); got != lockHeader {
		t.Errorf("emptied lock file = %q", got)
	}
	// No temporary files are left beside it.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want just the lock file", len(entries))
	}
}

func TestLoadLockMissingFile(t *testing.T) {
	l, diags := LoadLock(filepath.Join(t.TempDir(), LockFileName))
	if len(diags) != 0 || l == nil || len(l.Entries) != 0 {
		t.Fatalf("LoadLock of a missing file = %+v, %v", l, diags)
	}
	// A folder where the file should be is an error, not an empty lock.
	dir := t.TempDir()
	l, diags = LoadLock(dir)
	if !diags.HasErrors() || l == nil {
		t.Fatalf("LoadLock of a folder = %+v, %v", l, diags)
	}
}

func TestLoadLockMalformed(t *testing.T) {
	const ok = `import "git::https://example.com/r.git?ref=v1" {
  commit = "` + commitA + `"
  hash   = "` + hashA + `"
}
`
	tests := []struct {
		name, src string
		line      int    // line of the first error's subject
		summary   string // part of its summary
		entries   int    // valid entries still returned
	}{
		{"syntax error", "# header\n\nimport \"x\" {\n  commit = \n}\n", 4, "", 0},
		{"unclosed block", "import \"git::https://example.com/r.git\" {\n", 1, "", 0},
		{"unknown block", ok + "\nprovider \"x\" {}\n", 6, "Unsupported block type", 1},
		{"top-level attribute", "version = 1\n" + ok, 1, "Unsupported argument", 1},
		{"missing label", "import {\n}\n", 1, "Missing source for import", 0},
		{"two labels", "import \"a\" \"b\" {\n}\n", 1, "Extraneous label", 0},
		{"invalid source", "\n\nimport \"github.com/x/y\" {\n  commit = \"" + commitA + "\"\n  hash = \"" + hashA + "\"\n}\n", 3, "Invalid import source", 0},
		{"local source", "import \"./x\" {\n  commit = \"" + commitA + "\"\n  hash = \"" + hashA + "\"\n}\n", 1, "Local import", 0},
		{"missing hash", "import \"git::https://example.com/r.git\" {\n  commit = \"" + commitA + "\"\n}\n", 1, "Missing required argument", 0},
		{"unknown attribute", ok[:len(ok)-2] + "  extra = 1\n}\n", 4, "Unsupported argument", 0},
		{"short commit", "import \"git::https://example.com/r.git\" {\n  commit = \"abc123\"\n  hash = \"" + hashA + "\"\n}\n", 2, "Invalid commit", 0},
		{"upper-case commit", "import \"git::https://example.com/r.git\" {\n  commit = \"" + strings.ToUpper(commitA) + "\"\n  hash = \"" + hashA + "\"\n}\n", 2, "Invalid commit", 0},
		{"bad hash", "import \"git::https://example.com/r.git\" {\n  commit = \"" + commitA + "\"\n  hash = \"sha256:abc\"\n}\n", 3, "Invalid hash", 0},
		{"number", "import \"git::https://example.com/r.git\" {\n  commit = 12\n  hash = \"" + hashA + "\"\n}\n", 2, "Invalid value", 0},
		{"null", "import \"git::https://example.com/r.git\" {\n  commit = null\n  hash = \"" + hashA + "\"\n}\n", 2, "Invalid value", 0},
		{"variable", "import \"git::https://example.com/r.git\" {\n  commit = var.x\n  hash = \"" + hashA + "\"\n}\n", 2, "Variables not allowed", 0},
		{"function", "import \"git::https://example.com/r.git\" {\n  commit = lower(\"x\")\n  hash = \"" + hashA + "\"\n}\n", 2, "Function calls not allowed", 0},
		{"duplicate", ok + "\nimport \"git::https://example.com/r.git?ref=v1\" {\n  commit = \"" + commitB + "\"\n  hash = \"" + hashB + "\"\n}\n", 6, "Duplicate lock entry", 1},
		{"duplicate after canonicalisation", ok + "\nimport \"git::https://example.com/r.git?ref=%76%31\" {\n  commit = \"" + commitB + "\"\n  hash = \"" + hashB + "\"\n}\n", 6, "Duplicate lock entry", 1},
		{"binary garbage", "\x00\xff\xfe{{{", 1, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, diags := parseLock([]byte(tt.src), LockFileName)
			if !diags.HasErrors() {
				t.Fatalf("no error diagnostics for\n%s", tt.src)
			}
			if l == nil {
				t.Fatal("nil lock")
			}
			var first *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					first = d
					break
				}
			}
			if first.Subject == nil {
				t.Fatalf("diagnostic %q has no range", first.Summary)
			}
			if first.Subject.Filename != LockFileName || first.Subject.Start.Line != tt.line {
				t.Errorf("first error %q: %s, at line %d; want line %d", first.Summary, first.Detail, first.Subject.Start.Line, tt.line)
			}
			if !strings.Contains(first.Summary, tt.summary) {
				t.Errorf("first error summary %q, want it to contain %q", first.Summary, tt.summary)
			}
			if len(l.Entries) != tt.entries {
				t.Errorf("%d valid entries returned, want %d", len(l.Entries), tt.entries)
			}
		})
	}
}

// A hand-written lock in a non-canonical spelling loads under the canonical
// key and is rewritten canonically.
func TestLoadLockCanonicalises(t *testing.T) {
	src := "import \"git::https://example.com/r.git//a/./b/?ref=v1\" {\n  commit = \"" + commitA + "\"\n  hash = \"" + hashA + "\"\n}\n"
	l, diags := parseLock([]byte(src), LockFileName)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	key := "git::https://example.com/r.git//a/b?ref=v1"
	if e, ok := l.Entries[key]; !ok || e.Source != key {
		t.Fatalf("entries = %+v", l.Entries)
	}
	if !strings.Contains(string(l.Bytes()), `import "`+key+`" {`) {
		t.Errorf("Bytes() =\n%s", l.Bytes())
	}
}

func TestLockRetainAndRemove(t *testing.T) {
	l := goldenLockValue(t)
	keep := mustSource(t, "git::file:///tmp/x/repo.git//sub?ref=v1")
	dropped := l.Retain([]Source{keep, mustSource(t, "./local")})
	if !reflect.DeepEqual(dropped, []string{"git::https://example.com/recipes.git//images/debian?ref=v1.2"}) {
		t.Errorf("Retain dropped %v", dropped)
	}
	if _, ok := l.Get(keep); !ok || len(l.Entries) != 1 {
		t.Errorf("entries after Retain: %v", l.Entries)
	}
	l.Remove(keep)
	if len(l.Entries) != 0 {
		t.Errorf("entries after Remove: %v", l.Entries)
	}
	var zero Lock // methods work on a zero Lock
	zero.Add(keep, Fetched{Commit: commitA, Hash: hashA})
	if _, ok := zero.Get(keep); !ok {
		t.Error("Add on a zero Lock")
	}
}

package imports

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var sourceSeeds = []string{
	"./common", "../common", "/abs/path", "./a/../..", ".", "..", "", " ",
	"common", "github.com/x/y", "https://example.com/r.git", "s3::https://x/y",
	"git::https://example.com/recipes.git//images/debian?ref=v1.2",
	"git::file:///tmp/x/repo.git//sub?ref=v1",
	"git::git@github.com:org/repo.git//sub?ref=release/1.x",
	"git::ssh://git@example.com:22/r.git?ref=v1.0.0+b",
	"git::https://example.com/r.git?ref=a%24%7Bx%7D",
	"git::https://example.com/r.git?ref=v1//sub",
	"git::https://example.com/r.git//../x",
	"git::https://u:p@example.com/r.git",
	"git::https://example.com/r.git?ref=&depth=1",
}

func FuzzParseSource(f *testing.F) {
	for _, s := range sourceSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			var se *SourceError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), AcceptedForms) {
				t.Fatalf("ParseSource(%q) error %v is not a *SourceError listing the accepted forms", s, err)
			}
			return
		}
		canonical := src.String()
		again, err := ParseSource(canonical)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canonical, s, err)
		}
		if again != src || again.String() != canonical {
			t.Fatalf("%q -> %#v -> %q -> %#v", s, src, canonical, again)
		}
		switch src.Kind {
		case Local:
			if src.Path == "" || src.Repo != "" || src.Subdir != "" || src.Ref != "" {
				t.Fatalf("bad local source %#v", src)
			}
		case Git:
			if src.Repo == "" || src.Path != "" || strings.ContainsAny(src.Repo, "?#") {
				t.Fatalf("bad git source %#v", src)
			}
			for _, seg := range strings.Split(src.Subdir, "/") {
				if seg == ".." {
					t.Fatalf("subdir with .. accepted: %#v", src)
				}
			}
			if strings.HasPrefix(src.Ref, "-") {
				t.Fatalf("ref starting with - accepted: %#v", src)
			}
			// Every git source must survive the lock file as its key.
			l := NewLock()
			l.Add(src, Fetched{Commit: commitA, Hash: hashA})
			loaded, diags := parseLock(l.Bytes(), LockFileName)
			if diags.HasErrors() {
				t.Fatalf("lock for %q does not load: %v\n%s", canonical, diags, l.Bytes())
			}
			if !reflect.DeepEqual(loaded, l) {
				t.Fatalf("lock for %q round-trips to %+v", canonical, loaded.Entries)
			}
		default:
			t.Fatalf("ParseSource(%q) returned kind %v", s, src.Kind)
		}
	})
}

func FuzzLoadLock(f *testing.F) {
	f.Add([]byte(goldenLock))
	f.Add([]byte(lockHeader))
	f.Add([]byte(""))
	f.Add([]byte("import \"git::https://example.com/r.git\" {\n  commit = var.x\n  hash = \"" + hashA + "\"\n}\n"))
	f.Add([]byte("import \"./x\" {}\nprovider \"y\" {}\nimport {\n"))
	f.Add([]byte("import \"git::https://example.com/r.git?ref=%76%31\" {\n  commit = \"" + commitB + "\"\n  hash = \"" + hashB + "\"\n}\n"))
	f.Add([]byte("import \"git::https://example.com/r.git\" {\n  commit = \"${\"x\"}\"\n  hash = [1, {a = 2}]\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, diags := parseLock(data, LockFileName)
		if l == nil || l.Entries == nil {
			t.Fatal("parseLock returned no lock")
		}
		for _, d := range diags {
			if d.Severity == 0 || d.Summary == "" {
				t.Fatalf("malformed diagnostic %#v", d)
			}
		}
		if diags.HasErrors() {
			return
		}
		// A lock that loads cleanly renders to a file that loads to the
		// same lock and renders identically.
		out := l.Bytes()
		again, diags := parseLock(out, LockFileName)
		if diags.HasErrors() {
			t.Fatalf("rendered lock does not load: %v\n%s", diags, out)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip changed the lock: %+v -> %+v", l.Entries, again.Entries)
		}
		if string(again.Bytes()) != string(out) {
			t.Fatal("Bytes is not stable across a round trip")
		}
	})
}

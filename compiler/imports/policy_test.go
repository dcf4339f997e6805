package imports

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	src := mustSource(t, "git::https://example.com/r.git//sub?ref=v1")
	l := NewLock()
	f := Fetched{Dir: "/cache/trees/x/sub", Commit: commitA, Hash: hashA}

	if err := l.Verify(src, f); !errors.Is(err, ErrNotLocked) {
		t.Fatalf("Verify without entry = %v, want ErrNotLocked", err)
	}
	l.Add(src, f)
	if err := l.Verify(src, f); err != nil {
		t.Fatalf("Verify of the locked state = %v", err)
	}

	moved := Fetched{Dir: f.Dir, Commit: commitB, Hash: hashB}
	err := l.Verify(src, moved)
	if !errors.Is(err, ErrRefMoved) {
		t.Fatalf("Verify of a moved ref = %v, want ErrRefMoved", err)
	}
	want := "the lock file pins 0123456789ab for git::https://example.com/r.git//sub?ref=v1 " +
		"but ref v1 now points at 89abcdef0123; run `slipc compile -upgrade` to accept it"
	if err.Error() != want {
		t.Errorf("message =\n%s\nwant\n%s", err, want)
	}

	tampered := Fetched{Dir: f.Dir, Commit: commitA, Hash: hashB}
	err = l.Verify(src, tampered)
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Verify of changed content = %v, want ErrHashMismatch", err)
	}
	for _, part := range []string{"content hash mismatch", hashA, hashB, f.Dir, "(the cached copy or the repository was tampered with)"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q lacks %q", err, part)
		}
	}

	// The default branch is named HEAD in messages.
	head := mustSource(t, "git::https://example.com/r.git")
	l.Add(head, f)
	if err := l.Verify(head, moved); err == nil || !strings.Contains(err.Error(), "but ref HEAD now points at") {
		t.Errorf("default-branch message: %v", err)
	}
}

// The whole life of a locked import whose tag is moved upstream.
func TestResolveLockedTagMoved(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	ctx := context.Background()
	src := fx.source("images/debian", "v1")
	lock := NewLock()

	// First build: not locked yet, so it is fetched at the ref and added.
	got, err := lock.Resolve(ctx, f, src, ModeLocked)
	if err != nil {
		t.Fatal(err)
	}
	entry, ok := lock.Get(src)
	if !ok || entry.Commit != fx.c1 || entry.Hash != got.Hash || got.Commit != fx.c1 {
		t.Fatalf("after first Resolve: entry %+v, fetched %+v", entry, got)
	}
	path := filepath.Join(t.TempDir(), LockFileName)
	if err := lock.Save(path); err != nil {
		t.Fatal(err)
	}

	// Upstream moves the tag to a commit with other content.
	fx.git("tag", "-f", "v1", fx.c2)

	// A fresh look at the ref reports the move...
	lock, diags := LoadLock(path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, err = lock.CheckUpstream(ctx, f, src)
	if !errors.Is(err, ErrRefMoved) || !strings.Contains(err.Error(), "but ref v1 now points at "+fx.c2[:12]) {
		t.Fatalf("CheckUpstream = %v, want ErrRefMoved", err)
	}

	// ...while a locked build still gets the locked commit, even from a
	// new cache that never saw it under the tag.
	fresh := newFetcher(t)
	got, err = lock.Resolve(ctx, fresh, src, ModeLocked)
	if err != nil {
		t.Fatal(err)
	}
	if got.Commit != fx.c1 || mustRead(t, filepath.Join(got.Dir, "main.slip.hcl")) != "version = 1\n" {
		t.Fatalf("locked build got %+v", got)
	}
	if e, _ := lock.Get(src); e != entry {
		t.Errorf("a locked build changed the entry to %+v", e)
	}

	// -upgrade accepts the move and rewrites the entry.
	got, err = lock.Resolve(ctx, f, src, ModeUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := lock.Get(src); got.Commit != fx.c2 || e.Commit != fx.c2 || e.Hash != got.Hash {
		t.Fatalf("after upgrade: fetched %+v, entry %+v", got, e)
	}
	if err := lock.Save(path); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustRead(t, path), fx.c2) {
		t.Error("the saved lock does not pin the new commit")
	}
}

func TestResolveDetectsTampering(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	ctx := context.Background()
	src := fx.source("images/debian", "v1")
	lock := NewLock()
	got, err := lock.Resolve(ctx, f, src, ModeLocked)
	if err != nil {
		t.Fatal(err)
	}

	// Someone edits the cached copy.
	mustWrite(t, filepath.Join(got.Dir, "main.slip.hcl"), "version = 666\n")
	_, err = lock.Resolve(ctx, f, src, ModeLocked)
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), "tampered") {
		t.Fatalf("locked build of a tampered cache = %v, want ErrHashMismatch", err)
	}
	// -upgrade to the same commit must not launder the edit into the lock.
	_, err = lock.Resolve(ctx, f, src, ModeUpgrade)
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("upgrade over a tampered cache = %v, want ErrHashMismatch", err)
	}
	// Removing the cached tree heals it.
	c, _ := f.open()
	if err := os.RemoveAll(c.treeDir(fx.c1)); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Resolve(ctx, f, src, ModeLocked); err != nil {
		t.Fatalf("after removing the tampered tree: %v", err)
	}

	// Someone edits the lock file's hash.
	e, _ := lock.Get(src)
	e.Hash = hashB
	lock.Entries[src.String()] = e
	if _, err := lock.Resolve(ctx, f, src, ModeLocked); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("edited lock hash = %v, want ErrHashMismatch", err)
	}
}

func TestResolveReadOnly(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	ctx := context.Background()
	src := fx.source("images/debian", "v1")
	lock := NewLock()
	_, err := lock.Resolve(ctx, f, src, ModeReadOnly)
	if !errors.Is(err, ErrNotLocked) || len(lock.Entries) != 0 {
		t.Fatalf("read-only Resolve of an unlocked import = %v, entries %v", err, lock.Entries)
	}
	if _, err := lock.Resolve(ctx, f, src, ModeLocked); err != nil {
		t.Fatal(err)
	}
	fx.git("tag", "-f", "v1", fx.c2)
	got, err := lock.Resolve(ctx, f, src, ModeReadOnly)
	if err != nil || got.Commit != fx.c1 {
		t.Fatalf("read-only Resolve of a locked import = %+v, %v", got, err)
	}

	local := mustSource(t, "./x")
	if _, err := lock.Resolve(ctx, f, local, ModeLocked); err == nil {
		t.Error("Resolve accepted a local source")
	}
}

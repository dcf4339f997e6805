package hostfs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRemoveTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	locked := filepath.Join(dir, "work", "work")
	if err := os.MkdirAll(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(locked, "f"), []byte("x"), 0o644)
	os.Chmod(filepath.Join(dir, "work"), 0) // as overlayfs leaves its work folder
	if err := RemoveTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the tree is left: %v", err)
	}
	if err := RemoveTree(dir); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(context.Background(), path, time.Millisecond, "a test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path, time.Millisecond, "the first holder"); err == nil || !strings.Contains(err.Error(), "the first holder") {
		t.Errorf("a second lock while the first is held: %v", err)
	}
	unlock()
	again, err := Lock(context.Background(), path, time.Millisecond, "a test")
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	again()
}

func TestStatFields(t *testing.T) {
	f, ok := StatFields(os.Getpid())
	if !ok || len(f) < 20 || !strings.ContainsAny(f[0], "RS") {
		t.Errorf("StatFields(self) = %v, %v", f, ok)
	}
	if _, ok := StatFields(1 << 30); ok {
		t.Error("a process that does not exist")
	}
}

package boltstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "coordinator.db")
		return func(t *testing.T) store.Store {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// TestDeleteNamespace_forgetsItsHistory: a deleted namespace keeps no
// history in memory and no bucket in the file, so the store grows with the
// deployments it holds, not with all it ever held (the soak run found
// 200 KB kept per deleted deployment). A watcher that was watching sees
// the deletions; one that asks afterwards for changes from before them is
// told to re-read; a namespace made again is watched as any other.
func TestDeleteNamespace_forgetsItsHistory(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "coordinator.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(ns, key, value string) int64 {
		rev, err := s.Update(ctx, ns, func(tx store.Tx) error { tx.Put(key, value); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	for i := 0; i < 100; i++ {
		ns := fmt.Sprintf("d%d", i)
		put(ns, "a", strings.Repeat("x", 10000))
		put(ns, "b", "y")
		if _, err := s.DeleteNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	first := put("live", "a", "1")
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watching, err := s.Watch(watchCtx, "live", first)
	if err != nil {
		t.Fatal(err)
	}
	put("live", "b", "2")
	deleted, err := s.DeleteNamespace(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}

	s.mu.Lock()
	kept := len(s.history)
	s.mu.Unlock()
	if kept != 0 {
		t.Errorf("the store keeps the history of %d deleted namespaces", kept)
	}
	if err := s.db.View(func(btx *bolt.Tx) error {
		return btx.Bucket(nsBucket).ForEach(func(k, _ []byte) error { return fmt.Errorf("bucket %s left", k) })
	}); err != nil {
		t.Errorf("the file keeps the deleted namespaces: %v", err)
	}
	if list, err := s.Namespaces(ctx); err != nil || len(list) != 0 {
		t.Errorf("namespaces after deleting them all: %v %v", list, err)
	}

	// The watcher saw the change and both deletions.
	var got []string
	for len(got) < 3 {
		select {
		case ev := <-watching:
			got = append(got, fmt.Sprintf("%s deleted=%v", ev.Key, ev.Deleted))
		case <-time.After(5 * time.Second):
			t.Fatalf("the watcher got %v, then nothing", got)
		}
	}
	if want := "[b deleted=false a deleted=true b deleted=true]"; fmt.Sprint(got) != want && fmt.Sprint(got) != "[b deleted=false b deleted=true a deleted=true]" {
		t.Errorf("the watcher saw %v, want %s", got, want)
	}

	// From before the deletion: re-read. From it on: nothing missed.
	late, err := s.Watch(ctx, "live", first)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-late:
		if !errors.Is(ev.Err, store.ErrCompacted) {
			t.Errorf("a watch from before the deletion got %+v, want ErrCompacted", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a watch from before the deletion got nothing")
	}
	again, err := s.Watch(watchCtx, "live", deleted)
	if err != nil {
		t.Fatal(err)
	}
	put("live", "c", "3")
	select {
	case ev := <-again:
		if ev.Key != "c" || ev.Value != "3" {
			t.Errorf("the namespace made again: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event from the namespace made again")
	}
}

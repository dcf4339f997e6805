package boltstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// TestAcknowledgedWritesSurviveKill9 runs writers in a child process,
// which prints each write as soon as Update acknowledges it, kills the
// child with SIGKILL mid-load, reopens the file and checks that every
// acknowledged write is there.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if os.Getenv("BOLTSTORE_CRASH_CHILD") != "" {
		crashChild(os.Getenv("BOLTSTORE_CRASH_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestAcknowledgedWritesSurviveKill9$")
	cmd.Env = append(os.Environ(), "BOLTSTORE_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]string{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		acked[k] = v
		if len(acked) == 2000 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("child acknowledged only %d writes before it ended", len(acked))
	}
	s, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	missing := 0
	s.View(context.Background(), "d", func(tx store.Tx) error {
		for k, v := range acked {
			if kv, ok := tx.Get(k); !ok || kv.Value != v {
				missing++
			}
		}
		return nil
	})
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost after kill -9", missing, len(acked))
	}
}

// crashChild writes from 100 goroutines until killed, printing each
// acknowledged write.
func crashChild(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 100; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				k, v := fmt.Sprintf("w%d.%d", g, i), fmt.Sprintf("v%d", i)
				if _, err := s.Update(context.Background(), "d", func(tx store.Tx) error { tx.Put(k, v); return nil }); err != nil {
					return
				}
				mu.Lock()
				fmt.Fprintf(w, "%s=%s\n", k, v)
				w.Flush()
				mu.Unlock()
			}
		}(g)
	}
	time.Sleep(time.Minute) // the parent kills us long before
	wg.Wait()
}

package guest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestCleanupStale: the guests of a runtime whose process exited without
// Close run on; CleanupStale removes them — processes, namespace, veth,
// bridge, state folder — and leaves the runtimes of live processes alone.
func TestCleanupStale(t *testing.T) {
	baseImage(t)
	// A prefix of its own: another test process's CleanupStale(testPrefix)
	// would remove the helper's runtime as soon as the helper exits.
	var b [2]byte
	rand.Read(b[:])
	prefix := fmt.Sprintf("s%04x", b)
	live := newRuntimeWithPrefix(t, prefix)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+prefix)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var orphan struct {
		Name, Dir, State, Bridge, Upper string
		PID                             int
	}
	if err := json.Unmarshal(out, &orphan); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	t.Cleanup(func() { syscall.Kill(orphan.PID, syscall.SIGKILL) }) // in case
	if !alive(orphan.PID) || comm(orphan.PID) != "fakecloud-init" {
		t.Fatalf("the orphaned guest's PID 1 (%d) does not run: %q", orphan.PID, comm(orphan.PID))
	}

	if err := CleanupStale(prefix); err != nil {
		t.Fatal(err)
	}
	if alive(orphan.PID) && comm(orphan.PID) == "fakecloud-init" {
		t.Errorf("the orphaned guest's PID 1 survived CleanupStale")
	}
	assertGone(t, orphan.Name, orphan.Dir, orphan.Upper)
	if _, err := os.Stat(orphan.State); !os.IsNotExist(err) {
		t.Errorf("the stale runtime's state folder: %v", err)
	}
	if _, err := net.InterfaceByName(orphan.Bridge); err == nil {
		t.Errorf("the stale runtime's bridge %s is left", orphan.Bridge)
	}
	if _, err := os.Stat(live.StateDir()); err != nil {
		t.Errorf("CleanupStale removed a live runtime: %v", err)
	}
}

// alive says whether a process runs (a zombie, dead and waiting for its
// parent to collect it, does not).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

package nshost

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/internal/hostfs"
)

type nsID struct{ dev, ino uint64 }

func nsOf(path string) (nsID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, false
	}
	return nsID{uint64(st.Dev), st.Ino}, true
}

// netnsPids lists the live processes in the named network namespace, as
// `ip netns pids` does (zombies have no namespace left and are not listed).
func netnsPids(ns string) []int {
	want, ok := nsOf(filepath.Join(netnsDir, ns))
	if !ok {
		return nil
	}
	return pidsIn(want)
}

func pidsIn(want nsID) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if id, ok := nsOf(fmt.Sprintf("/proc/%d/ns/net", pid)); ok && id == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killNetns SIGKILLs the processes in the namespace (those for which keep
// is false, or all if keep is nil) until none is left.
func killNetns(ns string, keep func(pid int) bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []int
		for _, pid := range netnsPids(ns) {
			if keep == nil || !keep(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in network namespace %s survive SIGKILL", left, ns)
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL) // it may be gone already; the loop checks who is left
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// isSSHD tells sshd processes (listener and per-connection ones, also
// OpenSSH ≥ 9.8's sshd-session) from the rest.
func isSSHD(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	return strings.HasPrefix(filepath.Base(strings.TrimSuffix(exe, " (deleted)")), "sshd")
}

// procStart is the start time of a process (clock ticks after boot), to
// tell it from a later process with the same pid; 0 if there is none.
func procStart(pid int) uint64 {
	f, ok := hostfs.StatFields(pid)
	// f[0] is field 3 (state); starttime is field 22.
	if !ok || len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

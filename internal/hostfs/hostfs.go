// Package hostfs holds the few file-system and /proc helpers that the
// throw-away hosts of internal/nshost and the fake clouds' guests
// (connectors/fakecloud/guest) both need: removing trees that overlay
// work folders leave, machine-wide file locks that die with their
// process, and reading a process's /proc stat fields.
package hostfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// RemoveTree removes a folder and everything in it. Overlay work folders
// are left with mode 000 (d---------), which root can remove but a
// non-root test cannot: on failure the tree is made writable and removed
// again. A missing folder is not an error.
func RemoveTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || os.IsNotExist(err) {
		return nil
	}
	filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// Lock takes an exclusive flock on path (created if needed), waiting, in
// steps of poll, as long as ctx lets it. The lock dies with the process
// that holds it, so a killed run never leaves it taken. The returned
// function releases it. waitingFor says what the wait is for in the error
// when ctx ends first.
func Lock(ctx context.Context, path string, poll time.Duration, waitingFor string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s (%s): %w", path, waitingFor, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// StatFields returns the fields of /proc/<pid>/stat after the command
// name (which may hold spaces and parentheses): the first is field 3, the
// process state. ok is false when the process does not exist.
func StatFields(pid int) (fields []string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(s[i+1:]), true
}

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
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// RemoveTree removes a folder and everything in it. Overlay work folders
// are left with mode 000 (d---------), which root can remove but a
// non-root test cannot: on failure the tree is made writable and removed
// again. A missing folder is not an error.
//
// The folders are made writable through an os.Root: the trees hold what
// guests and hosts wrote, and a folder swapped for a symbolic link while
// we walk must not turn the chmod onto a folder outside the tree. Those
// chmods are best effort; the second RemoveAll reports what is left.
func RemoveTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || os.IsNotExist(err) {
		return nil
	}
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		_ = os.Chmod(path, 0o700) // #nosec G302 -- owner-only folder mode, so that OpenRoot can read the top (named by our caller)
	}
	if root, err := os.OpenRoot(path); err == nil {
		_ = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = root.Chmod(p, 0o700) // before WalkDir reads it
			}
			return nil
		})
		_ = root.Close()
	}
	return os.RemoveAll(path)
}

// Lock takes an exclusive flock on path (created if needed), waiting, in
// steps of poll, as long as ctx lets it. The lock dies with the process
// that holds it, so a killed run never leaves it taken. The returned
// function releases it. waitingFor says what the wait is for in the error
// when ctx ends first.
func Lock(ctx context.Context, path string, poll time.Duration, waitingFor string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- our fixed lock files: the nshost registry's and the guest image cache's
	if err != nil {
		return nil, err
	}
	// The file is never written: closing it only drops the lock, and a
	// failed Close has nothing to lose.
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
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

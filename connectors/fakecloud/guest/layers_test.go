package guest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCopyLayer copies a hand-made upper layer: contents, owners, modes
// (set-id bits too), times, hard and symbolic links, whiteouts, FIFOs and
// extended attributes, the overlay's trusted.* ones included.
func TestCopyLayer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: whiteouts, owners and trusted.* attributes need root")
	}
	src, dst := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "opt/app"), 0o750))
	must(os.WriteFile(filepath.Join(src, "opt/app/bin"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(src, "opt/app/bin"), 0o4755)) // (os.Chmod's set-uid bit is not 0o4000)
	must(os.Link(filepath.Join(src, "opt/app/bin"), filepath.Join(src, "opt/app/bin-link")))
	must(os.Symlink("bin", filepath.Join(src, "opt/app/current")))
	must(os.Lchown(filepath.Join(src, "opt/app/current"), 7, 8))
	must(os.Chown(filepath.Join(src, "opt/app"), 1000, 1001))
	must(unix.Mknod(filepath.Join(src, "opt/deleted"), unix.S_IFCHR, 0))
	must(unix.Mkfifo(filepath.Join(src, "opt/fifo"), 0o600))
	must(os.Mkdir(filepath.Join(src, "etc"), 0o755))
	must(unix.Setxattr(filepath.Join(src, "etc"), "trusted.overlay.opaque", []byte("y"), 0))
	must(unix.Setxattr(filepath.Join(src, "opt/app/bin"), "user.note", []byte("kept"), 0))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "opt/app/bin"), old, old))
	must(os.Chtimes(filepath.Join(src, "opt/app"), old, old))

	must(copyLayer(context.Background(), src, dst))

	if data, _ := os.ReadFile(filepath.Join(dst, "opt/app/bin")); string(data) != "#!/bin/sh\n" {
		t.Errorf("content %q", data)
	}
	st := func(rel string) *unix.Stat_t {
		t.Helper()
		var s unix.Stat_t
		must(unix.Lstat(filepath.Join(dst, rel), &s))
		return &s
	}
	if s := st("opt/app/bin"); s.Mode&0o7777 != 0o4755 || s.Nlink != 2 || s.Mtim.Sec != old.Unix() {
		t.Errorf("opt/app/bin: mode %o, links %d, mtime %d", s.Mode&0o7777, s.Nlink, s.Mtim.Sec)
	}
	if st("opt/app/bin").Ino != st("opt/app/bin-link").Ino {
		t.Error("the hard link became a copy")
	}
	if s := st("opt/app"); s.Uid != 1000 || s.Gid != 1001 || s.Mode&0o7777 != 0o750 || s.Mtim.Sec != old.Unix() {
		t.Errorf("opt/app: owner %d:%d, mode %o, mtime %d", s.Uid, s.Gid, s.Mode&0o7777, s.Mtim.Sec)
	}
	if s := st("opt/app/current"); s.Mode&unix.S_IFMT != unix.S_IFLNK || s.Uid != 7 {
		t.Errorf("symlink: mode %o owner %d", s.Mode, s.Uid)
	}
	if s := st("opt/deleted"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
		t.Errorf("whiteout: mode %o rdev %d", s.Mode, s.Rdev)
	}
	if s := st("opt/fifo"); s.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: mode %o", s.Mode)
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(filepath.Join(dst, "etc"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque folder: %q, %v", buf[:n], err)
	}
	if n, err := unix.Getxattr(filepath.Join(dst, "opt/app/bin"), "user.note", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("user attribute: %q, %v", buf[:n], err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := copyLayer(ctx, src, t.TempDir()); err == nil {
		t.Error("copyLayer with a cancelled context")
	}
}

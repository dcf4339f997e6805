package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// copyLayer copies an overlay upper layer (src, not mounted) into dst so
// that dst can serve as a lower layer: every file with its owner, mode,
// times and extended attributes — overlayfs keeps its opaque-folder and
// redirect marks in trusted.overlay.* attributes — hard links as hard
// links, and whiteouts (the 0/0 character devices that stand for deleted
// files) as whiteouts. dst must exist; it takes src's attributes.
func copyLayer(ctx context.Context, src, dst string) error {
	type dirTimes struct {
		path string
		st   *unix.Stat_t
	}
	var dirs []dirTimes
	links := map[[2]uint64]string{} // (dev, inode) → copy, for hard links
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		if err := copyEntry(path, target, &st, rel == ".", links); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			dirs = append(dirs, dirTimes{target, &st})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Folder times last: copying into a folder changes its times.
	for k := len(dirs) - 1; k >= 0; k-- {
		if err := setTimes(dirs[k].path, dirs[k].st); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies one file system entry (not a folder's content).
func copyEntry(path, target string, st *unix.Stat_t, isRoot bool, links map[[2]uint64]string) error {
	mode := st.Mode & unix.S_IFMT
	perm := st.Mode & 0o7777
	if mode != unix.S_IFDIR && st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := links[key]; ok {
			return os.Link(first, target)
		}
		links[key] = target
	}
	switch mode {
	case unix.S_IFDIR:
		if !isRoot {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
	case unix.S_IFREG:
		if err := copyFileData(path, target); err != nil {
			return err
		}
	case unix.S_IFLNK:
		dest, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if err := os.Symlink(dest, target); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknod(target, mode|perm, int(st.Rdev)); err != nil { // #nosec G115 -- a device number from Lstat: Linux encodes it in 32 bits, which int holds
			return err
		}
	default: // sockets: nothing to keep
		return nil
	}
	if err := unix.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if mode != unix.S_IFLNK {
		// After chown, which clears set-id bits.
		if err := unix.Chmod(target, perm); err != nil {
			return err
		}
	}
	if err := copyXattrs(path, target); err != nil {
		return err
	}
	if mode != unix.S_IFDIR {
		return setTimes(target, st)
	}
	return nil
}

func copyFileData(path, target string) error {
	in, err := os.Open(path) // #nosec G304 -- a file of the runtime's own upper layer, which copyLayer walks
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- its copy in the new layer folder; O_EXCL, and copyEntry sets the mode after
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close() // the copy failed, and with it the whole snapshot
		return err
	}
	return out.Close()
}

// copyXattrs copies every extended attribute, trusted.overlay.* included
// (which needs CAP_SYS_ADMIN: the runtime runs as root).
func copyXattrs(path, target string) error {
	size, err := unix.Llistxattr(path, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	if size == 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return err
	}
	for _, name := range splitNul(buf[:size]) {
		vsize, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return fmt.Errorf("attribute %s: %w", name, err)
		}
		val := make([]byte, vsize)
		if vsize > 0 {
			if vsize, err = unix.Lgetxattr(path, name, val); err != nil {
				return fmt.Errorf("attribute %s: %w", name, err)
			}
		}
		if err := unix.Lsetxattr(target, name, val[:vsize], 0); err != nil {
			return fmt.Errorf("attribute %s: %w", name, err)
		}
	}
	return nil
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for k, c := range b {
		if c == 0 {
			if k > start {
				out = append(out, string(b[start:k]))
			}
			start = k + 1
		}
	}
	if start < len(b) {
		out = append(out, string(b[start:]))
	}
	return out
}

func setTimes(path string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

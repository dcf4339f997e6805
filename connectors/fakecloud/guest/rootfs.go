package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// setupRoot makes the guest's file system and enters it; PID 1 runs it in
// its new mount namespace, before anything of the guest runs. The root is
// an overlay of the image's layers with the instance's upper folder, with
// its own /proc, a read-only /sys, a minimal /dev (no disk of this
// machine), and tmpfs /run and /tmp; pivot_root then leaves this machine's
// file systems out of the guest's reach.
func setupRoot(cfg *bootConfig) error {
	// First of all, so that no mount below propagates to this machine.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making the mounts private: %w", err)
	}
	opts, err := overlayOptions(cfg.Layers, cfg.Upper, cfg.Work)
	if err != nil {
		return err
	}
	root := cfg.Root
	if err := unix.Mount("fakecloud", root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting the overlay on %s (%s): %w", root, opts, err)
	}
	const (
		nodev  = unix.MS_NODEV
		nosuid = unix.MS_NOSUID
		noexec = unix.MS_NOEXEC
	)
	mounts := []struct {
		target, fstype, source string
		flags                  uintptr
		data                   string
		mode                   os.FileMode
	}{
		{"/proc", "proc", "proc", nosuid | nodev | noexec, "", 0o555},
		{"/sys", "sysfs", "sysfs", nosuid | nodev | noexec | unix.MS_RDONLY, "", 0o555},
		{"/dev", "tmpfs", "fakecloud-dev", nosuid | noexec, "mode=755,size=64k,nr_inodes=64", 0o755},
		{"/dev/pts", "devpts", "devpts", nosuid | noexec, "newinstance,ptmxmode=0666,mode=0620,gid=5", 0o755},
		{"/dev/shm", "tmpfs", "shm", nosuid | nodev, "mode=1777,size=64m", 0o1777},
		{"/run", "tmpfs", "fakecloud-run", nosuid | nodev, "mode=755,size=64m", 0o755},
		{"/tmp", "tmpfs", "fakecloud-tmp", nosuid | nodev, "mode=1777,size=512m", 0o1777},
	}
	for _, m := range mounts {
		target := filepath.Join(root, m.target)
		if err := os.MkdirAll(target, m.mode); err != nil { // #nosec G703 -- a fixed mount point in the guest's root (cfg.Root, from the runtime's own 0600 boot config), with the mode a real system gives it
			return fmt.Errorf("mount point %s: %w", m.target, err)
		}
		if err := unix.Mount(m.source, target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.fstype, m.target, err)
		}
		if m.target == "/dev" {
			if err := makeDevices(target); err != nil {
				return err
			}
		}
	}
	// What of /proc acts on the whole machine, read-only, as container
	// runtimes do: sysctls outside the guest's own namespaces, and SysRq.
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"} {
		if err := bindReadOnly(filepath.Join(root, p)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
	}
	if err := enterRoot(root); err != nil {
		return err
	}
	return unix.Sethostname([]byte(cfg.Hostname))
}

// overlayOptions are the overlay's mount options. index=off and
// metacopy=off keep the upper folder self-contained, whole files and
// plain whiteouts, so that it can be copied as an image layer.
func overlayOptions(layers []string, upper, work string) (string, error) {
	if len(layers) == 0 {
		return "", fmt.Errorf("no image layers")
	}
	for _, p := range append(append([]string(nil), layers...), upper, work) {
		if !filepath.IsAbs(p) || strings.ContainsAny(p, ",:\\") {
			return "", fmt.Errorf("layer path %q: must be absolute, without commas, colons or backslashes", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off,metacopy=off", strings.Join(layers, ":"), upper, work)
	if len(opts) >= os.Getpagesize() {
		return "", fmt.Errorf("%d image layers: their paths are too long for one overlay mount", len(layers))
	}
	return opts, nil
}

// makeDevices fills the guest's /dev: the character devices every program
// expects, the terminal multiplexer of its own devpts, and the usual links.
// There is no /dev/console: cloud-init then writes its console messages to
// its stdout, which is the console log.
func makeDevices(dev string) error {
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
	for _, n := range nodes {
		path := filepath.Join(dev, n.name)
		if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil { // #nosec G115 -- the fixed small numbers of the table above
			return fmt.Errorf("/dev/%s: %w", n.name, err)
		}
		if err := os.Chmod(path, 0o666); err != nil { // #nosec G302 G703 -- /dev/null and the like are 0666 on every system; path is in the guest's new /dev. The umask took some
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil { // #nosec G301 G703 -- mount points in the guest's new /dev tmpfs, 0755 as on any system
			return err
		}
	}
	links := [][2]string{{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	return nil
}

func bindReadOnly(path string) error {
	if _, err := os.Stat(path); err != nil { // #nosec G703 -- one of setupRoot's fixed /proc paths in the guest's root
		return err
	}
	if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// enterRoot makes root the root of the mount namespace and detaches
// everything else (pivot_root with the old root stacked on the new one,
// then unmounted).
func enterRoot(root string) error {
	if err := os.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return os.Chdir("/")
}

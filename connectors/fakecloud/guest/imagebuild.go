package guest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// buildImage debootstraps the image into a temporary folder of the cache,
// configures it, stamps it and renames it into place as dir. The caller
// holds the image's lock.
func buildImage(ctx context.Context, cache, dir string, opts ImageOptions) (err error) {
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			opts.Log(format, args...)
		}
	}
	debootstrap, err := hostTool("debootstrap")
	if err != nil {
		return fmt.Errorf("guest: building the base image needs debootstrap (apt-get install debootstrap): %w", err)
	}
	unshare, err := hostTool("unshare")
	if err != nil {
		return fmt.Errorf("guest: building the base image needs unshare (util-linux): %w", err)
	}
	tmp, err := os.MkdirTemp(cache, ".build-"+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("guest: %w", err)
	}
	defer func() {
		if err != nil {
			// Best effort: err says why the build failed, and the next
			// BaseImage removes any .build-* folder left, under the lock.
			_ = removeTree(tmp)
		}
	}()
	// A Debian tree and its stamp, nothing secret: the image folder is
	// world-readable like the files inside it.
	if err := os.Chmod(tmp, 0o755); err != nil { // #nosec G302 -- see above
		return fmt.Errorf("guest: %w", err)
	}
	rootfs := filepath.Join(tmp, "rootfs")
	logPath := filepath.Join(tmp, "debootstrap.log")
	logFile, err := os.Create(logPath) // #nosec G304 -- debootstrap.log in the build's own temporary folder
	if err != nil {
		return fmt.Errorf("guest: %w", err)
	}
	defer logFile.Close()
	start := time.Now()
	logf("building the base image %s with debootstrap from %s (about 1.5 minutes)", dir, opts.Mirror)
	// debootstrap mounts /proc and /sys inside the new root and runs the
	// packages' maintainer scripts: in mount, UTS, IPC and PID namespaces
	// of its own, its mounts vanish and its processes die with it, even
	// if it is killed half-way, and no script can rename this machine.
	args := append([]string{"--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child", "--propagation", "private",
		"--", debootstrap}, debootstrapArgs(rootfs, opts.Mirror)...)
	cmd := exec.CommandContext(ctx, unshare, args...) // #nosec G204 -- unshare and debootstrap found by hostTool, argv without a shell: fixed options, our folder and the mirror URL the caller chose
	cmd.Env = append(toolEnv, "DEBIAN_FRONTEND=noninteractive", "HOME=/root")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = "/"
	// Pdeathsig: a killed test process takes its build with it, rather
	// than leaving debootstrap writing into a folder that the next
	// BaseImage removes. The signal is tied to the thread that forks, so
	// that thread is held until the build ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := runOnHeldThread(cmd); err != nil {
		return fmt.Errorf("guest: debootstrap %s failed: %w; the end of its log:\n%s", strings.Join(debootstrapArgs(rootfs, opts.Mirror), " "), err, fileTail(logPath, 25))
	}
	if err := configureImage(rootfs); err != nil {
		return fmt.Errorf("guest: configuring the base image: %w", err)
	}
	stamp := ImageStamp{Recipe: recipeHash(), Suite: imageSuite, Variant: imageVariant, Packages: imagePackages,
		Mirror: opts.Mirror, CloudInitVersion: packageVersion(rootfs, "cloud-init"), DebootstrapLog: filepath.Join(dir, "debootstrap.log"),
		Built: time.Now().UTC().Truncate(time.Second), BuildTime: time.Since(start).Round(time.Second).String()}
	data, _ := json.MarshalIndent(stamp, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), append(data, '\n'), 0o644); err != nil { // #nosec G306 -- the image's stamp, as readable as the image (see the Chmod above)
		return fmt.Errorf("guest: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("guest: putting the image in place: %w", err)
	}
	logf("built the base image %s in %v (cloud-init %s)", dir, time.Since(start).Round(time.Second), stamp.CloudInitVersion)
	return nil
}

// configureImage adapts the debootstrapped tree: cloud-init's
// configuration, and no trace of the machine it was built on
// (debootstrap copies its hostname and resolv.conf) nor of the download
// (the .deb files and package lists: 60 MB that guests never use).
func configureImage(rootfs string) error {
	files := []struct {
		path, content string
	}{
		{"etc/cloud/cloud.cfg.d/" + cloudConfigName, cloudConfig},
		{"etc/hostname", "localhost\n"},
		{"etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		{"etc/resolv.conf", "# Written at boot by the fake cloud's guest runtime.\n"},
		{"etc/default/locale", "LANG=C.UTF-8\n"},
	}
	for _, f := range files {
		path := filepath.Join(rootfs, f.path)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) { // a symlink would be followed
			return err
		}
		if err := os.WriteFile(path, []byte(f.content), 0o644); err != nil { // #nosec G306 -- the image's /etc files, world-readable as on any Debian system
			return err
		}
	}
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"} {
		matches, _ := filepath.Glob(filepath.Join(rootfs, glob))
		for _, m := range matches {
			if err := os.Remove(m); err != nil {
				return err
			}
		}
	}
	// Left in place, it would keep cloud-init from running in every guest.
	if err := os.Remove(filepath.Join(rootfs, "etc/cloud/cloud-init.disabled")); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// packageVersion reads a package's version from the tree's dpkg status.
func packageVersion(rootfs, pkg string) string {
	f, err := os.Open(filepath.Join(rootfs, "var/lib/dpkg/status")) // #nosec G304 -- dpkg's status file in the tree debootstrap just built
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			in = false
		case strings.HasPrefix(line, "Package: "):
			in = strings.TrimPrefix(line, "Package: ") == pkg
		case in && strings.HasPrefix(line, "Version: "):
			return strings.TrimPrefix(line, "Version: ")
		}
	}
	return ""
}

// runOnHeldThread runs cmd from a goroutine locked to its thread until
// cmd ends, so that a Pdeathsig set for it fires only when this process
// dies (Go may end a thread that a finished goroutine had locked).
func runOnHeldThread(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		errc <- cmd.Run()
	}()
	return <-errc
}

package nshost

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Available returns nil if this machine can host pools, else an error
// saying what is missing and how to get it.
func Available() error {
	return checkAvailable(os.Geteuid(), readCapEff(), tool, fileExecutable)
}

// NetworkAvailable returns nil if this machine can host Networks: what
// Available checks, except sshd, which only Pools run.
func NetworkAvailable() error {
	return checkAvailable(os.Geteuid(), readCapEff(), tool, func(path string) bool {
		return path == SSHDPath || fileExecutable(path)
	})
}

func checkAvailable(euid int, capEff uint64, lookup func(string) (string, error), executable func(string) bool) error {
	var missing []string
	if euid != 0 {
		missing = append(missing, "root (network namespaces, bridges and mounts need it: run as root, e.g. with sudo)")
	} else {
		const capNetAdmin, capSysAdmin = 12, 21
		if capEff&(1<<capNetAdmin) == 0 || capEff&(1<<capSysAdmin) == 0 {
			missing = append(missing, "CAP_NET_ADMIN and CAP_SYS_ADMIN (an unprivileged container: run it with --privileged)")
		}
	}
	var pkgs []string
	for _, t := range []struct{ cmd, pkg string }{{"ip", "iproute2"}, {"unshare", "util-linux"}, {"mount", "mount"}} {
		if _, err := lookup(t.cmd); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.cmd, t.pkg))
			pkgs = append(pkgs, t.pkg)
		}
	}
	if !executable(SSHDPath) {
		missing = append(missing, SSHDPath+" (Debian package openssh-server)")
		pkgs = append(pkgs, "openssh-server")
	}
	if !executable("/bin/sh") {
		missing = append(missing, "/bin/sh")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		missing = append(missing, "network namespaces in the kernel (/proc/self/ns/net)")
	}
	if len(missing) == 0 {
		return nil
	}
	msg := "nshost: this machine cannot run namespace hosts; missing: " + strings.Join(missing, "; ")
	if len(pkgs) > 0 {
		msg += "; run `make deps` (or apt-get install " + strings.Join(pkgs, " ") + ")"
	}
	return fmt.Errorf("%s", msg)
}

func fileExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// readCapEff reads the effective capabilities of this process.
func readCapEff() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n
		}
	}
	return 0
}

package guest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/slipstream/terraform-provider-slipstream/internal/hostfs"
)

// toolEnv is the environment of the tools the runtime runs on this
// machine: root's PATH under `go test` may lack /usr/sbin.
var toolEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}

// hostTool finds a program of this machine, in PATH or the sbin folders.
func hostTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// removeTree removes a folder and everything in it, overlay work folders
// (mode 000) included. A missing folder is fine.
func removeTree(path string) error { return hostfs.RemoveTree(path) }

// fileTail is the last n lines of a file, for error messages.
func fileTail(path string, n int) string {
	data, _ := os.ReadFile(path) // #nosec G304 -- one of our own logs: a guest's console.log, or debootstrap.log
	return tail(data, n)
}

func tail(data []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

package guest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The NoCloud seed folder, where cloud-init's NoCloud datasource looks
// first.
const seedDir = "/var/lib/cloud/seed/nocloud"

// Files of the light mode (Options.UserDataOnly).
const (
	userDataScript = "/var/lib/fakecloud/user-data"
	userDataRanFor = "/var/lib/fakecloud/user-data-ran" // the instance id it ran for
	// instanceIDFile is where cloud-init writes the instance id at every
	// boot, before it runs user-data; the light mode writes it the same
	// way, since a pool machine's agent reads its machine id there
	// (coordination/bootstrap.MachineIDFile).
	instanceIDFile = "/var/lib/cloud/data/instance-id"
)

// writeGuestFiles writes, at every boot and from inside the guest (after
// pivot_root, so that a symlink in the image cannot lead a write out of
// it), what the machine's "hardware" tells it: its hostname, hosts and
// resolver files, and the NoCloud seed.
func writeGuestFiles(cfg *bootConfig) error {
	files := []struct {
		path    string
		content []byte
		mode    os.FileMode
	}{
		{"/etc/hostname", []byte(cfg.Hostname + "\n"), 0o644},
		{"/etc/hosts", []byte(etcHosts(cfg.IP, cfg.Hostname, cfg.Gateway)), 0o644},
		{"/etc/resolv.conf", []byte(resolvConf(cfg.Gateway)), 0o644},
		{seedDir + "/meta-data", metaData(cfg.ID, cfg.Hostname, cfg.SSHKeys), 0o600},
		{seedDir + "/user-data", cfg.UserData, 0o600},
	}
	for _, f := range files {
		if err := replaceFile(f.path, f.content, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// replaceFile writes a new file at path (a symlink there is replaced, not
// followed), making its folder if needed.
func replaceFile(path string, content []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil { // #nosec G301 -- a system folder of the guest (/etc, /var/lib/cloud/seed…): 0755 as on any system
		return err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.WriteFile(path, content, mode); err != nil { // #nosec G703 -- one of the fixed paths of writeGuestFiles and userDataStages, written inside the guest after pivot_root
		return err
	}
	return os.Chmod(path, mode)
}

// metaData is the NoCloud meta-data: JSON, which is YAML, so that no
// hostname or key needs YAML quoting.
func metaData(id, hostname string, keys []string) []byte {
	md := struct {
		InstanceID    string   `json:"instance-id"`
		LocalHostname string   `json:"local-hostname"`
		PublicKeys    []string `json:"public-keys,omitempty"`
	}{id, hostname, keys}
	data, _ := json.MarshalIndent(md, "", "  ")
	return append(data, '\n')
}

// etcHosts names the guest, localhost and the gateway (where a test's
// coordinator listens), as a cloud's image does with cloud-init's
// manage_etc_hosts.
func etcHosts(ip, hostname, gateway string) string {
	return fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s\n%s\tgateway\n::1\tlocalhost ip6-localhost ip6-loopback\n", ip, hostname, gateway)
}

// resolvConf points at the gateway: nothing answers there unless a test
// runs a DNS server, and then a lookup fails at once (port unreachable)
// rather than after timeouts.
func resolvConf(gateway string) string {
	return fmt.Sprintf("# The fake cloud's guest runtime: the gateway is this machine.\nnameserver %s\noptions timeout:1 attempts:1\n", gateway)
}

// guestHostname is the hostname a guest gets from its BootSpec: the
// name as given when it is a valid host name (letters, digits and
// hyphens, labels separated by dots, at most 63 characters in all), else
// made into one (lower-cased, other characters turned into hyphens), and
// the machine id if nothing is left.
func guestHostname(name, id string) string {
	if validHostname(name) {
		return name
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	h := b.String()
	if len(h) > 63 {
		h = h[:63]
	}
	h = strings.Trim(h, "-")
	if !validHostname(h) {
		if id != "" && id != name {
			return guestHostname(id, "")
		}
		return "guest"
	}
	return h
}

func validHostname(h string) bool {
	if h == "" || len(h) > 63 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// userDataStages prepares the light mode: the instance id is written to
// instanceIDFile, and a #! user-data is written to userDataScript and run
// with its interpreter, once per instance id (as cloud-init runs it: a
// restarted guest does not run it again); the SSH keys are authorized for
// root, as cloud-init would. Anything else
// (cloud-config, MIME multi-part) needs cloud-init: it is not run, and
// the note says so on the console.
func userDataStages(cfg *bootConfig) (stages []stage, note string, err error) {
	if err := replaceFile(instanceIDFile, []byte(cfg.ID+"\n"), 0o644); err != nil {
		return nil, "", err
	}
	if len(cfg.SSHKeys) > 0 {
		keys := strings.Join(cfg.SSHKeys, "\n") + "\n"
		if err := os.MkdirAll("/root/.ssh", 0o700); err != nil {
			return nil, "", err
		}
		if err := replaceFile("/root/.ssh/authorized_keys", []byte(keys), 0o600); err != nil {
			return nil, "", err
		}
	}
	if ran, err := os.ReadFile(userDataRanFor); err == nil && string(ran) == cfg.ID {
		return nil, "the user-data ran at this instance's first boot: not again", nil
	}
	if !bytes.HasPrefix(cfg.UserData, []byte("#!")) {
		if len(cfg.UserData) == 0 {
			return nil, "no user-data", nil
		}
		return nil, "the user-data is not a #! script: without cloud-init (UserDataOnly) it is not run", nil
	}
	if err := replaceFile(userDataScript, cfg.UserData, 0o700); err != nil {
		return nil, "", err
	}
	if err := replaceFile(userDataRanFor, []byte(cfg.ID), 0o644); err != nil {
		return nil, "", err
	}
	return []stage{{"user-data", []string{userDataScript}}}, "", nil
}

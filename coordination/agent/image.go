package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// Images. A machine image built by SlipStream (the image factory: a
// builder machine runs an image's build steps, then is snapshotted)
// records what it holds in its manifest, ImageManifestName in the agent's
// state folder (/var/lib/slipstream/image.json). An agent started on a
// machine made from that image skips the build steps the image holds, and
// says so: a step is skipped only when the image ran the very same script
// in the same phase (each step of the manifest stands for one step), so a
// machine started from a stale image (some of its steps differ from the
// node's) runs the steps the image lacks, and names them.
//
// Images are layered, as a chain of images is built: a derived image's
// builder starts from its parent's image and runs the whole chain's steps,
// skipping those the parent holds. So the steps an image holds ran in
// layer order (the parent's post_install before the child's pre_install),
// not in the order a machine built from the base runs them (every
// pre_install, the packages, every post_install): membership, not order,
// decides what is skipped.
//
// A builder machine's node has coordinator.Node.Build set. When the run
// is being finalized (the build steps ran, the run was Ready), its agent
// writes the manifest and seals the machine for the snapshot, then
// completes Finalizing: what SealPaths lists is removed (the agent's
// state, configuration and token, SSH host keys, cloud-init's instance
// state, the machine id) and logs are emptied, so every machine started
// from the image is a new machine, with new keys and a new id, that
// cloud-init sets up again from its own user-data.

// ImageManifestName is the image manifest's file name in the agent's state
// folder.
const ImageManifestName = "image.json"

// ImageManifest is what a built image holds.
type ImageManifest struct {
	// Image is the recipe's image name, ContentHash the hash of all that
	// went into it.
	Image       string `json:"image"`
	ContentHash string `json:"content_hash"`
	// Steps are the build steps baked in, in the order they ran.
	Steps []BakedStep `json:"steps"`
	Built time.Time   `json:"built"`
}

// BakedStep is one build step an image holds: its phase and the SHA-256
// of its script (for packages, of the script that installed them).
type BakedStep struct {
	Phase  string `json:"phase"`
	SHA256 string `json:"sha256"`
}

// step is one script the agent runs for a new instance.
type step struct{ phase, body string }

// buildPhases are the phases that go into an image.
var buildPhases = map[string]bool{"pre_install": true, "packages": true, "post_install": true}

func (s step) baked() BakedStep {
	sum := sha256.Sum256([]byte(s.body))
	return BakedStep{Phase: s.phase, SHA256: hex.EncodeToString(sum[:])}
}

// newInstanceSteps are the scripts a new instance runs, in order: the
// build steps (pre_install, packages, post_install) and then deploy.
func newInstanceSteps(node *coordinator.Node) []step {
	var steps []step
	for _, s := range node.Scripts["pre_install"] {
		steps = append(steps, step{"pre_install", s})
	}
	if len(node.Packages) > 0 {
		steps = append(steps, step{"packages", packagesScript(node.Packages)})
	}
	for _, phase := range []string{"post_install", "deploy"} {
		for _, s := range node.Scripts[phase] {
			steps = append(steps, step{phase, s})
		}
	}
	return steps
}

// manifestPath is the image manifest of this machine.
func (r *Runner) manifestPath() string { return filepath.Join(r.StateDir, ImageManifestName) }

// loadManifest reads the machine's image manifest: nil when the machine
// was not started from an image SlipStream built.
func loadManifest(path string) (*ImageManifest, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- manifestPath: image.json in the agent's state folder
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m ImageManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &m, nil
}

// bakedSteps says, step by step, which of steps the image holds: a build
// step whose phase and script a step of the manifest has (each manifest
// step standing for one).
func bakedSteps(m *ImageManifest, steps []step) []bool {
	out := make([]bool, len(steps))
	if m == nil {
		return out
	}
	left := map[BakedStep]int{}
	for _, b := range m.Steps {
		left[b]++
	}
	for i, s := range steps {
		if !buildPhases[s.phase] {
			continue
		}
		if b := s.baked(); left[b] > 0 {
			left[b]--
			out[i] = true
		}
	}
	return out
}

// skipBaked marks as done the steps this machine's image holds, and logs
// what it skips and, for a stale image, which steps it runs.
func (r *Runner) skipBaked(steps []step) error {
	m, err := loadManifest(r.manifestPath())
	if err != nil {
		// A damaged manifest skips nothing: every step runs.
		r.logf("the image manifest cannot be read (%v): running every build step", err)
		return nil
	}
	if m == nil {
		return nil
	}
	baked := bakedSteps(m, steps)
	seen := map[string]int{}
	skipped := 0
	var missing []string
	for i, s := range steps {
		seen[s.phase]++
		id := s.phase + "/" + fmt.Sprint(seen[s.phase])
		switch {
		case baked[i]:
			r.progress.Phases[id] = true
			skipped++
		case buildPhases[s.phase]:
			missing = append(missing, strings.Replace(id, "/", " ", 1))
		}
	}
	short := m.ContentHash
	if len(short) > 12 {
		short = short[:12]
	}
	if len(missing) == 0 {
		r.logf("this machine was started from image %s (content %s), built %s: its %d build steps are baked in, skipped", m.Image, short, m.Built.Format(time.RFC3339), skipped)
	} else {
		r.logf("this machine was started from image %s (content %s), which lacks some of this node's build steps: %d baked in, skipped; running %s",
			m.Image, short, skipped, strings.Join(missing, ", "))
	}
	return r.save()
}

// cloudInitWait bounds how long a seal waits for cloud-init to finish the
// boot that ran the bootstrap.
const cloudInitWait = 2 * time.Minute

// waitCloudInit waits until cloud-init has finished the boot (its last
// module writes boot-finished), when cloud-init runs the machine: the
// bootstrap it ran returns at once, and its last modules go on writing
// their semaphores into the instance folder the seal removes, which fails
// with "directory not empty" when a file lands during the removal. A
// cloud-init that never finishes is logged, and the seal goes on.
func (r *Runner) waitCloudInit() {
	instance := filepath.Join(r.SealRoot, "/var/lib/cloud/instance")
	if _, err := os.Stat(instance); err != nil {
		return // not booted by cloud-init
	}
	deadline := time.Now().Add(cloudInitWait)
	for {
		if _, err := os.Stat(filepath.Join(instance, "boot-finished")); err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.logf("cloud-init has not finished the boot after %v (no %s/boot-finished): sealing anyway", cloudInitWait, instance)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeAllSettled is os.RemoveAll, tried again when a process still
// writing into the folder made it "not empty" meanwhile.
func removeAllSettled(path string) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = os.RemoveAll(path); err == nil || !errors.Is(err, syscall.ENOTEMPTY) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// SealPaths are the files and folders, below the machine's root, that a
// builder machine removes before its snapshot: the agent's configuration
// and token and its claim on the host (the state folder is emptied
// separately, keeping the manifest), the SSH host keys (globs), the
// cloud-init instance state and the D-Bus machine id. /etc/machine-id is
// emptied rather than removed (systemd makes a new one at the next boot)
// and the regular files under /var/log are truncated.
var SealPaths = []string{
	"/etc/slipstream/agent.json", "/etc/slipstream/owner", "/etc/slipstream/ca.pem",
	// The agent's start at boot (coordination/bootstrap/start.sh.tmpl): a
	// machine of the image is bootstrapped afresh.
	"/etc/slipstream/start-agent", "/var/lib/cloud/scripts/per-boot/slipstream-agent",
	"/etc/ssh/ssh_host_*",
	"/var/lib/cloud/instance", "/var/lib/cloud/instances", "/var/lib/cloud/data", "/var/lib/cloud/sem",
	"/var/lib/dbus/machine-id",
}

// seal writes the image manifest (every build step of node) and cleans the
// machine for its snapshot. The system's files are cleaned only when
// r.SealRoot is set ("/" in production): a test agent, whose state folder
// is a temporary one, cleans its state folder alone.
func (r *Runner) seal(node *coordinator.Node) error {
	// The image holds the node's build steps (run now, or baked into the
	// parent image the builder started from) and whatever else the parent
	// image held.
	steps := newInstanceSteps(node)
	var baked []BakedStep
	for _, s := range steps {
		if buildPhases[s.phase] {
			baked = append(baked, s.baked())
		}
	}
	if parent, err := loadManifest(r.manifestPath()); err == nil && parent != nil {
		left := map[BakedStep]int{}
		for _, b := range baked {
			left[b]++
		}
		for _, b := range parent.Steps {
			if left[b] > 0 {
				left[b]--
				continue
			}
			baked = append(baked, b)
		}
	}
	m := ImageManifest{Image: node.Build.Image, ContentHash: node.Build.ContentHash, Steps: baked, Built: time.Now().UTC()}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The state folder is emptied but for the manifest: no progress,
	// token, scripts or reports go into the image.
	entries, err := os.ReadDir(r.StateDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != ImageManifestName {
			if err := os.RemoveAll(filepath.Join(r.StateDir, e.Name())); err != nil {
				return err
			}
		}
	}
	// 0600 like the rest of the state folder (itself 0700): only the agent reads it.
	if err := os.WriteFile(r.manifestPath(), append(b, '\n'), 0o600); err != nil {
		return err
	}
	if r.SealRoot == "" {
		r.logf("sealed the agent's state for image %s (%d build steps); the system's files are left as they are (no SealRoot)", m.Image, len(baked))
		return nil
	}
	r.waitCloudInit()
	var removed []string
	for _, p := range SealPaths {
		matches, _ := filepath.Glob(filepath.Join(r.SealRoot, p))
		for _, f := range matches {
			if err := removeAllSettled(f); err != nil {
				return err
			}
			removed = append(removed, strings.TrimPrefix(f, strings.TrimSuffix(r.SealRoot, "/")))
		}
	}
	if err := truncateIfExists(filepath.Join(r.SealRoot, "/etc/machine-id")); err != nil {
		return err
	}
	// The logs may hold what the build printed: one that cannot be
	// emptied fails the seal rather than go into the image. (A missing
	// /var/log, or a log removed meanwhile, is fine.)
	logs := filepath.Join(r.SealRoot, "/var/log")
	err = filepath.WalkDir(logs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if err := os.Truncate(p, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("emptying the logs: %w", err)
	}
	r.logf("sealed the machine for image %s (%d build steps baked in, manifest %s): removed %s; emptied /etc/machine-id and the logs",
		m.Image, len(baked), r.manifestPath(), strings.Join(removed, ", "))
	return nil
}

func truncateIfExists(path string) error {
	err := os.Truncate(path, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// progress is what the agent has finished, kept in its state folder so a
// restarted agent (after a crash, a kill or a reboot) resumes where it
// stopped instead of running a deploy script twice. It is written
// atomically after every step.
type progress struct {
	Deployment string `json:"deployment"`
	Instance   string `json:"instance"`
	// MachineID is, on a pool machine, its cloud id: a machine started
	// from an image of another (whose state folder it holds) starts over.
	MachineID string `json:"machine_id,omitempty"`
	// Phases done in the current workflow: "pre_install", "packages", ...
	Phases map[string]bool `json:"phases"`
	// Deployed is set once the whole Executing workflow has run: from then
	// on, a new pass through Executing means a scale action, whose hooks
	// this instance runs (SlipStream's on_vm_add/on_vm_remove).
	Deployed bool `json:"deployed"`
	// ScaleGeneration is the last scale action whose hooks ran (or that
	// created this instance): ss:scaling.generation.
	ScaleGeneration string `json:"scale_generation"`
	// Reported is the scale generation whose reports were sent.
	Reported *string `json:"reported,omitempty"`
	// AbortReported is the abort message whose reports were sent.
	AbortReported string `json:"abort_reported,omitempty"`
	// ScriptPID is the process group of the script running, so a restarted
	// agent can stop what its predecessor left behind.
	ScriptPID int `json:"script_pid,omitempty"`
}

const progressFile = "progress.json"

// loadProgress reads the progress of instance of deployment on this
// machine (machine: its cloud id, for a pool machine; "" otherwise).
func loadProgress(dir, deployment, instance, machine string) (*progress, error) {
	p := &progress{Deployment: deployment, Instance: instance, MachineID: machine, Phases: map[string]bool{}}
	b, err := os.ReadFile(filepath.Join(dir, progressFile)) // #nosec G304 -- progress.json in the agent's state folder (its -state-dir)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	var saved progress
	if err := json.Unmarshal(b, &saved); err != nil {
		// A torn file cannot happen (writes are renamed into place), so
		// this is damage; starting over could rerun deploy scripts.
		return nil, fmt.Errorf("%s is damaged (%v); remove it to start this instance over", filepath.Join(dir, progressFile), err)
	}
	if saved.Deployment != deployment || saved.Instance != instance || saved.MachineID != machine {
		return p, nil // another deployment's, instance's or machine's leftovers: a fresh start
	}
	if saved.Phases == nil {
		saved.Phases = map[string]bool{}
	}
	return &saved, nil
}

// fresh reports whether nothing was done yet for this instance on this
// machine: no script ran to its end, no report was sent.
func (p *progress) fresh() bool {
	return !p.Deployed && len(p.Phases) == 0 && p.Reported == nil && p.AbortReported == ""
}

func (p *progress) save(dir string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, progressFile+".*")
	if err != nil {
		return err
	}
	// On failure the half-written temporary file is thrown away, best
	// effort: the error returned is the write's, and a leftover
	// progress.json.* is never read.
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, progressFile))
}

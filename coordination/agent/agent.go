// Package agent is the node executor that runs inside every machine
// (slipstream-agent run). It follows the run's state machine through the
// coordinator, one long-poll at a time:
//
//	Initializing    complete at once
//	Provisioning    publish hostname, instanceid, addresses, scale.state=created
//	Executing       pre_install, packages, post_install, deploy (a new instance);
//	                on_vm_add or on_vm_remove (an existing one, after a scale action)
//	SendingReports  report, with SLIPSTREAM_REPORT_DIR; upload the folder; scale.state=operational
//	Ready           wait: a scale action sends the run back to Provisioning
//	Finalizing      complete; the agent then exits
//
// completing each state (the coordinator's barrier) and then waiting for
// the run to leave it. A script that fails aborts the run with its last
// stderr line; on abort, a running script gets SIGTERM then SIGKILL, and
// reports are still sent. The agent keeps its progress on disk, so after a
// crash or a reboot (systemd restarts it) it resumes without rerunning
// what finished; it rides out network failures and coordinator restarts
// by retrying with backoff. At its first start it trades the machine's
// one-time bootstrap token for a token of its own (token.go); scripts get
// neither in their environment. A machine of a node's pool (started with
// its batch by one cloud call, all with the same user-data) is configured
// with the node and a pool token instead of an instance: it trades the
// pool token and its cloud machine id for its own token, and learns its
// instance from the answer (pool.go).
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// Config is how the agent reaches its coordinator and who it is: one
// instance (Instance, with its bootstrap token), or a machine of a node's
// pool (Node and MachineIDFile, Instance empty, with the pool token).
type Config struct {
	ServiceURL string `json:"service_url"`
	Deployment string `json:"deployment"`
	Instance   string `json:"instance"`
	Token      string `json:"token"`
	// Node is a pool machine's node ("worker"); the coordinator tells it
	// which instance it is.
	Node string `json:"node,omitempty"`
	// MachineIDFile is, for a pool machine, the file that holds its cloud
	// machine id (written by cloud-init at boot:
	// bootstrap.MachineIDFile).
	MachineIDFile string `json:"machine_id_file,omitempty"`

	CAFingerprint string `json:"ca_fingerprint,omitempty"`
	Cloud         string `json:"cloud,omitempty"`
	// InstanceID is the cloud's id of the machine, when the bootstrap
	// knows it; otherwise the machine-id is published.
	InstanceID string `json:"instance_id,omitempty"`
	// ConfigPath is where the configuration was read from; scripts get it
	// as SLIPSTREAM_AGENT_CONFIG. Token is the machine's bootstrap token:
	// the agent's own is in its state folder (TokenFile).
	ConfigPath string `json:"-"`
}

// nodeRE is the coordinator's node name.
var nodeRE = regexp.MustCompile(`^\w+$`)

// Pool reports whether c is a pool machine's: a node and no instance.
func (c *Config) Pool() bool { return c.Instance == "" && c.Node != "" }

// Identity checks who c says the agent is: the instance, or, for a pool
// machine (Pool), the zero Instance (the coordinator names it).
func (c *Config) Identity() (coordinator.Instance, error) {
	switch {
	case c.Instance != "" && c.Node != "":
		return coordinator.Instance{}, fmt.Errorf("the configuration names both an instance (%q) and a pool's node (%q): a machine is one instance's, or one of a node's pool", c.Instance, c.Node)
	case c.Instance != "":
		k, err := coordinator.Qualify(c.Instance+":x", nil)
		inst, ok := k.Instance()
		if err != nil || !ok {
			return coordinator.Instance{}, fmt.Errorf("the configuration names no instance (want node.N, got %q)", c.Instance)
		}
		return inst, nil
	case c.Node != "":
		if !nodeRE.MatchString(c.Node) {
			return coordinator.Instance{}, fmt.Errorf("the configuration's node %q is not a node name (letters, digits and _)", c.Node)
		}
		if c.MachineIDFile == "" {
			return coordinator.Instance{}, fmt.Errorf("the configuration is a machine of node %s's pool but names no machine_id_file, which holds the machine's cloud id", c.Node)
		}
		return coordinator.Instance{}, nil
	}
	return coordinator.Instance{}, errors.New(`the configuration names no instance (want node.N, got "") and no pool node`)
}

// Runner runs one instance's part of a deployment.
type Runner struct {
	Client *client.Client
	Config Config
	// Instance is the instance the agent is: from the configuration, or,
	// for a pool machine, the zero Instance until Run has learnt it from
	// the coordinator (or from the token file, after a restart).
	Instance coordinator.Instance
	// StateDir keeps progress, scripts, logs and reports (0700).
	StateDir string
	// BinDir holds the ss-* commands; it is put first on the scripts' PATH.
	BinDir string
	// Env is the environment scripts start from (os.Environ()).
	Env []string
	// Log receives the agent's messages and the scripts' output.
	Log io.Writer
	// KillGrace is the pause between SIGTERM and SIGKILL when a script is
	// stopped (default 5 s, as SlipStream).
	KillGrace time.Duration
	// MachineIDWait bounds how long a pool machine's agent waits for its
	// machine id file (default 2 minutes), and RegistrationWait how long
	// it asks for its exchange while the provider has not registered the
	// machine yet (default 15 minutes): see pool.go.
	MachineIDWait    time.Duration
	RegistrationWait time.Duration
	// SealRoot is the root of the machine's file system ("/" in
	// production): a builder machine's agent cleans the files below it
	// for the snapshot (image.go). Empty, only the state folder is.
	SealRoot string

	mu       sync.Mutex
	progress *progress
}

func (r *Runner) log() io.Writer {
	if r.Log != nil {
		return r.Log
	}
	return io.Discard
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log(), "slipstream-agent: "+format+"\n", args...)
}

func (r *Runner) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress.save(r.StateDir)
}

func (r *Runner) setPID(pid int) {
	r.mu.Lock()
	r.progress.ScriptPID = pid
	r.mu.Unlock()
	if err := r.save(); err != nil {
		r.logf("cannot record the script's process: %v", err)
	}
}

// watchRetry is how long a script's watch on the run waits before asking
// again after the coordinator failed to answer (beyond the client's own
// retries).
const watchRetry = 5 * time.Second

// ErrGone means the deployment or this instance no longer exists at the
// coordinator (deleted, or scaled away): the agent has nothing left to do.
var ErrGone = errors.New("the deployment or this instance no longer exists")

// Run follows the run until it is Done (nil), the deployment is gone
// (ErrGone) or ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	if err := os.MkdirAll(r.StateDir, 0o700); err != nil {
		return err
	}
	machine := ""
	if r.Config.Pool() {
		// Who this machine is comes first: the progress to resume is
		// that instance's, on this machine.
		var err error
		if machine, err = r.poolIdentity(ctx); err != nil {
			return err
		}
	}
	p, err := loadProgress(r.StateDir, r.Config.Deployment, r.Instance.String(), machine)
	if err != nil {
		return err
	}
	r.progress = p
	if p.fresh() {
		// A new instance on this machine: its report folder starts
		// empty, so another deployment's files are not sent as its own.
		if err := os.RemoveAll(r.reportDir()); err != nil {
			return err
		}
	}
	// SLIPSTREAM_REPORT_DIR exists for every script, as SlipStream's
	// /var/log/slipstream/client did.
	if err := os.MkdirAll(r.reportDir(), 0o700); err != nil {
		return err
	}
	stopLeftover(r.StateDir, p.ScriptPID)
	p.ScriptPID = 0
	if err := r.save(); err != nil {
		return err
	}
	r.logf("%s of deployment %s, coordinator %s", r.Instance, r.Config.Deployment, r.Config.ServiceURL)
	if !r.Config.Pool() {
		if err := r.ownToken(ctx); err != nil {
			return err
		}
	}
	for {
		run, err := r.Client.Run(ctx)
		if err != nil {
			return r.gone(err)
		}
		node := run.Deployment.Nodes[r.Instance.Node]
		if node == nil || r.Instance.Index > node.Multiplicity {
			return ErrGone
		}
		state := run.State
		if state == coordinator.Done {
			r.logf("the run is Done")
			return nil
		}
		// An abort is reported once, even when the run is already being
		// finalized (the keep-running policy finalizes an aborted run at
		// once): the reports are what tell why it failed.
		if run.Abort != "" && (state != coordinator.Finalizing || r.progress.AbortReported != run.Abort) {
			if err := r.aborted(ctx, run.Abort, state); err != nil {
				return r.gone(err)
			}
			continue
		}
		switch state {
		case coordinator.Ready:
			// Wait for a scale action (Provisioning), the end (Finalizing)
			// or an abort; the loop reads which.
			if _, err := r.Client.WaitRun(ctx, coordinator.Run{State: state}, 0); err != nil {
				return r.gone(err)
			}
			continue
		}
		if err := r.work(ctx, state, node); err != nil {
			var se *ScriptError
			switch {
			case errors.As(err, &se):
				r.logf("%s", se.Error())
				if err := r.Client.Abort(ctx, se.Error(), false); err != nil {
					return r.gone(err)
				}
				continue
			case errors.Is(err, errInterrupted), isAbort(err):
				continue // the loop reads the new state or abort
			case ctx.Err() != nil:
				return ctx.Err()
			default:
				return r.gone(err)
			}
		}
		if state == coordinator.Finalizing && node.Build != nil && run.Abort == "" {
			// A builder machine: the build steps ran and the run was
			// Ready; record them and clean the machine for its snapshot.
			if err := r.seal(node); err != nil {
				r.logf("sealing the machine for image %s: %v", node.Build.Image, err)
				if err := r.Client.Abort(ctx, fmt.Sprintf("%s: sealing the machine for image %s: %v", r.Instance, node.Build.Image, err), false); err != nil {
					return r.gone(err)
				}
				continue
			}
		}
		if _, err := r.Client.Complete(ctx, state); err != nil && !isState(err) && !isAbort(err) {
			return r.gone(err)
		}
		if err := r.waitOthers(ctx, coordinator.Run{State: state, Abort: run.Abort}); err != nil {
			return r.gone(err)
		}
	}
}

// waitOthers waits, after completing seen.State, for the others to
// complete it too (the run moves on). An abort ends the wait, except when
// finalizing: the run is ending anyway.
func (r *Runner) waitOthers(ctx context.Context, seen coordinator.Run) error {
	for {
		now, err := r.Client.WaitRun(ctx, seen, 0)
		if err != nil || now.State != seen.State || seen.State != coordinator.Finalizing {
			return err
		}
		seen = now // only the abort changed while finalizing
	}
}

// work does this instance's part of state.
func (r *Runner) work(ctx context.Context, state string, node *coordinator.Node) error {
	switch state {
	case coordinator.Provisioning:
		for k, v := range r.builtins() {
			if err := r.Client.Set(ctx, k, v, false); err != nil {
				return err
			}
		}
	case coordinator.Executing:
		return r.executing(ctx, node)
	case coordinator.SendingReports:
		gen := r.generation(ctx)
		if r.progress.Reported == nil || *r.progress.Reported != gen {
			if err := r.report(ctx, node, false); err != nil {
				return err
			}
			r.progress.Reported = &gen
			if err := r.save(); err != nil {
				return err
			}
		}
		return r.Client.Set(ctx, "scale.state", "operational", false)
	}
	return nil
}

// generation is the run's scale generation ("" before any scale action).
func (r *Runner) generation(ctx context.Context) string {
	g, err := r.Client.Get(ctx, "ss:scaling.generation", 0, true, nil)
	if err != nil {
		return ""
	}
	return g
}

// executing runs the build steps and deploy scripts of a new instance, or
// the scale hooks of an existing one. Each phase is recorded when it
// succeeds, so a restarted agent goes on with the next one.
func (r *Runner) executing(ctx context.Context, node *coordinator.Node) error {
	gen := r.generation(ctx)
	if !r.progress.Deployed {
		steps := newInstanceSteps(node)
		// A machine started from an image SlipStream built skips the
		// build steps the image holds.
		if err := r.skipBaked(steps); err != nil {
			return err
		}
		counts := map[string]int{}
		for _, s := range steps {
			counts[s.phase]++
		}
		seen := map[string]int{}
		for _, s := range steps {
			seen[s.phase]++
			id := s.phase + "/" + strconv.Itoa(seen[s.phase])
			if r.progress.Phases[id] {
				r.logf("%s (%d of %d) completed before this agent started (a restart or a reboot): not run again", s.phase, seen[s.phase], counts[s.phase])
				continue
			}
			if err := r.script(ctx, coordinator.Executing, s.phase, seen[s.phase], counts[s.phase], s.body, nil); err != nil {
				return err
			}
			r.progress.Phases[id] = true
			if err := r.save(); err != nil {
				return err
			}
		}
		r.progress.Deployed, r.progress.ScaleGeneration = true, gen
		return r.save()
	}
	if gen == r.progress.ScaleGeneration {
		return nil // nothing new since this instance deployed or ran the hooks
	}
	action, _ := r.Client.Get(ctx, "ss:scaling.action", 0, false, nil)
	scaled, _ := r.Client.Get(ctx, "ss:scaling.node", 0, false, nil)
	vms, _ := r.Client.Get(ctx, "ss:scaling.vms", 0, false, nil)
	hook := "on_" + action
	env := []string{"SLIPSTREAM_SCALING_NODE=" + scaled, "SLIPSTREAM_SCALING_VMS=" + vms, "SLIPSTREAM_SCALING_ACTION=" + action}
	scripts := node.Scripts[hook]
	for i, body := range scripts {
		id := hook + "/" + gen + "/" + strconv.Itoa(i+1)
		if r.progress.Phases[id] {
			r.logf("%s (%d of %d) completed before this agent started (a restart or a reboot): not run again", hook, i+1, len(scripts))
			continue
		}
		if err := r.script(ctx, coordinator.Executing, hook, i+1, len(scripts), body, env); err != nil {
			return err
		}
		r.progress.Phases[id] = true
		if err := r.save(); err != nil {
			return err
		}
	}
	r.progress.ScaleGeneration = gen
	return r.save()
}

// script runs one script, stopping it if the run is aborted or leaves the
// state meanwhile (finalized).
func (r *Runner) script(ctx context.Context, state, phase string, index, count int, body string, extra []string) error {
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	interrupt := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(interrupt) }) }
	// One long-poll on the run: it returns when the run is aborted (at
	// once if it already is) or leaves state (finalized, or rewound). A
	// watch cut by an outage is asked again, so an abort raised meanwhile
	// still stops the script.
	go func() {
		for watchCtx.Err() == nil {
			_, err := r.Client.WaitRun(watchCtx, coordinator.Run{State: state}, 0)
			if err == nil || errors.Is(r.gone(err), ErrGone) {
				stop() // aborted, finalized, or the deployment is gone
				return
			}
			if watchCtx.Err() == nil {
				r.logf("%s: following the run while %s runs: %v (asking again)", r.Instance, phase, err)
				select {
				case <-watchCtx.Done():
				case <-time.After(watchRetry):
				}
			}
		}
	}()
	env := append(r.environment(), extra...)
	env = append(env, "SLIPSTREAM_PHASE="+phase)
	err := r.runScript(ctx, interrupt, phase, index, count, body, env, filepath.Join(r.logDir(), phase+".log"))
	if errors.Is(err, errInterrupted) {
		r.logf("%s: %s stopped: the run was aborted or finalized, or the deployment is gone", r.Instance, phase)
	}
	return err
}

func (r *Runner) logDir() string {
	dir := filepath.Join(r.StateDir, "logs")
	_ = os.MkdirAll(dir, 0o700) // a failure shows when a log is opened in it
	return dir
}

// reportDir is SLIPSTREAM_REPORT_DIR: every file a script writes there,
// in any phase, is sent with the instance's reports, as SlipStream sent
// /var/log/slipstream/client. It is emptied only when a new instance
// starts on the machine, so a report sends what the scripts before it
// wrote too.
func (r *Runner) reportDir() string { return filepath.Join(r.StateDir, "reports") }

// environment is what every script gets: SlipStream's variables, so its
// scripts run unchanged, and enough for ss-* to reach the coordinator.
// Scripts run as the agent's user (root), who can read the token file.
func (r *Runner) environment() []string {
	env := make([]string, 0, len(r.Env)+12)
	for _, kv := range r.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "PATH" || strings.HasPrefix(k, "SLIPSTREAM_") {
			continue
		}
		env = append(env, kv)
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range r.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok && v != "" {
			path = v
		}
	}
	if r.BinDir != "" {
		path = r.BinDir + string(os.PathListSeparator) + path
	}
	if !hasVariable(env, "HOME") {
		// SlipStream's executor set HOME for its scripts when its own
		// environment had none, as a service's may not.
		if u, err := user.Current(); err == nil && u.HomeDir != "" {
			env = append(env, "HOME="+u.HomeDir)
		}
	}
	// The SLIPSTREAM_* variables of SlipStreamVariables that are Provided,
	// but the scale hooks' (see executing), and the agent's own.
	env = append(env,
		"PATH="+path,
		"SLIPSTREAM_DIID="+r.Config.Deployment,
		"SLIPSTREAM_SERVICEURL="+r.Config.ServiceURL,
		"SLIPSTREAM_NODE_INSTANCE_NAME="+r.Instance.String(),
		"SLIPSTREAM_NODE_NAME="+r.Instance.Node,
		"SLIPSTREAM_NODE_INDEX="+strconv.Itoa(r.Instance.Index),
		"SLIPSTREAM_CLOUD="+r.Config.Cloud,
		"SLIPSTREAM_CONNECTOR_INSTANCE="+r.Config.Cloud,
		// Not the token itself: a script that logs or reports its
		// environment would hand it out. The ss-* commands read it from
		// the token file (root's, 0600), as the script's user can.
		"SLIPSTREAM_TOKEN_FILE="+TokenFile(r.StateDir),
		"SLIPSTREAM_REPORT_DIR="+r.reportDir(),
	)
	if r.Config.CAFingerprint != "" {
		env = append(env, "SLIPSTREAM_CA_FINGERPRINT="+r.Config.CAFingerprint)
	}
	if r.Config.ConfigPath != "" {
		env = append(env, "SLIPSTREAM_AGENT_CONFIG="+r.Config.ConfigPath)
	}
	return env
}

// report runs the report scripts, then uploads the report folder (what
// every script wrote there) with the scripts' logs. After an abort the
// scripts run too (as in SlipStream: reports are what tells why),
// ignoring the abort.
func (r *Runner) report(ctx context.Context, node *coordinator.Node, afterAbort bool) error {
	dir := r.reportDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	scripts := node.Scripts["report"]
	for i, body := range scripts {
		var err error
		if afterAbort {
			// No watchers: the run is already aborted.
			env := append(r.environment(), "SLIPSTREAM_PHASE=report")
			err = r.runScript(ctx, nil, "report", i+1, len(scripts), body, env, filepath.Join(r.logDir(), "report.log"))
		} else {
			err = r.script(ctx, coordinator.SendingReports, "report", i+1, len(scripts), body, nil)
		}
		var se *ScriptError
		if errors.As(err, &se) && afterAbort {
			r.logf("%s (reports are still sent)", se.Error())
			continue
		}
		if err != nil {
			return err
		}
	}
	tarball, err := packReports(dir, r.logDir(), MaxReport)
	if err != nil {
		return fmt.Errorf("packing the reports: %w", err)
	}
	if err := r.Client.UploadReport(ctx, r.Instance.String(), tarball); err != nil {
		// A report that cannot be stored must not fail the run.
		r.logf("%s: cannot upload the reports (%d bytes): %v", r.Instance, len(tarball), err)
	}
	return nil
}

// aborted handles an aborted run, seen in state: send the reports once,
// then wait for the abort to be cancelled (the loop then retries what
// failed) or for the run to be finalized.
func (r *Runner) aborted(ctx context.Context, message, state string) error {
	r.logf("the run is aborted: %s", message)
	if r.progress.AbortReported != message {
		run, err := r.Client.Run(ctx)
		if err != nil {
			return err
		}
		if node := run.Deployment.Nodes[r.Instance.Node]; node != nil {
			if err := r.report(ctx, node, true); err != nil && ctx.Err() == nil {
				r.logf("reports after the abort: %v", err)
			}
		}
		r.progress.AbortReported = message
		if err := r.save(); err != nil {
			return err
		}
	}
	if state == coordinator.Finalizing {
		return nil // the loop completes Finalizing: the run waits for it
	}
	// Wake on either: the abort changing (cancelled) or the state changing
	// (finalized). state is the one seen with the abort: if the run was
	// finalized while the reports were sent, the wait returns at once.
	_, err := r.Client.WaitRun(ctx, coordinator.Run{State: state, Abort: message}, 0)
	return err
}

// hasVariable reports whether env sets name.
func hasVariable(env []string, name string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}

// gone turns "this deployment or instance does not exist any more" into
// ErrGone, so the agent can stop quietly instead of retrying forever.
func (r *Runner) gone(err error) error {
	var e *client.Error
	if errors.As(err, &e) && (e.Code == "not_found" || e.Code == "unauthorized") {
		return fmt.Errorf("%w: %s", ErrGone, e.Message)
	}
	return err
}

func isAbort(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == "aborted"
}

func isState(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == "state"
}

package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ScriptError is a script that failed: the run is aborted with Message.
type ScriptError struct {
	Phase    string
	Index    int // 1-based among the phase's scripts
	Count    int
	ExitCode int
	LastLine string // the last line the script wrote to stderr
}

func (e *ScriptError) Error() string {
	which := e.Phase
	if e.Count > 1 {
		which = fmt.Sprintf("%s script %d of %d", e.Phase, e.Index, e.Count)
	}
	if e.LastLine == "" {
		return fmt.Sprintf("%s exited with status %d", which, e.ExitCode)
	}
	return fmt.Sprintf("%s exited with status %d: %s", which, e.ExitCode, e.LastLine)
}

// errInterrupted means a script was stopped because the run was aborted
// or finalized while it ran.
var errInterrupted = errors.New("script interrupted")

// runScript runs one script body with env, its output going to the
// agent's log and to logFile. It returns when the script ends, or stops it
// (SIGTERM to its process group, SIGKILL after grace) when interrupt is
// closed or ctx ends. The process group is recorded through setPID so a
// restarted agent can stop a script its predecessor left running.
func (r *Runner) runScript(ctx context.Context, interrupt <-chan struct{}, phase string, index, count int, body string, env []string, logFile string) error {
	dir := filepath.Join(r.StateDir, "scripts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.sh", phase, index))
	if err := os.WriteFile(path, []byte(body), 0o700); err != nil { // #nosec G306 -- a script to execute: owner-only, with the owner's x bit
		return err
	}
	// Running the recipe's scripts is what the agent is for: the body is
	// the deployment's own code, written by its author, and path is ours.
	var cmd *exec.Cmd
	if strings.HasPrefix(body, "#!") {
		cmd = exec.Command(path) // #nosec G204 -- the deployment's script, see above
	} else {
		cmd = exec.Command("/bin/sh", path) // #nosec G204 -- SlipStream ran scripts without a #! line with sh
	}
	work := filepath.Join(r.StateDir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	cmd.Dir = work
	cmd.Env = env
	cmd.Stdin = nil
	// Its own process group, so the whole tree is stopped on abort; and a
	// parent-death signal, so a killed agent does not leave it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}

	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) // #nosec G304 -- the phase's log in the agent's logs folder (logDir)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "==> %s %s (%d of %d)\n", time.Now().UTC().Format(time.RFC3339), phase, index, count)
	last := &lastLine{}
	var mu sync.Mutex // stdout and stderr copy concurrently into the same files
	out := &lockedWriter{mu: &mu, w: io.MultiWriter(log, r.log())}
	cmd.Stdout = out
	cmd.Stderr = io.MultiWriter(out, last)

	r.logf("%s: running %s (%d of %d)", r.Instance, phase, index, count)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", phase, err)
	}
	r.setPID(cmd.Process.Pid)
	defer r.setPID(0)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var stopped bool
	select {
	case err = <-done:
	case <-interrupt:
		stopped = true
	case <-ctx.Done():
		stopped = true
	}
	if stopped {
		r.logf("%s: stopping %s (SIGTERM, then SIGKILL after %s)", r.Instance, phase, r.grace())
		// Kill errors mean the group has ended already; done says when.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(r.grace()):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errInterrupted
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code := exit.ExitCode()
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			return &ScriptError{Phase: phase, Index: index, Count: count, ExitCode: code, LastLine: last.String()}
		}
		return fmt.Errorf("%s: %w", phase, err)
	}
	return nil
}

func (r *Runner) grace() time.Duration {
	if r.KillGrace > 0 {
		return r.KillGrace
	}
	return 5 * time.Second // SlipStream's
}

// stopLeftover stops the process group of a script a previous agent
// process started and did not see end (the agent was killed). The group
// is only signalled if its leader still runs one of our scripts, so a
// recycled pid is left alone.
func stopLeftover(stateDir string, pid int) {
	if pid <= 0 {
		return
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(stateDir, "scripts"))) {
		return
	}
	// Kill errors mean the group has ended already, which is the goal.
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for i := 0; i < 50; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// lastLine remembers the last non-empty line written to it (bounded), the
// message a failed script aborts the run with.
type lastLine struct {
	mu       sync.Mutex
	line     []byte
	complete string
}

const maxLine = 1024

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			if s := strings.TrimSpace(string(l.line)); s != "" {
				l.complete = s
			}
			l.line = l.line[:0]
			continue
		}
		if len(l.line) < maxLine {
			l.line = append(l.line, b)
		}
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := strings.TrimSpace(string(l.line)); s != "" {
		return s // an unterminated last line
	}
	return l.complete
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

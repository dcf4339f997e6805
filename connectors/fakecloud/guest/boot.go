package guest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// BootResult is how a guest's boot went, from PID 1's status file.
type BootResult struct {
	Stages []StageResult
	// Took is from the start of the boot (Boot or Start) until the last
	// stage ended, as seen by WaitBooted.
	Took time.Duration
}

// StageResult is one boot stage (a cloud-init stage, or the user-data in
// the light mode) and how it ended: its exit status, or -1 if it could not
// be started.
type StageResult struct {
	Name   string
	Status int
}

// Failed lists the stages that did not exit 0.
func (r BootResult) Failed() []StageResult {
	var out []StageResult
	for _, s := range r.Stages {
		if s.Status != 0 {
			out = append(out, s)
		}
	}
	return out
}

// WaitBooted waits until the current boot's stages have all ended (for
// cloud-init: `cloud-init modules --mode final` has exited, so the
// user-data has run), and says how they ended. It fails if the guest
// stops or dies first, or ctx ends. A stage that failed is not an error
// here: see BootResult.Failed (cloud-init fails its final stage when the
// user-data script fails, as on a real machine).
func (i *Instance) WaitBooted(ctx context.Context) (BootResult, error) {
	i.mu.Lock()
	b := i.boot
	i.mu.Unlock()
	if b == nil {
		return BootResult{}, fmt.Errorf("guest %s has not booted", i.ep.Name)
	}
	exited, start := b.exited, b.start
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if res, finished := parseStatus(i.statusPath()); finished {
			res.Took = time.Since(start)
			return res, nil
		}
		select {
		case <-exited:
			if res, finished := parseStatus(i.statusPath()); finished {
				return res, nil
			}
			return BootResult{}, fmt.Errorf("guest %s ended before its boot finished; console:\n%s", i.ep.Name, tail([]byte(i.Console()), 30))
		case <-ctx.Done():
			return BootResult{}, fmt.Errorf("guest %s: waiting for the end of its boot: %w; console:\n%s", i.ep.Name, ctx.Err(), tail([]byte(i.Console()), 30))
		case <-tick.C:
		}
	}
}

// parseStatus reads the status file: "stage <name> <status>" lines, then
// "finished".
func parseStatus(path string) (res BootResult, finished bool) {
	data, _ := os.ReadFile(path) // #nosec G304 -- the instance's status file, in its folder under the runtime's state folder
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "finished":
			finished = true
		case len(f) == 3 && f[0] == "stage":
			code, err := strconv.Atoi(f[2])
			if err != nil {
				code = -1
			}
			res.Stages = append(res.Stages, StageResult{Name: f[1], Status: code})
		}
	}
	return res, finished
}

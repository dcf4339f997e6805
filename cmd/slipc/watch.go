package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// slipc watch reads the deployment again after each burst of events (a
// parameter set, a state completed), waiting watchSettle for the burst to
// end, and every watchPeriod anyway: the waits are not in the event stream.
const (
	watchSettle = 100 * time.Millisecond
	watchPeriod = 2 * time.Second
)

func runWatch(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("watch", "DEPLOYMENT",
		"Follow a deployment live: the run's state with a progress bar of the instances that completed it, the counts by\n"+
			"node, who is blocked in ss-get on what, and the abort message. On a terminal the view is redrawn in place; otherwise\n"+
			"a line is printed each time something changes. Exits 0 when the run is Ready or Done, 1 when it is aborted (or the\n"+
			"deployment is gone), so CI can watch a deployment started elsewhere. The coordinator comes from "+envCoordinatorURL+"\n"+
			"and "+envToken+", as for slipc status.", stderr)
	timeout := fs.Duration("timeout", 0, "give up (exit 1) after this long; 0 waits as long as it takes")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	cl, err := clientFromEnv(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "slipc watch: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	tty := false
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	return watch(ctx, cl, stdout, stderr, tty)
}

// watch follows the deployment until its run ends one way or the other.
func watch(ctx context.Context, cl *client.Client, stdout, stderr io.Writer, tty bool) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan struct{}, 1)
	go followEvents(ctx, cl, changed)
	last := ""
	for {
		st, err := statusOf(ctx, cl)
		var ce *client.Error
		switch {
		case errors.As(err, &ce) && ce.Code == "not_found":
			fmt.Fprintf(stderr, "slipc watch: deployment %s does not exist (any more)\n", cl.Deployment)
			return exitDiags
		case err != nil && ctx.Err() != nil:
			fmt.Fprintf(stderr, "slipc watch: stopped before the run ended: %v\n", ctx.Err())
			return exitDiags
		case err != nil:
			fmt.Fprintf(stderr, "slipc watch: %v (trying again)\n", err)
		default:
			if tty {
				var b strings.Builder
				st.writeLive(&b)
				if view := b.String(); view != last {
					// Home, clear, draw: one write per frame.
					fmt.Fprint(stdout, "\x1b[H\x1b[2J"+view)
					last = view
				}
			} else if line := st.line(); line != last {
				fmt.Fprintln(stdout, line)
				last = line
			}
			switch {
			case st.Abort != "":
				fmt.Fprintf(stdout, "aborted: %s\n", st.Abort)
				return exitDiags
			case st.State == coordinator.Ready || st.State == coordinator.Done:
				fmt.Fprintf(stdout, "the run is %s\n", st.State)
				return exitOK
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "slipc watch: stopped before the run ended: %v\n", ctx.Err())
			return exitDiags
		case <-changed:
			select { // let a burst of changes end: one redraw for it
			case <-time.After(watchSettle):
			case <-ctx.Done():
			}
		case <-time.After(watchPeriod):
		}
	}
}

// followEvents signals changed on each change to the deployment's
// parameters (the run's state and completions are parameters too),
// reconnecting to the event stream when it ends.
func followEvents(ctx context.Context, cl *client.Client, changed chan<- struct{}) {
	var after int64
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		after, _ = cl.Events(ctx, after, func(coordinator.Event) {
			select {
			case changed <- struct{}{}:
			default: // a redraw is due already
			}
		})
		if time.Since(start) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, 10*time.Second)
		}
	}
}

// progress is the instances that completed the current state, of all.
func (st *deploymentStatus) progress() (done, total int) {
	for _, n := range st.Nodes {
		done += n.Completed
		total += n.Instances
	}
	return done, total
}

// line is the status as one line, for a log.
func (st *deploymentStatus) line() string {
	done, total := st.progress()
	s := fmt.Sprintf("%s: %s, %d/%d instances completed it", st.ID, st.State, done, total)
	if len(st.Waits) > 0 {
		var w []string
		for _, wt := range st.Waits {
			w = append(w, wt.Instance+" on "+waitsFor(wt))
		}
		if total := max(st.WaitsTotal, len(w)); total > 5 {
			w = append(w[:5:5], fmt.Sprintf("%d more", total-5))
		}
		s += "; blocked in ss-get: " + strings.Join(w, ", ")
	}
	for _, cycle := range st.Deadlocks {
		s += "; DEADLOCK: " + strings.Join(cycle, ", ") + " wait for each other"
	}
	return s
}

// writeLive draws the status for a terminal: a progress bar of the
// current state, the nodes and the waits.
func (st *deploymentStatus) writeLive(w io.Writer) {
	done, total := st.progress()
	const width = 40
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	st.write(w)
	fmt.Fprintf(w, "\n%-14s [%s%s] %d / %d\n", st.State, strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
}

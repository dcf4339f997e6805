package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// watchFixture is a coordinator with deployment "w" of two instances,
// whose agents the test plays: run completes every state for both.
type watchFixture struct {
	agents []*client.Client
}

func newWatchFixture(t *testing.T) *watchFixture {
	t.Helper()
	const admin = "admin-token-for-the-watch-test"
	srv := testCoordinator(t, admin)
	cl := &client.Client{BaseURL: srv.URL, Deployment: "w", Token: admin}
	tokens, err := cl.CreateDeployment(context.Background(), &coordinator.Deployment{ID: "w", Nodes: map[string]*coordinator.Node{"n": {Multiplicity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &watchFixture{}
	for _, inst := range []string{"n.1", "n.2"} {
		a := &client.Client{BaseURL: srv.URL, Deployment: "w", Token: tokens[inst]}
		if _, err := a.Exchange(context.Background(), client.TokenHash("own-"+inst)); err != nil {
			t.Fatal(err)
		}
		a.Token = "own-" + inst
		f.agents = append(f.agents, a)
	}
	return f
}

// run completes every state up to Ready (or aborts with message), pausing
// so that a watch sees the steps.
func (f *watchFixture) run(t *testing.T, abort string) {
	ctx := context.Background()
	for _, state := range []string{coordinator.Initializing, coordinator.Provisioning, coordinator.Executing, coordinator.SendingReports} {
		time.Sleep(700 * time.Millisecond)
		if state == coordinator.Executing && abort != "" {
			if err := f.agents[1].Abort(ctx, abort, false); err != nil {
				t.Error(err)
			}
			return
		}
		for _, a := range f.agents {
			if _, err := a.Complete(ctx, state); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestWatch_pipe: with stdout not a terminal, slipc watch prints a line
// each time the run moves, and exits 0 once it is Ready.
func TestWatch_pipe(t *testing.T) {
	f := newWatchFixture(t)
	go f.run(t, "")
	code, stdout, stderr := slipc(t, "watch", "-timeout", "30s", "w")
	if code != exitOK {
		t.Fatalf("watch: code %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"w: Initializing, 0/2 instances completed it", "w: Executing", "the run is Ready"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("watch's lines lack %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("watch drew on a pipe:\n%q", stdout)
	}
}

// TestWatch_aborted: an abort ends the watch with status 1 and its
// message.
func TestWatch_aborted(t *testing.T) {
	f := newWatchFixture(t)
	go f.run(t, "deploy exited with status 3: disk full")
	code, stdout, _ := slipc(t, "watch", "-timeout", "30s", "w")
	if code != exitDiags || !strings.Contains(stdout, "aborted: n.2: deploy exited with status 3: disk full") {
		t.Errorf("watch of an aborted run: code %d\n%s", code, stdout)
	}
}

// TestWatch_terminal: under a pseudo-terminal slipc watch redraws the view
// in place, with a progress bar of the state.
func TestWatch_terminal(t *testing.T) {
	f := newWatchFixture(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go f.run(t, "")
	var stderr bytes.Buffer
	code := run([]string{"watch", "-timeout", "30s", "w"}, tty, &stderr)
	tty.Close()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	out := screen.String()
	mu.Unlock()
	if code != exitOK {
		t.Fatalf("watch: code %d\n%s%s", code, out, stderr.String())
	}
	for _, want := range []string{"\x1b[H\x1b[2J", "deployment w: Executing", "the run is Ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal view lacks %q:\n%q", want, out)
		}
	}
	if !regexp.MustCompile(`Executing +\[\.{40}\] 0 / 2`).MatchString(out) {
		t.Errorf("the terminal view has no progress bar of Executing:\n%q", out)
	}
}

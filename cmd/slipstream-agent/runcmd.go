package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
)

// commands is what the agent binary answers to when linked under another
// name; run links them into its state folder and puts that first on the
// scripts' PATH, so scripts find ss-get wherever the agent was installed.
var commands = sortedCommands()

func sortedCommands() []string {
	names := make([]string, 0, len(ssCommands))
	for n := range ssCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// runHelp is "slipstream-agent run --help".
var runHelp = help{
	usage: "slipstream-agent run [--state-dir DIR]",
	about: `Run this machine's node: follow the run's states through the coordinator and
run the node's scripts (packages, pre_install, post_install, deploy, report,
on_vm_add, on_vm_remove), with ss-get and the other commands first on their
PATH. The bootstrap starts it as a service, with the coordinator and a
one-time token in /etc/slipstream/agent.json (SLIPSTREAM_AGENT_CONFIG), or
SLIPSTREAM_SERVICEURL, SLIPSTREAM_DIID, SLIPSTREAM_NODE_INSTANCE_NAME and
SLIPSTREAM_TOKEN.`,
	exits: []exitCode{
		{0, "the run is done, or its deployment no longer exists (the service stays stopped)"},
		{1, "any other failure (the service starts the agent again)"},
		exitBadUsage,
	},
}

// runAgent is "slipstream-agent run": the node executor. It exits 0 when
// the run is Done or the deployment no longer exists (so systemd does not
// restart it), and 1 on any other failure (so it does).
func runAgent(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flags("run")
	stateDir := fs.String("state-dir", "", "keep progress, scripts, logs, reports and the agent's token in `DIR` (default $SLIPSTREAM_STATE_DIR or /var/lib/slipstream)")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos)
	}
	if code, done := commandLineDone("slipstream-agent run", &runHelp, fs, err, stdout, stderr); done {
		return code
	}
	if *stateDir == "" {
		*stateDir = stateDirFrom(getenv)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent run: %v\n", err)
		return 1
	}
	// One instance, or a machine of a node's pool, which learns its
	// instance from the coordinator when it starts.
	inst, err := cfg.Identity()
	if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent run: %v\n", err)
		return 1
	}
	binDir, err := linkCommands(*stateDir)
	if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent run: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &agent.Runner{
		Client: newClient(cfg), Config: *cfg, Instance: inst, StateDir: *stateDir,
		BinDir: binDir, Env: os.Environ(), Log: stderr, SealRoot: sealRoot(*stateDir),
	}
	switch err := r.Run(ctx); {
	case err == nil:
		return 0
	case errors.Is(err, agent.ErrGone):
		fmt.Fprintf(stderr, "slipstream-agent: stopping: %v\n", err)
		return 0
	default:
		fmt.Fprintf(stderr, "slipstream-agent: %v\n", err)
		return 1
	}
}

// sealRoot is the root of the file system a builder machine's agent
// cleans for its snapshot: the root the state folder is the bootstrap's
// /var/lib/slipstream of ("/" on a machine; a test install's folder), or
// none for a state folder elsewhere, whose agent cleans its state alone.
func sealRoot(stateDir string) string {
	dir := filepath.Clean(stateDir)
	root, ok := strings.CutSuffix(dir, defaultStateDir)
	if !ok || !filepath.IsAbs(dir) {
		return ""
	}
	if root == "" {
		return "/"
	}
	return root
}

// linkCommands makes STATE/bin/ss-* links to this executable.
func linkCommands(stateDir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(stateDir, "bin")
	if err := os.MkdirAll(dir, 0o750); err != nil { // inside the state folder, which is 0700 anyway
		return "", err
	}
	for _, name := range commands {
		link := filepath.Join(dir, name)
		if cur, err := os.Readlink(link); err == nil && cur == self {
			continue
		}
		_ = os.Remove(link) // usually not there; one we cannot remove makes the Symlink below fail
		if err := os.Symlink(self, link); err != nil {
			return "", err
		}
	}
	return dir, nil
}

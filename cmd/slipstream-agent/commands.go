package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

// loadConfig finds the coordinator and the machine's token, as the agent
// starts with them: SLIPSTREAM_SERVICEURL, SLIPSTREAM_DIID and
// SLIPSTREAM_TOKEN, or else the agent's configuration file (written by
// the bootstrap, mode 0600). The token is a bootstrap token, which the
// agent exchanges for its own.
func loadConfig(getenv func(string) string) (*agent.Config, error) {
	c := &agent.Config{
		ServiceURL: getenv("SLIPSTREAM_SERVICEURL"),
		Deployment: getenv("SLIPSTREAM_DIID"),
		Instance:   getenv("SLIPSTREAM_NODE_INSTANCE_NAME"),
		Token:      getenv("SLIPSTREAM_TOKEN"),
		Cloud:      getenv("SLIPSTREAM_CLOUD"),

		CAFingerprint: getenv("SLIPSTREAM_CA_FINGERPRINT"),
	}
	if c.ServiceURL == "" || c.Deployment == "" || c.Token == "" {
		path := getenv("SLIPSTREAM_AGENT_CONFIG")
		if path == "" {
			path = "/etc/slipstream/agent.json"
		}
		b, err := os.ReadFile(path) // #nosec G304 -- SLIPSTREAM_AGENT_CONFIG, set by the bootstrap's unit, or the fixed /etc/slipstream/agent.json
		if err != nil {
			return nil, fmt.Errorf("no coordinator configured: set SLIPSTREAM_SERVICEURL, SLIPSTREAM_DIID and SLIPSTREAM_TOKEN, or provide %s (%v)", path, err)
		}
		*c = agent.Config{}
		if err := json.Unmarshal(b, c); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		c.ConfigPath = path
	}
	return c, nil
}

// defaultStateDir is the agent's state folder unless told otherwise.
const defaultStateDir = "/var/lib/slipstream"

func stateDirFrom(getenv func(string) string) string {
	if d := getenv("SLIPSTREAM_STATE_DIR"); d != "" {
		return d
	}
	return defaultStateDir
}

// loadCommandConfig is the configuration of an ss-* command: the
// coordinator as loadConfig finds it, and the agent's own token from its
// token file (SLIPSTREAM_TOKEN_FILE, which scripts are given, or the one
// in the state folder). The token is not in a script's environment, and
// the one in agent.json is a spent bootstrap token. SLIPSTREAM_TOKEN, if
// set, is used as it is: for a person running the commands by hand with a
// token of their own.
func loadCommandConfig(getenv func(string) string) (*agent.Config, error) {
	if getenv("SLIPSTREAM_SERVICEURL") != "" && getenv("SLIPSTREAM_DIID") != "" && getenv("SLIPSTREAM_TOKEN") != "" {
		return loadConfig(getenv)
	}
	c := &agent.Config{
		ServiceURL: getenv("SLIPSTREAM_SERVICEURL"),
		Deployment: getenv("SLIPSTREAM_DIID"),
		Instance:   getenv("SLIPSTREAM_NODE_INSTANCE_NAME"),
		Cloud:      getenv("SLIPSTREAM_CLOUD"),

		CAFingerprint: getenv("SLIPSTREAM_CA_FINGERPRINT"),
	}
	if c.ServiceURL == "" || c.Deployment == "" {
		var err error
		if c, err = loadConfig(getenv); err != nil {
			return nil, err
		}
	}
	path := getenv("SLIPSTREAM_TOKEN_FILE")
	if path == "" {
		path = agent.TokenFile(stateDirFrom(getenv))
	}
	creds, err := agent.LoadCredentials(path)
	if err != nil {
		return nil, fmt.Errorf("no token: the agent keeps its own in %s, which it writes when it starts (%v); outside the agent, set SLIPSTREAM_TOKEN", path, err)
	}
	if creds.Deployment != c.Deployment || c.Instance != "" && creds.Instance != c.Instance {
		return nil, fmt.Errorf("%s is the token of %s in deployment %s, not of %s in %s", path, creds.Instance, creds.Deployment, c.Instance, c.Deployment)
	}
	if !creds.Exchanged {
		return nil, fmt.Errorf("the agent has not yet exchanged its bootstrap token for the token in %s", path)
	}
	c.Token = creds.Token
	if c.Instance == "" {
		// A pool machine's agent.json names no instance: the exchange
		// told the agent which it is.
		c.Instance, c.Node, c.MachineIDFile = creds.Instance, "", ""
	}
	return c, nil
}

// newClient is the client for a configuration: the CA pinned when a
// fingerprint is given.
func newClient(cfg *agent.Config) *client.Client {
	c := &client.Client{BaseURL: cfg.ServiceURL, Deployment: cfg.Deployment, Token: cfg.Token}
	if cfg.CAFingerprint != "" {
		c.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsutil.PinnedConfig(cfg.CAFingerprint)}}
	}
	return c
}

// retryFor bounds how long a set, display or abort keeps retrying through
// network failures before exiting 4 (SLIPSTREAM_RETRY_TIMEOUT overrides).
const retryFor = 5 * time.Minute

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	name, rest := commandName(args)
	switch name {
	case "run":
		return runAgent(rest, getenv, stdout, stderr)
	case "uninstall":
		return uninstall(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		agentUsage(stdout)
		return 0
	case agentName:
		agentUsage(stderr)
		return exitUsage
	}
	cmd, ok := ssCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "slipstream-agent: unknown command %q (want run, uninstall, %s)\n", name, strings.Join(commands, ", "))
		return exitUsage
	}
	// The command line first: --help and usage errors need no coordinator.
	fs := flags(name)
	act, err := cmd.parse(fs, rest)
	if code, done := commandLineDone(name, &cmd.help, fs, err, stdout, stderr); done {
		return code
	}
	cfg, err := loadCommandConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return client.ExitClient
	}
	c := newClient(cfg)
	retry := retryFor
	if d, err := time.ParseDuration(getenv("SLIPSTREAM_RETRY_TIMEOUT")); err == nil && d > 0 {
		retry = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), retry)
	defer cancel()
	if name == "ss-get" || name == "ss-get-all" {
		ctx = context.Background() // they have their own --timeout
	}
	if err := act(ctx, c, stdout, stderr); err != nil {
		if e, ok := err.(exitError); ok {
			return int(e)
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return client.ExitCode(err)
	}
	return 0
}

// ssCommand is one of SlipStream's commands. parse defines its flags on
// fs, reads its command line (returning flag.ErrHelp for --help, or the
// usage error) and returns what to run once the coordinator is known.
type ssCommand struct {
	help
	parse func(fs *flag.FlagSet, args []string) (ssAction, error)
}

type ssAction func(ctx context.Context, c *client.Client, stdout, stderr io.Writer) error

// ssCommands are SlipStream's commands, by the name the binary is called
// as. coordination/bootstrap.Commands must list the same names (the
// bootstrap links them), as TestCommandsAreLinked checks.
var ssCommands = map[string]ssCommand{
	"ss-get": {help{
		usage: "ss-get [--timeout S] [--noblock] [--ignoreabort] key",
		about: `Print the value of the runtime parameter key. When it is not set yet, print
"Waiting for key" on stderr and wait until it is.

A bare key is this instance's (web.2:key on the second web instance);
node:key is instance 1 of that node's, node.3:key instance 3's, and ss:key
is the deployment's (ss:state, ss:abort). An input mapped from another
node's output reads that output.`,
		exits: []exitCode{exitSuccess, exitTimedOut, exitAborted, exitClientError, exitServerError, exitUnreachable},
		notes: configHelp,
	}, parseGet},
	"ss-get-all": {help{
		usage: ssGetAllUsage,
		about: `Print "node.i:key value" for every instance of node (as listed in node:ids,
in that order), waiting until each has set key; the timeout counts for all
instances together, and when it runs out the instances still unset are
named. node is a node's name (db, not db.1); key is unqualified.

With --value V, print nothing when every instance's value is V; otherwise
name the instances that differ on stderr, print every line and exit 1.`,
		exits: []exitCode{exitSuccess, {ExitValueMismatch, "an instance's value differs from --value"}, exitTimedOut, exitAborted, exitClientError, exitServerError, exitUnreachable},
		notes: configHelp,
	}, parseGetAll},
	"ss-set": {help{
		usage: "ss-set [--ignoreabort] key value",
		about: `Set this instance's runtime parameter key to value: an output other nodes
read with ss-get, or one of the instance's built-in parameters (hostname,
url.service, …). An instance sets only its own parameters.`,
		exits: ssExits,
		notes: configHelp,
	}, parseSet},
	"ss-display": {help{
		usage: "ss-display message",
		about: `Show message as this instance's progress (its statecustom parameter), in
slipc status and the web view. Every argument is part of the message, even
one that starts with a dash; only a first --help or -h asks for this help.`,
		exits: ssExits,
		notes: configHelp,
	}, parseDisplay},
	"ss-random": {help{
		usage: "ss-random [-s N] [key]",
		about: `Print N random letters and digits (1 ≤ N ≤ 4096). With key, also set this
instance's parameter key to them: a password one node generates and others
read with ss-get.`,
		exits: ssExits,
		notes: configHelp,
	}, parseRandom},
	"ss-abort": {help{
		usage: "ss-abort [--cancel] [reason]",
		about: `Abort the whole run with reason (the arguments, joined by spaces): every
ss-get waiting for a key, on every machine, ends with exit 8, and every set
fails with 8 unless --ignoreabort. An aborted run keeps its first reason.
--cancel clears the abort.`,
		// An abort of an aborted run keeps the first reason, and succeeds.
		exits: []exitCode{exitSuccess, exitClientError, exitServerError, exitUnreachable},
		notes: configHelp,
	}, parseAbort},
}

// exitError ends a command with that exit code, its message already
// printed (ss-get-all --value's mismatch).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func parseGet(fs *flag.FlagSet, args []string) (ssAction, error) {
	timeout := fs.Int("timeout", 60, "wait up to `S` seconds for the key; 0: no limit")
	noblock := fs.Bool("noblock", false, "print an empty line instead of waiting")
	ignoreAbort := fs.Bool("ignoreabort", false, "read even while the run is aborted")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos, "key")
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *client.Client, stdout, stderr io.Writer) error {
		wait := time.Duration(*timeout) * time.Second
		if *timeout == 0 {
			wait = 100 * 365 * 24 * time.Hour
		}
		if *noblock {
			wait = 0
		}
		v, err := c.Get(ctx, pos[0], wait, *ignoreAbort, func() { fmt.Fprintf(stderr, "Waiting for %s\n", pos[0]) })
		var e *client.Error
		if *noblock && errors.As(err, &e) && e.Code == "not_set" {
			fmt.Fprintln(stdout)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, v)
		return nil
	}, nil
}

// ExitValueMismatch is ss-get-all --value's exit code when an instance's
// value differs from the expected one: 1, as SlipStream's ss-get-all.
const ExitValueMismatch = 1

// getAllWorkers bounds how many instances ss-get-all waits on at once
// (SlipStream's used a pool of 9): each wait is one long-poll.
const getAllWorkers = 8

// ssGetAllUsage is ss-get-all's synopsis.
const ssGetAllUsage = "ss-get-all [--timeout S] [--noblock] [--ignoreabort] [--value V] node key"

// getAllArgs is ss-get-all's command line.
type getAllArgs struct {
	node, key            string
	timeout              int
	noblock, ignoreAbort bool
	expect               *string // --value, when given
}

func parseGetAll(fs *flag.FlagSet, args []string) (ssAction, error) {
	var a getAllArgs
	fs.IntVar(&a.timeout, "timeout", 60, "wait up to `S` seconds for every instance's key, all together; 0: no limit")
	fs.BoolVar(&a.noblock, "noblock", false, "print an empty value for an instance whose key is unset instead of waiting")
	fs.BoolVar(&a.ignoreAbort, "ignoreabort", false, "read even while the run is aborted")
	expect := fs.String("value", "", "check that every instance's value is `V`; exit 1 if not")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos, "node", "key")
	}
	if err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "value" {
			a.expect = expect
		}
	})
	a.node, a.key = pos[0], pos[1]
	// Both must name an instance's parameter: node is a node's name (not
	// node.i, not ss), key is unqualified.
	if k, err := coordinator.Qualify(a.node+":ids", nil); err != nil || k.Scope != a.node || strings.Contains(a.node, ".") {
		return nil, fmt.Errorf("%q is not a node name (\\w+, no instance number)", a.node)
	}
	if strings.Contains(a.key, ":") {
		return nil, fmt.Errorf("the key %q must be unqualified (the node is the first argument)", a.key)
	}
	if _, err := coordinator.Qualify(a.node+".1:"+a.key, nil); err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *client.Client, stdout, stderr io.Writer) error {
		return ssGetAll(ctx, c, a, stdout, stderr)
	}, nil
}

// ssGetAll is SlipStream's ss-get-all: the key on every instance of a node,
// the instances read from node:ids. It waits like ss-get, the timeout
// counting for all instances together, then prints "node.i:key value" per
// instance in the order of node:ids. With --value it prints nothing when
// every instance has that value; otherwise it says so on stderr, prints
// every line and exits 1 (ExitValueMismatch). A timeout exits 9 naming the
// instances still unset (SlipStream's printed an empty value for them).
func ssGetAll(ctx context.Context, c *client.Client, a getAllArgs, stdout, stderr io.Writer) error {
	node, key := a.node, a.key
	wait := time.Duration(a.timeout) * time.Second
	if a.timeout == 0 {
		wait = 100 * 365 * 24 * time.Hour
	}
	if a.noblock {
		wait = 0
	}
	deadline := time.Now().Add(wait)

	ids, err := c.Get(ctx, node+":ids", 0, a.ignoreAbort, nil)
	if e := (*client.Error)(nil); errors.As(err, &e) && e.Code == "not_found" {
		return &client.Error{Code: e.Code, Status: e.Status, Message: fmt.Sprintf("the deployment has no node %q (%s)", node, e.Message)}
	}
	if err != nil {
		return err
	}
	var names []string
	for _, id := range strings.Split(ids, ",") {
		if id = strings.TrimSpace(id); id != "" {
			names = append(names, node+"."+id+":"+key)
		}
	}

	values := make([]string, len(names))
	errs := make([]error, len(names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // stderr and failed
	var failed error
	for w := 0; w < getAllWorkers && w < len(names); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				left := time.Until(deadline)
				if wait > 0 && left <= 0 {
					errs[i] = &client.Error{Code: "timeout", Message: "timed out waiting for " + names[i]}
					continue
				}
				if wait == 0 {
					left = 0
				}
				v, err := c.Get(ctx, names[i], left, a.ignoreAbort, func() {
					mu.Lock()
					fmt.Fprintf(stderr, "Waiting for %s\n", names[i])
					mu.Unlock()
				})
				var e *client.Error
				if a.noblock && errors.As(err, &e) && e.Code == "not_set" {
					v, err = "", nil
				}
				values[i], errs[i] = v, err
				if err != nil && !(errors.As(err, &e) && e.Code == "timeout") {
					// An abort or a client error ends every wait: the
					// others then end as timeouts, and this is reported.
					mu.Lock()
					if failed == nil {
						failed = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
feed:
	for i := range names {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	if failed != nil {
		return failed
	}
	var unset []string
	for i, err := range errs {
		if err != nil {
			unset = append(unset, names[i]) // only timeouts are left
		}
	}
	if len(unset) > 0 {
		return &client.Error{Code: "timeout", Message: fmt.Sprintf("timed out after %ds waiting for %s", a.timeout, strings.Join(unset, ", "))}
	}
	if a.expect != nil {
		var differ []string
		for i, v := range values {
			if v != *a.expect {
				differ = append(differ, names[i])
			}
		}
		if len(differ) == 0 {
			return nil
		}
		fmt.Fprintf(stderr, "ss-get-all: %s not equal to the expected value %q\n", strings.Join(differ, ", "), *a.expect)
	}
	for i, v := range values {
		fmt.Fprintln(stdout, names[i]+" "+v)
	}
	if a.expect != nil {
		return exitError(ExitValueMismatch)
	}
	return nil
}

func parseSet(fs *flag.FlagSet, args []string) (ssAction, error) {
	ignoreAbort := fs.Bool("ignoreabort", false, "write even while the run is aborted")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos, "key", "value")
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *client.Client, _, _ io.Writer) error {
		return c.Set(ctx, pos[0], pos[1], *ignoreAbort)
	}, nil
}

// parseDisplay takes every argument as the message, whatever it looks like:
// a message may start with a dash, so only a first --help asks for help.
func parseDisplay(_ *flag.FlagSet, args []string) (ssAction, error) {
	if len(args) > 0 && isHelpFlag(args[0]) {
		return nil, flag.ErrHelp
	}
	if len(args) == 0 {
		return nil, wantArgs(args, "message")
	}
	return func(ctx context.Context, c *client.Client, _, _ io.Writer) error {
		return c.Set(ctx, "statecustom", strings.Join(args, " "), false)
	}, nil
}

const alphanumerics = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// maxRandom bounds ss-random -s.
const maxRandom = 4096

func parseRandom(fs *flag.FlagSet, args []string) (ssAction, error) {
	size := fs.Int("s", 12, "print `N` characters")
	pos, err := parse(fs, args)
	switch {
	case err != nil:
		return nil, err
	case len(pos) > 1:
		return nil, wantArgs(pos, "key")
	case *size < 1 || *size > maxRandom:
		return nil, fmt.Errorf("-s %d is out of range: N must be 1 to %d", *size, maxRandom)
	}
	return func(ctx context.Context, c *client.Client, stdout, _ io.Writer) error {
		b := make([]byte, *size)
		for i := range b {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphanumerics))))
			if err != nil {
				return err
			}
			b[i] = alphanumerics[n.Int64()]
		}
		if len(pos) == 1 {
			if err := c.Set(ctx, pos[0], string(b), false); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}, nil
}

func parseAbort(fs *flag.FlagSet, args []string) (ssAction, error) {
	cancel := fs.Bool("cancel", false, "clear the abort instead")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c *client.Client, _, _ io.Writer) error {
		return c.Abort(ctx, strings.Join(pos, " "), *cancel)
	}, nil
}

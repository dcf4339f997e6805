package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
// token of their own. It also returns where the token came from, for -v.
//
// --endpoint and --run (o) only fill in, for that person, a coordinator
// and a deployment their environment does not name, as SlipStream's
// options did where no context file named the run (ConfigHolder gave the
// context file the last word). With the agent's token they are never
// used: a script's --endpoint (an old SlipStream server's URL) must not
// receive the machine's token.
func loadCommandConfig(getenv func(string) string, o *runOptions) (*agent.Config, string, error) {
	serviceURL, deployment := getenv("SLIPSTREAM_SERVICEURL"), getenv("SLIPSTREAM_DIID")
	if getenv("SLIPSTREAM_TOKEN") != "" {
		if serviceURL == "" {
			serviceURL = cmp.Or(o.endpoint, getenv("SLIPSTREAM_ENDPOINT"))
		}
		if deployment == "" {
			deployment = o.run
		}
		if serviceURL != "" && deployment != "" {
			cfg, err := loadConfig(func(k string) string {
				switch k {
				case "SLIPSTREAM_SERVICEURL":
					return serviceURL
				case "SLIPSTREAM_DIID":
					return deployment
				}
				return getenv(k)
			})
			return cfg, "the token in SLIPSTREAM_TOKEN", err
		}
		serviceURL, deployment = getenv("SLIPSTREAM_SERVICEURL"), getenv("SLIPSTREAM_DIID")
	}
	c := &agent.Config{
		ServiceURL: serviceURL,
		Deployment: deployment,
		Instance:   getenv("SLIPSTREAM_NODE_INSTANCE_NAME"),
		Cloud:      getenv("SLIPSTREAM_CLOUD"),

		CAFingerprint: getenv("SLIPSTREAM_CA_FINGERPRINT"),
	}
	if c.ServiceURL == "" || c.Deployment == "" {
		var err error
		if c, err = loadConfig(getenv); err != nil {
			return nil, "", err
		}
	}
	path := getenv("SLIPSTREAM_TOKEN_FILE")
	if path == "" {
		path = agent.TokenFile(stateDirFrom(getenv))
	}
	creds, err := agent.LoadCredentials(path)
	if err != nil {
		return nil, "", fmt.Errorf("no token: the agent keeps its own in %s, which it writes when it starts (%v); outside the agent, set SLIPSTREAM_TOKEN", path, err)
	}
	if creds.Deployment != c.Deployment || c.Instance != "" && creds.Instance != c.Instance {
		return nil, "", fmt.Errorf("%s is the token of %s in deployment %s, not of %s in %s", path, creds.Instance, creds.Deployment, c.Instance, c.Deployment)
	}
	if !creds.Exchanged {
		return nil, "", fmt.Errorf("the agent has not yet exchanged its bootstrap token for the token in %s", path)
	}
	c.Token = creds.Token
	if c.Instance == "" {
		// A pool machine's agent.json names no instance: the exchange
		// told the agent which it is.
		c.Instance, c.Node, c.MachineIDFile = creds.Instance, "", ""
	}
	return c, "the agent's token in " + path, nil
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
	s := &session{name: name, getenv: getenv, stderr: &lockedWriter{w: stderr}}
	fs := flags(name)
	s.opts.define(fs)
	act, err := cmd.parse(fs, rest)
	if code, done := commandLineDone(name, &cmd.help, fs, err, stdout, stderr); done {
		return code
	}
	retry := retryFor
	if d, err := time.ParseDuration(getenv("SLIPSTREAM_RETRY_TIMEOUT")); err == nil && d > 0 {
		retry = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), retry)
	defer cancel()
	if name == "ss-get" || name == "ss-get-all" {
		ctx = context.Background() // they have their own --timeout
	}
	if err := act(ctx, s, stdout); err != nil {
		if e, ok := err.(exitError); ok {
			return int(e)
		}
		s.logf("%v", err)
		return client.ExitCode(err)
	}
	return 0
}

// session is one run of an ss-* command: its options, and its client
// once it needs the coordinator (ss-random without a key never does).
type session struct {
	name   string
	opts   runOptions
	getenv func(string) string
	stderr io.Writer // shared by goroutines: a lockedWriter
	client *client.Client
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.stderr, s.name+": "+format+"\n", args...)
}

// coordinator is the client of the command's coordinator, configured
// from the environment the first time it is asked for. With -v it says
// which coordinator, deployment and instance, and logs each request.
func (s *session) coordinator() (*client.Client, error) {
	if s.client != nil {
		return s.client, nil
	}
	cfg, tokenFrom, err := loadCommandConfig(s.getenv, &s.opts)
	if err != nil {
		return nil, err
	}
	// What SlipStream's options would have chosen and these commands do
	// not: said, so a script that means another run is noticed.
	if s.opts.run != "" && s.opts.run != cfg.Deployment {
		s.logf("--run %s ignored: the commands act on this machine's deployment, %s (SlipStream's did the same on a deployed machine)", s.opts.run, cfg.Deployment)
	}
	s.client = newClient(cfg)
	if s.opts.verbose > 0 {
		if s.opts.endpoint != "" && s.opts.endpoint != cfg.ServiceURL {
			s.logf("--endpoint %s ignored: the commands talk to this machine's coordinator only", s.opts.endpoint)
		}
		ca := "the system's CAs"
		if cfg.CAFingerprint != "" {
			ca = "its CA pinned to " + cfg.CAFingerprint
		}
		s.logf("coordinator %s (%s), deployment %s, instance %s, %s", cfg.ServiceURL, ca, cfg.Deployment, cmp.Or(cfg.Instance, "(none)"), tokenFrom)
		s.client.HTTP = verboseHTTP(s.client.HTTP, s.logf)
	}
	return s.client, nil
}

// ssCommand is one of SlipStream's commands. parse defines its own flags
// on fs (which holds runOptions already), reads its command line
// (returning flag.ErrHelp for --help, or the usage error) and returns
// what to run.
type ssCommand struct {
	help
	parse func(fs *flag.FlagSet, args []string) (ssAction, error)
}

type ssAction func(ctx context.Context, s *session, stdout io.Writer) error

// commonSynopsis ends every run command's synopsis: runOptions.
const commonSynopsis = "[-v] [--run UUID] [--endpoint URL]"

// ssCommands are SlipStream's commands, by the name the binary is called
// as. coordination/bootstrap.Commands must list the same names (the
// bootstrap links them), as TestCommandsAreLinked checks.
var ssCommands = map[string]ssCommand{
	"ss-get": {help{
		usage: "ss-get [--timeout S] [--noblock] [--ignore-abort] " + commonSynopsis + " key",
		about: `Print the value of the runtime parameter key. When it is not set yet, print
"Waiting for key" on stderr and wait until it is.

A bare key is this instance's (web.2:key on the second web instance);
node:key is instance 1 of that node's, node.3:key instance 3's, and ss:key
is the deployment's (ss:state, ss:abort). An input mapped from another
node's output reads that output.`,
		exits: []exitCode{exitSuccess, exitBadUsage, exitUnreachable, exitServerError, exitClientError, exitAborted, exitTimedOut},
		notes: configHelp,
	}, parseGet},
	"ss-get-all": {help{
		usage: ssGetAllUsage,
		about: `Print "node.i:key value" for every instance of node (as listed in node:ids,
in that order), waiting until each has set key; the timeout counts for all
instances together. An instance still unset when it runs out is printed
with an empty value and named on stderr, and the command still succeeds, as
SlipStream's did. node is a node's name (db, not db.1); key is unqualified.

With --value V, print nothing when every instance's value is V; otherwise
name the instances that differ on stderr, print every line and exit 1. An
empty V checks nothing, as in SlipStream.`,
		exits: []exitCode{exitSuccess, {ExitValueMismatch, "an instance's value differs from --value"}, exitBadUsage, exitUnreachable, exitServerError, exitClientError, exitAborted},
		notes: configHelp,
	}, parseGetAll},
	"ss-set": {help{
		usage: "ss-set [--ignore-abort] " + commonSynopsis + " [--] key value",
		about: `Set this instance's runtime parameter key to value: an output other nodes
read with ss-get, or one of the instance's built-in parameters (hostname,
url.service, …). An instance sets only its own parameters. Put -- before a
key or value that starts with a dash.`,
		exits: ssExits,
		notes: configHelp,
	}, parseSet},
	"ss-display": {help{
		usage: "ss-display [--ignore-abort] " + commonSynopsis + " [--] message",
		about: `Show message as this instance's progress (its statecustom parameter), in
slipc status and the web view. Every argument that is not one of the
options above is part of the message, joined by spaces; after --, every
argument is.`,
		exits: ssExits,
		notes: configHelp,
	}, parseDisplay},
	"ss-random": {help{
		usage: "ss-random [-s N] " + commonSynopsis + " [key]",
		about: `Print N random letters and digits. With key, also set this instance's
parameter key to them (before printing): a password one node generates and
others read with ss-get. Without key it needs no coordinator.`,
		exits: ssExits,
		notes: configHelp,
	}, parseRandom},
	"ss-abort": {help{
		usage: "ss-abort [--cancel] " + commonSynopsis + " [--] [reason]",
		about: `Abort the whole run with reason (the arguments, joined by spaces; by
default "(unspecified)"): every ss-get waiting for a key, on every machine,
ends with exit 8, and every set fails with 8 unless --ignore-abort. An
aborted run keeps its first reason. --cancel clears the abort, as
ss-cancel-abort does.`,
		// An abort of an aborted run keeps the first reason, and succeeds.
		exits: []exitCode{exitSuccess, exitBadUsage, exitUnreachable, exitServerError, exitClientError},
		notes: configHelp,
	}, parseAbort},
	"ss-cancel-abort": {help{
		usage: "ss-cancel-abort " + commonSynopsis,
		about: `Clear the run's abort (ss-abort --cancel): the machines go on with what the
abort interrupted. An argument is accepted and ignored, as SlipStream's
ss-cancel-abort did.`,
		exits: []exitCode{exitSuccess, exitBadUsage, exitUnreachable, exitServerError, exitClientError},
		notes: configHelp,
	}, parseCancelAbort},
}

// exitError ends a command with that exit code, its message already
// printed (ss-get-all --value's mismatch).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// ignoreAbort defines SlipStream's --ignore-abort, and --ignoreabort, the
// spelling these commands took first.
func ignoreAbort(fs *flag.FlagSet, usage string) *bool {
	v := fs.Bool("ignore-abort", false, usage)
	alias(fs, "ignoreabort", "ignore-abort")
	return v
}

// timeoutFlag defines --timeout S (SlipStream's default, 60 s).
func timeoutFlag(fs *flag.FlagSet, usage string) *intValue {
	v := intValue(60)
	fs.Var(&v, "timeout", usage)
	return &v
}

// getWait is how long a get waits for --timeout seconds: 0 is no limit, and
// --noblock is no wait. A negative timeout is also no wait, but an unset
// key is then a timeout (exit 9), as in SlipStream, whose wait loop
// stopped at its first check.
func getWait(timeout intValue, noblock bool) time.Duration {
	switch {
	case noblock, timeout < 0:
		return 0
	case timeout == 0:
		return 100 * 365 * 24 * time.Hour
	}
	return time.Duration(timeout) * time.Second
}

func isNotSet(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == "not_set"
}

func parseGet(fs *flag.FlagSet, args []string) (ssAction, error) {
	timeout := timeoutFlag(fs, "wait up to `S` seconds for the key; 0: no limit; below 0: no wait, and exit 9 if it is unset")
	noblock := fs.Bool("noblock", false, "print an empty line instead of waiting")
	ignore := ignoreAbort(fs, "read even while the run is aborted")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos, "key")
	}
	if err != nil {
		return nil, err
	}
	key := pos[0]
	return func(ctx context.Context, s *session, stdout io.Writer) error {
		c, err := s.coordinator()
		if err != nil {
			return err
		}
		v, err := c.Get(ctx, key, getWait(*timeout, *noblock), *ignore, func() { fmt.Fprintf(s.stderr, "Waiting for %s\n", key) })
		switch {
		case *noblock && isNotSet(err):
			v, err = "", nil
		case *timeout < 0 && isNotSet(err):
			err = &client.Error{Code: "timeout", Message: fmt.Sprintf("timed out waiting for %s (--timeout %d)", key, *timeout)}
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
const ssGetAllUsage = "ss-get-all [--timeout S] [--noblock] [--ignore-abort] [--value V] " + commonSynopsis + " node key"

// getAllArgs is ss-get-all's command line.
type getAllArgs struct {
	node, key   string
	timeout     intValue
	noblock     bool
	ignoreAbort bool
	expect      string // --value; "" checks nothing
}

func parseGetAll(fs *flag.FlagSet, args []string) (ssAction, error) {
	var a getAllArgs
	timeout := timeoutFlag(fs, "wait up to `S` seconds for every instance's key, all together; 0: no limit")
	fs.BoolVar(&a.noblock, "noblock", false, "print an empty value for an instance whose key is unset instead of waiting")
	ignore := ignoreAbort(fs, "read even while the run is aborted")
	fs.StringVar(&a.expect, "value", "", "check that every instance's value is `V`; exit 1 if not")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos, "node", "key")
	}
	if err != nil {
		return nil, err
	}
	a.node, a.key, a.timeout, a.ignoreAbort = pos[0], pos[1], *timeout, *ignore
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
	return func(ctx context.Context, s *session, stdout io.Writer) error {
		c, err := s.coordinator()
		if err != nil {
			return err
		}
		return ssGetAll(ctx, c, a, stdout, s.stderr)
	}, nil
}

// ssGetAll is SlipStream's ss-get-all: the key on every instance of a node,
// the instances read from node:ids. It waits like ss-get, the timeout
// counting for all instances together, then prints "node.i:key value" per
// instance in the order of node:ids. An instance still unset when the
// timeout runs out is printed with an empty value and named on stderr, and
// the command succeeds, as SlipStream's (which printed the timeout and an
// empty value for it). With --value it prints nothing when every instance
// has that value; otherwise it says so on stderr, prints every line and
// exits 1 (ExitValueMismatch). An abort ends every wait with exit 8.
func ssGetAll(ctx context.Context, c *client.Client, a getAllArgs, stdout, stderr io.Writer) error {
	node, key := a.node, a.key
	wait := getWait(a.timeout, a.noblock)
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
	timedOut := make([]bool, len(names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // failed
	var failed error
	for w := 0; w < getAllWorkers && w < len(names); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				left := time.Until(deadline)
				if wait > 0 && left <= 0 {
					timedOut[i] = true
					continue
				}
				if wait == 0 {
					left = 0
				}
				v, err := c.Get(ctx, names[i], left, a.ignoreAbort, func() {
					fmt.Fprintf(stderr, "Waiting for %s\n", names[i])
				})
				var e *client.Error
				switch {
				case err == nil:
					values[i] = v
				case a.noblock && isNotSet(err):
				case errors.As(err, &e) && (e.Code == "timeout" || e.Code == "not_set"):
					timedOut[i] = true // not_set: a negative --timeout
				default:
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
	for i, t := range timedOut {
		if t {
			unset = append(unset, names[i])
		}
	}
	if len(unset) > 0 {
		after := fmt.Sprintf("after %ds", a.timeout)
		if a.timeout < 0 {
			after = fmt.Sprintf("(--timeout %d: no wait)", a.timeout)
		}
		fmt.Fprintf(stderr, "ss-get-all: timed out %s waiting for %s: printed with an empty value\n", after, strings.Join(unset, ", "))
	}
	if a.expect != "" {
		var differ []string
		for i, v := range values {
			if v != a.expect {
				differ = append(differ, names[i])
			}
		}
		if len(differ) == 0 {
			return nil
		}
		fmt.Fprintf(stderr, "ss-get-all: %s not equal to the expected value %q\n", strings.Join(differ, ", "), a.expect)
	}
	for i, v := range values {
		fmt.Fprintln(stdout, names[i]+" "+v)
	}
	if a.expect != "" {
		return exitError(ExitValueMismatch)
	}
	return nil
}

// withoutEscapes drops the ESC characters of a value, as SlipStream's
// client did before every set (util.removeASCIIEscape): a script's
// colored output set as a parameter shows as text, not as terminal codes.
func withoutEscapes(v string) string { return strings.ReplaceAll(v, "\x1b", "") }

func parseSet(fs *flag.FlagSet, args []string) (ssAction, error) {
	ignore := ignoreAbort(fs, "write even while the run is aborted")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos, "key", "value")
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, s *session, _ io.Writer) error {
		c, err := s.coordinator()
		if err != nil {
			return err
		}
		return c.Set(ctx, pos[0], withoutEscapes(pos[1]), *ignore)
	}, nil
}

// parseDisplay reads ss-display's options wherever they are, as
// SlipStream's did; every other argument is the message, even one that
// starts with a dash.
func parseDisplay(fs *flag.FlagSet, args []string) (ssAction, error) {
	ignore := ignoreAbort(fs, "show the message even while the run is aborted")
	pos, err := parseText(fs, args)
	if err == nil && len(pos) == 0 {
		err = wantArgs(pos, "message")
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, s *session, _ io.Writer) error {
		c, err := s.coordinator()
		if err != nil {
			return err
		}
		return c.Set(ctx, "statecustom", withoutEscapes(strings.Join(pos, " ")), *ignore)
	}, nil
}

const alphanumerics = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// maxRandom bounds ss-random -s (SlipStream's had no bound; a value this
// long is more than a coordinator stores, which refuses it with exit 7).
const maxRandom = 1 << 20

// randomString is n characters of alphanumerics, uniformly drawn: bytes at
// or above the largest multiple of 62 are dropped, so that none is likelier.
func randomString(n int) (string, error) {
	const limit = 256 - 256%len(alphanumerics)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+16)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphanumerics[int(b)%len(alphanumerics)])
			}
		}
	}
	return string(out), nil
}

func parseRandom(fs *flag.FlagSet, args []string) (ssAction, error) {
	size := intValue(12)
	fs.Var(&size, "size", "print `N` characters")
	alias(fs, "s", "size")
	pos, err := parse(fs, args)
	switch {
	case err != nil:
		return nil, err
	case len(pos) > 1:
		return nil, wantArgs(pos, "key")
	case size < 1 || size > maxRandom:
		return nil, fmt.Errorf("-s %d is out of range: N must be 1 to %d", size, maxRandom)
	}
	return func(ctx context.Context, s *session, stdout io.Writer) error {
		value, err := randomString(int(size))
		if err != nil {
			return err
		}
		if len(pos) == 1 {
			c, err := s.coordinator()
			if err != nil {
				return err
			}
			if err := c.Set(ctx, pos[0], value, false); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, value)
		return nil
	}, nil
}

func parseAbort(fs *flag.FlagSet, args []string) (ssAction, error) {
	cancel := fs.Bool("cancel", false, "clear the abort instead")
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, s *session, _ io.Writer) error {
		c, err := s.coordinator()
		if err != nil {
			return err
		}
		return c.Abort(ctx, withoutEscapes(strings.Join(pos, " ")), *cancel)
	}, nil
}

func parseCancelAbort(fs *flag.FlagSet, args []string) (ssAction, error) {
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 1 {
		err = fmt.Errorf("unexpected argument %q: it takes at most one, which it ignores", pos[1])
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, s *session, _ io.Writer) error {
		c, err := s.coordinator()
		if err != nil {
			return err
		}
		return c.Abort(ctx, "", true)
	}, nil
}

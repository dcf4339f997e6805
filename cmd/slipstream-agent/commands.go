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
	if name == "run" {
		return runAgent(rest, getenv, stdout, stderr)
	}
	if name == "uninstall" {
		return uninstall(rest, stdout, stderr)
	}
	cmd, ok := ssCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "slipstream-agent: unknown command %q (want run, uninstall, %s)\n", name, strings.Join(commands, ", "))
		return client.ExitClient
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
	if err := cmd(ctx, c, rest, stdout, stderr); err != nil {
		if e, ok := err.(exitError); ok {
			return int(e)
		}
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return client.ExitCode(err)
	}
	return 0
}

type ssCommand func(ctx context.Context, c *client.Client, args []string, stdout, stderr io.Writer) error

// ssCommands are SlipStream's commands, by the name the binary is called
// as. coordination/bootstrap.Commands must list the same names (the
// bootstrap links them), as TestCommandsAreLinked checks.
var ssCommands = map[string]ssCommand{
	"ss-get": ssGet, "ss-get-all": ssGetAll, "ss-set": ssSet, "ss-display": ssDisplay, "ss-random": ssRandom, "ss-abort": ssAbort,
}

// exitError ends a command with that exit code, its message already
// printed (ss-get-all --value's mismatch).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a bad command line: exit code 7, as the original.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse accepts SlipStream's --long options and options after arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, &usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func ssGet(ctx context.Context, c *client.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("ss-get", stderr)
	timeout := fs.Int("timeout", 60, "seconds to wait for the key (0: wait forever)")
	noblock := fs.Bool("noblock", false, "print an empty line instead of waiting")
	ignoreAbort := fs.Bool("ignoreabort", false, "read even while the run is aborted")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: ss-get [--timeout S] [--noblock] [--ignoreabort] key"}
	}
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
}

// ExitValueMismatch is ss-get-all --value's exit code when an instance's
// value differs from the expected one: 1, as SlipStream's ss-get-all.
const ExitValueMismatch = 1

// getAllWorkers bounds how many instances ss-get-all waits on at once
// (SlipStream's used a pool of 9): each wait is one long-poll.
const getAllWorkers = 8

// ssGetAll is SlipStream's ss-get-all: the key on every instance of a node,
// the instances read from node:ids. It waits like ss-get, the timeout
// counting for all instances together, then prints "node.i:key value" per
// instance in the order of node:ids. With --value it prints nothing when
// every instance has that value; otherwise it says so on stderr, prints
// every line and exits 1 (ExitValueMismatch). A timeout exits 9 naming the
// instances still unset (SlipStream's printed an empty value for them).
func ssGetAll(ctx context.Context, c *client.Client, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: ss-get-all [--timeout S] [--noblock] [--ignoreabort] [--value V] node key"
	fs := flags("ss-get-all", stderr)
	timeout := fs.Int("timeout", 60, "seconds to wait for every instance's key (0: wait forever)")
	noblock := fs.Bool("noblock", false, "print an empty value for an instance whose key is unset instead of waiting")
	ignoreAbort := fs.Bool("ignoreabort", false, "read even while the run is aborted")
	expect := fs.String("value", "", "check that every instance has this value; exit 1 if not")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	checkValue := false
	fs.Visit(func(f *flag.Flag) { checkValue = checkValue || f.Name == "value" })
	if len(pos) != 2 {
		return &usageError{usage}
	}
	node, key := pos[0], pos[1]
	// Both must name an instance's parameter: node is a node's name (not
	// node.i, not ss), key is unqualified.
	if k, err := coordinator.Qualify(node+":ids", nil); err != nil || k.Scope != node || strings.Contains(node, ".") {
		return &usageError{fmt.Sprintf("ss-get-all: %q is not a node name (\\w+, no instance number): %s", node, usage)}
	}
	if strings.Contains(key, ":") {
		return &usageError{fmt.Sprintf("ss-get-all: the key %q must be unqualified (the node is the first argument): %s", key, usage)}
	}
	if _, err := coordinator.Qualify(node+".1:"+key, nil); err != nil {
		return &usageError{fmt.Sprintf("ss-get-all: %v", err)}
	}
	wait := time.Duration(*timeout) * time.Second
	if *timeout == 0 {
		wait = 100 * 365 * 24 * time.Hour
	}
	if *noblock {
		wait = 0
	}
	deadline := time.Now().Add(wait)

	ids, err := c.Get(ctx, node+":ids", 0, *ignoreAbort, nil)
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
				v, err := c.Get(ctx, names[i], left, *ignoreAbort, func() {
					mu.Lock()
					fmt.Fprintf(stderr, "Waiting for %s\n", names[i])
					mu.Unlock()
				})
				var e *client.Error
				if *noblock && errors.As(err, &e) && e.Code == "not_set" {
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
		return &client.Error{Code: "timeout", Message: fmt.Sprintf("timed out after %ds waiting for %s", *timeout, strings.Join(unset, ", "))}
	}
	if checkValue {
		var differ []string
		for i, v := range values {
			if v != *expect {
				differ = append(differ, names[i])
			}
		}
		if len(differ) == 0 {
			return nil
		}
		fmt.Fprintf(stderr, "ss-get-all: %s not equal to the expected value %q\n", strings.Join(differ, ", "), *expect)
	}
	for i, v := range values {
		fmt.Fprintln(stdout, names[i]+" "+v)
	}
	if checkValue {
		return exitError(ExitValueMismatch)
	}
	return nil
}

func ssSet(ctx context.Context, c *client.Client, args []string, _, stderr io.Writer) error {
	fs := flags("ss-set", stderr)
	ignoreAbort := fs.Bool("ignoreabort", false, "write even while the run is aborted")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &usageError{"usage: ss-set [--ignoreabort] key value"}
	}
	return c.Set(ctx, pos[0], pos[1], *ignoreAbort)
}

func ssDisplay(ctx context.Context, c *client.Client, args []string, _, _ io.Writer) error {
	if len(args) == 0 {
		return &usageError{"usage: ss-display message"}
	}
	return c.Set(ctx, "statecustom", strings.Join(args, " "), false)
}

const alphanumerics = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func ssRandom(ctx context.Context, c *client.Client, args []string, stdout, stderr io.Writer) error {
	fs := flags("ss-random", stderr)
	size := fs.Int("s", 12, "number of characters")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 || *size < 1 || *size > 4096 {
		return &usageError{"usage: ss-random [-s N] [key] (1 ≤ N ≤ 4096)"}
	}
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
}

func ssAbort(ctx context.Context, c *client.Client, args []string, _, stderr io.Writer) error {
	fs := flags("ss-abort", stderr)
	cancel := fs.Bool("cancel", false, "clear the abort")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	return c.Abort(ctx, strings.Join(pos, " "), *cancel)
}

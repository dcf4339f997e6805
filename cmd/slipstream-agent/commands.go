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
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
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
		b, err := os.ReadFile(path)
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
	cmds := map[string]func(context.Context, *client.Client, []string, io.Writer, io.Writer) error{
		"ss-get": ssGet, "ss-set": ssSet, "ss-display": ssDisplay, "ss-random": ssRandom, "ss-abort": ssAbort,
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "slipstream-agent: unknown command %q (want run, ss-get, ss-set, ss-display, ss-random or ss-abort)\n", name)
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
	if name == "ss-get" {
		ctx = context.Background() // ss-get has its own --timeout
	}
	if err := cmd(ctx, c, rest, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return client.ExitCode(err)
	}
	return 0
}

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

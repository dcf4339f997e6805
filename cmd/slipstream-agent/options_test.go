package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/agent"
)

// TestParse_optparseRules: the command line is read as Python's optparse
// reads SlipStream's (long options cut short, short options run together,
// values attached or not, options anywhere, --), and as Go's flag package
// read ours (-name, -name=value).
func TestParse_optparseRules(t *testing.T) {
	type result struct {
		Timeout, Size, Verbose int
		NoBlock, Ignore        bool
		Run                    string
		Args                   []string
	}
	parseWith := func(args []string, text bool) (result, error) {
		fs := flags("test")
		var o runOptions
		o.define(fs)
		timeout := timeoutFlag(fs, "")
		noblock := fs.Bool("noblock", false, "")
		ignore := ignoreAbort(fs, "")
		size := intValue(12)
		fs.Var(&size, "size", "")
		alias(fs, "s", "size")
		var pos []string
		var err error
		if text {
			pos, err = parseText(fs, args)
		} else {
			pos, err = parse(fs, args)
		}
		return result{int(*timeout), int(size), int(o.verbose), *noblock, *ignore, o.run, pos}, err
	}
	def := result{Timeout: 60, Size: 12}
	with := func(change func(*result)) result {
		r := def
		change(&r)
		return r
	}
	cases := []struct {
		args []string
		want result
	}{
		{[]string{"key"}, with(func(r *result) { r.Args = []string{"key"} })},
		{[]string{"--timeout", "5", "key"}, with(func(r *result) { r.Timeout, r.Args = 5, []string{"key"} })},
		{[]string{"--timeout=5", "key"}, with(func(r *result) { r.Timeout, r.Args = 5, []string{"key"} })},
		{[]string{"-timeout", "5", "key"}, with(func(r *result) { r.Timeout, r.Args = 5, []string{"key"} })},
		{[]string{"-timeout=5", "key"}, with(func(r *result) { r.Timeout, r.Args = 5, []string{"key"} })},
		{[]string{"--time", "5", "key"}, with(func(r *result) { r.Timeout, r.Args = 5, []string{"key"} })},
		{[]string{"--timeout", "-1", "key"}, with(func(r *result) { r.Timeout, r.Args = -1, []string{"key"} })},
		{[]string{"key", "--timeout", "5"}, with(func(r *result) { r.Timeout, r.Args = 5, []string{"key"} })},
		{[]string{"--ignore-abort", "key"}, with(func(r *result) { r.Ignore, r.Args = true, []string{"key"} })},
		{[]string{"--ignoreabort", "key"}, with(func(r *result) { r.Ignore, r.Args = true, []string{"key"} })},
		{[]string{"-ignoreabort", "key"}, with(func(r *result) { r.Ignore, r.Args = true, []string{"key"} })},
		{[]string{"--ign", "key"}, with(func(r *result) { r.Ignore, r.Args = true, []string{"key"} })},
		{[]string{"--noblock=false", "key"}, with(func(r *result) { r.Args = []string{"key"} })},
		{[]string{"--no", "key"}, with(func(r *result) { r.NoBlock, r.Args = true, []string{"key"} })},
		{[]string{"-v", "key"}, with(func(r *result) { r.Verbose, r.Args = 1, []string{"key"} })},
		{[]string{"-vv", "key"}, with(func(r *result) { r.Verbose, r.Args = 2, []string{"key"} })},
		{[]string{"-v", "--verbose", "key"}, with(func(r *result) { r.Verbose, r.Args = 2, []string{"key"} })},
		{[]string{"--verbose=3", "key"}, with(func(r *result) { r.Verbose, r.Args = 3, []string{"key"} })},
		{[]string{"-s", "8"}, with(func(r *result) { r.Size = 8 })},
		{[]string{"-s8"}, with(func(r *result) { r.Size = 8 })},
		{[]string{"-s=8"}, with(func(r *result) { r.Size = 8 })},
		{[]string{"-vs8", "k"}, with(func(r *result) { r.Verbose, r.Size, r.Args = 1, 8, []string{"k"} })},
		{[]string{"-vs", "8", "k"}, with(func(r *result) { r.Verbose, r.Size, r.Args = 1, 8, []string{"k"} })},
		{[]string{"--size", "8"}, with(func(r *result) { r.Size = 8 })},
		{[]string{"--si=8"}, with(func(r *result) { r.Size = 8 })},
		{[]string{"--run", "0f4c", "--endpoint", "https://nuv.la", "k"}, with(func(r *result) { r.Run, r.Args = "0f4c", []string{"k"} })},
		{[]string{"--", "-k", "--timeout"}, with(func(r *result) { r.Args = []string{"-k", "--timeout"} })},
		{[]string{"k", "--", "-1"}, with(func(r *result) { r.Args = []string{"k", "-1"} })},
		{[]string{"-", "k"}, with(func(r *result) { r.Args = []string{"-", "k"} })},
	}
	for _, c := range cases {
		got, err := parseWith(c.args, false)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}

	bad := []struct {
		args []string
		err  string // "" for help
	}{
		{[]string{"--bogus"}, "no such option: --bogus"},
		{[]string{"-x"}, "no such option: -x"},
		{[]string{"-vx"}, "no such option: -x"},
		{[]string{"--e"}, "--endpoint option requires an argument"}, // the only long option starting with e
		{[]string{"--timeout"}, "--timeout option requires an argument"},
		{[]string{"-s"}, "-s option requires an argument"},
		{[]string{"--timeout", "soon"}, `invalid value "soon" for --timeout: not an integer`},
		{[]string{"-s", "x"}, `invalid value "x" for -s: not an integer`},
		{[]string{"--=x"}, "no such option: --=x"},
		{[]string{"-h"}, ""},
		{[]string{"k", "--help"}, ""},
		{[]string{"--he"}, ""},
		{[]string{"-help"}, ""},
		{[]string{"-vh"}, ""},
	}
	for _, c := range bad {
		_, err := parseWith(c.args, false)
		switch {
		case c.err == "" && !errors.Is(err, flag.ErrHelp):
			t.Errorf("%q: %v, want a help request", c.args, err)
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("%q: %v, want %q", c.args, err, c.err)
		}
	}

	// ss-display's message: unknown dash words are text, its options
	// are options wherever they are.
	text := []struct {
		args []string
		want result
	}{
		{[]string{"-x", "done"}, with(func(r *result) { r.Args = []string{"-x", "done"} })},
		{[]string{"step", "--weird", "-1"}, with(func(r *result) { r.Args = []string{"step", "--weird", "-1"} })},
		{[]string{"-v", "--ignore-abort", "Installing"}, with(func(r *result) { r.Verbose, r.Ignore, r.Args = 1, true, []string{"Installing"} })},
		{[]string{"Installing", "--ignore-abort"}, with(func(r *result) { r.Ignore, r.Args = true, []string{"Installing"} })},
		{[]string{"--", "-v", "is", "text"}, with(func(r *result) { r.Args = []string{"-v", "is", "text"} })},
		{[]string{"-vz", "x"}, with(func(r *result) { r.Args = []string{"-vz", "x"} })}, // nothing set from a word that is text
	}
	for _, c := range text {
		got, err := parseWith(c.args, true)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("text %q: %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
	if _, err := parseWith([]string{"msg", "--run"}, true); err == nil || err.Error() != "--run option requires an argument" {
		t.Errorf("text with a known option missing its value: %v", err)
	}
}

// slipStreamOptions are the options of SlipStream's run commands, as their
// sources define them (SlipStreamClient ab86ef1a, client/src/main/python:
// CommandBase adds -v/--verbose; VMCommandBase --run and --endpoint;
// addIgnoreAbortOption --ignore-abort; the ss-*.py scripts the rest), and
// whether each takes a value. ours are the spellings these commands
// accepted first, kept as aliases.
var slipStreamOptions = map[string]struct{ slipstream, ours map[string]bool }{
	"ss-get":          {map[string]bool{"--timeout": true, "--ignore-abort": false, "--noblock": false}, map[string]bool{"--ignoreabort": false}},
	"ss-get-all":      {map[string]bool{"--timeout": true, "--ignore-abort": false, "--noblock": false, "--value": true}, map[string]bool{"--ignoreabort": false}},
	"ss-set":          {map[string]bool{"--ignore-abort": false}, map[string]bool{"--ignoreabort": false}},
	"ss-display":      {map[string]bool{"--ignore-abort": false}, nil},
	"ss-abort":        {map[string]bool{"--cancel": false}, nil},
	"ss-cancel-abort": {nil, nil},
	"ss-random":       {map[string]bool{"-s": true, "--size": true}, nil},
}

// TestSlipStreamOptions_accepted: each of SlipStream's run commands is
// here, and takes every option SlipStream's took (and ours), with or
// without a value as there.
func TestSlipStreamOptions_accepted(t *testing.T) {
	for name, opts := range slipStreamOptions {
		cmd, ok := ssCommands[name]
		if !ok {
			t.Errorf("%s: not a command of the agent", name)
			continue
		}
		fs := flags(name)
		var o runOptions
		o.define(fs)
		if _, err := cmd.parse(fs, []string{"--help"}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v", name, err)
		}
		all := map[string]bool{"-v": false, "--verbose": false, "--run": true, "--endpoint": true}
		for o, v := range opts.slipstream {
			all[o] = v
		}
		for o, v := range opts.ours {
			all[o] = v
		}
		for opt, takesValue := range all {
			f := fs.Lookup(strings.TrimLeft(opt, "-"))
			if f == nil {
				t.Errorf("%s: no option %s", name, opt)
			} else if isBoolFlag(f) == takesValue {
				t.Errorf("%s %s: takes a value: %v, want %v", name, opt, !isBoolFlag(f), takesValue)
			}
		}
	}
	for name := range ssCommands {
		if _, ok := slipStreamOptions[name]; !ok {
			t.Errorf("%s: a command this test does not check against SlipStream's", name)
		}
	}
}

// TestCommandsMatchSlipStream: the commands the agent answers to are the
// ones agent.SlipStreamCommands says it provides, which an importer
// relies on.
func TestCommandsMatchSlipStream(t *testing.T) {
	provided := map[string]bool{}
	for _, c := range agent.SlipStreamCommands {
		if c.Provided {
			provided[c.Name] = true
			if _, ok := ssCommands[c.Name]; !ok {
				t.Errorf("agent.SlipStreamCommands says %s is provided; the agent does not answer to it", c.Name)
			}
		}
	}
	for name := range ssCommands {
		if !provided[name] {
			t.Errorf("the agent answers to %s, which agent.SlipStreamCommands does not say is provided", name)
		}
	}
}

// TestCommandLines: SlipStream's spellings and ours, and their exit codes,
// against a real coordinator API: usage errors 2, timeouts 9, aborts 8,
// client errors 7, as SlipStream's commands.
func TestCommandLines(t *testing.T) {
	url, tok := coordinatorFor(t)
	type tc struct {
		name    string
		inst    string
		args    []string
		code    int
		out     string // exact stdout, when not "-"
		errPart string // a part of stderr
	}
	check := func(cases []tc) {
		t.Helper()
		for _, c := range cases {
			start := time.Now()
			code, out, errOut := as(url, tok[c.inst], c.inst, c.args...)
			if code != c.code || c.out != "-" && out != c.out || !strings.Contains(errOut, c.errPart) {
				t.Errorf("%s: %q: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", c.name, c.args, code, out, errOut, c.code, c.out, c.errPart)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("%s: took %s", c.name, time.Since(start))
			}
		}
	}
	check([]tc{
		{"set, SlipStream's way", "web.1", []string{"ss-set", "ready", "yes"}, 0, "", ""},
		{"set a value starting with a dash", "web.1", []string{"ss-set", "--", "ready", "-yes"}, 0, "", ""},
		{"the value", "web.2", []string{"ss-get", "web.1:ready"}, 0, "-yes\n", ""},
		{"--ignore-abort", "web.1", []string{"ss-set", "--ignore-abort", "ready", "a"}, 0, "", ""},
		{"--ignoreabort", "web.1", []string{"ss-set", "--ignoreabort", "ready", "b"}, 0, "", ""},
		{"--run of this deployment", "web.1", []string{"ss-set", "--run", "lamp", "ready", "c"}, 0, "", ""},
		{"--run of another run", "web.1", []string{"ss-set", "--run", "0b1e5d3c-4a1f-4c4e-9a39-6d1f0c2b7a11", "ready", "d"}, 0, "", "--run 0b1e5d3c-4a1f-4c4e-9a39-6d1f0c2b7a11 ignored: the commands act on this machine's deployment, lamp"},
		{"--endpoint", "web.1", []string{"ss-set", "--endpoint", "https://nuv.la", "ready", "e"}, 0, "", ""},
		{"the value set through --endpoint", "web.1", []string{"ss-get", "ready"}, 0, "e\n", ""},
		{"-v", "web.1", []string{"ss-set", "-v", "--endpoint=https://nuv.la", "ready", "f"}, 0, "", "--endpoint https://nuv.la ignored"},
		{"-v names the coordinator", "web.1", []string{"ss-get", "-vv", "ready"}, 0, "f\n", "coordinator " + url + " (the system's CAs), deployment lamp, instance web.1, the token in SLIPSTREAM_TOKEN"},
		{"-v logs the requests", "web.1", []string{"ss-get", "--verbose", "ready"}, 0, "f\n", "ss-get: GET " + url + "/v1/deployments/lamp/parameters/ready: 200 OK"},
		{"the brief's call: an unknown node", "web.1", []string{"ss-get", "--ignore-abort", "--timeout", "1", "a:b"}, 7, "", ""},
		{"timeout", "web.1", []string{"ss-get", "--timeout", "1", "web.2:ready"}, 9, "", "Waiting for web.2:ready"},
		{"timeout, shortened", "web.1", []string{"ss-get", "--time=1", "web.2:ready"}, 9, "", ""},
		{"timeout, Go's spelling", "web.1", []string{"ss-get", "-timeout", "1", "web.2:ready"}, 9, "", ""},
		{"a negative timeout: no wait", "web.1", []string{"ss-get", "--timeout", "-1", "web.2:ready"}, 9, "", "timed out waiting for web.2:ready (--timeout -1)"},
		{"noblock after the key", "web.1", []string{"ss-get", "web.2:ready", "--noblock"}, 0, "\n", ""},
		{"noblock, shortened", "web.1", []string{"ss-get", "--no", "web.2:ready"}, 0, "\n", ""},
		{"usage: an unknown option", "web.1", []string{"ss-get", "--bogus", "ready"}, 2, "", "no such option: --bogus"},
		{"usage: no key", "web.1", []string{"ss-get"}, 2, "", "missing key"},
		{"usage: a value too many", "web.1", []string{"ss-set", "ready", "a", "b"}, 2, "", "unexpected argument"},
		{"another instance's key", "web.1", []string{"ss-set", "db:password", "x"}, 7, "", ""},
		{"random, SlipStream's --size", "db.1", []string{"ss-random", "--size", "20", "password"}, 0, "-", ""},
		{"random, -s12", "db.1", []string{"ss-random", "-s12"}, 0, "-", ""},
		{"random: a size of 0", "db.1", []string{"ss-random", "-s", "0"}, 2, "", "out of range"},
		{"random: a size that is no number", "db.1", []string{"ss-random", "--size", "big"}, 2, "", "not an integer"},
		{"random: a value over the coordinator's limit", "db.1", []string{"ss-random", "-s", "300000", "password"}, 7, "", ""},
		{"display, SlipStream's options", "web.1", []string{"ss-display", "-v", "--ignore-abort", "--run", "lamp", "Installing apache"}, 0, "", "PUT "},
		{"displayed", "web.1", []string{"ss-get", "statecustom"}, 0, "Installing apache\n", ""},
		{"display dashes", "web.1", []string{"ss-display", "--", "-x", "done"}, 0, "", ""},
		{"displayed dashes", "web.1", []string{"ss-get", "statecustom"}, 0, "-x done\n", ""},
		{"display: no message", "web.1", []string{"ss-display", "-v"}, 2, "", "missing message"},
		{"display strips ESC", "web.1", []string{"ss-display", "\x1b[32mgreen\x1b[0m"}, 0, "", ""},
		{"displayed without ESC", "web.1", []string{"ss-get", "statecustom"}, 0, "[32mgreen[0m\n", ""},
	})
	if code, out, errOut := as(url, tok["db.1"], "db.1", "ss-get", "password"); code != 0 || len(out) != 21 {
		t.Errorf("the password ss-random --size 20 set: exit %d, %q %q", code, out, errOut)
	}

	// Aborted: every get and set ends with 8, but with --ignore-abort.
	check([]tc{
		{"abort, SlipStream's options", "web.2", []string{"ss-abort", "-v", "--run", "lamp", "--endpoint", "https://nuv.la", "--", "-1 disk full"}, 0, "", ""},
		{"get while aborted", "web.1", []string{"ss-get", "ready"}, 8, "", "web.2: -1 disk full"},
		{"get --ignore-abort", "web.1", []string{"ss-get", "--ignore-abort", "ready"}, 0, "f\n", ""},
		{"get --ignoreabort", "web.1", []string{"ss-get", "--ignoreabort", "ready"}, 0, "f\n", ""},
		{"set while aborted", "web.1", []string{"ss-set", "ready", "g"}, 8, "", ""},
		{"set --ignore-abort", "web.1", []string{"ss-set", "--ignore-abort", "ready", "g"}, 0, "", ""},
		{"display while aborted", "web.1", []string{"ss-display", "still here"}, 8, "", ""},
		{"display --ignore-abort", "web.1", []string{"ss-display", "still here", "--ignore-abort"}, 0, "", ""},
		{"random with a key while aborted", "db.1", []string{"ss-random", "password"}, 8, "", ""},
		{"get-all while aborted", "db.1", []string{"ss-get-all", "--noblock", "web", "ready"}, 8, "", ""},
		{"cancel-abort: too many arguments", "web.2", []string{"ss-cancel-abort", "a", "b"}, 2, "", "at most one"},
		{"cancel-abort", "web.2", []string{"ss-cancel-abort", "ignored"}, 0, "", ""},
		{"set after the cancel", "web.1", []string{"ss-set", "ready", "h"}, 0, "", ""},
	})
}

// TestRandom_withoutCoordinator: ss-random without a key needs no
// coordinator, as SlipStream's; its characters are letters and digits.
func TestRandom_withoutCoordinator(t *testing.T) {
	noEnv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if code := run([]string{"/usr/local/bin/ss-random", "--size", "4000"}, noEnv, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	v := strings.TrimSuffix(stdout.String(), "\n")
	if len(v) != 4000 || strings.Trim(v, alphanumerics) != "" {
		t.Fatalf("ss-random --size 4000 printed %d characters, or others than letters and digits", len(v))
	}
	// Every character comes up (4000 draws of 62: missing one is a bug,
	// not bad luck: the odds are below 1e-25).
	for _, c := range alphanumerics {
		if !strings.ContainsRune(v, c) {
			t.Errorf("%q never drawn", c)
		}
	}
	stdout.Reset()
	if code := run([]string{"/usr/local/bin/ss-random", "key"}, noEnv, &stdout, &stderr); code != 7 || stdout.Len() != 0 {
		t.Errorf("ss-random key without a coordinator: exit %d, stdout %q", code, stdout.String())
	}
}

// recorder is a server that fails the test if anything reaches it.
func recorder(t *testing.T) (url string, got func() []string) {
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "not the coordinator", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), requests...)
	}
}

// TestEndpointAndRun_whereTheTokenGoes: with the agent's token (a script
// on a machine), --endpoint and --run never choose where the token goes:
// even with SLIPSTREAM_SERVICEURL and SLIPSTREAM_DIID unset the commands
// use the agent's configuration. With a person's own SLIPSTREAM_TOKEN they
// name the coordinator and deployment the environment does not, as
// SlipStream's options did where no context file named the run.
func TestEndpointAndRun_whereTheTokenGoes(t *testing.T) {
	url, tok := coordinatorFor(t)
	elsewhere, reached := recorder(t)
	state := t.TempDir()
	creds, _ := json.Marshal(agent.Credentials{Deployment: "lamp", Instance: "web.1", Token: tok["web.1"], Exchanged: true})
	os.WriteFile(agent.TokenFile(state), creds, 0o600)
	cfg, _ := json.Marshal(agent.Config{ServiceURL: url, Deployment: "lamp", Instance: "web.1", Token: "spent-bootstrap-token"})
	config := filepath.Join(state, "agent.json")
	os.WriteFile(config, cfg, 0o600)

	machine := func(env map[string]string, args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"/usr/local/bin/" + args[0]}, args[1:]...), func(k string) string { return env[k] }, &stdout, &stderr)
		return code, stderr.String()
	}
	// A script's environment on a machine, and the same with the
	// coordinator's variables gone (sudo, env -i): agent.json decides.
	scriptEnv := map[string]string{"SLIPSTREAM_SERVICEURL": url, "SLIPSTREAM_DIID": "lamp", "SLIPSTREAM_NODE_INSTANCE_NAME": "web.1",
		"SLIPSTREAM_TOKEN_FILE": agent.TokenFile(state), "SLIPSTREAM_AGENT_CONFIG": config, "SLIPSTREAM_RETRY_TIMEOUT": "2s",
		"SLIPSTREAM_ENDPOINT": elsewhere}
	strippedEnv := map[string]string{"SLIPSTREAM_STATE_DIR": state, "SLIPSTREAM_AGENT_CONFIG": config, "SLIPSTREAM_RETRY_TIMEOUT": "2s", "SLIPSTREAM_ENDPOINT": elsewhere}
	for _, env := range []map[string]string{scriptEnv, strippedEnv} {
		if code, errOut := machine(env, "ss-set", "-v", "--endpoint", elsewhere, "--run", "other-run", "ready", "yes"); code != 0 ||
			!strings.Contains(errOut, "--endpoint "+elsewhere+" ignored") || !strings.Contains(errOut, "--run other-run ignored") ||
			!strings.Contains(errOut, "the agent's token in "+agent.TokenFile(state)) {
			t.Errorf("ss-set on the machine: exit %d, stderr %q", code, errOut)
		}
	}
	if r := reached(); len(r) > 0 {
		t.Fatalf("a machine's command sent its token to --endpoint: %v", r)
	}

	// By hand, with a token of one's own: --endpoint and --run fill in
	// what the environment lacks.
	person := map[string]string{"SLIPSTREAM_TOKEN": tok["web.2"], "SLIPSTREAM_NODE_INSTANCE_NAME": "web.2", "SLIPSTREAM_RETRY_TIMEOUT": "2s"}
	if code, errOut := machine(person, "ss-set", "--endpoint", url, "--run", "lamp", "ready", "by-hand"); code != 0 {
		t.Errorf("by hand with --endpoint and --run: exit %d, %q", code, errOut)
	}
	if code, out, _ := as(url, tok["web.2"], "web.2", "ss-get", "ready"); code != 0 || out != "by-hand\n" {
		t.Errorf("the value set by hand: %d %q", code, out)
	}
	person["SLIPSTREAM_ENDPOINT"] = elsewhere
	if code, _ := machine(person, "ss-get", "--run", "lamp", "ready"); code != 7 || len(reached()) != 1 || !strings.HasPrefix(reached()[0], "GET /v1/deployments/lamp/parameters/ready Bearer ") {
		t.Errorf("by hand, SLIPSTREAM_ENDPOINT is --endpoint's default: exit %d, requests there %v", code, reached())
	}
	// Without a deployment, by hand: the person is told what to set.
	delete(person, "SLIPSTREAM_ENDPOINT")
	person["SLIPSTREAM_AGENT_CONFIG"] = filepath.Join(state, "none.json")
	if code, errOut := machine(person, "ss-get", "--endpoint", url, "ready"); code != 7 || !strings.Contains(errOut, "no coordinator configured") {
		t.Errorf("by hand without a deployment: exit %d, %q", code, errOut)
	}
}

// TestVerbose_keepsSecrets: -v shows the requests, never the token nor a
// value set.
func TestVerbose_keepsSecrets(t *testing.T) {
	url, tok := coordinatorFor(t)
	code, _, errOut := as(url, tok["db.1"], "db.1", "ss-set", "-vv", "password", "s3cret-value")
	if code != 0 || !strings.Contains(errOut, "PUT "+url+"/v1/deployments/lamp/parameters/password: 204") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, tok["db.1"]) || strings.Contains(errOut, "s3cret-value") {
		t.Fatalf("-v printed the token or the value: %q", errOut)
	}
}

// TestDocs_listEverything: docs/ss-commands.md has a row for every
// variable and command agent.SlipStreamVariables and
// agent.SlipStreamCommands list, and a section for every command the
// agent answers to.
func TestDocs_listEverything(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ss-commands.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, v := range agent.SlipStreamVariables {
		if !strings.Contains(doc, "`"+v.Name+"`") {
			t.Errorf("docs/ss-commands.md does not name %s", v.Name)
		}
	}
	for _, c := range agent.SlipStreamCommands {
		if !strings.Contains(doc, c.Name) {
			t.Errorf("docs/ss-commands.md does not name %s", c.Name)
		}
	}
	for name := range ssCommands {
		if !strings.Contains(doc, "\n## "+name) && !strings.Contains(doc, ", "+name+"\n") {
			t.Errorf("docs/ss-commands.md has no section for %s", name)
		}
	}
}

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelp_withoutCoordinator: every command's --help (and -h, -help)
// prints its usage on stdout and exits 0 in an empty environment, with no
// coordinator configured: the real binary, run through ss-* links as on a
// machine.
func TestHelp_withoutCoordinator(t *testing.T) {
	agentBin := agentBinary(t)
	dir := t.TempDir()
	for _, name := range commands {
		if err := os.Symlink(agentBin, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	type invocation struct {
		argv  []string
		usage string // how stdout starts
	}
	var cases []invocation
	for _, name := range commands {
		for _, h := range []string{"--help", "-h", "-help"} {
			cases = append(cases, invocation{[]string{filepath.Join(dir, name), h}, "usage: " + name + " "})
		}
	}
	cases = append(cases,
		invocation{[]string{filepath.Join(dir, "ss-get"), "--timeout", "5", "--help", "key"}, "usage: ss-get "},
		invocation{[]string{agentBin, "ss-get-all", "--help"}, "usage: ss-get-all "},
		invocation{[]string{agentBin, "run", "--help"}, "usage: slipstream-agent run "},
		invocation{[]string{agentBin, "run", "-h"}, "usage: slipstream-agent run "},
		invocation{[]string{agentBin, "uninstall", "--help"}, "usage: slipstream-agent uninstall\n"},
		invocation{[]string{agentBin, "--help"}, "usage: slipstream-agent <command>"},
		invocation{[]string{agentBin, "-h"}, "usage: slipstream-agent <command>"},
		invocation{[]string{agentBin, "help"}, "usage: slipstream-agent <command>"},
	)
	for _, c := range cases {
		code, out, errOut := execEmptyEnv(t, c.argv...)
		what := strings.Join(append([]string{filepath.Base(c.argv[0])}, c.argv[1:]...), " ")
		if code != 0 || !strings.HasPrefix(out, c.usage) || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 0 and stdout starting %q", what, code, out, errOut, c.usage)
			continue
		}
		if c.argv[0] != agentBin || c.argv[1] != "--help" && c.argv[1] != "-h" && c.argv[1] != "help" {
			if !strings.Contains(out, "\nExit status:\n  0  ") {
				t.Errorf("%s: the help lists no exit codes:\n%s", what, out)
			}
		}
	}
	// The same environment without --help: the coordinator is missing,
	// so the help above did not need one.
	if _, err := os.Stat("/etc/slipstream/agent.json"); errors.Is(err, os.ErrNotExist) {
		code, _, errOut := execEmptyEnv(t, filepath.Join(dir, "ss-get"), "key")
		if code != 7 || !strings.Contains(errOut, "no coordinator configured") {
			t.Errorf("ss-get key without a coordinator: exit %d, stderr %q", code, errOut)
		}
	}
}

// execEmptyEnv runs a command with no environment variables at all.
func execEmptyEnv(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%v: %v", argv, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestHelp_flagsAndExits: the help lists the command's flags with their
// arguments and defaults, and its own exit codes.
func TestHelp_flagsAndExits(t *testing.T) {
	noEnv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if code := run([]string{"/usr/local/bin/ss-get-all", "--help"}, noEnv, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{
		"usage: ss-get-all [--timeout S] [--noblock] [--ignore-abort] [--value V] [-v] [--run UUID] [--endpoint URL] node key\n",
		"\n  --timeout S     wait up to S seconds for every instance's key, all together;\n",
		"\n  --value V       check that every instance's value is V; exit 1 if not\n",
		"\n  --ignore-abort  read even while the run is aborted; also --ignoreabort\n",
		"\n  --noblock       ",
		"\nOptions of every SlipStream run command:\n  --endpoint URL  SlipStream's server URL: ",
		"\n  -v, --verbose   print on stderr",
		"\n  1  an instance's value differs from --value\n",
		"\n  2  bad usage: ",
		"SLIPSTREAM_SERVICEURL",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("ss-get-all --help lacks %q:\n%s", want, stdout.String())
		}
	}
	// ss-get-all ends a timeout as SlipStream's did: no exit 9.
	if strings.Contains(stdout.String(), "  9  ") {
		t.Errorf("ss-get-all --help lists exit 9:\n%s", stdout.String())
	}
	stdout.Reset()
	run([]string{"/usr/local/bin/ss-random", "-h"}, noEnv, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "\n  -s, --size N    print N characters (default 12)\n") || strings.Contains(stdout.String(), "  9  ") {
		t.Errorf("ss-random -h: want -s and --size on one line and no timeout exit:\n%s", stdout.String())
	}
}

// TestUsageErrors: a bad command line exits 2 (exitUsage) with the error
// and the synopsis on stderr and nothing on stdout, before any coordinator
// is looked for.
func TestUsageErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	cases := []struct {
		argv []string
		err  string // the first line of stderr
	}{
		{[]string{"ss-get"}, "ss-get: missing key"},
		{[]string{"ss-get", "a", "b"}, `ss-get: unexpected argument "b" after key`},
		{[]string{"ss-get", "--bogus", "key"}, "ss-get: no such option: --bogus"},
		{[]string{"ss-get", "--timeout", "soon", "key"}, `ss-get: invalid value "soon" for --timeout: not an integer`},
		{[]string{"ss-get", "key", "--timeout"}, "ss-get: --timeout option requires an argument"},
		{[]string{"ss-get-all", "--v", "x", "web", "ready"}, "ss-get-all: ambiguous option: --v (--value, --verbose?)"},
		{[]string{"ss-get", "-x", "key"}, "ss-get: no such option: -x"},
		{[]string{"ss-get", "-vs", "5", "key"}, "ss-get: no such option: -s"},
		{[]string{"ss-get", "--run"}, "ss-get: --run option requires an argument"},
		{[]string{"ss-set", "k", "v", "extra"}, `ss-set: unexpected argument "extra" after key value`},
		{[]string{"ss-random", "--size", "twelve"}, `ss-random: invalid value "twelve" for --size: not an integer`},
		{[]string{"ss-random", "-s"}, "ss-random: -s option requires an argument"},
		{[]string{"ss-display", "-v", "--ignore-abort"}, "ss-display: missing message"},
		{[]string{"ss-display", "hello", "--run"}, "ss-display: --run option requires an argument"},
		{[]string{"ss-cancel-abort", "a", "b"}, `ss-cancel-abort: unexpected argument "b": it takes at most one, which it ignores`},
		{[]string{"ss-get-all", "--value"}, "ss-get-all: --value option requires an argument"},
		{[]string{"ss-set", "key"}, "ss-set: missing value"},
		{[]string{"ss-get-all", "web"}, "ss-get-all: missing key"},
		{[]string{"ss-get-all"}, "ss-get-all: missing node and key"},
		{[]string{"ss-get-all", "web.1", "ready"}, `ss-get-all: "web.1" is not a node name (\w+, no instance number)`},
		{[]string{"ss-random", "-s", "0"}, "ss-random: -s 0 is out of range: N must be 1 to 1048576"},
		{[]string{"ss-random", "a", "b"}, `ss-random: unexpected argument "b" after key`},
		{[]string{"ss-display"}, "ss-display: missing message"},
		{[]string{"ss-abort", "--nope"}, "ss-abort: no such option: --nope"},
		{[]string{"slipstream-agent", "run", "extra"}, `slipstream-agent run: unexpected argument "extra": it takes none`},
		{[]string{"slipstream-agent", "uninstall", "now"}, `slipstream-agent uninstall: unexpected argument "now": it takes none`},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"/usr/local/bin/" + c.argv[0]}, c.argv[1:]...), noEnv, &stdout, &stderr)
		lines := strings.Split(stderr.String(), "\n")
		if code != exitUsage || stdout.Len() != 0 || lines[0] != c.err || len(lines) < 2 || !strings.HasPrefix(lines[1], "usage: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stderr %q then the usage", c.argv, code, stdout.String(), stderr.String(), exitUsage, c.err)
		}
	}
	// The agent without a command prints its usage as an error.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"/usr/local/bin/slipstream-agent"}, noEnv, &stdout, &stderr); code != exitUsage || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "usage: slipstream-agent <command>") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	// A build's file name is the agent too.
	stdout.Reset()
	if code := run([]string{"bin/agent/slipstream-agent-linux-amd64", "--help"}, noEnv, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "usage: slipstream-agent <command>") {
		t.Errorf("slipstream-agent-linux-amd64 --help: exit %d, stdout %q", code, stdout.String())
	}
}

// TestUninstall_failureIsOne: a failing uninstall script ends the command
// with 1, whatever its own status, so that 2 means a bad command line
// only.
func TestUninstall_failureIsOne(t *testing.T) {
	for script, want := range map[string]int{"exit 0": 0, "exit 2": 1, "exit 7": 1, "echo gone": 0} {
		var stdout, stderr bytes.Buffer
		if code := runUninstall(script, &stdout, &stderr); code != want {
			t.Errorf("%q: exit %d, want %d (stderr %q)", script, code, want, stderr.String())
		}
	}
}

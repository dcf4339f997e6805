package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// exitUsage ends a command whose command line is wrong (an unknown flag, a
// missing argument): 7, a client error, as these commands have always
// exited. Every command of the binary uses this one constant.
const exitUsage = client.ExitClient

// help describes a command for its --help and its usage errors. The flags
// are listed from the command's flag set, so a flag defined there (an
// alias too: one more fs.BoolVar on the same variable) is listed without
// touching the help.
type help struct {
	usage string     // the synopsis: "ss-get [--timeout S] [--noblock] [--ignoreabort] key"
	about string     // what the command does, and its arguments
	exits []exitCode // the exit codes it ends with, in the order to list them
	notes string     // printed last, when set
}

// exitCode is an exit code and what it means, for a command's help.
type exitCode struct {
	code    int
	meaning string
}

// The exit codes the ss-* commands share (SlipStream's).
var (
	exitSuccess     = exitCode{0, "success"}
	exitTimedOut    = exitCode{client.ExitTimeout, "timed out"}
	exitAborted     = exitCode{client.ExitAborted, "the run is aborted (by ss-abort or a failing script)"}
	exitClientError = exitCode{client.ExitClient, "client error: bad usage, unknown key or node, no coordinator configured"}
	exitServerError = exitCode{client.ExitServer, "the coordinator failed"}
	exitUnreachable = exitCode{client.ExitNetwork, "the coordinator is unreachable (after retrying)"}
	exitBadUsage    = exitCode{exitUsage, "bad usage"}
)

// ssExits are the exit codes of an ss-* command that talks to the
// coordinator without waiting for a key.
var ssExits = []exitCode{exitSuccess, exitAborted, exitClientError, exitServerError, exitUnreachable}

// configHelp ends the help of the ss-* commands: where they find the
// coordinator.
const configHelp = `Inside a machine the agent configures these commands. Elsewhere, set
SLIPSTREAM_SERVICEURL, SLIPSTREAM_DIID, SLIPSTREAM_NODE_INSTANCE_NAME and
SLIPSTREAM_TOKEN (or SLIPSTREAM_AGENT_CONFIG, a file like the machine's
/etc/slipstream/agent.json).`

// write prints the command's help: synopsis, description, flags and exit
// codes.
func (h *help) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.usage, h.about)
	type row struct{ left, text string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if len(f.Name) == 1 {
			left = "-" + f.Name
		}
		if arg != "" {
			left += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		rows = append(rows, row{left, text})
		width = max(width, len(left))
	})
	if len(rows) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		for _, r := range rows {
			fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, r.text)
		}
	}
	fmt.Fprintln(w, "\nExit status:")
	for _, e := range h.exits {
		fmt.Fprintf(w, "  %d  %s\n", e.code, e.meaning)
	}
	if h.notes != "" {
		fmt.Fprintf(w, "\n%s\n", h.notes)
	}
}

// flags is a command's flag set. It prints nothing itself: --help goes to
// stdout and usage errors to stderr, as commandLineDone decides.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse accepts SlipStream's --long options and options after arguments.
// It returns flag.ErrHelp for -h, -help or --help.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// isHelpFlag reports whether arg asks for help, as the flag package takes it.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// wantArgs checks the positional arguments against the names the synopsis
// gives them.
func wantArgs(pos []string, names ...string) error {
	switch {
	case len(pos) < len(names):
		return fmt.Errorf("missing %s", strings.Join(names[len(pos):], " and "))
	case len(pos) > len(names) && len(names) == 0:
		return fmt.Errorf("unexpected argument %q: it takes none", pos[0])
	case len(pos) > len(names):
		return fmt.Errorf("unexpected argument %q after %s", pos[len(names)], strings.Join(names, " "))
	}
	return nil
}

// commandLineDone reports whether a command ends at its command line, and
// with which exit code: after --help (its help on stdout, exit 0, whether
// or not a coordinator is configured) or after a usage error (the error
// and the synopsis on stderr, exitUsage). err is what reading the command
// line returned; name is the command as the user typed it.
func commandLineDone(name string, h *help, fs *flag.FlagSet, err error, stdout, stderr io.Writer) (int, bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		h.write(stdout, fs)
		return 0, true
	}
	fmt.Fprintf(stderr, "%s: %v\nusage: %s\nRun \"%s --help\" for its flags and exit codes.\n", name, err, h.usage, name)
	return exitUsage, true
}

// agentUsage is the help of slipstream-agent itself.
func agentUsage(w io.Writer) {
	fmt.Fprintf(w, `usage: slipstream-agent <command> [flags] [arguments]

The SlipStream agent, installed on each machine of a deployment by its bootstrap.

Commands:
  run         run this machine's node: follow the run through the coordinator, run its scripts
  uninstall   stop the agent and remove everything the bootstrap installed
  %s
              SlipStream's commands for deployment scripts; the bootstrap links
              them to this binary, which acts as the command it is called as

Run "slipstream-agent <command> --help" (or "ss-get --help") for a command's usage.
`, strings.Join(commands, ", "))
}

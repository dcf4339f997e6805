package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// exitUsage ends a command whose command line is wrong (an unknown
// option, a missing argument): 2, as SlipStream's commands (optparse's
// error and CommandBase.usageExit both exit 2) and the agent itself. No
// other exit of these commands is 2.
const exitUsage = 2

// help describes a command for its --help and its usage errors. The flags
// are listed from the command's flag set, so a flag defined there (an
// alias too: see alias) is listed without touching the help.
type help struct {
	usage string     // the synopsis: "ss-get [--timeout S] [--noblock] [--ignore-abort] … key"
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
	exitClientError = exitCode{client.ExitClient, "client error: unknown key or node, a key of another instance, no coordinator configured"}
	exitServerError = exitCode{client.ExitServer, "the coordinator failed"}
	exitUnreachable = exitCode{client.ExitNetwork, "the coordinator is unreachable (after retrying)"}
	exitBadUsage    = exitCode{exitUsage, "bad usage: an unknown option, a missing or extra argument"}
)

// ssExits are the exit codes of an ss-* command that talks to the
// coordinator without waiting for a key.
var ssExits = []exitCode{exitSuccess, exitBadUsage, exitUnreachable, exitServerError, exitClientError, exitAborted}

// configHelp ends the help of the ss-* commands: where they find the
// coordinator.
const configHelp = `Inside a machine the agent configures these commands. Elsewhere, set
SLIPSTREAM_SERVICEURL (or --endpoint), SLIPSTREAM_DIID (or --run),
SLIPSTREAM_NODE_INSTANCE_NAME and SLIPSTREAM_TOKEN (or SLIPSTREAM_AGENT_CONFIG,
a file like the machine's /etc/slipstream/agent.json).

SlipStream's spellings and ours are both accepted: --ignore-abort or
--ignoreabort, --name=value, a long option cut short (--time 60), -vv, -s12,
options after the arguments, and -- before an argument that starts with a dash.`

// write prints the command's help: synopsis, description, options and
// exit codes. An alias is listed with the flag it spells differently;
// the options every run command takes (runOptions) come after the
// command's own.
func (h *help) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n", h.usage, h.about)
	type row struct{ left, text string }
	aliases := map[string][]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if a, ok := f.Value.(*aliasValue); ok {
			aliases[a.of] = append(aliases[a.of], f.Name)
		}
	})
	var own, common []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(*aliasValue); ok {
			return
		}
		arg, text := flag.UnquoteUsage(f)
		// A one-letter spelling goes before the flag (-s, --size N), a
		// long one after its text (also --ignoreabort).
		var short, long []string
		for _, n := range append([]string{f.Name}, aliases[f.Name]...) {
			switch {
			case len(n) == 1:
				short = append(short, "-"+n)
			case n == f.Name:
			default:
				long = append(long, "--"+n)
			}
		}
		left := strings.Join(append(short, "--"+f.Name), ", ")
		if len(f.Name) == 1 {
			left = "-" + f.Name
		}
		if arg != "" {
			left += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		if len(long) > 0 {
			text += "; also " + strings.Join(long, ", ")
		}
		if commonOptions[f.Name] {
			common = append(common, row{left, text})
		} else {
			own = append(own, row{left, text})
		}
		width = max(width, len(left))
	})
	for _, section := range []struct {
		title string
		rows  []row
	}{{"Options:", own}, {"Options of every SlipStream run command:", common}} {
		if len(section.rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", section.title)
		for _, r := range section.rows {
			lines := wrap(r.text, helpWidth-width-4)
			fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "  %-*s  %s\n", width, "", l)
			}
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

// helpWidth is the width the help's option lines are wrapped to.
const helpWidth = 80

// wrap cuts text into lines of at most width bytes at spaces (a longer
// word gets a line of its own), and at least one line.
func wrap(text string, width int) []string {
	width = max(width, 20)
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}

// flags is a command's flag set. It prints nothing itself: --help goes to
// stdout and usage errors to stderr, as commandLineDone decides.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
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

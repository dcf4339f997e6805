package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

// uninstallHelp is "slipstream-agent uninstall --help".
var uninstallHelp = help{
	usage: "slipstream-agent uninstall",
	about: `Stop the agent and remove everything the bootstrap installed (the service,
this binary and its ss-* links, /etc/slipstream, the state folder), whichever
deployment the machine belongs to: the way to free a host still claimed by a
deployment that no longer exists. Running it twice is fine.`,
	exits: []exitCode{exitSuccess, {1, "the removal failed (it says why)"}, exitBadUsage},
}

// uninstall is `slipstream-agent uninstall`: it stops the agent and removes
// everything the bootstrap installed, whoever the host belongs to. It is
// the way out for a host still claimed by a deployment that no longer
// exists (slipstream_fixed_host refuses to adopt it and names this
// command). It runs the same script as the provider's destroy, unguarded.
func uninstall(args []string, stdout, stderr io.Writer) int {
	fs := flags("uninstall")
	pos, err := parse(fs, args)
	if err == nil {
		err = wantArgs(pos)
	}
	if code, done := commandLineDone("slipstream-agent uninstall", &uninstallHelp, fs, err, stdout, stderr); done {
		return code
	}
	script, err := bootstrap.UninstallScript(bootstrap.Config{})
	if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent uninstall: %v\n", err)
		return 1
	}
	return runUninstall(script, stdout, stderr)
}

// runUninstall runs the uninstall script: 0 when it succeeds, 1 when it
// fails whatever its own exit status, so that 2 keeps meaning a bad
// command line (exitUsage), as for every command of the binary.
func runUninstall(script string, stdout, stderr io.Writer) int {
	// The script removes this binary while it runs, which Linux allows.
	cmd := exec.Command("/bin/sh", "-c", script) // #nosec G204 -- the bootstrap package's own uninstall script, from the zero Config: nothing from outside goes in
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var exit *exec.ExitError
	if err := cmd.Run(); errors.As(err, &exit) {
		fmt.Fprintf(stderr, "slipstream-agent uninstall: the uninstall script exited with status %d\n", exit.ExitCode())
		return 1
	} else if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent uninstall: %v\n", err)
		return 1
	}
	return 0
}

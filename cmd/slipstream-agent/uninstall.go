package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"

	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

// uninstall is `slipstream-agent uninstall`: it stops the agent and removes
// everything the bootstrap installed, whoever the host belongs to. It is
// the way out for a host still claimed by a deployment that no longer
// exists (slipstream_fixed_host refuses to adopt it and names this
// command). It runs the same script as the provider's destroy, unguarded.
func uninstall(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "slipstream-agent uninstall: takes no arguments (got %q)\n", args)
		return 7
	}
	script, err := bootstrap.UninstallScript(bootstrap.Config{})
	if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent uninstall: %v\n", err)
		return 1
	}
	// The script removes this binary while it runs, which Linux allows.
	cmd := exec.Command("/bin/sh", "-c", script) // #nosec G204 -- the bootstrap package's own uninstall script, from the zero Config: nothing from outside goes in
	cmd.Stdout, cmd.Stderr = stdout, stderr
	var exit *exec.ExitError
	if err := cmd.Run(); errors.As(err, &exit) {
		return exit.ExitCode()
	} else if err != nil {
		fmt.Fprintf(stderr, "slipstream-agent uninstall: %v\n", err)
		return 1
	}
	return 0
}

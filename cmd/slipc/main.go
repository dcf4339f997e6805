// Command slipc compiles SlipStream recipes into Terraform.
//
//	slipc compile [-o DIR] [-module] [-deployment NAME] [-upgrade] PATH
//	slipc validate [-json] [-upgrade] PATH
//	slipc fmt [-check] [-diff] [PATH...]
//	slipc graph [-format dot|text] [-deployment NAME] PATH
//	slipc import slipstream [-o DIR] [-force] FILE.xml|DIR ...
//	slipc serve [-listen ADDR] [-data DIR] [-admin-token-file F]
//	slipc status [-json] [DEPLOYMENT]
//	slipc watch [-timeout D] DEPLOYMENT
//	slipc version
//
// Exit status: 0 success, 1 diagnostics (errors in the recipe, or fmt -check
// found unformatted files), 2 usage errors.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const (
	exitOK    = 0
	exitDiags = 1
	exitUsage = 2
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"compile", "Compile a recipe into a Terraform configuration", runCompile},
	{"validate", "Check a recipe and report its diagnostics", runValidate},
	{"fmt", "Rewrite recipe files in the canonical format", runFmt},
	{"graph", "Show a deployment's nodes, mappings and waits", runGraph},
	{"import", "Convert SlipStream module exports (XML) into a recipe folder", runImport},
	{"serve", "Run the coordinator", runServe},
	{"status", "Show a deployment's state, instances and waits", runStatus},
	{"watch", "Follow a deployment live until its run ends", runWatch},
	{"token", "Issue, list and revoke viewer tokens for the web view", runToken},
	{"version", "Print the slipc version", runVersion},
}

func main() {
	// The batch commands' heap is mostly the recipe and the Terraform being
	// built; collecting less often makes large compiles about a third
	// faster (docs/performance.md). Not for serve: a long-running server
	// with 10,000 parked long-polls would hold five times its live heap.
	// GOGC still wins when set.
	if os.Getenv("GOGC") == "" && (len(os.Args) < 2 || os.Args[1] != "serve") {
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-v", "-version", "--version":
		return runVersion(nil, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "slipc: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: slipc <command> [options] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "slipc compiles SlipStream recipes (*.slip.hcl) into Terraform that uses the slipstream provider.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run \"slipc <command> -help\" for a command's options.")
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", "Print the slipc version.", stderr)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	fmt.Fprintf(stdout, "slipc %s\n", version)
	return exitOK
}

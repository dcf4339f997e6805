package main

import (
	"flag"
	"fmt"
	"io"
)

// newFlagSet makes a subcommand's flag set whose usage names the command,
// its arguments and what it does.
func newFlagSet(name, argsUsage, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: slipc %s [options] %s\n\n%s\n", name, argsUsage, about)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nOptions:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; done reports that the command should exit now
// with code (after -help, or a usage error).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	// Asked-for help goes to stdout with success; the flag package would
	// print it to stderr as if it were an error.
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK, true
		}
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage, true
	}
	return exitOK, false
}

// onePath takes the single PATH argument, defaulting to the current folder.
func onePath(fs *flag.FlagSet, stderr io.Writer) (string, bool) {
	switch fs.NArg() {
	case 0:
		return ".", true
	case 1:
		return fs.Arg(0), true
	}
	fmt.Fprintf(stderr, "slipc %s: expected one recipe PATH, got %d arguments\n\n", fs.Name(), fs.NArg())
	fs.Usage()
	return "", false
}

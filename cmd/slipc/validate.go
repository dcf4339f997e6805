package main

import (
	"fmt"
	"io"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "PATH", "Check the recipe at PATH and every deployment in it, without writing anything\n(except a missing lock entry for a git import).\n\n"+diagnosticsHelp, stderr)
	asJSON := fs.Bool("json", false, "print diagnostics as JSON (the shape of terraform validate -json) on stdout")
	var lf lockFlags
	lf.register(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	path, ok := onePath(fs, stderr)
	if !ok {
		return exitUsage
	}
	prog, resolver, diags := loadRecipe(path, lf)
	if prog != nil {
		_, d := prog.CheckAll()
		diags = append(diags, d...)
		if len(prog.Deployments()) == 0 && !diags.HasErrors() {
			fmt.Fprintln(stderr, "Note: the recipe declares no deployment; only its definitions were checked.")
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, resolver.save()...)
	}
	if *asJSON {
		if err := writeJSONDiagnostics(stdout, diags); err != nil {
			fmt.Fprintln(stderr, err)
			return exitDiags
		}
	} else {
		writeDiagnostics(stderr, parserFiles(prog), diags)
		if !diags.HasErrors() {
			fmt.Fprintln(stdout, "Success! The recipe is valid.")
		}
	}
	if diags.HasErrors() {
		return exitDiags
	}
	return exitOK
}

package main

import (
	"fmt"
	"io"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

func runGraph(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("graph", "PATH", "Print a deployment's nodes with the mappings between them and the waits found in their scripts.\nThe dot format renders with Graphviz: slipc graph PATH | dot -Tsvg > graph.svg", stderr)
	format := fs.String("format", "text", "output format: `dot` or text")
	deployment := fs.String("deployment", "", "the deployment to show when the recipe has several")
	var lf lockFlags
	lf.register(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *format != "dot" && *format != "text" {
		fmt.Fprintf(stderr, "slipc graph: unknown format %q (want dot or text)\n", *format)
		return exitUsage
	}
	path, ok := onePath(fs, stderr)
	if !ok {
		return exitUsage
	}
	prog, _, diags := loadRecipe(path, lf)
	var plan *compiler.Plan
	if prog != nil && !diags.HasErrors() {
		name, d := prog.SelectDeployment(*deployment, path)
		diags = append(diags, d...)
		if !d.HasErrors() {
			plan, d = prog.Check(name)
			diags = append(diags, d...)
		}
	}
	writeDiagnostics(stderr, parserFiles(prog), diags)
	if plan == nil {
		return exitDiags
	}
	g := compiler.BuildGraph(plan)
	if *format == "dot" {
		fmt.Fprint(stdout, g.Dot())
	} else {
		fmt.Fprint(stdout, g.Text())
	}
	if diags.HasErrors() {
		return exitDiags
	}
	return exitOK
}

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
	"github.com/slipstream/terraform-provider-slipstream/migrate/slipstream"
)

// importFormats are the formats slipc import reads, each a subcommand.
var importFormats = []struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}{
	{"slipstream", "SlipStream module exports (XML from ss-module-download or the web UI)", runImportSlipStream},
}

// defaultImportDir is where slipc import writes without -o: a folder of
// its own, so an import never mixes with the files of the current one.
const defaultImportDir = "slipstream-import"

func runImport(args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: slipc import <format> [options] FILE|DIR ...")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Convert another tool's definitions into a recipe folder.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Formats:")
		for _, f := range importFormats {
			fmt.Fprintf(w, "  %-11s %s\n", f.name, f.summary)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Run \"slipc import <format> -help\" for a format's options.")
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "slipc import: expected a format")
		fmt.Fprintln(stderr)
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, f := range importFormats {
		if f.name == args[0] {
			return f.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "slipc import: unknown format %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func runImportSlipStream(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("import slipstream", "FILE.xml|DIR ...", `Convert SlipStream module exports into a recipe folder that slipc validate accepts.

Each FILE is an imageModule or deploymentModule export (ss-module-download,
or the web UI's export); each DIR is searched for *.xml exports. References
between the modules (an image's parent, a node's image) are resolved among
the files given. Images become image blocks (and a component when they have
deployment scripts or a node uses them), scripts become files under
scripts/, deployments keep their nodes and parameter mappings, and each
SlipStream cloud service becomes a cloud block to fill in. A report of what
was mapped where, what changed and what has no equivalent is printed at the
end, and written as comments in the recipe.

The output folder must be new or empty unless -force is given; with -force
the import's files replace files of the same name and other files are left
alone. See docs/migrating-from-slipstream.md.`, stderr)
	out := fs.String("o", defaultImportDir, "the recipe folder to write")
	force := fs.Bool("force", false, "write into an output folder that is not empty")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "slipc import slipstream: expected one or more export files or folders")
		fmt.Fprintln(stderr)
		fs.Usage()
		return exitUsage
	}
	inputs, err := slipstream.ReadInputs(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "slipc import slipstream: %s\n", err)
		return exitDiags
	}
	res, err := slipstream.Import(inputs)
	if err != nil {
		var list slipstream.Errors
		if errors.As(err, &list) {
			fmt.Fprintf(stderr, "slipc import slipstream: %d problem%s in the exports, nothing written:\n", len(list), plural(len(list)))
			for _, e := range list {
				fmt.Fprintf(stderr, "  %s\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "slipc import slipstream: %s\n", err)
		}
		return exitDiags
	}
	if err := res.Write(*out, *force); err != nil {
		fmt.Fprintf(stderr, "slipc import slipstream: %s\n", err)
		return exitDiags
	}
	fmt.Fprint(stdout, res.Report.String())
	fmt.Fprintf(stdout, "\nWrote %d files to %s: %s.\n", len(res.Report.Files), *out, strings.Join(res.Report.Files, ", "))
	return checkImported(*out, stdout, stderr)
}

// checkImported runs slipc validate's checks on the folder just written.
// An import gives a recipe that validates, with a warning per cloud still
// to fill in; anything else is printed (and an error is a bug of the
// import, reported as such).
func checkImported(dir string, stdout, stderr io.Writer) int {
	prog, diags := compiler.Load(dir, compiler.Options{})
	if prog != nil {
		_, d := prog.CheckAll()
		diags = append(diags, d...)
	}
	todo := 0
	var rest hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning && d.Summary == "Cloud to fill in" {
			todo++
			continue
		}
		rest = append(rest, d)
	}
	writeDiagnostics(stderr, parserFiles(prog), rest)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "slipc import slipstream: the recipe written to %s does not validate; this is a bug of the import, please report it with the exports.\n", dir)
		return exitDiags
	}
	fmt.Fprintf(stdout, "slipc validate %s: valid, with %d cloud%s to fill in", dir, todo, plural(todo))
	if len(rest) > 0 {
		fmt.Fprintf(stdout, " and %d other warning%s (above)", len(rest), plural(len(rest)))
	}
	fmt.Fprintln(stdout, ".")
	return exitOK
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

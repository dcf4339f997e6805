package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fmt", "[PATH...]", "Rewrite recipe files (*.slip.hcl) in the canonical format, as terraform fmt does for .tf files.\nA PATH may be a file or a folder (default: the current folder).", stderr)
	check := fs.Bool("check", false, "change nothing; exit 1 and list the files that are not formatted")
	diff := fs.Bool("diff", false, "print the formatted text of each changed file")
	recursive := fs.Bool("recursive", false, "also format recipe files in subfolders")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		found, err := recipeFilesUnder(p, *recursive)
		if err != nil {
			fmt.Fprintf(stderr, "slipc fmt: %s\n", err)
			return exitUsage
		}
		files = append(files, found...)
	}
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	unformatted := false
	for _, fn := range files {
		src, err := os.ReadFile(fn) // #nosec G304 -- a recipe file under the paths the user named on the command line
		if err != nil {
			fmt.Fprintf(stderr, "slipc fmt: %s\n", err)
			return exitDiags
		}
		// Formatting invalid syntax would mangle it: check first.
		if _, d := compiler.ParseFile(parser, src, fn); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		formatted := hclwrite.Format(src)
		if bytes.Equal(src, formatted) {
			continue
		}
		unformatted = true
		fmt.Fprintln(stdout, fn)
		if *diff {
			fmt.Fprintf(stdout, "--- %s (formatted)\n%s", fn, formatted)
		}
		if !*check {
			if err := os.WriteFile(fn, formatted, 0o644); err != nil { // #nosec G306 G703 -- the user's recipe file, read above: it exists, so it keeps its own mode
				fmt.Fprintf(stderr, "slipc fmt: %s\n", err)
				return exitDiags
			}
		}
	}
	writeDiagnostics(stderr, parser.Files(), diags)
	if diags.HasErrors() || (*check && unformatted) {
		return exitDiags
	}
	return exitOK
}

func recipeFilesUnder(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, compiler.FileSuffix) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

// generatedDirs are the folders slipc owns in an output folder; files in
// them that a new compile does not produce are stale and removed.
var generatedDirs = []string{"scripts", "templates", "files"}

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compile", "PATH", "Compile the recipe at PATH (a folder of *.slip.hcl files, or one file) into Terraform:\nmain.tf, variables.tf, outputs.tf and the scripts they read.\n\n"+diagnosticsHelp, stderr)
	out := fs.String("o", "", "output `DIR` (default: PATH/terraform)")
	module := fs.Bool("module", false, "emit a reusable module: provider aliases are passed in by the caller")
	deployment := fs.String("deployment", "", "the deployment to compile when the recipe has several")
	var lf lockFlags
	lf.register(fs)
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	path, ok := onePath(fs, stderr)
	if !ok {
		return exitUsage
	}
	if *out == "" {
		dir := path
		if st, err := os.Stat(path); err == nil && !st.IsDir() {
			dir = filepath.Dir(path)
		}
		*out = filepath.Join(dir, "terraform")
	}
	resolver, rdiags := newImportResolver(path, lf)
	output, prog, diags := compiler.Compile(path, compiler.CompileOptions{
		Load:       compiler.Options{Imports: resolver},
		Emit:       compiler.EmitOptions{Module: *module, Source: filepath.ToSlash(filepath.Clean(path)), Version: version},
		Deployment: *deployment,
	})
	diags = append(rdiags, diags...)
	if !diags.HasErrors() {
		diags = append(diags, resolver.save()...)
	}
	writeDiagnostics(stderr, parserFiles(prog), diags)
	if diags.HasErrors() {
		return exitDiags
	}
	if err := writeOutput(*out, output); err != nil {
		fmt.Fprintf(stderr, "slipc compile: %s\n", err)
		return exitDiags
	}
	fmt.Fprintf(stdout, "Compiled %s into %s (%d files).\n", path, *out, len(output.Files))
	return exitOK
}

func parserFiles(p *compiler.Program) map[string]*hcl.File {
	if p == nil || p.Parser == nil {
		return nil
	}
	return p.Parser.Files()
}

// writeOutput writes the emitted files, leaving unchanged files untouched
// (so their timestamps do not move) and removing stale generated files.
func writeOutput(dir string, out *compiler.Output) error {
	// The output is a Terraform configuration to read, commit and apply
	// like source code: folders 0755, files 0644, scripts 0755.
	if err := os.MkdirAll(dir, 0o755); err != nil { // #nosec G301 -- the -out folder: source code, see above
		return err
	}
	for rel, content := range out.Files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, content) { // #nosec G304 -- a file the compiler emits, under the -out folder the user named
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil { // #nosec G301 -- source code, see above
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(rel, ".sh") {
			mode = 0o755
		}
		tmp := p + ".slipc-tmp"
		if err := os.WriteFile(tmp, content, mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	for _, g := range generatedDirs {
		root := filepath.Join(dir, g)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			if _, keep := out.Files[filepath.ToSlash(rel)]; !keep {
				return os.Remove(p) // #nosec G122 -- the user's own -out folder; Remove unlinks a final symbolic link rather than follow it
			}
			return nil
		})
	}
	return nil
}

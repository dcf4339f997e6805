package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzLoad feeds arbitrary bytes through every pass a user's compile runs:
// load, resolve, check (with the wait-graph analysis) and emit. It must
// never panic or hang, and every diagnostic must point inside the input.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/recipes/*/*.slip.hcl")
	more, _ := filepath.Glob("testdata/golden/*/recipe/*.slip.hcl")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, c := range diagCases {
		for _, src := range c.files {
			f.Add([]byte(src))
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		filename := filepath.Join(dir, "fuzz.slip.hcl")
		p, diags := LoadSource(src, filename, Options{})
		if p != nil {
			plans, d := p.CheckAll()
			diags = append(diags, d...)
			if !diags.HasErrors() {
				for _, plan := range plans {
					out, d := Emit(plan, EmitOptions{Source: "fuzz"})
					diags = append(diags, d...)
					if !d.HasErrors() {
						plain, _ := Emit(plan, EmitOptions{Source: "fuzz", formatEveryBlock: true})
						sameOutput(t, out, plain)
					}
				}
			}
		}
		for _, d := range diags {
			checkRange(t, d, d.Subject, filename, len(src))
			checkRange(t, d, d.Context, filename, len(src))
		}
	})
}

// sameOutput fails when shared formatting changed any byte.
func sameOutput(t *testing.T, shared, plain *Output) {
	t.Helper()
	for rel, want := range plain.Files {
		if got := shared.Files[rel]; string(got) != string(want) {
			t.Fatalf("%s: formatting shared between blocks differs from formatting each block:\n%s", rel, lineDiff(string(want), string(got)))
		}
	}
}

func checkRange(t *testing.T, d *hcl.Diagnostic, r *hcl.Range, filename string, size int) {
	if r == nil || r.Filename != filename {
		return
	}
	if r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > size {
		t.Fatalf("diagnostic %q has range %v outside the %d-byte input", d.Summary, r, size)
	}
}

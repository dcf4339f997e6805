package compiler

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// compileForTest compiles the recipe at dir with a fixed source name, so
// the output does not depend on where the test runs.
func compileForTest(t *testing.T, dir, source string, module bool) *Output {
	t.Helper()
	out := compileWith(t, dir, EmitOptions{Source: source, Version: "test", Module: module})
	// Every test compile also checks that formatting shared between blocks
	// of one shape gives what formatting each block gives.
	sameOutput(t, out, compileWith(t, dir, EmitOptions{Source: source, Version: "test", Module: module, formatEveryBlock: true}))
	return out
}

func compileWith(t *testing.T, dir string, opts EmitOptions) *Output {
	t.Helper()
	// The cases under testdata/golden test the emitter, including its
	// output for connectors the provider does not have yet (so it is ready
	// when they land); the example recipes are users' recipes and get the
	// check a user gets.
	planned := strings.HasPrefix(filepath.ToSlash(dir), "testdata/golden/")
	out, _, diags := Compile(dir, CompileOptions{Emit: opts, Load: Options{plannedConnectors: planned}})
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			t.Errorf("%s: %s", d.Summary, d.Detail)
		}
	}
	if diags.HasErrors() {
		t.Fatalf("compiling %s failed", dir)
	}
	return out
}

// checkGolden compares out with the files under want, or rewrites them
// with -update.
func checkGolden(t *testing.T, out *Output, want string) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(want); err != nil {
			t.Fatal(err)
		}
		for rel, content := range out.Files {
			p := filepath.Join(want, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	wantFiles := map[string][]byte{}
	err := filepath.WalkDir(want, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		b, err := os.ReadFile(p)
		wantFiles[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("reading golden files (run go test ./compiler -update to create them): %v", err)
	}
	for rel, content := range out.Files {
		w, ok := wantFiles[rel]
		if !ok {
			t.Errorf("unexpected output file %s", rel)
			continue
		}
		if !bytes.Equal(w, content) {
			t.Errorf("%s differs from %s (run go test ./compiler -update to accept):\n%s", rel, filepath.Join(want, rel), lineDiff(string(w), string(content)))
		}
	}
	for rel := range wantFiles {
		if _, ok := out.Files[rel]; !ok {
			t.Errorf("missing output file %s", rel)
		}
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, w, g)
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}

func exampleDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../examples/recipes")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) < 4 {
		t.Fatalf("expected the four example recipes, found %v", names)
	}
	return names
}

// TestGoldenExamples compiles every example recipe and compares the result
// with testdata/examples/<name>/.
func TestGoldenExamples(t *testing.T) {
	for _, name := range exampleDirs(t) {
		t.Run(name, func(t *testing.T) {
			out := compileForTest(t, filepath.Join("../examples/recipes", name), "examples/recipes/"+name, false)
			checkGolden(t, out, filepath.Join("testdata/examples", name))
		})
	}
}

// TestGoldenCases compiles each testdata/golden/<case>/recipe and compares
// with testdata/golden/<case>/want. A case whose folder name ends in
// _module is compiled with -module. Cases may use planned connectors
// (inheritance uses ec2 and openstack): see compileWith.
func TestGoldenCases(t *testing.T) {
	entries, err := os.ReadDir("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata/golden", name)
			out := compileForTest(t, filepath.Join(dir, "recipe"), name, strings.HasSuffix(name, "_module"))
			checkGolden(t, out, filepath.Join(dir, "want"))
		})
	}
}

// TestCompileDeterministic compiles each example twice in fresh programs:
// the bytes must be identical.
func TestCompileDeterministic(t *testing.T) {
	for _, name := range exampleDirs(t) {
		dir := filepath.Join("../examples/recipes", name)
		a := compileForTest(t, dir, name, false)
		b := compileForTest(t, dir, name, false)
		if len(a.Files) != len(b.Files) {
			t.Fatalf("%s: %d files then %d", name, len(a.Files), len(b.Files))
		}
		for rel := range a.Files {
			if !bytes.Equal(a.Files[rel], b.Files[rel]) {
				t.Errorf("%s: %s differs between two compiles", name, rel)
			}
		}
	}
}

// TestFormattedInputCompilesTheSame checks that formatting is idempotent on
// every example and that compiling the formatted recipe gives the same
// Terraform (formatting never changes meaning).
func TestFormattedInputCompilesTheSame(t *testing.T) {
	for _, name := range exampleDirs(t) {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("../examples/recipes", name)
			tmp := filepath.Join(t.TempDir(), name)
			copyTree(t, src, tmp)
			_, files, err := RecipeFiles(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				b, _ := os.ReadFile(f)
				once := hclwrite.Format(b)
				if twice := hclwrite.Format(once); !bytes.Equal(once, twice) {
					t.Errorf("%s: formatting is not idempotent", f)
				}
				// Scramble the layout first, so formatting has work to do.
				scrambled := bytes.ReplaceAll(b, []byte(" = "), []byte("   =    "))
				if err := os.WriteFile(f, hclwrite.Format(scrambled), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := compileForTest(t, src, name, false)
			got := compileForTest(t, tmp, name, false)
			for rel := range want.Files {
				if !bytes.Equal(want.Files[rel], got.Files[rel]) {
					t.Errorf("%s: %s differs after formatting the recipe", name, rel)
				}
			}
		})
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "terraform" && p != src {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEmittedTerraformIsFormatted checks every emitted .tf file is already
// in canonical form; with a Terraform CLI available (TF_ACC_TERRAFORM_PATH,
// as make test sets) it also asks `terraform fmt -check` itself.
func TestEmittedTerraformIsFormatted(t *testing.T) {
	dirs := map[string]string{}
	for _, name := range exampleDirs(t) {
		dirs["examples/"+name] = filepath.Join("../examples/recipes", name)
	}
	cases, _ := filepath.Glob("testdata/golden/*/recipe")
	for _, c := range cases {
		dirs[c] = c
	}
	tfDir := t.TempDir()
	for label, dir := range dirs {
		out := compileForTest(t, dir, label, strings.HasSuffix(filepath.Dir(dir), "_module"))
		for rel, content := range out.Files {
			if !strings.HasSuffix(rel, ".tf") {
				continue
			}
			if formatted := hclwrite.Format(content); !bytes.Equal(formatted, content) {
				t.Errorf("%s/%s is not in canonical format:\n%s", label, rel, lineDiff(string(formatted), string(content)))
			}
			p := filepath.Join(tfDir, strings.ReplaceAll(label, "/", "_"), rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		t.Log("TF_ACC_TERRAFORM_PATH is not set; skipping the check with the real terraform fmt")
		return
	}
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", tfDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}

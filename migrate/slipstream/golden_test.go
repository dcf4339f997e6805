package slipstream

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want with the current output")

// reportFile holds a case's expected report beside its expected recipe.
const reportFile = "REPORT.txt"

// goldenCases lists the cases under testdata: each has input/ (real
// SlipStream exports, see testdata/README.md) and want/ (the recipe folder
// and the report the import gives).
func goldenCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 6 {
		t.Fatalf("expected the six import cases under testdata, found %v", names)
	}
	return names
}

// importCase imports testdata/<name>/input, as slipc import would read it.
func importCase(t *testing.T, name string) *Result {
	t.Helper()
	inputs, err := ReadInputs([]string{filepath.Join("testdata", name, "input")})
	if err != nil {
		t.Fatal(err)
	}
	// Names relative to the input folder, so the report does not depend on
	// where the test runs.
	for i := range inputs {
		inputs[i].Name = filepath.Base(inputs[i].Name)
	}
	res, err := Import(inputs)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

// TestGolden imports each case and compares the recipe folder and the
// report with testdata/<case>/want (go test ./migrate/slipstream -update
// rewrites them).
func TestGolden(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			res := importCase(t, name)
			got := map[string][]byte{reportFile: []byte(res.Report.String())}
			for p, b := range res.Files {
				got[p] = b
			}
			want := filepath.Join("testdata", name, "want")
			if *update {
				if err := os.RemoveAll(want); err != nil {
					t.Fatal(err)
				}
				for p, b := range got {
					full := filepath.Join(want, filepath.FromSlash(p))
					if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(full, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			wantFiles := readTree(t, want)
			for p, b := range got {
				w, ok := wantFiles[p]
				switch {
				case !ok:
					t.Errorf("unexpected file %s (run go test ./migrate/slipstream -update to accept)", p)
				case !bytes.Equal(w, b):
					t.Errorf("%s differs from %s:\n%s", p, filepath.Join(want, p), firstDiff(string(w), string(b)))
				}
			}
			for p := range wantFiles {
				if _, ok := got[p]; !ok {
					t.Errorf("missing file %s", p)
				}
			}
		})
	}
}

// TestImportedRecipesValidate writes each case's recipe and runs what
// slipc validate runs on it: it loads, every deployment is checked, and
// the wait graph of every deployment is analysed, with no error. The only
// warnings are the clouds to fill in.
func TestImportedRecipesValidate(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			res := importCase(t, name)
			dir := t.TempDir()
			if err := res.Write(dir, false); err != nil {
				t.Fatal(err)
			}
			prog, diags := compiler.Load(dir, compiler.Options{})
			if prog == nil {
				t.Fatalf("the imported recipe does not load:\n%s", diagText(diags))
			}
			plans, d := prog.CheckAll()
			diags = append(diags, d...)
			if diags.HasErrors() {
				t.Fatalf("slipc validate finds errors in the imported recipe:\n%s", diagText(diags))
			}
			// The only warnings are the clouds to fill in, one each.
			todo := 0
			for _, dg := range diags {
				if dg.Summary != "Cloud to fill in" {
					t.Errorf("unexpected warning: %s: %s", dg.Summary, dg.Detail)
				}
				todo++
			}
			if clouds := strings.Count(string(res.Files[cloudsFile]), "\ncloud \""); todo != clouds {
				t.Errorf("%d warnings for %d clouds to fill in", todo, clouds)
			}
			if len(plans) != len(prog.Deployments()) {
				t.Fatalf("%d deployments, %d checked", len(prog.Deployments()), len(plans))
			}
			for _, plan := range plans {
				// The wait graph: every node of the deployment is in it, and
				// every mapping is an edge of it.
				g := compiler.BuildGraph(plan)
				if len(g.Nodes) != len(plan.Deployment.Nodes) {
					t.Errorf("deployment %s: the graph has %d nodes, the deployment %d", plan.Deployment.Name, len(g.Nodes), len(plan.Deployment.Nodes))
				}
				mappings := 0
				for _, pn := range plan.Nodes {
					for _, iv := range pn.Inputs {
						if iv.FromNode != "" {
							mappings++
						}
					}
				}
				edges := 0
				for _, e := range g.Edges {
					if e.Kind == "mapping" {
						edges++
					}
				}
				if edges != mappings {
					t.Errorf("deployment %s: %d mappings, %d mapping edges in the graph", plan.Deployment.Name, mappings, edges)
				}
			}
			// The recipe is in slipc fmt's canonical form.
			for p, b := range res.Files {
				if strings.HasSuffix(p, compiler.FileSuffix) && !bytes.Equal(hclwrite.Format(b), b) {
					t.Errorf("%s is not formatted as slipc fmt would", p)
				}
			}
		})
	}
}

// TestWaitGraphOfImportedScripts checks that the analysis reads the
// imported scripts themselves: the test client's execute script waits for
// the port and readiness mapped from apache (its hostname is preset), and
// apache's execute script waits for its own port, which the preset script
// before it sets: no deadlock, no self-wait reported.
func TestWaitGraphOfImportedScripts(t *testing.T) {
	res := importCase(t, "service_testing")
	dir := t.TempDir()
	if err := res.Write(dir, false); err != nil {
		t.Fatal(err)
	}
	prog, diags := compiler.Load(dir, compiler.Options{})
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	plan, diags := prog.Check("system")
	if diags.HasErrors() {
		t.Fatal(diagText(diags))
	}
	waits := map[string]string{}
	for _, e := range compiler.BuildGraph(plan).Edges {
		if e.Kind == "wait" {
			waits[e.From+" waits for "+e.Label] = e.Where
		}
	}
	for want, file := range map[string]string{
		"testclient waits for apache:port":  "scripts/client/execute.sh",
		"testclient waits for apache:ready": "scripts/client/execute.sh",
		"apache waits for apache:port":      "scripts/apache/execute.sh",
	} {
		where, ok := waits[want]
		if !ok {
			t.Errorf("no wait %q in the graph; waits: %v", want, waits)
			continue
		}
		if !strings.Contains(filepath.ToSlash(where), file) {
			t.Errorf("%s: found at %s, want in %s", want, where, file)
		}
	}
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "  %v %s: %s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			fmt.Fprintf(&b, " (%s)", d.Subject)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("reading %s (run go test ./migrate/slipstream -update to create it): %v", root, err)
	}
	return files
}

// firstDiff shows the first lines where two texts differ.
func firstDiff(want, got string) string {
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

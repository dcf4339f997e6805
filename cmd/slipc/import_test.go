package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const importCases = "../../migrate/slipstream/testdata"

func TestImportUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "expected a format"},
		{[]string{"import", "terraform"}, `unknown format "terraform"`},
		{[]string{"import", "slipstream"}, "expected one or more export files or folders"},
		{[]string{"import", "slipstream", "-nope", "x.xml"}, "flag provided but not defined"},
	} {
		code, _, errOut := slipc(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("slipc %s: code %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, errOut, exitUsage, c.want)
		}
	}
	if code, out, _ := slipc(t, "import", "-help"); code != exitOK || !strings.Contains(out, "slipstream") {
		t.Errorf("import -help: code %d, stdout %q", code, out)
	}
	if code, out, _ := slipc(t, "import", "slipstream", "-help"); code != exitOK || !strings.Contains(out, "Usage: slipc import slipstream [options] FILE.xml|DIR") || !strings.Contains(out, "-force") {
		t.Errorf("import slipstream -help: code %d, stdout %q", code, out)
	}
	if code, out, _ := slipc(t, "--help"); code != exitOK || !strings.Contains(out, "import") {
		t.Errorf("--help does not list import: %q", out)
	}
}

// TestImportSlipStream imports real exports, then validates, formats and
// graphs the recipe with the other commands.
func TestImportSlipStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recipe")
	code, out, errOut := slipc(t, "import", "slipstream", "-o", dir, filepath.Join(importCases, "service_testing", "input"))
	if code != exitOK {
		t.Fatalf("import: code %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"Imported 4 SlipStream modules from 5 files.",
		`→ deployment "system"`,
		`cloud "default" (clouds.slip.hcl)`,
		"Not imported, with no equivalent in a recipe",
		"Wrote 11 files to " + dir,
		"slipc validate " + dir + ": valid, with 1 cloud to fill in.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
	if code, out, errOut := slipc(t, "validate", dir); code != exitOK || !strings.Contains(out, "Success!") || !strings.Contains(errOut, "Warning: Cloud to fill in") {
		t.Errorf("validate: code %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := slipc(t, "fmt", "-check", dir); code != exitOK || out != "" {
		t.Errorf("fmt -check: code %d, files %q\n%s", code, out, errOut)
	}
	if code, out, _ := slipc(t, "graph", dir); code != exitOK || !strings.Contains(out, "node testclient: component client on cloud default (todo)") {
		t.Errorf("graph: code %d\n%s", code, out)
	}
	if code, _, errOut := slipc(t, "compile", "-o", t.TempDir(), dir); code != exitDiags || !strings.Contains(errOut, "Error: Cloud to fill in") {
		t.Errorf("compile before the cloud is filled in: code %d\n%s", code, errOut)
	}

	// The folder is not empty now: a second import is refused, unless forced.
	code, _, errOut = slipc(t, "import", "slipstream", "-o", dir, filepath.Join(importCases, "service_testing", "input"))
	if code != exitDiags || !strings.Contains(errOut, "the output folder is not empty (use -force") {
		t.Errorf("import into a folder that is not empty: code %d, stderr %q", code, errOut)
	}
	if code, _, errOut := slipc(t, "import", "slipstream", "-force", "-o", dir, filepath.Join(importCases, "service_testing", "input")); code != exitOK {
		t.Errorf("import -force: code %d\n%s", code, errOut)
	}
}

// TestImportSlipStreamErrors: broken exports give every problem with its
// file, line and element path, and write nothing.
func TestImportSlipStreamErrors(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(importCases, "service_testing", "input", "examples_tutorials_service-testing_system.xml"))
	if err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	truncated := filepath.Join(in, "system.xml")
	if err := os.WriteFile(truncated, src[:len(src)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(in, "orphan.xml")
	if err := os.WriteFile(orphan, []byte(`<imageModule shortName="o" parentUri="module/p" moduleReferenceUri="module/p/gone"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "recipe")
	code, stdout, errOut := slipc(t, "import", "slipstream", "-o", out, truncated, orphan)
	if code != exitDiags {
		t.Fatalf("code %d, want %d\n%s", code, exitDiags, errOut)
	}
	for _, want := range []string{
		"1 problem in the exports, nothing written",
		truncated + ":",
		"deploymentModule/nodes/entry",
		"the export is truncated",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the output folder was made: %v", err)
	}
	// Without the truncated file, the missing parent is the problem.
	code, _, errOut = slipc(t, "import", "slipstream", "-o", out, orphan)
	if code != exitDiags || !strings.Contains(errOut, orphan+":1: imageModule/@moduleReferenceUri: image p/o refers to image module \"p/gone\", which is not among the files given") {
		t.Errorf("missing parent: code %d\n%s", code, errOut)
	}
	if code, _, errOut := slipc(t, "import", "slipstream", filepath.Join(in, "nothing.xml")); code != exitDiags || !strings.Contains(errOut, "no such file") {
		t.Errorf("a file that does not exist: code %d\n%s", code, errOut)
	}
}

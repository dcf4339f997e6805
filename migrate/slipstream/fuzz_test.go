package slipstream

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

// FuzzImport feeds arbitrary bytes to the import as one export. It must
// never panic. A failure is a list of errors, each naming the input and,
// when it has one, a line inside it. A success is a recipe in slipc fmt's
// form that slipc validate accepts (the analysis of its wait graph
// included).
func FuzzImport(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/input/*.xml")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{baseImage, app, deployment(mapping("peer", "db.2:token", true) + mapping("port", "'8080'", false))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Import([]Input{{Name: "fuzz.xml", Data: data}})
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v (%T) is not a list of input errors", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range list {
				if e.File != "fuzz.xml" || e.Msg == "" || e.Line < 0 || e.Line > lines {
					t.Fatalf("error %q: file %q, line %d of %d", e.Error(), e.File, e.Line, lines)
				}
			}
			return
		}
		for p, b := range res.Files {
			if strings.HasSuffix(p, compiler.FileSuffix) && !bytes.Equal(hclwrite.Format(b), b) {
				t.Fatalf("%s is not formatted:\n%s", p, b)
			}
		}
		dir := t.TempDir()
		if err := res.Write(dir, false); err != nil {
			t.Fatal(err)
		}
		prog, diags := compiler.Load(dir, compiler.Options{})
		if prog != nil {
			_, d := prog.CheckAll()
			diags = append(diags, d...)
		}
		if diags.HasErrors() {
			var files strings.Builder
			for p, b := range res.Files {
				if strings.HasSuffix(p, compiler.FileSuffix) {
					files.WriteString("--- " + p + "\n" + string(b))
				}
			}
			t.Fatalf("the imported recipe does not validate:\n%s\n%s", diagText(diags), files.String())
		}
	})
}

package slipstream

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// importError runs an import that must fail and returns its errors.
func importError(t *testing.T, inputs ...Input) Errors {
	t.Helper()
	res, err := Import(inputs)
	if err == nil {
		t.Fatalf("the import succeeded (%d files); want an error", len(res.Files))
	}
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error %v is %T, want Errors", err, err)
	}
	return list
}

// lineOf is the 1-based line of the byte at offset.
func lineOf(b []byte, offset int) int {
	return strings.Count(string(b[:offset]), "\n") + 1
}

// TestTruncatedExport cuts a real deployment export inside one of its
// parameter mappings: the error names the file, the line of the cut and
// the path of the element the file ends in.
func TestTruncatedExport(t *testing.T) {
	full := readTestdata(t, "service_testing/input/examples_tutorials_service-testing_system.xml")
	cut := strings.Index(string(full), "<value>apache:port</value>") + len("<value>apache:po")
	errs := importError(t, Input{Name: "system.xml", Data: full[:cut]})
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
	}
	e := errs[0]
	if e.File != "system.xml" || e.Line != lineOf(full, cut) {
		t.Errorf("error at %s:%d, want system.xml:%d", e.File, e.Line, lineOf(full, cut))
	}
	if want := "deploymentModule/nodes/entry[2]/node/parameterMappings/entry/parameter/value"; e.Path != want {
		t.Errorf("path %q, want %q", e.Path, want)
	}
	if !strings.Contains(e.Msg, "truncated") || !strings.Contains(e.Msg, "<value>") {
		t.Errorf("message %q does not say the export is truncated inside <value>", e.Msg)
	}
	// Every cut of the file is an error with a path, never a panic.
	for _, n := range []int{1, 10, 100, 1000, 5000, 20000, len(full) / 2, len(full) - 30} {
		errs := importError(t, Input{Name: "system.xml", Data: full[:n]})
		if errs[0].Line == 0 || (n > 200 && errs[0].Path == "") {
			t.Errorf("cut at %d: %v has no line or no path", n, errs[0])
		}
	}
}

func TestMalformedExports(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		path, msg string
	}{
		{
			name: "mismatched end tag",
			src:  "<imageModule shortName=\"a\" parentUri=\"module/p\">\n  <targets>\n    <target name=\"execute\">echo</targets>\n</imageModule>\n",
			line: 3, path: "imageModule/targets/target", msg: "element <target> closed by </targets>",
		},
		{
			name: "bad attribute",
			src:  "<imageModule shortName=a>\n</imageModule>\n",
			line: 1, msg: "unquoted or missing attribute value",
		},
		{
			name: "not XML",
			src:  "\x00\x01binary",
			line: 1, msg: "XML syntax error",
		},
		{
			name: "empty",
			src:  "   \n",
			msg:  "no XML element",
		},
		{
			name: "another root",
			src:  "<project>\n  <modelVersion>4.0.0</modelVersion>\n</project>\n",
			line: 1, path: "project", msg: "a SlipStream module export is an <imageModule>, a <deploymentModule> or a <projectModule>",
		},
		{
			name: "two roots",
			src:  "<imageModule shortName=\"a\"/>\n<imageModule shortName=\"b\"/>\n",
			line: 2, msg: "a second root element",
		},
		{
			name: "nameless module",
			src:  "<imageModule isBase=\"true\"/>",
			line: 1, path: "imageModule", msg: "the module has no name",
		},
		{
			name: "bad multiplicity",
			src: `<deploymentModule shortName="d" parentUri="module/p">
  <nodes>
    <entry><string>a</string><node name="a" imageUri="module/p/i" multiplicity="1"/></entry>
    <entry><string>b</string><node name="b" imageUri="module/p/i" multiplicity="many"/></entry>
  </nodes>
</deploymentModule>`,
			line: 4, path: "deploymentModule/nodes/entry[2]/node", msg: `multiplicity "many" is not a whole number`,
		},
		{
			name: "bad node name",
			src: `<deploymentModule shortName="d" parentUri="module/p">
  <nodes>
    <entry><string>web server</string><node name="web server" imageUri="module/p/i"/></entry>
  </nodes>
</deploymentModule>`,
			line: 3, path: "deploymentModule/nodes/entry/node", msg: `node name "web server"`,
		},
		{
			name: "bad mapping flag",
			src: `<deploymentModule shortName="d" parentUri="module/p">
  <nodes>
    <entry><string>a</string><node name="a" imageUri="module/p/i">
      <parameterMappings>
        <entry><string>x</string><parameter name="x" isMappedValue="yes"><value>b:y</value></parameter></entry>
      </parameterMappings>
    </node></entry>
  </nodes>
</deploymentModule>`,
			line: 5, path: "deploymentModule/nodes/entry/node/parameterMappings/entry/parameter", msg: `isMappedValue "yes"`,
		},
		{
			name: "deeply nested",
			src:  "<imageModule shortName=\"a\">" + strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100) + "</imageModule>",
			line: 1, msg: "nested more than 64 deep",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := importError(t, Input{Name: "bad.xml", Data: []byte(c.src)})
			e := errs[0]
			if e.File != "bad.xml" || e.Line != c.line || (c.path != "" && e.Path != c.path) || !strings.Contains(e.Msg, c.msg) {
				t.Errorf("got %q (line %d, path %q)\nwant line %d, path %q, message containing %q", e.Error(), e.Line, e.Path, c.line, c.path, c.msg)
			}
		})
	}
}

// TestUnresolvedReferences: a parent or a node's image missing from the
// files, or a loop of parents, is an error naming the reference and where
// it is; every one is reported at once.
func TestUnresolvedReferences(t *testing.T) {
	child := `<imageModule shortName="child" parentUri="module/p" moduleReferenceUri="module/p/missing/12" version="3"/>`
	dep := `<deploymentModule shortName="d" parentUri="module/p">
  <nodes>
    <entry><string>a</string><node name="a" imageUri="module/p/nowhere"/></entry>
  </nodes>
</deploymentModule>`
	errs := importError(t, Input{Name: "child.xml", Data: []byte(child)}, Input{Name: "d.xml", Data: []byte(dep)})
	if len(errs) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(errs), errs)
	}
	if e := errs[0]; e.File != "child.xml" || e.Path != "imageModule/@moduleReferenceUri" || !strings.Contains(e.Msg, `"p/missing/12", which is not among the files given`) {
		t.Errorf("missing parent: %v", e)
	}
	if e := errs[1]; e.File != "d.xml" || e.Path != "deploymentModule/nodes/entry/node/@imageUri" || !strings.Contains(e.Msg, `"p/nowhere"`) {
		t.Errorf("missing node image: %v", e)
	}

	a := `<imageModule shortName="a" parentUri="module/p" moduleReferenceUri="module/p/b"/>`
	b := `<imageModule shortName="b" parentUri="module/p" moduleReferenceUri="module/p/a"/>`
	errs = importError(t, Input{Name: "a.xml", Data: []byte(a)}, Input{Name: "b.xml", Data: []byte(b)})
	if !strings.Contains(errs[0].Msg, "loops") {
		t.Errorf("parent loop: %v", errs)
	}

	// A node naming a deployment where an image belongs.
	other := `<deploymentModule shortName="other" parentUri="module/p"/>`
	dep = `<deploymentModule shortName="d" parentUri="module/p">
  <nodes><entry><string>a</string><node name="a" imageUri="module/p/other"/></entry></nodes>
</deploymentModule>`
	errs = importError(t, Input{Name: "other.xml", Data: []byte(other)}, Input{Name: "d.xml", Data: []byte(dep)})
	if !strings.Contains(errs[0].Msg, "as a deployment module") {
		t.Errorf("wrong kind: %v", errs)
	}
}

// TestSeveralErrorsAtOnce: one run reports every malformed file.
func TestSeveralErrorsAtOnce(t *testing.T) {
	errs := importError(t,
		Input{Name: "one.xml", Data: []byte("<imageModule")},
		Input{Name: "two.xml", Data: []byte("<imageModule/>")},
		Input{Name: "three.xml", Data: []byte(`<imageModule shortName="ok" parentUri="module/p"/>`)},
	)
	if len(errs) != 2 || errs[0].File != "one.xml" || errs[1].File != "two.xml" {
		t.Fatalf("got %v, want an error for one.xml and one for two.xml", errs)
	}
	text := errs.Error()
	if !strings.Contains(text, "one.xml:1") || !strings.Contains(text, "two.xml:1: imageModule: the module has no name") {
		t.Errorf("message:\n%s", text)
	}
}

// TestFolderSkipsOtherXML: in a folder, an XML file that is not a module
// export is listed as skipped; named on its own, it is an error.
func TestFolderSkipsOtherXML(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pom.xml"), []byte("<project/>"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "image.xml"), readTestdata(t, "base_image/input/image.xml"), 0o600); err != nil {
		t.Fatal(err)
	}
	inputs, err := ReadInputs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.Skipped) != 1 || !strings.Contains(res.Report.Skipped[0], "pom.xml: not a SlipStream module export") {
		t.Errorf("skipped: %v", res.Report.Skipped)
	}
	inputs, err = ReadInputs([]string{filepath.Join(dir, "pom.xml")})
	if err != nil {
		t.Fatal(err)
	}
	importError(t, inputs...)
	if _, err := ReadInputs([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no *.xml files") {
		t.Errorf("an empty folder: %v", err)
	}
}

// TestEncodings: exports declaring ISO-8859-1 are read; an encoding the
// import does not know is refused by name.
func TestEncodings(t *testing.T) {
	latin1 := append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><imageModule shortName="caf" parentUri="module/p" isBase="true" description="caf`), 0xe9, '"', '/', '>')
	res, err := Import([]Input{{Name: "latin1.xml", Data: latin1}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.Files[imagesFile]), `description = "café"`) {
		t.Errorf("images.slip.hcl:\n%s", res.Files[imagesFile])
	}
	errs := importError(t, Input{Name: "ebcdic.xml", Data: []byte(`<?xml version="1.0" encoding="EBCDIC"?><imageModule/>`)})
	if !strings.Contains(errs[0].Msg, `unsupported encoding "EBCDIC"`) {
		t.Errorf("got %v", errs)
	}
}

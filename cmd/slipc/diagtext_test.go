package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current output")

// render is what writeDiagnostics writes, at a given width and coloring.
func render(files map[string]*hcl.File, diags hcl.Diagnostics, width int, color bool) string {
	var b bytes.Buffer
	dw := &diagnosticWriter{w: &b, files: files, width: width, color: color}
	if err := dw.WriteDiagnostics(diags); err != nil {
		panic(err)
	}
	return b.String()
}

// renderHCL is what hcl's own writer writes for the same.
func renderHCL(files map[string]*hcl.File, diags hcl.Diagnostics, width int, color bool) string {
	var b bytes.Buffer
	if err := hcl.NewDiagnosticTextWriter(&b, files, uint(width), color).WriteDiagnostics(diags); err != nil {
		panic(err)
	}
	return b.String()
}

// loadDiags loads a recipe folder written from files and returns its
// diagnostics (CheckAll's too) with the sources they point into.
func loadDiags(t *testing.T, files map[string]string) (map[string]*hcl.File, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, diags := compiler.Load(dir, compiler.Options{})
	if p == nil {
		t.Fatalf("no program: %v", diags)
	}
	_, d := p.CheckAll()
	return p.Parser.Files(), append(diags, d...)
}

// TestDiagnosticWriter_sameAsHCL: for ordinary source the output is hcl's,
// byte for byte, in color and without, at several widths: multi-line
// contexts, empty ranges, warnings, missing sources, values of the
// expression's variables.
func TestDiagnosticWriter_sameAsHCL(t *testing.T) {
	files, diags := loadDiags(t, map[string]string{
		"main.slip.hcl": brokenRecipe + `
variable "size" {
  type    = number
  default = "big"
}

image "os" {}

component "db" {
  image  = image.os
  deploy = "echo ${var.nope}"
  output "password" {
    default = "x"
  }
}

deployment "d" {
  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
}

resource "aws_instance" "x" {
}
`,
		"other.slip.hcl": "\nimage \"os\" {}\n\n\n",
	})
	if len(diags) < 6 {
		t.Fatalf("want at least 6 diagnostics to compare, got:\n%s", renderHCL(files, diags, 100, false))
	}

	// Hand-made ones for what a recipe rarely produces.
	src := []byte("a = 1\n\nb = var.n + var.m[\"k\"] + var.s\nc = [\n  1,\n\n  2,\n]\n")
	files["hand.hcl"] = &hcl.File{Bytes: src}
	at := func(offset int) hcl.Pos {
		lineStart := bytes.LastIndexByte(src[:offset], '\n') + 1
		return hcl.Pos{Line: bytes.Count(src[:offset], []byte("\n")) + 1, Column: offset - lineStart + 1, Byte: offset}
	}
	rng := func(from, to string) *hcl.Range {
		start := bytes.Index(src, []byte(from))
		end := start + bytes.Index(src[start:], []byte(to)) + len(to)
		return &hcl.Range{Filename: "hand.hcl", Start: at(start), End: at(end)}
	}
	empty := func(offset int) *hcl.Range {
		return &hcl.Range{Filename: "hand.hcl", Start: at(offset), End: at(offset)}
	}
	exprRange := rng("var.n", "var.s")
	expr, d := hclsyntax.ParseExpression(exprRange.SliceBytes(src), "hand.hcl", exprRange.Start)
	if d.HasErrors() {
		t.Fatal(d)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
		"n": cty.StringVal("ten"),
		"m": cty.MapVal(map[string]cty.Value{"k": cty.ListVal([]cty.Value{cty.True, cty.False})}),
		"s": cty.NullVal(cty.String),
	})}}
	_, evalDiags := expr.Value(ctx)
	if len(evalDiags) == 0 || evalDiags[0].EvalContext == nil {
		t.Fatalf("the expression gave no diagnostic with values: %v", evalDiags)
	}
	diags = append(diags, evalDiags...)
	// Every variable of the expression named, a null one too.
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Values", Subject: exprRange, Expression: expr, EvalContext: ctx})
	diags = append(diags,
		&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Context over an empty line", Detail: "Lines 4 to 8.", Subject: rng("1,", "1"), Context: rng("c = [", "]")},
		&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty subject", Subject: empty(5)},
		&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty subject at the end", Subject: empty(len(src))},
		&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No source", Detail: "The file is gone.", Subject: &hcl.Range{Filename: "gone.hcl", Start: hcl.Pos{Line: 3, Column: 1}, End: hcl.Pos{Line: 3, Column: 2, Byte: 1}}},
		&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No subject", Detail: strings.Repeat("A long detail that wraps. ", 12)},
		&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No detail", Subject: rng("a", "a")},
	)
	for _, width := range []int{80, 100, 120, 200} {
		for _, color := range []bool{false, true} {
			if got, want := render(files, diags, width, color), renderHCL(files, diags, width, color); got != want {
				t.Errorf("width %d, color %v: differs from hcl's writer:\n%s", width, color, textDiff(want, got))
			}
		}
	}
}

// textDiff shows the first lines where two texts differ.
func textDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i, shown := 0, 0; (i < len(wl) || i < len(gl)) && shown < 5; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "line %d:\n  want: %q\n  got:  %q\n", i+1, w, g)
			shown++
		}
	}
	return b.String()
}

func TestFitLine(t *testing.T) {
	cases := []struct {
		name                 string
		before, focus, after string
		budget               int
		want                 string // «» around the focus, … where cut
	}{
		{"fits", "ab", "cd", "ef", 6, "ab«cd»ef"},
		{"centred", "aaaaaaaaaa", "XYZ", "bbbbbbbbbb", 11, "…aaa«XYZ»bbb…"},
		{"at the end", "aaaaaaaaaaaa", "XYZ", "", 8, "…aaa«XYZ»"},
		{"at the start", "", "XYZ", "bbbbbbbbbbbb", 8, "«XYZ»bbbb…"},
		{"longer than the width, after some context", "  p = ", strings.Repeat("[", 30), "\n", 20, "…p = «[[[[[[[[[[[[[[»…"},
		{"longer than the width, far in", strings.Repeat("a", 40), strings.Repeat("[", 30), "", 20, "…aaaa«[[[[[[[[[[[[[[»…"},
		{"tabs count as eight", "\t\t", "X", "\t\tbbbbbbbbbbbbbbbb", 20, "…\t«X»\t…"},
		{"characters, not bytes", "ééééé", "→", "ééééé", 7, "…éé«→»éé…"},
	}
	for _, c := range cases {
		parts, left, right := fitLine([3][]rune{[]rune(c.before), []rune(c.focus), []rune(c.after)}, c.budget)
		got := string(parts[0]) + "«" + string(parts[1]) + "»" + string(parts[2])
		if left {
			got = "…" + got
		}
		if right {
			got += "…"
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if w := columns(strings.NewReplacer("«", "", "»", "").Replace(got)); w > c.budget {
			t.Errorf("%s: %q takes %d columns, more than %d", c.name, got, w, c.budget)
		}
	}
}

// columns is how wide a line of the output is at most, a tab counted as
// tabWidth.
func columns(s string) int {
	n := 0
	for _, r := range s {
		if r == '\t' {
			n += tabWidth
		} else {
			n++
		}
	}
	return n
}

func TestPrintable(t *testing.T) {
	cases := []struct{ in, want, multiline string }{
		{"plain text, tabs\tand ünïcödé → …", "plain text, tabs\tand ünïcödé → …", ""},
		{"\x1b[31mred\x1b[0m", "␛[31mred␛[0m", ""},
		{"\x1b]0;title\x07", "␛]0;title␇", ""},
		{"nul\x00 del\x7f cr\r", "nul␀ del␡ cr␍", ""},
		{"caf\xe9", "caf\uFFFD", ""},
		{"c1 \u009b31m", "c1 \uFFFD31m", ""},
		{"admin\u202e# nimda", "admin\uFFFD# nimda", ""},
		{"two\nlines", "two␊lines", "two\nlines"},
	}
	for _, c := range cases {
		if got := printable(c.in, false); got != c.want {
			t.Errorf("printable(%q) = %q, want %q", c.in, got, c.want)
		}
		want := c.multiline
		if want == "" {
			want = c.want
		}
		if got := printable(c.in, true); got != want {
			t.Errorf("printable(%q, multiline) = %q, want %q", c.in, got, want)
		}
	}
}

// TestDiagnosticWriter_longLine: a 10 KB line is cut to the width around
// the diagnostic's range, "…" on the cut side, the range still
// highlighted from its start.
func TestDiagnosticWriter_longLine(t *testing.T) {
	files, diags := loadDiags(t, map[string]string{"main.slip.hcl": "image \"x\" {\n  parent = " + strings.Repeat("[", 10240) + "\n}\n"})
	for _, color := range []bool{false, true} {
		out := render(files, diags, 80, color)
		checkSafe(t, out, 80, color)
		line := regexp.MustCompile(`(?m)^   2: .*$`).FindString(out)
		want := "   2:   parent = " + hl("[", color)
		if !strings.HasPrefix(line, want) || !strings.HasSuffix(line, "[[["+reset(color)+"…") {
			t.Errorf("color %v: line 2 is %q, want it to start %q and end cut", color, line, want)
		}
	}
}

func hl(s string, color bool) string {
	if color {
		return "\x1b[1;4m" + s
	}
	return s
}

func reset(color bool) string {
	if color {
		return "\x1b[0m"
	}
	return ""
}

// sourceLine matches a source line of the output.
var sourceLine = regexp.MustCompile(`^ *[0-9]+: `)

// colorCode matches the escape sequences the writer itself emits.
var colorCode = regexp.MustCompile("\x1b\\[[0-9;]*m")

// checkSafe fails if the output has bytes a terminal would act on (but the
// writer's own color codes, when color), is not UTF-8, or has a source line
// wider than width.
func checkSafe(t *testing.T, out string, width int, color bool) {
	t.Helper()
	if color {
		out = colorCode.ReplaceAllString(out, "")
	}
	if !utf8.ValidString(out) {
		t.Fatalf("the output is not UTF-8:\n%q", out)
	}
	for _, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			t.Fatalf("the output has the control character %U:\n%q", r, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if sourceLine.MatchString(line) && columns(line) > width {
			t.Fatalf("a source line takes %d columns, more than %d:\n%q", columns(line), width, line)
		}
	}
}

// TestDiagnosticLayout: COLUMNS, else the terminal's width, else 120;
// color only on a terminal.
func TestDiagnosticLayout(t *testing.T) {
	var b bytes.Buffer
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if w, c := diagnosticLayout(&b, env(nil)); w != 120 || c {
		t.Errorf("not a terminal: width %d, color %v; want 120 and no color", w, c)
	}
	if w, _ := diagnosticLayout(&b, env(map[string]string{"COLUMNS": "72"})); w != 72 {
		t.Errorf("COLUMNS=72: width %d", w)
	}
	for _, bad := range []string{"", "0", "-3", "wide"} {
		if w, _ := diagnosticLayout(&b, env(map[string]string{"COLUMNS": bad})); w != 120 {
			t.Errorf("COLUMNS=%q: width %d, want 120", bad, w)
		}
	}
}

// TestValidate_binaryFile: validate, compile and fmt of an executable
// renamed x.slip.hcl give one error saying it is not a text file, its
// first line shown safely, instead of thousands of parser errors.
func TestValidate_binaryFile(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "x.slip.hcl")
	if err := os.WriteFile(file, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COLUMNS", "100")
	for _, args := range [][]string{{"validate", dir}, {"validate", file}, {"compile", "-o", t.TempDir(), dir}, {"fmt", "-check", file}} {
		code, _, stderr := slipc(t, args...)
		if code != exitDiags || strings.Count(stderr, "Error: ") != 1 || !strings.Contains(stderr, "x.slip.hcl is not a text file: it has a NUL byte at line 1") {
			t.Errorf("slipc %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, stderr)
		}
		checkSafe(t, stderr, 100, false)
	}
}

// TestValidate_golden renders each recipe under testdata/diagnostics/<case>/
// as slipc validate does, at 100 columns, and compares the output with
// want.txt there (go test ./cmd/slipc -run TestValidate_golden -update
// rewrites them).
func TestValidate_golden(t *testing.T) {
	t.Setenv("COLUMNS", "100")
	cases, err := filepath.Glob("testdata/diagnostics/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			code, stdout, stderr := slipc(t, "validate", filepath.ToSlash(filepath.Join(dir, "recipe")))
			if code != exitDiags || stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and no output", code, stdout, exitDiags)
			}
			checkSafe(t, stderr, 100, false)
			want := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(want, []byte(stderr), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/slipc -run TestValidate_golden -update to create it)", err)
			}
			if string(b) != stderr {
				t.Errorf("the diagnostics differ from %s (-update to accept):\n%s", want, textDiff(string(b), stderr))
			}
		})
	}
}

// TestDiagnosticWriter_randomBytes: whatever a recipe file holds, the
// output is safe to print: random bytes, and random bytes from the
// characters that make trouble.
func TestDiagnosticWriter_randomBytes(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	trouble := []byte("[{\"\n\r\t\x00\x1b\x07\x7f\xc2\x9b\xe2\x80\xae\xff =abc")
	for i := 0; i < 300; i++ {
		src := make([]byte, r.Intn(3000))
		for j := range src {
			if i%2 == 0 {
				src[j] = byte(r.Intn(256))
			} else {
				src[j] = trouble[r.Intn(len(trouble))]
			}
		}
		if i%3 == 0 {
			src = bytes.ReplaceAll(src, []byte{0}, nil) // past the text check, into the parser
		}
		renderSafely(t, filepath.Join(dir, "random.slip.hcl"), src, 20+r.Intn(200))
	}
}

// renderSafely loads src as a recipe file and renders its diagnostics,
// checking the output; also against hcl's writer when src is ordinary
// text, whose output must be the same.
func renderSafely(t *testing.T, filename string, src []byte, width int) {
	t.Helper()
	p, diags := compiler.LoadSource(src, filename, compiler.Options{})
	files := map[string]*hcl.File{filename: {Bytes: src}}
	if p != nil {
		for name, f := range p.Parser.Files() {
			files[name] = f
		}
	}
	for _, color := range []bool{false, true} {
		out := render(files, diags, width, color)
		checkSafe(t, out, max(width, minSourceWidth+len("9999: ")), color)
		// hcl's writer takes time in the square of the file's lines.
		if len(src) <= 4096 && ordinary(src, width) {
			if want := renderHCL(files, diags, width, color); out != want {
				t.Fatalf("ordinary source, output differs from hcl's writer:\n%s", textDiff(want, out))
			}
		}
	}
}

// ordinary reports whether src is printable ASCII in lines that fit the
// width: source hcl's writer renders safely, so the output must be its.
func ordinary(src []byte, width int) bool {
	for _, line := range bytes.Split(src, []byte("\n")) {
		if len(line)+len("9999: ") > width {
			return false
		}
		for _, c := range line {
			if c < 0x20 && c != '\t' || c >= 0x7f || c == '\t' {
				return false
			}
		}
	}
	return true
}

// FuzzWriteDiagnostics: the diagnostics of any recipe file render safely,
// and as hcl's writer renders them when the file is ordinary text. The
// width is fixed (TestDiagnosticWriter_randomBytes varies it): one taken
// from the input would make the fuzzer's minimizing crawl.
func FuzzWriteDiagnostics(f *testing.F) {
	seeds, _ := filepath.Glob("../../examples/recipes/*/*.slip.hcl")
	more, _ := filepath.Glob("testdata/diagnostics/*/recipe/*.slip.hcl")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(brokenRecipe))
	f.Add([]byte("image \"x\" {\n  parent = \x1b[31m[[[[\n}\n"))
	f.Add([]byte("image \"x\" {\n  parent = " + strings.Repeat("[", 300) + "\n}\n"))
	filename := filepath.Join(f.TempDir(), "fuzz.slip.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		// Longer sources test the parser's speed (a 10 KB line of
		// brackets takes it a third of a second), not the rendering.
		if len(src) > 4096 {
			return
		}
		renderSafely(t, filename, src, 60)
	})
}

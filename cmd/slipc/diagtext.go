package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/mitchellh/go-wordwrap"
	"github.com/zclconf/go-cty/cty"
)

// diagnosticWriter renders diagnostics in the text format of hcl's
// NewDiagnosticTextWriter, which Terraform's follows: for ordinary source
// its output is the same, byte for byte (TestDiagnosticWriter_sameAsHCL).
// hcl's echoes the source as it is, which fails on two kinds of input,
// and this one differs there:
//
//   - A source line wider than the terminal (a generated recipe, a 10 KB
//     line of brackets) is cut to the width around the diagnostic's range,
//     "…" marking each side cut; the range stays highlighted.
//   - Characters a terminal acts on instead of showing (control characters
//     and escape sequences, bidirectional overrides, invalid UTF-8, from a
//     binary or malicious file) are replaced by visible ones: control
//     characters by their Unicode pictures (␛ for ESC), the others by
//     U+FFFD. Tabs are kept. File names, summaries and details are made
//     safe in the same way, as they may quote the source.
type diagnosticWriter struct {
	w     io.Writer
	files map[string]*hcl.File
	width int // columns: details are wrapped and source lines cut to it
	color bool
	lines map[string]*sourceLines
}

// minSourceWidth is the fewest columns a source line is cut to, however
// narrow the terminal.
const minSourceWidth = 20

// tabWidth is the most columns a tab can take; cut lines count it so, to
// fit whatever the tab stops.
const tabWidth = 8

// ellipsis marks the side where a source line was cut.
const ellipsis = '…'

func (dw *diagnosticWriter) WriteDiagnostics(diags hcl.Diagnostics) error {
	for _, d := range diags {
		if err := dw.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	return nil
}

// WriteDiagnostic follows hcl's diagnosticTextWriter.WriteDiagnostic part
// for part, so the output stays the same as hcl's for ordinary input.
func (dw *diagnosticWriter) WriteDiagnostic(d *hcl.Diagnostic) error {
	var colorCode, highlightCode, resetCode string
	if dw.color {
		switch d.Severity {
		case hcl.DiagError:
			colorCode = "\x1b[31m"
		case hcl.DiagWarning:
			colorCode = "\x1b[33m"
		}
		resetCode = "\x1b[0m"
		highlightCode = "\x1b[1;4m"
	}
	severity := "???????"
	switch d.Severity {
	case hcl.DiagError:
		severity = "Error"
	case hcl.DiagWarning:
		severity = "Warning"
	}
	// Collect the output and write it once: a failing writer fails once.
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s%s: %s\n\n", colorCode, severity, resetCode, printable(d.Summary, false))
	if d.Subject != nil {
		dw.writeSource(&b, d, highlightCode, resetCode)
		if d.Expression != nil && d.EvalContext != nil {
			writeValues(&b, d.Expression, d.EvalContext)
		}
	}
	if d.Detail != "" {
		detail := printable(d.Detail, true)
		if dw.width > 0 {
			detail = wordwrap.WrapString(detail, uint(dw.width))
		}
		fmt.Fprintf(&b, "%s\n\n", detail)
	}
	if _, err := io.WriteString(dw.w, b.String()); err != nil {
		return fmt.Errorf("write failed: %w", err)
	}
	return nil
}

// writeSource writes "on FILE line N, in BLOCK:" and the source lines the
// subject and context cover, the subject highlighted.
func (dw *diagnosticWriter) writeSource(b *strings.Builder, d *hcl.Diagnostic, highlightCode, resetCode string) {
	snip, highlight := *d.Subject, *d.Subject
	if d.Context != nil {
		snip = hcl.RangeOver(snip, *d.Context)
	}
	// An empty range cannot be shown: take the character after it, as hcl
	// does (the bounds checks below cope with one past the end).
	if snip.Empty() {
		snip.End.Byte++
		snip.End.Column++
	}
	if highlight.Empty() {
		highlight.End.Byte++
		highlight.End.Column++
	}
	name := printable(d.Subject.Filename, false)
	file := dw.files[d.Subject.Filename]
	if file == nil || file.Bytes == nil {
		fmt.Fprintf(b, "  on %s line %d:\n  (source code not available)\n\n", name, d.Subject.Start.Line)
		return
	}
	in := ""
	if nav, ok := file.Nav.(interface{ ContextString(offset int) string }); ok {
		if s := nav.ContextString(d.Subject.Start.Byte); s != "" {
			in = ", in " + printable(s, false)
		}
	}
	fmt.Fprintf(b, "  on %s line %d%s:\n", name, d.Subject.Start.Line, in)

	src := file.Bytes
	lines := dw.linesOf(d.Subject.Filename, src)
	last := max(snip.Start.Byte, snip.End.Byte) // no line after it overlaps the snippet
	lines.scanPast(last)
	first := min(snip.Start.Byte, snip.End.Byte) // nor any line that ends before this
	for i := sort.Search(len(lines.ranges), func(i int) bool { return lines.ranges[i].End.Byte >= first }); i < len(lines.ranges); i++ {
		line := lines.ranges[i]
		if line.Start.Byte > last {
			break
		}
		if !line.Overlaps(snip) {
			continue
		}
		prefix := fmt.Sprintf("%4d: ", line.Start.Line)
		before, highlighted, after := line.PartitionAround(highlight)
		codes := [2]string{highlightCode, resetCode}
		if highlighted.Empty() {
			// No highlight on this line: keep in view the part of it the
			// snippet is for.
			codes = [2]string{}
			before, highlighted, after = line.PartitionAround(snip)
			if highlighted.Empty() {
				before, highlighted, after = hcl.Range{}, hcl.Range{}, line
			}
		}
		parts := [3][]rune{
			[]rune(printable(string(before.SliceBytes(src)), false)),
			[]rune(printable(string(highlighted.SliceBytes(src)), false)),
			[]rune(printable(string(after.SliceBytes(src)), false)),
		}
		parts, cutLeft, cutRight := fitLine(parts, max(dw.width-len(prefix), minSourceWidth))
		b.WriteString(prefix)
		if cutLeft {
			b.WriteRune(ellipsis)
		}
		b.WriteString(string(parts[0]))
		b.WriteString(codes[0])
		b.WriteString(string(parts[1]))
		b.WriteString(codes[1])
		b.WriteString(string(parts[2]))
		if cutRight {
			b.WriteRune(ellipsis)
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
}

// sourceLines are the lines of a file as hcl's RangeScanner gives them
// (hcl's writer numbers the lines it shows so), scanned once per file for
// all its diagnostics, and only as far as one needs: hcl's writer scans the
// file from its start for each, which takes minutes for a file with
// thousands of errors, and a binary file may go on for megabytes past its
// first error.
type sourceLines struct {
	sc     *hcl.RangeScanner
	ranges []hcl.Range
}

func (dw *diagnosticWriter) linesOf(filename string, src []byte) *sourceLines {
	if dw.lines == nil {
		dw.lines = map[string]*sourceLines{}
	}
	l := dw.lines[filename]
	if l == nil {
		l = &sourceLines{sc: hcl.NewRangeScanner(src, filename, bufio.ScanLines)}
		dw.lines[filename] = l
	}
	return l
}

// scanPast scans lines until one starts after offset, or the file ends.
func (l *sourceLines) scanPast(offset int) {
	for l.sc != nil && (len(l.ranges) == 0 || l.ranges[len(l.ranges)-1].Start.Byte <= offset) {
		if !l.sc.Scan() {
			l.sc = nil
			break
		}
		l.ranges = append(l.ranges, l.sc.Range())
	}
}

// fitLine cuts a source line, given as its parts before, in and after its
// focus (the diagnostic's range on it), to at most budget columns, counting
// the ellipses the caller adds on the sides cut. The focus stays in view:
// centred when it fits, else from its start, after up to a quarter of the
// width of what comes before it (parent = [[[[…).
func fitLine(parts [3][]rune, budget int) (out [3][]rune, cutLeft, cutRight bool) {
	line := make([]rune, 0, len(parts[0])+len(parts[1])+len(parts[2]))
	for _, p := range parts {
		line = append(line, p...)
	}
	n := len(line)
	col := make([]int, n+1) // col[i]: the columns line[:i] takes
	for i, r := range line {
		w := 1
		if r == '\t' {
			w = tabWidth
		}
		col[i+1] = col[i] + w
	}
	if col[n] <= budget {
		return parts, false, false
	}
	focusStart, focusEnd := len(parts[0]), len(parts[0])+len(parts[1])
	room := budget - 2 // between two ellipses
	lead := room / 4
	if focus := col[focusEnd] - col[focusStart]; focus <= room {
		lead = (room - focus) / 2
	}
	start := max(min(col[focusStart]-lead, col[n]-room), 0)
	from := sort.Search(n+1, func(i int) bool { return col[i] >= start })
	to := n
	if from > 0 {
		cutLeft = true
		budget--
	}
	if col[n]-col[from] > budget {
		cutRight = true
		to = sort.Search(n+1, func(i int) bool { return col[i]-col[from] > budget-1 }) - 1
	}
	offset := 0
	for k, p := range parts {
		lo := min(max(from-offset, 0), len(p))
		hi := min(max(to-offset, 0), len(p))
		out[k] = p[lo:hi]
		offset += len(p)
	}
	return out, cutLeft, cutRight
}

// printable returns s with every character a terminal would act on or
// could not show replaced by a visible one: a control character by its
// Unicode picture (U+2400 + c, ␡ for DEL), anything else that is not a
// graphic character (invalid UTF-8, C1 controls, bidirectional overrides,
// other format characters) by U+FFFD. Tabs are kept, and newlines when
// multiline.
func printable(s string, multiline bool) string {
	safe := true
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' && multiline
	}
	if safe {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\t', r == '\n' && multiline:
			b.WriteRune(r)
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune('\u2421')
		case r == utf8.RuneError && size == 1, !unicode.IsGraphic(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeValues writes the values of the variables the diagnostic's
// expression refers to ("with var.size as 3,"), in hcl's words.
func writeValues(b *strings.Builder, expr hcl.Expression, ctx *hcl.EvalContext) {
	var stmts []string
	seen := map[string]bool{}
	for _, traversal := range expr.Variables() {
		val, diags := traversal.TraverseAbs(ctx)
		if diags.HasErrors() {
			continue // reported already, most likely
		}
		name := printable(traversalString(traversal), false)
		switch {
		case seen[name], !val.IsKnown():
			continue
		case val.IsNull():
			stmts = append(stmts, name+" set to null")
		case val.IsMarked():
			continue // sensitive, perhaps
		default:
			stmts = append(stmts, name+" as "+printable(valueString(val), false))
		}
		seen[name] = true
	}
	sort.Strings(stmts)
	for i, stmt := range stmts {
		lead, end := "     ", ",\n"
		if i == 0 {
			lead = "with "
		}
		if i == len(stmts)-1 {
			end = ".\n\n"
		}
		b.WriteString(lead + stmt + end)
	}
}

// traversalString writes a traversal as the source would: var.a["k"][0].
func traversalString(traversal hcl.Traversal) string {
	var b strings.Builder
	for _, step := range traversal {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			key := "..." // a collection as a key would make the line too long
			if s.Key.Type().IsPrimitiveType() {
				key = valueString(s.Key)
			}
			b.WriteString("[" + key + "]")
		}
	}
	return b.String()
}

// valueString describes a value briefly: a primitive as written, a
// collection or object by its type and size.
func valueString(val cty.Value) string {
	ty := val.Type()
	switch {
	case val.IsNull():
		return "null"
	case !val.IsKnown():
		return "(not yet known)"
	case ty == cty.Bool:
		if val.True() {
			return "true"
		}
		return "false"
	case ty == cty.Number:
		return val.AsBigFloat().Text('g', 10)
	case ty == cty.String:
		return fmt.Sprintf("%q", val.AsString())
	case ty.IsCollectionType() || ty.IsTupleType():
		switch n := val.LengthInt(); n {
		case 0:
			return "empty " + ty.FriendlyName()
		case 1:
			return ty.FriendlyName() + " with 1 element"
		default:
			return fmt.Sprintf("%s with %d elements", ty.FriendlyName(), n)
		}
	case ty.IsObjectType():
		attrs := ty.AttributeTypes()
		switch len(attrs) {
		case 0:
			return "object with no attributes"
		case 1:
			for name := range attrs {
				return fmt.Sprintf("object with 1 attribute %q", name)
			}
		}
		return fmt.Sprintf("object with %d attributes", len(attrs))
	}
	return ty.FriendlyName()
}

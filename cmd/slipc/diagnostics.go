package main

import (
	"encoding/json"
	"io"
	"os"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"
)

// writeDiagnostics renders diagnostics as Terraform does: file:line:col, the
// source lines with the range underlined, summary and detail (see
// diagnosticWriter). files maps filenames to sources; script files named
// by the wait-graph analysis are read on demand so their lines are shown
// too.
func writeDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	if len(diags) == 0 {
		return
	}
	all := map[string]*hcl.File{}
	for k, v := range files {
		all[k] = v
	}
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil || all[r.Filename] != nil {
				continue
			}
			if b, err := os.ReadFile(r.Filename); err == nil { // #nosec G703 -- a recipe file the compiler read, which a diagnostic points into
				all[r.Filename] = &hcl.File{Bytes: b}
			}
		}
	}
	width, color := diagnosticLayout(w, os.Getenv)
	dw := &diagnosticWriter{w: w, files: all, width: width, color: color}
	_ = dw.WriteDiagnostics(diags)
}

// diagnosticsHelp tells, in the help of the commands that print
// diagnostics, how they are laid out.
const diagnosticsHelp = `Errors and warnings go to stderr in Terraform's format, laid out for the
terminal's width (COLUMNS, else 120 columns when stderr is not a terminal):
a longer source line is cut around the error, "…" marking the cut, and
characters a terminal would act on are shown as ␛, � and the like.`

// defaultWidth is the width diagnostics are laid out for when neither
// COLUMNS nor a terminal gives one.
const defaultWidth = 120

// diagnosticLayout is the width to lay diagnostics out for (COLUMNS when
// set, else the terminal's when w is one, else defaultWidth) and whether
// to color them (on a terminal, unless NO_COLOR is set).
func diagnosticLayout(w io.Writer, getenv func(string) string) (width int, color bool) {
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		width = n
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width == 0 {
			width, _, _ = term.GetSize(int(f.Fd()))
		}
		color = getenv("NO_COLOR") == ""
	}
	if width <= 0 {
		width = defaultWidth
	}
	return width, color
}

// jsonDiagnostic mirrors `terraform validate -json`, so editors and CI
// tools that read Terraform's diagnostics read ours.
type jsonDiagnostic struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
	Context  *jsonRange `json:"context,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonReport struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

func toJSONRange(r *hcl.Range) *jsonRange {
	if r == nil {
		return nil
	}
	return &jsonRange{
		Filename: r.Filename,
		Start:    jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
		End:      jsonPos{r.End.Line, r.End.Column, r.End.Byte},
	}
}

func writeJSONDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	rep := jsonReport{FormatVersion: "1.0", Valid: !diags.HasErrors(), Diagnostics: []jsonDiagnostic{}}
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
			rep.WarningCount++
		} else {
			rep.ErrorCount++
		}
		rep.Diagnostics = append(rep.Diagnostics, jsonDiagnostic{
			Severity: sev, Summary: d.Summary, Detail: d.Detail,
			Range: toJSONRange(d.Subject), Context: toJSONRange(d.Context),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

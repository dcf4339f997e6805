package compiler

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
)

func sortByName[T any](items []T, name func(T) string) {
	sort.SliceStable(items, func(i, j int) bool { return name(items[i]) < name(items[j]) })
}

func sortStrings(s []string) { sort.Strings(s) }

// fixRanges repairs diagnostics whose ranges end before they start. hcl
// produces such ranges for expressions it recovered from a syntax error (an
// unclosed call has a zero closing position); renderers and editors expect
// well-formed ranges, so the end is clamped to the start.
func fixRanges(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r != nil && (r.End.Byte < r.Start.Byte || r.End.Line < r.Start.Line) {
				r.End = r.Start
			}
		}
	}
	return diags
}

// Package didyoumean suggests the closest known name for a misspelt one, the
// way Terraform's own diagnostics do.
package didyoumean

import "github.com/agext/levenshtein"

// Suggest returns the candidate closest to given, or "" when none is close
// enough to be a likely typo (an edit distance of at most 2, or at most a third
// of the name for longer names).
func Suggest(given string, candidates []string) string {
	best, bestDist := "", -1
	limit := 2
	if l := len(given) / 3; l > limit {
		limit = l
	}
	for _, c := range candidates {
		d := levenshtein.Distance(given, c, nil)
		if d <= limit && (bestDist < 0 || d < bestDist || (d == bestDist && c < best)) {
			best, bestDist = c, d
		}
	}
	return best
}

// Hint renders a suggestion as the sentence Terraform appends to a detail
// message, or "" when there is no suggestion.
func Hint(given string, candidates []string) string {
	if s := Suggest(given, candidates); s != "" {
		return " Did you mean \"" + s + "\"?"
	}
	return ""
}

package ec2fake

import (
	"net/http"
	"slices"
	"strings"
)

// filter is one Filter.N of a Describe call: the item matches when its
// field named Name has one of Values (EC2's wildcards * and ? allowed).
type filter struct {
	Name   string
	Values []string
}

// EC2 takes up to 50 filters of up to 200 values each; the fake also
// bounds a value's length, so that wildcard matching stays cheap.
const (
	maxFilters        = 50
	maxFilterValues   = 200
	maxFilterValueLen = 1024
)

func filterLimit(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "FilterLimitExceeded", format, args...)
}

// parseFilters reads Filter.N.Name and Filter.N.Value.M, and rejects a
// filter name the action does not know (known reports it), as EC2 does.
func parseFilters(p params, known func(name string) bool) ([]filter, *apiError) {
	ms, e := p.members("Filter")
	if e != nil {
		return nil, e
	}
	if len(ms) > maxFilters {
		return nil, filterLimit("The request uses %d filters; the limit is %d.", len(ms), maxFilters)
	}
	out := make([]filter, 0, len(ms))
	for _, m := range ms {
		f := filter{Name: m["Name"]}
		if f.Name == "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The filter name must not be empty.")
		}
		if !known(f.Name) {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The filter '%s' is invalid", f.Name)
		}
		for k := range m {
			if k != "Name" && !strings.HasPrefix(k, "Value.") {
				return nil, errorf(http.StatusBadRequest, "UnknownParameter", "The parameter Filter.N.%s is not recognized", k)
			}
		}
		if f.Values, e = m.strings("Value"); e != nil {
			return nil, e
		}
		if len(f.Values) == 0 {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The filter '%s' has no values.", f.Name)
		}
		if len(f.Values) > maxFilterValues {
			return nil, filterLimit("The filter '%s' has %d values; the limit is %d.", f.Name, len(f.Values), maxFilterValues)
		}
		for _, v := range f.Values {
			if len(v) > maxFilterValueLen {
				return nil, filterLimit("A value of the filter '%s' is longer than %d characters.", f.Name, maxFilterValueLen)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// knownFilters accepts the fixed names given and the tag filters
// ("tag:<key>", "tag-key", "tag-value").
func knownFilters(names ...string) func(string) bool {
	return func(n string) bool {
		return slices.Contains(names, n) || n == "tag-key" || n == "tag-value" || strings.HasPrefix(n, "tag:") && len(n) > 4
	}
}

// matchAll reports whether every filter matches: field returns the
// values an item has for a filter name (several for tag-key, say).
func matchAll(filters []filter, field func(name string) []string) bool {
	for _, f := range filters {
		if !matchAny(f.Values, field(f.Name)) {
			return false
		}
	}
	return true
}

func matchAny(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if wildcard(p, v) {
				return true
			}
		}
	}
	return false
}

// tagField answers the tag filters from an item's tags; ok is false for
// other names.
func tagField(name string, tags map[string]string) (vals []string, ok bool) {
	switch {
	case name == "tag-key":
		for k := range tags {
			vals = append(vals, k)
		}
		return vals, true
	case name == "tag-value":
		for _, v := range tags {
			vals = append(vals, v)
		}
		return vals, true
	case strings.HasPrefix(name, "tag:"):
		if v, has := tags[name[4:]]; has {
			return []string{v}, true
		}
		return nil, true
	}
	return nil, false
}

// wildcard matches s against an EC2 filter value: * is any run of
// characters, ? any one, and a backslash makes the next one literal.
func wildcard(pattern, s string) bool {
	p, str := []rune(pattern), []rune(s)
	// Iterative matching with one backtrack point for the last star:
	// linear in practice, never exponential on hostile patterns.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(str) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == str[si]:
			pi, si = pi+2, si+1
		case pi < len(p) && p[pi] != '\\' && (p[pi] == '?' || p[pi] == str[si]):
			pi, si = pi+1, si+1
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

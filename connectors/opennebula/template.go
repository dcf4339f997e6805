package opennebula

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// pair is one attribute of a template (or of a vector attribute).
type pair struct {
	Key, Value string
}

// templateText writes a template in OpenNebula's syntax
// (src/parsers/template_parser.l and template_syntax.y):
//
//	NAME = "value"
//	VECTOR = [
//	  KEY = "value",
//	  KEY2 = "value" ]
//
// Values are always double-quoted. Inside quotes the parser takes any
// character, newlines included, and reads \" as a quote; it replaces
// nothing else, so a value is written with its quotes escaped and is read
// back unchanged, except for what checkValue refuses.
type templateText struct {
	b   strings.Builder
	err error
}

// attrName is what OpenNebula's lexer takes as an attribute name (and
// what XML takes as an element name once upper-cased).
var attrName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (t *templateText) single(name, value string) {
	if t.check(name, value) {
		fmt.Fprintf(&t.b, "%s = %s\n", name, quote(value))
	}
}

// vector writes a vector attribute; one without pairs is left out
// (OpenNebula drops an empty vector of an extra template anyway).
func (t *templateText) vector(name string, pairs []pair) {
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintf(&t.b, "%s = [\n", name)
	for i, p := range pairs {
		if !t.check(p.Key, p.Value) {
			return
		}
		sep := ",\n"
		if i == len(pairs)-1 {
			sep = " ]\n"
		}
		fmt.Fprintf(&t.b, "  %s = %s%s", p.Key, quote(p.Value), sep)
	}
}

func (t *templateText) check(name, value string) bool {
	if t.err != nil {
		return false
	}
	if !attrName.MatchString(name) {
		t.err = fmt.Errorf("%q is not an OpenNebula attribute name (letters, digits and underscores)", name)
		return false
	}
	if err := checkValue(value); err != nil {
		t.err = fmt.Errorf("attribute %s: %w", name, err)
		return false
	}
	return true
}

// String is the template, or the first error of what was written.
func (t *templateText) String() (string, error) { return t.b.String(), t.err }

func quote(v string) string { return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"` }

// checkValue refuses what OpenNebula's template parser cannot read back:
// a NUL (its values are C strings), "]]>" (the lexer aborts the parse on
// it, as templates also travel as XML CDATA), and a value ending in a
// backslash (the lexer would take the backslash and the closing quote for
// an escaped quote).
func checkValue(v string) error {
	switch {
	case strings.ContainsRune(v, 0):
		return fmt.Errorf("the value holds a NUL character")
	case strings.Contains(v, "]]>"):
		return fmt.Errorf(`the value holds "]]>", which OpenNebula's template parser refuses`)
	case strings.HasSuffix(v, `\`):
		return fmt.Errorf("the value ends in a backslash, which OpenNebula's template parser would read as an escaped quote")
	}
	return nil
}

// Attributes of a VM's user template that are the connector's own.
const (
	attrLabels  = "SLIPSTREAM_LABELS"
	attrImage   = "SLIPSTREAM_IMAGE"
	attrRequest = "SLIPSTREAM_REQUEST"
	// attrType is the instance type a VM was sized by (StratusLab's
	// types), under the name hybrid templates give a size.
	attrType = "INSTANCE_TYPE"
)

// labelKey is the form of label keys stored reversibly.
var labelKey = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// labelAttr is the attribute a label key is stored under: upper-cased,
// dashes as underscores.
func labelAttr(key string) string { return strings.ToUpper(strings.ReplaceAll(key, "-", "_")) }

// labelOf is the label key an attribute name stores.
func labelOf(attr string) string { return strings.ReplaceAll(strings.ToLower(attr), "_", "-") }

// checkLabels refuses labels OpenNebula cannot give back as they are.
func (c *Connector) checkLabels(op string, labels map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !labelKey.MatchString(k) {
			return c.permanent(op, "InvalidLabel", "label %q cannot be kept on OpenNebula: its attribute names are upper-cased letters, digits and underscores, "+
				"so a label key must be lower-case letters, digits and dashes, beginning with a letter, to be read back unchanged", k)
		}
		if err := checkValue(labels[k]); err != nil {
			return c.permanent(op, "InvalidLabel", "label %s: %v", k, err)
		}
	}
	return nil
}

// labelPairs are labels as the pairs of the SLIPSTREAM_LABELS vector,
// sorted by key.
func labelPairs(labels map[string]string) []pair {
	out := make([]pair, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, pair{Key: labelAttr(k), Value: labels[k]})
	}
	return out
}

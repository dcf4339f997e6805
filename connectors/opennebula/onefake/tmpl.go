package onefake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Template is an OpenNebula template: single attributes (NAME = "value")
// and vector attributes (NAME = [ KEY = "value", … ]), several of a name
// allowed, in the order given. Names are upper-cased as OpenNebula
// upper-cases them (include/Attribute.h); a vector holds each key once.
type Template struct {
	attrs []*Attr
}

// Attr is one attribute of a template.
type Attr struct {
	Name  string
	Value string            // a single attribute's value
	Vec   map[string]string // a vector attribute's pairs; nil for a single attribute
}

// IsVector reports whether the attribute is a vector.
func (a *Attr) IsVector() bool { return a.Vec != nil }

func (a *Attr) clone() *Attr {
	cp := *a
	if a.Vec != nil {
		cp.Vec = maps.Clone(a.Vec)
	}
	return &cp
}

// ParseTemplate reads a template in OpenNebula's syntax, as oned's own
// parser reads it (src/parsers/template_parser.l, template_syntax.y):
//   - names are letters, digits and underscores; OpenNebula upper-cases
//     them, and prefixes ONE_ to one that does not begin with a letter or
//     an underscore, or that begins with XML (they become XML elements);
//   - NAME = value, where the value is double-quoted (any character,
//     newlines too, \" for a quote, nothing else escaped) or a bare word
//     (no blanks, =, #, comma or brackets); NAME = at the end of a line is
//     an empty value;
//   - NAME = [ KEY = value, KEY = value ] is a vector; NAME = [ ] an
//     empty one;
//   - a line starting with # is a comment;
//   - "]]>" in a value (on its line) aborts the parse, as oned's lexer
//     does.
func ParseTemplate(text string) (*Template, error) {
	s := &scanner{src: text, line: 1}
	t := &Template{}
	for {
		s.skipBlank(true)
		if s.eof() {
			return t, nil
		}
		name, err := s.variable()
		if err != nil {
			return nil, err
		}
		empty, err := s.equal()
		if err != nil {
			return nil, err
		}
		if empty {
			t.attrs = append(t.attrs, &Attr{Name: attrName(name)})
			continue
		}
		if s.obracket() {
			vec := map[string]string{}
			s.skipBlank(true)
			if s.peek() == ']' {
				s.pos++
				t.attrs = append(t.attrs, &Attr{Name: attrName(name), Vec: vec})
				continue
			}
			for {
				s.skipBlank(true)
				key, err := s.variable()
				if err != nil {
					return nil, err
				}
				if e, err := s.equal(); err != nil || e {
					if err == nil {
						err = s.errorf("an empty value in vector %s", name)
					}
					return nil, err
				}
				val, err := s.value()
				if err != nil {
					return nil, err
				}
				key = strings.ToUpper(key)
				if _, dup := vec[key]; !dup { // oned's map keeps the first
					vec[key] = val
				}
				s.skipBlank(true)
				switch s.peek() {
				case ',':
					s.pos++
					continue
				case ']':
					s.pos++
				default:
					return nil, s.errorf("expected , or ] in vector %s", name)
				}
				break
			}
			t.attrs = append(t.attrs, &Attr{Name: attrName(name), Vec: vec})
			continue
		}
		val, err := s.value()
		if err != nil {
			return nil, err
		}
		t.attrs = append(t.attrs, &Attr{Name: attrName(name), Value: val})
	}
}

// attrName is OpenNebula's name of an attribute (Attribute's
// constructor).
func attrName(name string) string {
	up := strings.ToUpper(name)
	first := name[0]
	isAlpha := first >= 'a' && first <= 'z' || first >= 'A' && first <= 'Z'
	if !isAlpha && first != '_' || strings.HasPrefix(name, "XML") {
		return "ONE_" + up
	}
	return up
}

type scanner struct {
	src  string
	pos  int
	line int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("syntax error, "+format+" at line %d", append(args, s.line)...)
}

func blank(b byte) bool { return b == ' ' || b == '\t' }

// skipBlank skips blanks, and with newlines also newlines and comment
// lines.
func (s *scanner) skipBlank(newlines bool) {
	for !s.eof() {
		switch b := s.peek(); {
		case blank(b):
			s.pos++
		case b == '\n' && newlines:
			s.pos++
			s.line++
		case b == '#' && newlines:
			for !s.eof() && s.peek() != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

func (s *scanner) variable() (string, error) {
	start := s.pos
	for !s.eof() {
		b := s.peek()
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' {
			s.pos++
			continue
		}
		break
	}
	if s.pos == start {
		if s.eof() {
			return "", s.errorf("unexpected end, expecting an attribute name")
		}
		return "", s.errorf("unexpected %q, expecting an attribute name", s.peek())
	}
	return s.src[start:s.pos], nil
}

// equal reads "=", and reports an "=" that ends its line (an empty value).
func (s *scanner) equal() (empty bool, err error) {
	s.skipBlank(false)
	if s.peek() != '=' {
		return false, s.errorf("expecting =")
	}
	s.pos++
	s.skipBlank(false)
	if s.peek() == '\n' {
		s.pos++
		s.line++
		return true, nil
	}
	if s.eof() {
		return false, s.errorf("unexpected end after =")
	}
	return false, nil
}

func (s *scanner) obracket() bool {
	if s.peek() != '[' {
		return false
	}
	s.pos++
	return true
}

// value reads a quoted or bare value, as the lexer's VALUE state does:
// the longest of its rules wins, and a line holding "]]>" matches the
// CDATA rule, which aborts the parse.
func (s *scanner) value() (string, error) {
	rest := s.src[s.pos:]
	lineEnd := strings.IndexByte(rest, '\n')
	if lineEnd < 0 {
		lineEnd = len(rest)
	}
	cdata := -1
	if i := strings.LastIndex(rest[:lineEnd], "]]>"); i >= 0 {
		cdata = lineEnd // .*{CDATA}.* takes the whole line
	}
	if s.peek() == '"' {
		end := quotedEnd(rest)
		if end < 0 {
			if cdata >= 0 {
				return "", s.errorf("CDATA in a value")
			}
			return "", s.errorf("a value with no closing quote")
		}
		if cdata >= end+1 {
			return "", s.errorf("CDATA in a value")
		}
		raw := rest[1:end]
		s.line += strings.Count(raw, "\n")
		s.pos += end + 1
		return strings.ReplaceAll(raw, `\"`, `"`), nil
	}
	n := 0
	for n < len(rest) && !strings.ContainsRune("=# \t\n,[]", rune(rest[n])) {
		n++
	}
	if cdata >= 0 && cdata >= n {
		return "", s.errorf("CDATA in a value")
	}
	if n == 0 {
		return "", s.errorf("unexpected %q, expecting a value", s.peek())
	}
	s.pos += n
	return rest[:n], nil
}

// quotedEnd is the index of the quote that closes the quoted value at the
// start of rest: flex's longest match of "([^"]|\")*", so the first quote
// not escaped by a backslash, or, when there is none, the last escaped
// one; -1 when there is no closing quote.
func quotedEnd(rest string) int {
	last := -1
	for i := 1; i < len(rest); i++ {
		if rest[i] != '"' {
			continue
		}
		if rest[i-1] != '\\' {
			return i
		}
		last = i
	}
	return last
}

// Get is the value of the first single attribute of that name.
func (t *Template) Get(name string) (string, bool) {
	for _, a := range t.attrs {
		if a.Name == name && !a.IsVector() {
			return a.Value, true
		}
	}
	return "", false
}

// Vectors are the vector attributes of that name.
func (t *Template) Vectors(name string) []*Attr {
	var out []*Attr
	for _, a := range t.attrs {
		if a.Name == name && a.IsVector() {
			out = append(out, a)
		}
	}
	return out
}

// Vector is the first vector attribute of that name, or nil.
func (t *Template) Vector(name string) *Attr {
	if vs := t.Vectors(name); len(vs) > 0 {
		return vs[0]
	}
	return nil
}

// Set replaces every attribute of that name by one single attribute.
func (t *Template) Set(name, value string) {
	t.Erase(name)
	t.attrs = append(t.attrs, &Attr{Name: name, Value: value})
}

// Add appends an attribute.
func (t *Template) Add(a *Attr) { t.attrs = append(t.attrs, a) }

// Erase removes every attribute of that name and returns them.
func (t *Template) Erase(name string) []*Attr {
	var gone []*Attr
	t.attrs = slices.DeleteFunc(t.attrs, func(a *Attr) bool {
		if a.Name == name {
			gone = append(gone, a)
			return true
		}
		return false
	})
	return gone
}

// Attrs are the attributes, in order.
func (t *Template) Attrs() []*Attr { return t.attrs }

// Clone is a deep copy.
func (t *Template) Clone() *Template {
	cp := &Template{attrs: make([]*Attr, len(t.attrs))}
	for i, a := range t.attrs {
		cp.attrs[i] = a.clone()
	}
	return cp
}

// Merge puts from's attributes over t's as oned does (Template::merge):
// every attribute named in from replaces all of t's of that name; an
// empty vector is dropped.
func (t *Template) Merge(from *Template) {
	for _, a := range from.attrs {
		t.Erase(a.Name)
	}
	for _, a := range from.attrs {
		if a.IsVector() && len(a.Vec) == 0 {
			continue
		}
		t.attrs = append(t.attrs, a.clone())
	}
}

// XML renders the template as oned does: <root> holding the attributes
// sorted by name (oned keeps them in a multimap), each vector's pairs
// sorted by key.
func (t *Template) XML(root string) string {
	var b bytes.Buffer
	b.WriteString("<" + root + ">")
	sorted := slices.Clone(t.attrs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, a := range sorted {
		if !a.IsVector() {
			element(&b, a.Name, a.Value)
			continue
		}
		b.WriteString("<" + a.Name + ">")
		for _, k := range slices.Sorted(maps.Keys(a.Vec)) {
			if k != "" {
				element(&b, k, a.Vec[k])
			}
		}
		b.WriteString("</" + a.Name + ">")
	}
	b.WriteString("</" + root + ">")
	return b.String()
}

// element writes <name>escaped value</name>.
func element(b *bytes.Buffer, name, value string) {
	b.WriteString("<" + name + ">")
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString("</" + name + ">")
}

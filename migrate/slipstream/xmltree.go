package slipstream

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// element is one XML element of an export, kept with where it was read so
// that every error can name its element path and line. The exports are
// small (a module is at most a few hundred kilobytes), so the whole tree is
// built first and the model is read from it.
type element struct {
	name     string
	attrs    []xml.Attr
	children []*element
	// text is the element's own character data (CDATA included), its
	// children's left out: a target's script, a parameter's value.
	text   string
	line   int
	parent *element
}

// maxDepth bounds the nesting of an export. SlipStream's deepest element
// (a parameter of an image embedded in a deployment's node) is eight
// levels down; anything far deeper is not an export, and refusing it keeps
// a hostile file from making paths of unbounded length.
const maxDepth = 64

// parseXML reads one export into its element tree. file names the input in
// errors. The error is an *Error with the path of the element the problem
// is in (the innermost open one for a truncated file) and its line.
func parseXML(file string, data []byte) (*element, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = charsetReader
	var root *element
	var stack []*element
	var text [][]byte // each open element's character data
	for {
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				open := stack[len(stack)-1]
				return nil, &Error{File: file, Line: line, Path: open.path(),
					Msg: fmt.Sprintf("the file ends inside <%s> (opened at line %d): the export is truncated", open.name, open.line)}
			}
			if root == nil {
				return nil, &Error{File: file, Msg: "no XML element: this is not a SlipStream module export"}
			}
			return root, nil
		}
		if err != nil {
			e := &Error{File: file, Line: line, Msg: xmlErrorText(err)}
			var syn *xml.SyntaxError
			if errors.As(err, &syn) {
				e.Line = syn.Line
			}
			if len(stack) > 0 {
				open := stack[len(stack)-1]
				e.Path = open.path()
				if syn != nil && syn.Msg == "unexpected EOF" {
					// The file ends in the middle of a tag or a text.
					e.Msg = fmt.Sprintf("the file ends inside <%s> (opened at line %d): the export is truncated", open.name, open.line)
				}
			}
			return nil, e
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el := &element{name: t.Name.Local, attrs: t.Copy().Attr, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("a second root element <%s> after <%s>: an export holds one module", el.name, root.name)}
				}
				root = el
			} else {
				parent := stack[len(stack)-1]
				el.parent = parent
				parent.children = append(parent.children, el)
			}
			if len(stack) >= maxDepth {
				return nil, &Error{File: file, Line: line, Path: el.path(), Msg: fmt.Sprintf("elements nested more than %d deep: this is not a SlipStream module export", maxDepth)}
			}
			stack = append(stack, el)
			text = append(text, nil)
		case xml.EndElement:
			// The decoder checks that end tags match their start tags.
			el := stack[len(stack)-1]
			el.text = string(text[len(text)-1])
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1] = append(text[len(text)-1], t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				where := "before the root element"
				if root != nil {
					where = "after the root element"
				}
				return nil, &Error{File: file, Line: line, Msg: "text " + where + ": this is not a SlipStream module export"}
			}
		}
	}
}

// xmlErrorText is the decoder's message without its "XML syntax error on
// line N:" prefix, which Error already says.
func xmlErrorText(err error) string {
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		return "XML syntax error: " + syn.Msg
	}
	return err.Error()
}

// charsetReader decodes the single-byte encodings old exports may declare;
// Go's decoder reads UTF-8 only. Others are refused with their name.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8":
		return input, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		var out bytes.Buffer
		out.Grow(len(b))
		for _, c := range b {
			out.WriteRune(rune(c)) // ISO-8859-1 is the first 256 code points
		}
		return &out, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q (convert the file to UTF-8)", charset)
}

// path names the element as root/child[i]/…: an index is given where the
// parent has several children of that name, counted from 1.
func (e *element) path() string {
	var parts []string
	for el := e; el != nil; el = el.parent {
		part := el.name
		if el.parent != nil {
			n, i := 0, 0
			for _, sib := range el.parent.children {
				if sib.name == el.name {
					n++
					if sib == el {
						i = n
					}
				}
			}
			if n > 1 {
				part = fmt.Sprintf("%s[%d]", el.name, i)
			}
		}
		parts = append(parts, part)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// attr returns an attribute's value by its local name.
func (e *element) attr(name string) (string, bool) {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// attrOr returns an attribute's value, or def when it is absent.
func (e *element) attrOr(name, def string) string {
	if v, ok := e.attr(name); ok {
		return v
	}
	return def
}

// child returns the first child of that name, or nil.
func (e *element) child(name string) *element {
	for _, c := range e.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// all returns the children of that name, in document order.
func (e *element) all(name string) []*element {
	var out []*element
	for _, c := range e.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// childText is the text of the first child of that name ("" when absent).
func (e *element) childText(name string) string {
	if c := e.child(name); c != nil {
		return c.text
	}
	return ""
}

// Error is a problem with an input: which file, where in it (the line and
// the element path, when known) and what.
type Error struct {
	File string
	Line int
	// Path is the element path, e.g.
	// deploymentModule/nodes/entry[2]/node/parameterMappings; "" for the
	// whole file or for a problem between files.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// errorAt makes an Error about element el of file.
func errorAt(file string, el *element, format string, args ...any) *Error {
	return &Error{File: file, Line: el.line, Path: el.path(), Msg: fmt.Sprintf(format, args...)}
}

// Errors are all the problems an import found, in input order: it reports
// every one it can rather than stopping at the first.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// printable replaces what a terminal would act on rather than show
// (control characters, invalid UTF-8) in text quoted from an input, for
// messages and comments.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if r < 0x20 || r == 0x7f {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}

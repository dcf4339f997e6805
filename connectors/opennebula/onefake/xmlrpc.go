package onefake

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// XML-RPC as oned's server library (xmlrpc-c) speaks it: a methodCall
// whose params are typed values; a methodResponse whose one param is an
// array (OpenNebula's [success, result or message, error code, …]), or a
// fault for what the library itself refuses.

// Faults of xmlrpc-c (include/xmlrpc-c/base.h, XMLRPC_*_ERROR).
const (
	faultInternal      = -500
	faultType          = -501
	faultIndex         = -502
	faultParse         = -503
	faultNoSuchMethod  = -506
	faultLimitExceeded = -509
)

// Limits of what a request may hold, as xmlrpc-c has its own (its
// XMLRPC_XML_SIZE_LIMIT and nesting limit).
const (
	maxBody   = 8 << 20
	maxDepth  = 32
	maxValues = 100000
)

// value is one XML-RPC value.
type value struct {
	kind string // "int", "boolean", "string", "double", "base64", "dateTime.iso8601", "array", "struct", "nil"
	i    int64
	b    bool
	s    string
	f    float64
	arr  []value
	st   map[string]value
}

func (v value) describe() string {
	switch v.kind {
	case "int":
		return "an integer"
	case "boolean":
		return "a boolean"
	case "string":
		return "a string"
	}
	return "a value of type " + v.kind
}

// call is a parsed methodCall.
type call struct {
	method string
	params []value
}

// fault is an XML-RPC fault answer.
type fault struct {
	code int
	msg  string
}

func (f *fault) Error() string { return fmt.Sprintf("fault %d: %s", f.code, f.msg) }

// parseCall reads a methodCall with a real XML parser. Anything that is
// not one is a parse fault, as xmlrpc-c answers it.
func parseCall(body []byte) (*call, error) {
	p := &parser{d: xml.NewDecoder(bytes.NewReader(body))}
	p.d.Strict = true
	c, err := p.methodCall()
	if err != nil {
		var f *fault
		if errors.As(err, &f) {
			return nil, f
		}
		return nil, &fault{code: faultParse, msg: "XML-RPC parse error: " + err.Error()}
	}
	return c, nil
}

type parser struct {
	d      *xml.Decoder
	values int
}

// next is the next start or end element, skipping white space, comments,
// processing instructions and directives; other text is an error.
func (p *parser) next() (xml.Token, error) {
	for {
		tok, err := p.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("unexpected text %q", truncate(string(t), 40))
			}
		}
	}
}

func (p *parser) expectStart(name string) error {
	tok, err := p.next()
	if err != nil {
		return err
	}
	if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != name {
		return fmt.Errorf("expected <%s>, got %s", name, tokenName(tok))
	}
	return nil
}

func (p *parser) expectEnd(name string) error {
	tok, err := p.next()
	if err != nil {
		return err
	}
	if e, ok := tok.(xml.EndElement); !ok || e.Name.Local != name {
		return fmt.Errorf("expected </%s>, got %s", name, tokenName(tok))
	}
	return nil
}

func (p *parser) methodCall() (*call, error) {
	if err := p.expectStart("methodCall"); err != nil {
		return nil, err
	}
	if err := p.expectStart("methodName"); err != nil {
		return nil, err
	}
	name, err := p.text("methodName")
	if err != nil {
		return nil, err
	}
	c := &call{method: strings.TrimSpace(name)}
	if c.method == "" {
		return nil, errors.New("empty methodName")
	}
	tok, err := p.next()
	if err != nil {
		return nil, err
	}
	if s, ok := tok.(xml.StartElement); ok && s.Name.Local == "params" {
		for {
			tok, err := p.next()
			if err != nil {
				return nil, err
			}
			if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "params" {
				break
			}
			if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != "param" {
				return nil, fmt.Errorf("expected <param>, got %s", tokenName(tok))
			}
			if err := p.expectStart("value"); err != nil {
				return nil, err
			}
			v, err := p.value(1)
			if err != nil {
				return nil, err
			}
			c.params = append(c.params, v)
			if err := p.expectEnd("param"); err != nil {
				return nil, err
			}
		}
		tok, err = p.next()
		if err != nil {
			return nil, err
		}
	}
	if e, ok := tok.(xml.EndElement); !ok || e.Name.Local != "methodCall" {
		return nil, fmt.Errorf("expected </methodCall>, got %s", tokenName(tok))
	}
	// Nothing but white space may follow.
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) == 0 {
			continue
		}
		if _, ok := tok.(xml.Comment); ok {
			continue
		}
		return nil, fmt.Errorf("unexpected %s after </methodCall>", tokenName(tok))
	}
}

// text reads character data up to the end of element name.
func (p *parser) text(name string) (string, error) {
	var b strings.Builder
	for {
		tok, err := p.d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len()+len(t) > maxBody {
				return "", &fault{code: faultLimitExceeded, msg: "XML-RPC value too large"}
			}
			b.Write(t)
		case xml.EndElement:
			if t.Name.Local != name {
				return "", fmt.Errorf("expected </%s>, got </%s>", name, t.Name.Local)
			}
			return b.String(), nil
		case xml.StartElement:
			return "", fmt.Errorf("unexpected <%s> inside <%s>", t.Name.Local, name)
		}
	}
}

// value reads what follows a <value> start, through its </value>.
func (p *parser) value(depth int) (value, error) {
	if depth > maxDepth {
		return value{}, &fault{code: faultLimitExceeded, msg: "XML-RPC value nested too deeply"}
	}
	if p.values++; p.values > maxValues {
		return value{}, &fault{code: faultLimitExceeded, msg: "too many XML-RPC values"}
	}
	// A value is text (a string) or one typed element.
	var text strings.Builder
	for {
		tok, err := p.d.Token()
		if err != nil {
			return value{}, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if t.Name.Local != "value" {
				return value{}, fmt.Errorf("expected </value>, got </%s>", t.Name.Local)
			}
			return value{kind: "string", s: text.String()}, nil
		case xml.StartElement:
			if len(bytes.TrimSpace([]byte(text.String()))) > 0 {
				return value{}, fmt.Errorf("text before <%s> in a value", t.Name.Local)
			}
			v, err := p.typed(t.Name.Local, depth)
			if err != nil {
				return value{}, err
			}
			return v, p.expectEnd("value")
		}
	}
}

func (p *parser) typed(kind string, depth int) (value, error) {
	switch kind {
	case "array":
		if err := p.expectStart("data"); err != nil {
			return value{}, err
		}
		v := value{kind: "array"}
		for {
			tok, err := p.next()
			if err != nil {
				return value{}, err
			}
			if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "data" {
				break
			}
			if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != "value" {
				return value{}, fmt.Errorf("expected <value> in an array, got %s", tokenName(tok))
			}
			elem, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			v.arr = append(v.arr, elem)
		}
		return v, p.expectEnd("array")
	case "struct":
		v := value{kind: "struct", st: map[string]value{}}
		for {
			tok, err := p.next()
			if err != nil {
				return value{}, err
			}
			if e, ok := tok.(xml.EndElement); ok && e.Name.Local == "struct" {
				return v, nil
			}
			if s, ok := tok.(xml.StartElement); !ok || s.Name.Local != "member" {
				return value{}, fmt.Errorf("expected <member> in a struct, got %s", tokenName(tok))
			}
			if err := p.expectStart("name"); err != nil {
				return value{}, err
			}
			name, err := p.text("name")
			if err != nil {
				return value{}, err
			}
			if err := p.expectStart("value"); err != nil {
				return value{}, err
			}
			m, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			v.st[name] = m
			if err := p.expectEnd("member"); err != nil {
				return value{}, err
			}
		}
	case "nil":
		return value{kind: "nil"}, p.expectEnd("nil")
	}
	s, err := p.text(kind)
	if err != nil {
		return value{}, err
	}
	switch kind {
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || (kind != "i8" && (n > 1<<31-1 || n < -1<<31)) {
			return value{}, fmt.Errorf("<%s>%s</%s> is not a %s", kind, truncate(s, 20), kind, map[bool]string{true: "64-bit integer", false: "32-bit integer"}[kind == "i8"])
		}
		return value{kind: "int", i: n}, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "0":
			return value{kind: "boolean"}, nil
		case "1":
			return value{kind: "boolean", b: true}, nil
		}
		return value{}, fmt.Errorf("<boolean>%s</boolean> is not 0 or 1", truncate(s, 20))
	case "string":
		return value{kind: "string", s: s}, nil
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return value{}, fmt.Errorf("<double>%s</double> is not a number", truncate(s, 20))
		}
		return value{kind: "double", f: f}, nil
	case "base64", "dateTime.iso8601":
		return value{kind: kind, s: s}, nil
	}
	return value{}, fmt.Errorf("unknown value type <%s>", kind)
}

func tokenName(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	}
	return fmt.Sprintf("%T", tok)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Answers.

// xmlHeader starts every answer, as xmlrpc-c writes it.
const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\r\n"

// i8 is an int answered as <i8>, as OpenNebula answers a failure's
// replication index.
type i8 int64

// response is a methodResponse whose param is an array of vals (bool,
// string, int, i8).
func response(vals ...any) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + "<methodResponse>\r\n<params>\r\n<param><value><array><data>\r\n")
	for _, v := range vals {
		b.WriteString("<value>")
		switch x := v.(type) {
		case bool:
			if x {
				b.WriteString("<boolean>1</boolean>")
			} else {
				b.WriteString("<boolean>0</boolean>")
			}
		case int:
			fmt.Fprintf(&b, "<i4>%d</i4>", x)
		case i8:
			fmt.Fprintf(&b, "<i8>%d</i8>", int64(x))
		case string:
			b.WriteString("<string>")
			_ = xml.EscapeText(&b, []byte(x))
			b.WriteString("</string>")
		}
		b.WriteString("</value>\r\n")
	}
	b.WriteString("</data></array></value></param>\r\n</params>\r\n</methodResponse>\r\n")
	return b.Bytes()
}

// faultResponse is xmlrpc-c's answer to a call it refuses itself.
func faultResponse(f *fault) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + "<methodResponse>\r\n<fault>\r\n<value><struct>\r\n")
	fmt.Fprintf(&b, "<member><name>faultCode</name>\r\n<value><i4>%d</i4></value></member>\r\n", f.code)
	b.WriteString("<member><name>faultString</name>\r\n<value><string>")
	_ = xml.EscapeText(&b, []byte(f.msg))
	b.WriteString("</string></value></member>\r\n</struct></value>\r\n</fault>\r\n</methodResponse>\r\n")
	return b.Bytes()
}

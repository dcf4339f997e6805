package csapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error types CloudSigma names in error_type (Errors section, "Types").
const (
	TypeValidation  = "validation"
	TypeNotExist    = "notexist"
	TypeBackend     = "backend"
	TypePermission  = "permission"
	TypeDatabase    = "database"
	TypeConcurrency = "concurrency"
	TypeBilling     = "billing"
	TypePayment     = "payment"
)

// ErrorItem is one entry of CloudSigma's error answer: a JSON list of
// {"error_point", "error_type", "error_message"} (Errors section,
// "Format"). error_point may be null.
type ErrorItem struct {
	Point   string `json:"error_point"`
	Type    string `json:"error_type"`
	Message string `json:"error_message"`
}

// Error is an API answer outside 2xx.
type Error struct {
	Method string // "POST"
	Path   string // relative to the API base, with the query: "/servers/…/action/?do=start"
	Status int    // HTTP status
	// Items are the decoded error entries; empty when the body was not
	// CloudSigma's error JSON (a proxy's HTML page, say).
	Items []ErrorItem
	// Body is the start of a body that was not CloudSigma's error JSON,
	// for the message.
	Body string
}

// Op is the call that failed, "POST /servers/".
func (e *Error) Op() string { return strings.TrimSpace(e.Method + " " + e.Path) }

// Type is the first entry's error_type ("" when there is none).
func (e *Error) Type() string {
	for _, it := range e.Items {
		if it.Type != "" {
			return it.Type
		}
	}
	return ""
}

// Point is the first entry's error_point: the field at fault, if any.
func (e *Error) Point() string {
	for _, it := range e.Items {
		if it.Point != "" {
			return it.Point
		}
	}
	return ""
}

// Message is the entries' messages (with their error points), or the
// HTTP status text and the start of a body that was not error JSON.
func (e *Error) Message() string {
	var parts []string
	for _, it := range e.Items {
		m := it.Message
		if m == "" {
			m = it.Type
		}
		if it.Point != "" {
			m = it.Point + ": " + m
		}
		if m != "" {
			parts = append(parts, m)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "; ")
	}
	msg := http.StatusText(e.Status)
	if msg == "" {
		msg = "unexpected answer"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func (e *Error) Error() string {
	s := fmt.Sprintf("cloudsigma %s: HTTP %d", e.Op(), e.Status)
	if t := e.Type(); t != "" {
		s += " " + t
	}
	return s + ": " + e.Message()
}

// maxBodyInMessage is how much of a body that is not error JSON goes
// into Error.Body.
const maxBodyInMessage = 200

// DecodeError reads an error answer. It accepts CloudSigma's list of
// error objects, a single such object, and anything else (kept, cut short,
// as Body); it never fails.
func DecodeError(status int, body []byte) *Error {
	e := &Error{Status: status}
	body = bytes.TrimSpace(body)
	var raw []map[string]json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if json.Unmarshal(body, &raw) != nil {
			raw = nil
		}
	} else if len(body) > 0 && body[0] == '{' {
		var one map[string]json.RawMessage
		if json.Unmarshal(body, &one) == nil {
			raw = []map[string]json.RawMessage{one}
		}
	}
	for _, m := range raw {
		it := ErrorItem{Point: looseString(m["error_point"]), Type: looseString(m["error_type"]), Message: looseString(m["error_message"])}
		if it != (ErrorItem{}) {
			e.Items = append(e.Items, it)
		}
	}
	if len(e.Items) == 0 && len(body) > 0 {
		e.Body = printable(body, maxBodyInMessage)
	}
	return e
}

// looseString is a JSON value as text: a string as it is, null as "",
// anything else (a number, a list of messages) as its JSON.
func looseString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return printable(raw, maxBodyInMessage)
}

// printable is b as valid UTF-8 on one line, at most n bytes.
func printable(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// RequestError is a call that got no answer from the API: the request
// could not be sent, the connection failed or timed out, or the answer
// could not be read.
type RequestError struct {
	Method string
	Path   string
	Err    error
}

// Op is the call that failed.
func (e *RequestError) Op() string { return strings.TrimSpace(e.Method + " " + e.Path) }

func (e *RequestError) Error() string { return "cloudsigma " + e.Op() + ": " + e.Err.Error() }

func (e *RequestError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

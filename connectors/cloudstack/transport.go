package cloudstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxAnswer bounds an answer read: a page of 500 VMs is a few megabytes.
const maxAnswer = 64 << 20

// callTransport sends the SDK's requests with the context of one
// connector call and a timeout per request, and turns every answer that
// is not a successful JSON object into an *answerError, so that the
// status, errorcode and cserrorcode reach the connector (the SDK keeps
// only a formatted string of them, and nothing of an answer that is not
// JSON).
type callTransport struct {
	ctx     context.Context
	base    http.RoundTripper
	timeout time.Duration
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	defer cancel()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		if t.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, &noAnswerError{after: t.timeout}
		}
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	if err != nil {
		if t.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, &noAnswerError{after: t.timeout}
		}
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK && isJSONObject(body) {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return resp, nil
	}
	return nil, parseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// noAnswerError is a request that got no answer within the request
// timeout while the caller still waited: worth retrying (it is a
// net.Error that timed out).
type noAnswerError struct{ after time.Duration }

func (e *noAnswerError) Error() string   { return fmt.Sprintf("no answer within %v", e.after) }
func (e *noAnswerError) Timeout() bool   { return true }
func (e *noAnswerError) Temporary() bool { return true }

// answerError is an answer of the API other than a successful JSON
// object: CloudStack's error (HTTP status, errorcode, cserrorcode,
// errortext), or something else (a proxy's page, a login page).
type answerError struct {
	Status      int
	ErrorCode   int
	CSErrorCode int
	Text        string
	// NotJSON is set when the answer was not CloudStack's JSON;
	// ContentType and Snippet then say what it was.
	NotJSON     bool
	ContentType string
	Snippet     string
}

func (e *answerError) Error() string {
	if e.NotJSON {
		return fmt.Sprintf("HTTP %d with a %s answer that is not CloudStack's JSON: %q", e.Status, orUnknown(e.ContentType), e.Snippet)
	}
	s := fmt.Sprintf("%s (errorcode %d", e.Text, e.ErrorCode)
	if e.CSErrorCode != 0 {
		s += fmt.Sprintf(", cserrorcode %d", e.CSErrorCode)
	}
	return s + ")"
}

func orUnknown(s string) string {
	if s == "" {
		return "untyped"
	}
	return s
}

// parseAnswer reads an error answer: {"<command>response": {"errorcode":
// …, "cserrorcode": …, "errortext": …}}.
func parseAnswer(status int, contentType string, body []byte) *answerError {
	var outer map[string]json.RawMessage
	if json.Unmarshal(body, &outer) == nil && len(outer) == 1 {
		for _, inner := range outer {
			var e struct {
				ErrorCode   int    `json:"errorcode"`
				CSErrorCode int    `json:"cserrorcode"`
				ErrorText   string `json:"errortext"`
			}
			if json.Unmarshal(inner, &e) == nil && (e.ErrorCode != 0 || e.ErrorText != "") {
				if e.ErrorCode == 0 {
					e.ErrorCode = status
				}
				return &answerError{Status: status, ErrorCode: e.ErrorCode, CSErrorCode: e.CSErrorCode, Text: e.ErrorText}
			}
		}
	}
	return &answerError{Status: status, ErrorCode: status, NotJSON: true, ContentType: contentType, Snippet: snippet(body)}
}

// isJSONObject reports whether b is a JSON object, as every CloudStack
// answer is.
func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// snippet is the start of an answer, on one line, for an error message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

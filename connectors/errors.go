package connectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Kind says what a caller should do about a cloud's error.
type Kind int

const (
	// KindPermanent errors fail at once: a bad request, an unknown image,
	// a quota or capacity the cloud will not have in the next minutes,
	// credentials it refuses.
	KindPermanent Kind = iota
	// KindTransient errors are retried with backoff within the caller's
	// timeout: throttling (EC2 RequestLimitExceeded, HTTP 429), the
	// cloud's own outages (HTTP 5xx), conflicts with an operation in
	// progress (OpenStack's 409 while a server builds), and a network
	// that dropped the connection.
	KindTransient
	// KindNotFound means the machine or image does not exist (any more).
	KindNotFound
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindNotFound:
		return "not found"
	}
	return "permanent"
}

// Error is a cloud's answer to one call, classified. Connectors return
// their cloud's failures as *Error so that the provider can retry,
// give up, or treat a machine as gone the same way on every cloud, and
// name the cloud and its own words in diagnostics.
type Error struct {
	Cloud   string // connector name: "ec2"
	Op      string // the call: "RunInstances", "POST /servers"
	Code    string // the cloud's error code, or the HTTP status as text
	Status  int    // HTTP status, when there was an answer
	Message string // the cloud's own message
	Kind    Kind
	Err     error // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Cloud)
	if e.Op != "" {
		b.WriteString(" " + e.Op)
	}
	b.WriteString(": ")
	if e.Code != "" {
		b.WriteString(e.Code)
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	if e.Message == "" && e.Code == "" && e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf classifies any error from a connector: an *Error by its Kind;
// a network failure (connection refused or reset, a timeout of one
// request while the caller's context is still live) as transient; a
// cancelled or expired context, and anything else, as permanent.
func KindOf(err error) Kind {
	if err == nil {
		return KindPermanent
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindPermanent
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return KindTransient
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return KindTransient
	}
	return KindPermanent
}

// IsNotFound reports whether err says the machine or image does not exist.
func IsNotFound(err error) bool { return err != nil && KindOf(err) == KindNotFound }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool { return err != nil && KindOf(err) == KindTransient }

// HTTPKind is the usual classification of an HTTP status: 404 not found;
// 408, 409, 425, 429 and 5xx transient (409: the resource is busy with
// another operation); the other 4xx permanent. Connectors refine it with
// their cloud's error codes.
func HTTPKind(status int) Kind {
	switch {
	case status == 404:
		return KindNotFound
	case status == 408 || status == 409 || status == 425 || status == 429 || status >= 500:
		return KindTransient
	}
	return KindPermanent
}

// NotFound is a KindNotFound *Error for a machine or image id.
func NotFound(cloud, op, what, id string) *Error {
	return &Error{Cloud: cloud, Op: op, Kind: KindNotFound, Code: "NotFound", Message: fmt.Sprintf("%s %s does not exist", what, id)}
}

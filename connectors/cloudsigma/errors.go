package cloudsigma

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// apiErr turns a client error into a *connectors.Error: Op is the call,
// Code CloudSigma's error_type (or the HTTP status when the answer had
// none), Message the error_message with the status.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	var e *csapi.Error
	if errors.As(err, &e) {
		code := e.Type()
		if code == "" {
			code = strconv.Itoa(e.Status)
		}
		return &connectors.Error{Cloud: Name, Op: e.Op(), Code: code, Status: e.Status,
			Message: fmt.Sprintf("%s (HTTP %d)", e.Message(), e.Status), Kind: kindOf(e), Err: e}
	}
	var re *csapi.RequestError
	if errors.As(err, &re) {
		return &connectors.Error{Cloud: Name, Op: re.Op(), Message: re.Err.Error(), Kind: connectors.KindOf(re.Err), Err: re}
	}
	return &connectors.Error{Cloud: Name, Message: err.Error(), Kind: connectors.KindOf(err), Err: err}
}

// kindOf classifies an API error. Beyond the HTTP status (404 not found;
// 408, 409, 429, 5xx transient; other 4xx permanent, among them 401 bad
// credentials, 402 no funds and 403 refused or over the account's
// limits):
//   - error_type "concurrency" is transient, whatever the status: "two
//     simultaneous conflicting operations … The operation should be
//     retried" (Errors, "Types");
//   - a message that the object is busy or an operation in progress is
//     transient;
//   - CloudSigma's 503 for a lack of resources ("We currently cannot
//     provide enough resources …") is permanent: there will be no room in
//     the next minutes either.
func kindOf(e *csapi.Error) connectors.Kind {
	msg := strings.ToLower(e.Message())
	switch {
	case e.Status == http.StatusNotFound:
		return connectors.KindNotFound
	case e.Type() == csapi.TypeConcurrency:
		return connectors.KindTransient
	case strings.Contains(msg, "busy") || strings.Contains(msg, "in progress"):
		return connectors.KindTransient
	case noCapacity(msg):
		return connectors.KindPermanent
	}
	return connectors.HTTPKind(e.Status)
}

// noCapacity recognizes CloudSigma's wording for a location out of
// resources.
func noCapacity(lowerMsg string) bool {
	return strings.Contains(lowerMsg, "cannot provide enough resources") ||
		strings.Contains(lowerMsg, "not enough resources") || strings.Contains(lowerMsg, "not enough free resources")
}

// wrongState reports whether err is CloudSigma's refusal of an action on
// a server in the wrong state: `Cannot start guest in state "started".
// Guest should be in state "stopped"` (403, permission).
func wrongState(err error) bool {
	var e *csapi.Error
	return errors.As(err, &e) && e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message()), "in state")
}

// rejected reports whether err is an answer that says the request was
// refused as a whole (4xx): unlike a 5xx or a lost answer, it made
// nothing.
func rejected(err error) bool {
	var e *csapi.Error
	return errors.As(err, &e) && e.Status >= 400 && e.Status < 500
}

// gone reports whether err says the object does not exist, or that the
// id could not name one.
func gone(err error) bool { return csapi.IsNotFound(err) || errors.Is(err, csapi.ErrBadID) }

// permanent is a permanent error of the connector's own, for a call.
func permanent(op, code, format string, args ...any) *connectors.Error {
	return &connectors.Error{Cloud: Name, Op: op, Code: code, Kind: connectors.KindPermanent, Message: fmt.Sprintf(format, args...)}
}

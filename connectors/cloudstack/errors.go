package cloudstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// apiErr turns the error of one API call (command op) into a
// *connectors.Error: CloudStack's answer by its errorcode (see kindOf),
// an answer that is not CloudStack's JSON as what it was, a lost answer
// by connectors.KindOf (transient while ctx lives). The request's URL,
// which holds the API key and signature, is never part of the message.
func apiErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	var ae *answerError
	if errors.As(err, &ae) {
		return answerErr(op, ae)
	}
	// http.Client wraps a transport's error in a *url.Error whose text
	// holds the URL (and so the signature): keep what it wraps.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return &connectors.Error{Cloud: Name, Op: op, Code: "MalformedAnswer", Kind: connectors.KindPermanent, Err: err,
			Message: "the API's answer is not what CloudStack answers to " + op + ": " + err.Error()}
	}
	kind := connectors.KindOf(err)
	if ctx.Err() != nil {
		kind = connectors.KindPermanent
	}
	return &connectors.Error{Cloud: Name, Op: op, Kind: kind, Message: err.Error(), Err: err}
}

// answerErr is the *connectors.Error of an error answer.
func answerErr(op string, ae *answerError) *connectors.Error {
	e := &connectors.Error{Cloud: Name, Op: op, Status: ae.Status, Code: strconv.Itoa(ae.ErrorCode), Message: ae.Error(), Err: ae}
	if ae.NotJSON {
		e.Kind = connectors.HTTPKind(ae.Status)
		if ae.Status == 200 || ae.Status == 404 {
			// A web page where the API should be: the URL is not the API's.
			e.Kind = connectors.KindPermanent
			e.Message += "; is api_url the API's endpoint (https://<management server>/client/api)?"
		}
		return e
	}
	e.Kind = kindOf(ae.ErrorCode, ae.CSErrorCode, ae.Text)
	switch ae.ErrorCode {
	case 401:
		e.Message += "; check api_key and secret_key, that the user is enabled and may use its API key, and that this host's clock is right (signed requests expire)"
	case 432:
		e.Message += "; the account's role does not allow this API command"
	case codeResourceLimit, codeAllocation:
		// CloudStack words it "Maximum number of resources … exceeded";
		// say which knob that is.
		e.Message += "; the account's resource limit (quota) is reached: raise it (updateResourceLimit) or free resources"
	}
	return e
}

// jobErr is the *connectors.Error of a failed asynchronous job.
func jobErr(op, jobID string, code int, text string) *connectors.Error {
	ae := &answerError{ErrorCode: code, Text: text}
	return &connectors.Error{Cloud: Name, Op: op + " (job " + jobID + ")", Code: strconv.Itoa(code),
		Message: ae.Error(), Kind: kindOf(code, 0, text), Err: ae}
}

// CloudStack's ApiErrorCode values (org.apache.cloudstack.api.ApiErrorCode)
// and the cserrorcode of the exceptions that say "try again"
// (com.cloud.utils.exception.CSExceptionErrorCode).
const (
	codeUnauthorized      = 401
	codeMalformedParam    = 430
	codeParamError        = 431
	codeUnsupportedAction = 432
	codeAPILimitExceeded  = 429
	codeInternalError     = 530
	codeAccountError      = 531
	codeResourceLimit     = 532
	codeNoCapacity        = 533
	codeUnavailable       = 534
	codeAllocation        = 535
	codeInUse             = 536
	codeRuleConflict      = 537

	csAgentUnavailable    = 4285
	csConcurrentOperation = 4300
	csCommandQueued       = 4540
	csRequestLimit        = 4545
	csOperationTimedOut   = 4560
)

// kindOf classifies CloudStack's errorcode (with the cserrorcode when the
// answer has one, and the text):
//   - 429 (the API rate limit: "The given user has reached his/her account
//     api limit, please retry after … ms") is transient, as is any answer
//     that says so;
//   - 534 (a resource unavailable for now: a host or storage pool down)
//     and 536 (a resource in use by another operation) are transient;
//   - 530 (an internal error) is transient only when the exception behind
//     it says to try again (a concurrent operation, an agent unavailable,
//     an operation timed out, a queued command), permanent otherwise: it
//     is also what a refused request gives (a job's "Parameter expunge
//     can be passed by Admin only");
//   - 401 (credentials), 430/431 (a parameter: an unknown template or
//     offering id, a user-data too long), 432 (a command the role does not
//     allow), 531 (permission), 532 and 535 (the account's limits), 533
//     (no capacity) and 537 are permanent;
//   - other 5xx (a proxy's 502/503/504) are transient, other 4xx
//     permanent.
func kindOf(code, cscode int, text string) connectors.Kind {
	lower := strings.ToLower(text)
	switch {
	case code == codeAPILimitExceeded || cscode == csRequestLimit || strings.Contains(lower, "api limit"):
		return connectors.KindTransient
	case code == codeUnavailable || code == codeInUse:
		return connectors.KindTransient
	case code == codeInternalError:
		switch cscode {
		case csAgentUnavailable, csConcurrentOperation, csCommandQueued, csOperationTimedOut:
			return connectors.KindTransient
		}
		return connectors.KindPermanent
	case code == codeUnauthorized, code == codeMalformedParam, code == codeParamError, code == codeUnsupportedAction,
		code == codeAccountError, code == codeResourceLimit, code == codeNoCapacity, code == codeAllocation, code == codeRuleConflict:
		return connectors.KindPermanent
	}
	return connectors.HTTPKind(code)
}

// noSuchEntity reports whether err is CloudStack's answer that a uuid
// parameter names nothing (ParamProcessWorker: "Invalid parameter id
// value=… due to incorrect long value format, or entity does not exist"),
// or a command's own "unable to find" for an entity that is gone.
func noSuchEntity(err error) bool {
	var ae *answerError
	if !errors.As(err, &ae) || ae.NotJSON || (ae.ErrorCode != codeParamError && ae.ErrorCode != codeMalformedParam) {
		return false
	}
	lower := strings.ToLower(ae.Text)
	return strings.Contains(lower, "entity does not exist") || strings.Contains(lower, "unable to find")
}

// expungeRefused reports whether err says the account may not expunge.
func expungeRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "allow.user.expunge.recover.vm")
}

// answered reports whether err is an answer of the API (the request
// reached it and was refused), not a lost or cut-off one.
func answered(err error) bool {
	var ae *answerError
	return errors.As(err, &ae) && !ae.NotJSON
}

// permanent is a permanent error of the connector's own, for a call.
func permanent(op, code, format string, args ...any) *connectors.Error {
	return &connectors.Error{Cloud: Name, Op: op, Code: code, Kind: connectors.KindPermanent, Message: fmt.Sprintf(format, args...)}
}

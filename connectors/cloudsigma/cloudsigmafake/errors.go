package cloudsigmafake

import (
	"context"
	"errors"
	"net/http"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Messages of the errors the fake gives for injected faults. CloudSigma
// does not publish these; they follow the reference where it says
// something: 503 "when the system is out of capacity" (General Notes,
// "Response Status Codes"), and the wording of its one documented
// capacity message, "We currently cannot provide enough resources to
// create a nvme drive" (Drives, "Creating").
const (
	msgThrottled   = "Request was throttled: the rate limit of your account is exceeded. Try again later."
	msgUnavailable = "The system temporarily cannot fulfil the request. Please try again later."
	msgNoCapacity  = "We currently cannot provide enough resources to start this server"
	msgOverLimits  = "Usage limits exceeded: this server would take your account over its limits. Contact support to raise them."
)

// errNoCapacity is the answer to the start of a server that there is no
// room for: 503 with error_type backend, as CloudSigma answers when it is
// out of capacity. It is not a passing outage: there will be no room in
// the next minutes either.
var errNoCapacity = &apiError{status: http.StatusServiceUnavailable, typ: "backend", msg: msgNoCapacity}

// errorFor is CloudSigma's answer to an error of a handler or of the
// Cloud.
func errorFor(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var fault *fakecloud.Fault
	if errors.As(err, &fault) {
		switch fault.Kind {
		case fakecloud.FaultThrottle:
			return &apiError{status: http.StatusTooManyRequests, typ: "permission", msg: msgThrottled}
		case fakecloud.FaultUnavailable:
			return &apiError{status: http.StatusServiceUnavailable, typ: "backend", msg: msgUnavailable}
		case fakecloud.FaultCapacity:
			return errNoCapacity
		case fakecloud.FaultQuota:
			return &apiError{status: http.StatusForbidden, typ: "permission", msg: msgOverLimits}
		}
	}
	switch {
	case errors.Is(err, fakecloud.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, typ: "backend", msg: msgUnavailable}
	case errors.Is(err, fakecloud.ErrNotFound), errors.Is(err, fakecloud.ErrImageNotFound):
		return &apiError{status: http.StatusNotFound, typ: "notexist", msg: err.Error()}
	case errors.Is(err, fakecloud.ErrImageNotReady), errors.Is(err, fakecloud.ErrIncorrectState):
		return errPermission("%v", err)
	case errors.Is(err, fakecloud.ErrDuplicate):
		return errValidation("name", "%v", err)
	}
	return &apiError{status: http.StatusInternalServerError, typ: "backend", msg: err.Error()}
}

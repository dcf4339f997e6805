package ec2fake

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// apiError is an EC2 error answer: its code, message and HTTP status.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func missingParameter(name string) *apiError {
	return errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter %s", name)
}

func invalidValue(name, value string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s is invalid.", value, name)
}

func invalidCombination(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterCombination", format, args...)
}

// errorBody is EC2's error document. Its root has no namespace, and the
// request id is "RequestID" (not "requestId" as in answers).
type errorBody struct {
	XMLName xml.Name `xml:"Response"`
	Errors  []struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Errors>Error"`
	RequestID string `xml:"RequestID"`
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	body := errorBody{RequestID: reqID}
	body.Errors = append(body.Errors, struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}{e.Code, e.Message})
	out, _ := xml.Marshal(body) // plain strings: cannot fail
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.Status)
	// The client may have gone; there is no one to tell of a failed write.
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(out)
}

// cloudError is EC2's answer to an error of the fake cloud that no action
// turned into a more precise one: injected faults as EC2 reports them,
// anything else as an internal error.
func cloudError(err error) *apiError {
	var f *fakecloud.Fault
	switch {
	case errors.As(err, &f):
		switch f.Kind {
		case fakecloud.FaultThrottle:
			return errorf(http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		case fakecloud.FaultUnavailable:
			return errorf(http.StatusServiceUnavailable, "Unavailable", "The service is unavailable. Please try again shortly.")
		case fakecloud.FaultCapacity:
			return errorf(http.StatusInternalServerError, "InsufficientInstanceCapacity",
				"We currently do not have sufficient capacity in the Availability Zone you requested. Our system will be working on provisioning additional capacity.")
		case fakecloud.FaultQuota:
			return errorf(http.StatusBadRequest, "InstanceLimitExceeded",
				"You have requested more instances than your current instance limit allows for the specified instance type.")
		}
	case errors.Is(err, fakecloud.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "Unavailable", "The service is unavailable. Please try again shortly.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "RequestCanceled", "The request was cancelled by the client.")
	}
	return errorf(http.StatusInternalServerError, "InternalError", "An internal error has occurred.")
}

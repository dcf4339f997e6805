package azurefake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// apiError is an Azure Resource Manager error answer: handlers return it
// through their azfake.ErrorResponder (SetError), and the dispatcher
// writes it as ARM does, so that the SDK builds its *azcore.ResponseError
// from a real HTTP answer.
type apiError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// errBody is ARM's error envelope.
type errBody struct {
	Error errDetail `json:"error"`
}

type errDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// response writes e as an *http.Response to req.
func (e *apiError) response(req *http.Request) *http.Response {
	resp := jsonResponse(req, e.Status, errBody{Error: errDetail{Code: e.Code, Message: e.Message}})
	if e.RetryAfter > 0 {
		resp.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	return resp
}

// jsonResponse is an answer to req with v as its JSON body.
func jsonResponse(req *http.Request, status int, v any) *http.Response {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"the fake could not encode its answer"}}`)
	}
	resp := &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json; charset=utf-8"}},
		Body:    io.NopCloser(bytes.NewReader(body)),
		Request: req, ContentLength: int64(len(body)),
	}
	if status == http.StatusNoContent {
		resp.Body, resp.ContentLength = http.NoBody, 0
	}
	return resp
}

// faultError is how Azure answers an injected fault of the fake cloud,
// or a fake cloud error a handler did not expect.
func faultError(err error, op string) *apiError {
	var f *fakecloud.Fault
	if errors.As(err, &f) {
		switch f.Kind {
		case fakecloud.FaultThrottle:
			return &apiError{Status: 429, Code: "TooManyRequests", RetryAfter: 1,
				Message: fmt.Sprintf("The request is being throttled as the limit has been reached for operation type - %s. For more information, see - https://aka.ms/armthrottling", op)}
		case fakecloud.FaultUnavailable:
			return &apiError{Status: 503, Code: "ServiceUnavailable",
				Message: "The server (leader) encountered an error processing the request. Please try again later."}
		case fakecloud.FaultCapacity:
			return &apiError{Status: 409, Code: "SkuNotAvailable",
				Message: "The requested VM size is currently not available in this location. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details."}
		case fakecloud.FaultQuota:
			return &apiError{Status: 409, Code: "OperationNotAllowed",
				Message: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Current Limit: 10, Current Usage: 10, Additional Required: 1."}
		}
	}
	if errors.Is(err, fakecloud.ErrClosed) {
		return &apiError{Status: 503, Code: "ServiceUnavailable", Message: "The fake cloud is closed."}
	}
	return &apiError{Status: 500, Code: "InternalServerError", Message: "An internal execution error occurred: " + err.Error()}
}

// badRequest is ARM's answer to a request it cannot read.
func badRequest(msg string) *apiError {
	return &apiError{Status: 400, Code: "InvalidRequestContent", Message: msg}
}

// invalidParameter is compute's answer to a property it refuses.
func invalidParameter(target, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	if target != "" {
		msg += " Target: '" + target + "'."
	}
	return &apiError{Status: 400, Code: "InvalidParameter", Message: msg}
}

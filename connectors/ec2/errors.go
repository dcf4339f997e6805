package ec2

import (
	"context"
	"errors"
	"slices"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// transientCodes are EC2 error codes worth retrying: throttling, EC2's
// own outages, and a resource busy with another change.
var transientCodes = []string{
	"RequestLimitExceeded", "Throttling", "ThrottlingException", "ServiceUnavailable", "Unavailable",
	"InternalError", "InternalFailure", "IncorrectInstanceState", "IncorrectState",
}

// apiError turns an SDK error from the call op into a *connectors.Error
// with EC2's code, message and HTTP status. The codes in notFound mean
// "does not exist" for this call (InvalidInstanceID.NotFound on
// DescribeInstances, say); the same code elsewhere, such as an unknown
// image on RunInstances, is a permanent error. nil stays nil.
func apiError(ctx context.Context, op string, err error, notFound ...string) error {
	if err == nil {
		return nil
	}
	e := &connectors.Error{Cloud: cloudName, Op: op, Kind: connectors.KindPermanent, Err: err}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code, e.Message = ae.ErrorCode(), ae.ErrorMessage()
		switch {
		case slices.Contains(notFound, e.Code):
			e.Kind = connectors.KindNotFound
		case slices.Contains(transientCodes, e.Code):
			e.Kind = connectors.KindTransient
		case strings.HasPrefix(e.Code, "Insufficient"):
			// No capacity for this type in this zone: it will not be
			// there in the next minutes (KindPermanent, as documented).
		case e.Status >= 500:
			e.Kind = connectors.KindTransient // a server error EC2 has not named
		}
		return e
	}
	// No answer from EC2.
	var send *smithyhttp.RequestSendError
	var garbled *smithy.DeserializationError
	switch {
	case ctx.Err() != nil:
		// The caller's time is up: retrying cannot help.
	case errors.As(err, &send), errors.As(err, &garbled):
		e.Kind = connectors.KindTransient
	}
	return e
}

// codeOf is the EC2 error code of err, or "".
func codeOf(err error) string {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

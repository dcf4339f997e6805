package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Azure error codes, by what the caller should do about them. Codes are
// compared without regard to case, as Azure's providers spell them
// differently.
var (
	// permanentCodes fail at once whatever their status: capacity and
	// quota the subscription will not have in the next minutes, requests
	// Azure will never take. They come first: SkuNotAvailable and
	// OperationNotAllowed are 409s, which are otherwise worth retrying.
	permanentCodes = codeSet("SkuNotAvailable", "AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest",
		"OverconstrainedZonalAllocationRequest", "OperationNotAllowed", "QuotaExceeded", "QuotaExceededForSubscription",
		"PublicIPCountLimitReached", "NetworkInterfaceCountLimitReached", "InvalidParameter", "InvalidRequestContent",
		"InvalidRequestFormat", "BadRequest", "ImageNotFound", "PlatformImageNotFound", "GalleryImageNotFound",
		"InvalidResourceReference", "PropertyChangeNotAllowed", "LocationRequired", "LocationNotAvailableForResourceType",
		"InvalidResourceGroup", "InvalidResourceGroupLocation", "NicInUse", "PublicIPAddressInUse", "InvalidAddressPrefixFormat",
		"NetcfgSubnetRangeOutsideVnet", "SubscriptionNotFound", "InvalidSubscriptionId", "MissingSubscriptionRegistration",
		"DisallowedByPolicy", "RequestDisallowedByPolicy", "OSProvisioningInternalError", "OSProvisioningTimedOut")
	// authCodes are Resource Manager's refusals of the caller: wrong or
	// expired token, a role that does not allow the operation.
	authCodes = codeSet("AuthenticationFailed", "AuthorizationFailed", "LinkedAuthorizationFailed", "InvalidAuthenticationToken",
		"InvalidAuthenticationTokenTenant", "InvalidAuthenticationTokenAudience", "ExpiredAuthenticationToken")
	// notFoundCodes say the resource asked for does not exist.
	notFoundCodes = codeSet("ResourceNotFound", "NotFound", "ResourceGroupNotFound", "ParentResourceNotFound")
	// transientCodes are worth retrying whatever their status:
	// throttling, Azure's own failures, a resource busy with another
	// operation.
	transientCodes = codeSet("TooManyRequests", "SubscriptionRequestsThrottled", "TenantRequestsThrottled", "RetryableError",
		"InternalServerError", "InternalExecutionError", "ServiceUnavailable", "GatewayTimeout", "Conflict",
		"AnotherOperationInProgress", "OperationPreempted", "ResourceGroupBeingDeleted", "InUseSubnetCannotBeDeleted",
		"PublicIPAddressCannotBeDeleted", "ReferencedResourceNotProvisioned")
)

func codeSet(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[strings.ToLower(c)] = true
	}
	return m
}

// kindOf classifies an Azure answer by its code, then its status.
func kindOf(status int, code string) connectors.Kind {
	c := strings.ToLower(code)
	switch {
	case permanentCodes[c], authCodes[c]:
		return connectors.KindPermanent
	case notFoundCodes[c]:
		return connectors.KindNotFound
	case transientCodes[c]:
		return connectors.KindTransient
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return connectors.KindPermanent
	}
	return connectors.HTTPKind(status)
}

// apiError turns an SDK error from the call op into a *connectors.Error
// with Azure's code, message and HTTP status. nil stays nil.
func apiError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *credentialError
	if errors.As(err, &ce) {
		return credentialFailure(ctx, op, ce)
	}
	e := &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindPermanent, Err: err}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e.Status, e.Code = re.StatusCode, re.ErrorCode
		e.Message = messageOf(re)
		if e.Code == "" {
			e.Code = http.StatusText(re.StatusCode)
		}
		e.Kind = kindOf(re.StatusCode, re.ErrorCode)
		if authCodes[strings.ToLower(re.ErrorCode)] || re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden {
			e.Message += " (Resource Manager refused the credentials or their role: the principal needs Contributor, or the roles listed in docs/clouds.md, on the subscription or resource groups)"
		}
		return e
	}
	switch {
	case ctx.Err() != nil:
		// The caller's time is up: retrying cannot help.
		e.Message = ctx.Err().Error()
	case isTLSError(err):
		e.Code, e.Message = "TLSError", err.Error()+" (set ca_file to the CA that signs the endpoint's certificate)"
	case strings.HasPrefix(err.Error(), "unmarshalling type"):
		// An answer that is not the JSON it should be: a proxy in
		// the way, or a truncated body.
		e.Kind, e.Code, e.Message = connectors.KindTransient, "MalformedResponse", err.Error()
	case isNetError(err):
		e.Kind, e.Message = connectors.KindTransient, err.Error()
	default:
		e.Message = err.Error()
	}
	return e
}

// messageOf is Azure's message in an error answer: error.message, with
// the details' messages when there are any.
func messageOf(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil || len(body) == 0 {
		return ""
	}
	type detail struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []detail `json:"details"`
	}
	var env struct {
		Error *detail `json:"error"`
		detail
	}
	if json.Unmarshal(body, &env) != nil {
		return strings.TrimSpace(string(body[:min(len(body), 500)]))
	}
	d := env.detail
	if env.Error != nil {
		d = *env.Error
	}
	msg := d.Message
	for _, sub := range d.Details {
		if sub.Message != "" && !strings.Contains(msg, sub.Message) {
			msg += " " + sub.Code + ": " + sub.Message
		}
	}
	return strings.TrimSpace(msg)
}

// isTLSError reports a certificate the connector does not trust: no retry
// will change that.
func isTLSError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// isNetError reports a request that got no answer: the connection was
// refused, reset, or timed out.
func isNetError(err error) bool {
	if isTLSError(err) {
		return false
	}
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

// codeOf is the Azure error code of err, or "".
func codeOf(err error) string {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// notFoundAsPermanent makes a "not found" of a create's step permanent:
// a missing image, subnet or group is the request's fault, and the
// provider must not read it as "the machine is gone".
func notFoundAsPermanent(err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Kind == connectors.KindNotFound {
		ce.Kind = connectors.KindPermanent
	}
	return err
}

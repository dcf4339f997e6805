package openstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// cloudName names the connector in errors.
const cloudName = "openstack"

// opToken is Keystone's token request, as errors name it.
const opToken = "POST /v3/auth/tokens" // #nosec G101 -- an operation's name in error messages, not a credential

// apiError turns an error of one API call into a *connectors.Error: an
// HTTP answer by its status and the service's own error code and
// message; a network failure by connectors.KindOf (transient while the
// caller's context lives).
func apiError(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	// A token that expired and could not be renewed: what Keystone said
	// to the new login is the error (the old token's 401 is not news).
	var reauth *gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &reauth) && reauth.ErrReauth != nil {
		e := apiError(opToken, reauth.ErrReauth).(*connectors.Error)
		e.Message = "logging in again after the token expired, during " + op + ": " + e.Message
		return e
	}
	if r, ok := responseError(err); ok {
		return httpError(op, r)
	}
	kind := connectors.KindOf(err)
	if isTLSError(err) {
		kind = connectors.KindPermanent
	}
	return &connectors.Error{Cloud: cloudName, Op: op, Kind: kind, Message: err.Error(), Err: err}
}

// responseError finds the HTTP answer in gophercloud's error (a value, or
// wrapped after a re-authentication).
func responseError(err error) (*gophercloud.ErrUnexpectedResponseCode, bool) {
	var v gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &v) {
		return &v, true
	}
	var p *gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &p) && p != nil {
		return p, true
	}
	return nil, false
}

// statusOf is the HTTP status of an API error, or 0.
func statusOf(err error) int {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	if r, ok := responseError(err); ok {
		return r.Actual
	}
	return 0
}

func httpError(op string, r *gophercloud.ErrUnexpectedResponseCode) *connectors.Error {
	code, msg := parseErrorBody(r.Body)
	if code == "" {
		code = fmt.Sprintf("%d %s", r.Actual, http.StatusText(r.Actual))
	}
	e := &connectors.Error{Cloud: cloudName, Op: op, Code: code, Status: r.Actual, Message: msg,
		Kind: connectors.HTTPKind(r.Actual), Err: r}
	switch {
	case r.Actual == http.StatusUnauthorized && op == opToken:
		e.Message = strings.TrimSpace(msg + " (Keystone answered 401: it refused the credentials)")
	case r.Actual == http.StatusUnauthorized:
		e.Message = strings.TrimSpace(msg + " (HTTP 401: the cloud refused the token)")
	case r.Actual == http.StatusRequestEntityTooLarge && r.ResponseHeader.Get("Retry-After") != "":
		// Older Novas rate-limit with 413 overLimit and a Retry-After.
		e.Kind = connectors.KindTransient
	}
	return e
}

// parseErrorBody reads the error bodies of the OpenStack services:
// Nova's {"itemNotFound": {"code", "message"}}, Keystone's {"error":
// {"title", "message"}}, Neutron's {"NeutronError": {"type", "message"}}
// and Glance's (webob) {"title", "message"}. Anything else is the body
// itself, shortened.
func parseErrorBody(body []byte) (code, msg string) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) == nil {
		var inner struct {
			Message string `json:"message"`
			Title   string `json:"title"`
			Type    string `json:"type"`
		}
		if len(top) == 1 {
			for name, raw := range top {
				if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
					switch name {
					case "error": // Keystone
						return inner.Title, inner.Message
					case "NeutronError":
						return inner.Type, inner.Message
					}
					return name, inner.Message // Nova
				}
			}
		}
		if json.Unmarshal(body, &inner) == nil && inner.Message != "" {
			return inner.Title, strings.TrimSpace(stripHTML(inner.Message))
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return "", s
}

// stripHTML drops the <br /> webob puts in Glance's messages.
func stripHTML(s string) string {
	return strings.NewReplacer("<br />", " ", "<br/>", " ", "<br>", " ").Replace(s)
}

package openstackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// dialect is one OpenStack service's way of answering: each shapes its
// errors differently, and clients (gophercloud, openstacksdk) parse them
// as they come.
type dialect int

const (
	identityAPI dialect = iota // Keystone: {"error": {"code", "title", "message"}}
	computeAPI                 // Nova: {"itemNotFound": {"code", "message"}}
	imageAPI                   // Glance (webob): {"code": "404 Not Found", "title", "message"}
	networkAPI                 // Neutron: {"NeutronError": {"type", "message", "detail"}}
)

func (d dialect) String() string {
	return [...]string{"identity", "compute", "image", "network"}[d]
}

// novaFaultNames are the keys Nova wraps its errors in
// (nova/api/openstack/wsgi.py, Fault._fault_names).
var novaFaultNames = map[int]string{
	400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
	409: "conflictingRequest", 413: "overLimit", 415: "badMediaType", 429: "overLimit",
	501: "notImplemented", 503: "serviceUnavailable",
}

// neutronTypes are the generic NeutronError types by status; handlers
// give the specific ones (NetworkNotFound, …) where Neutron has them.
var neutronTypes = map[int]string{
	400: "BadRequest", 401: "NotAuthorized", 403: "Forbidden", 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed",
	409: "Conflict", 413: "HTTPRequestEntityTooLarge", 429: "TooManyRequests", 503: "ServiceUnavailable",
}

// writeError answers with the service's own error body.
func (d dialect) writeError(w http.ResponseWriter, status int, format string, args ...any) {
	d.writeTypedError(w, status, "", fmt.Sprintf(format, args...))
}

// writeTypedError is writeError with Neutron's error type (ignored by the
// other services).
func (d dialect) writeTypedError(w http.ResponseWriter, status int, neutronType, msg string) {
	var body any
	switch d {
	case identityAPI:
		body = map[string]any{"error": map[string]any{"code": status, "title": http.StatusText(status), "message": msg}}
	case computeAPI:
		name, ok := novaFaultNames[status]
		if !ok {
			name = "computeFault"
		}
		body = map[string]any{name: map[string]any{"code": status, "message": msg}}
	case imageAPI:
		body = map[string]any{"code": fmt.Sprintf("%d %s", status, http.StatusText(status)), "title": http.StatusText(status), "message": msg}
	case networkAPI:
		if neutronType == "" {
			neutronType = neutronTypes[status]
			if neutronType == "" {
				neutronType = "NeutronException"
			}
		}
		body = map[string]any{"NeutronError": map[string]any{"type": neutronType, "message": msg, "detail": ""}}
	}
	writeJSON(w, status, body)
}

// writeUnauthorized is keystonemiddleware's answer to a request without a
// valid token, the same for every service behind it.
func writeUnauthorized(w http.ResponseWriter, authURL string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Keystone uri=%q", authURL))
	identityAPI.writeError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
}

// writeFault answers an error from fakecloud.Cloud.Enter: an injected
// throttle or outage, or a closed cloud.
func (d dialect) writeFault(w http.ResponseWriter, err error) {
	var f *fakecloud.Fault
	switch {
	case errors.As(err, &f) && f.Kind == fakecloud.FaultThrottle:
		w.Header().Set("Retry-After", "1")
		msg := "This request was rate-limited."
		if d == networkAPI || d == imageAPI {
			msg = "Too many requests: retry later."
		}
		d.writeTypedError(w, http.StatusTooManyRequests, "", msg)
	default:
		d.writeError(w, http.StatusServiceUnavailable, "The server is currently unavailable. Please try again at a later time.")
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		// Only the fake's own values are encoded: this is a bug in the fake.
		http.Error(w, "openstackfake: cannot encode the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// Exactly "application/json": gophercloud reads createImage's body
	// only for that Content-Type.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Openstack-Request-Id", "req-"+NewID("request"))
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may have gone; nothing to tell it
}

func writeNoContent(w http.ResponseWriter, status int) {
	w.Header().Set("X-Openstack-Request-Id", "req-"+NewID("request"))
	w.WriteHeader(status)
}

// jsonTypeName says what JSON type a decoding error wanted, in the words
// of the jsonschema messages Nova and Neutron send.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return fmt.Sprintf("Invalid input for field/attribute %s. Value: %s. %s is not of type '%s'", field, te.Value, te.Value, jsonSchemaType(te.Type.Kind().String()))
	}
	return "Malformed request body: " + strings.TrimPrefix(err.Error(), "json: ")
}

func jsonSchemaType(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	case "int", "int64", "float64":
		return "integer"
	}
	return goKind
}

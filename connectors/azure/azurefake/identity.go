package azurefake

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// tokenLifetime is how long an access token the fake issues is good for,
// as Entra ID's are (about an hour).
const tokenLifetime = time.Hour

type token struct {
	audience string
	expires  time.Time
}

var (
	oidcPath      = regexp.MustCompile(`^/([^/]+)/v2\.0/\.well-known/openid-configuration$`)
	tokenPath     = regexp.MustCompile(`^/([^/]+)/oauth2/v2\.0/token$`)
	discoveryPath = "/common/discovery/instance"
	metadataPath  = "/metadata/endpoints"
)

// identity answers Microsoft Entra ID's endpoints (OpenID discovery, the
// token endpoint, instance discovery) and Azure Stack Hub's
// /metadata/endpoints; ok is false for any other request.
func (f *Fake) identity(req *http.Request) (*http.Response, bool) {
	base := "https://" + req.URL.Host
	if req.URL.Scheme != "" {
		base = req.URL.Scheme + "://" + req.URL.Host
	}
	p := req.URL.Path
	switch {
	case req.Method == http.MethodGet && oidcPath.MatchString(p):
		tenant := oidcPath.FindStringSubmatch(p)[1]
		authority := base + "/" + tenant
		return jsonResponse(req, http.StatusOK, map[string]any{
			"token_endpoint":                        authority + "/oauth2/v2.0/token",
			"authorization_endpoint":                authority + "/oauth2/v2.0/authorize",
			"issuer":                                authority + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"tenant_region_scope":                   "EU",
		}), true
	case req.Method == http.MethodPost && tokenPath.MatchString(p):
		return f.tokenEndpoint(req, tokenPath.FindStringSubmatch(p)[1]), true
	case req.Method == http.MethodGet && p == discoveryPath:
		host := req.URL.Host
		return jsonResponse(req, http.StatusOK, map[string]any{
			"tenant_discovery_endpoint": base + "/common/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata":                  []map[string]any{{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
		}), true
	case req.Method == http.MethodGet && p == metadataPath:
		// Azure Stack Hub's description of its endpoints, which tools
		// read to learn the token audience and the login endpoint.
		return jsonResponse(req, http.StatusOK, map[string]any{
			"galleryEndpoint": base + "/", "graphEndpoint": base + "/", "portalEndpoint": base + "/",
			"authentication": map[string]any{"loginEndpoint": base + "/", "audiences": []string{FakeAudience}},
		}), true
	}
	return nil, false
}

// entraError is Entra ID's error answer.
func entraError(req *http.Request, status int, code string, aadsts int, msg string) *http.Response {
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	trace := newGUID()
	return jsonResponse(req, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, msg, trace, newGUID(), now),
		"error_codes":       []int{aadsts},
		"timestamp":         now,
		"trace_id":          trace,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}

// tokenEndpoint answers the client credentials grant for the fake's
// service principal, with its secret or its federated client assertion.
func (f *Fake) tokenEndpoint(req *http.Request, tenant string) *http.Response {
	if req.Body == nil {
		return entraError(req, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	}
	if err := req.ParseForm(); err != nil {
		return entraError(req, 400, "invalid_request", 900144, "The request body could not be read as a form.")
	}
	form := req.PostForm
	if !strings.EqualFold(tenant, f.opts.TenantID) {
		return entraError(req, 400, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
	}
	if g := form.Get("grant_type"); g != "client_credentials" {
		return entraError(req, 400, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", g))
	}
	if id := form.Get("client_id"); id != f.opts.ClientID {
		return entraError(req, 400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, tenant))
	}
	switch secret, assertion := form.Get("client_secret"), form.Get("client_assertion"); {
	case secret != "":
		if subtle.ConstantTimeCompare([]byte(secret), []byte(f.opts.ClientSecret)) != 1 {
			return entraError(req, 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+f.opts.ClientID+"'.")
		}
	case assertion != "":
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return entraError(req, 400, "invalid_request", 700023, "Invalid client assertion type.")
		}
		if subtle.ConstantTimeCompare([]byte(assertion), []byte(f.opts.FederatedToken)) != 1 {
			return entraError(req, 400, "invalid_client", 70021, "No matching federated identity record found for presented assertion.")
		}
	default:
		return entraError(req, 401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	}
	// MSAL adds the OpenID scopes (openid, offline_access, profile) to
	// the resource's.
	scope := ""
	for s := range strings.FieldsSeq(form.Get("scope")) {
		if strings.HasSuffix(s, "/.default") {
			scope = s
		}
	}
	audience, ok := strings.CutSuffix(scope, "/.default")
	if !ok || audience == "" {
		scope = form.Get("scope")
		return entraError(req, 400, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
	}
	f.mu.Lock()
	f.scopes = append(f.scopes, scope)
	tok := f.issue(audience)
	f.mu.Unlock()
	secs := int(tokenLifetime.Seconds()) - 1
	return jsonResponse(req, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// issue makes an access token for audience; f.mu is held.
func (f *Fake) issue(audience string) string {
	tok := "fake." + randomHex(24)
	f.tokens[tok] = token{audience: audience, expires: time.Now().Add(tokenLifetime)}
	return tok
}

// authenticate checks an ARM request's bearer token: nil when it is
// good, ARM's 401 answer otherwise.
func (f *Fake) authenticate(req *http.Request) *http.Response {
	h := req.Header.Get("Authorization")
	if h == "" {
		return (&apiError{Status: 401, Code: "AuthenticationFailed", Message: "Authentication failed. The 'Authorization' header is missing."}).response(req)
	}
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return (&apiError{Status: 401, Code: "AuthenticationFailed", Message: "Authentication failed. The 'Authorization' header is provided in an invalid format."}).response(req)
	}
	f.mu.Lock()
	tok, known := f.tokens[raw]
	f.mu.Unlock()
	switch {
	case !known:
		return (&apiError{Status: 401, Code: "InvalidAuthenticationToken", Message: "The access token is invalid."}).response(req)
	case time.Now().After(tok.expires):
		return (&apiError{Status: 401, Code: "ExpiredAuthenticationToken", Message: "The access token expiry UTC time '" + tok.expires.UTC().Format(time.RFC1123) + "' is earlier than current UTC time."}).response(req)
	case !audienceAccepted(tok.audience):
		return (&apiError{Status: 401, Code: "InvalidAuthenticationTokenAudience",
			Message: "The access token has been obtained for wrong audience or resource '" + tok.audience + "'. It should exactly match with one of the allowed audiences '" + PublicAudience + "', '" + FakeAudience + "'."}).response(req)
	}
	return nil
}

// audienceAccepted reports whether ARM takes tokens for audience: the
// public cloud's and the one the fake's metadata advertises.
func audienceAccepted(audience string) bool {
	a := strings.TrimRight(audience, "/")
	return a == strings.TrimRight(PublicAudience, "/") || a == strings.TrimRight(FakeAudience, "/")
}

package openstackfake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

func (f *Fake) identityRoutes() []route {
	return []route{
		{pattern: "", op: "/identity", public: true, methods: methods{"GET": (*call).identityVersions}},
		{pattern: "v3", op: "/v3", public: true, methods: methods{"GET": (*call).identityVersion}},
		{pattern: "v3/auth/tokens", op: "/v3/auth/tokens", public: true, methods: methods{"POST": (*call).issueToken}},
	}
}

func (c *call) identityVersionDoc() map[string]any {
	return map[string]any{"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
		"links":       []any{map[string]any{"rel": "self", "href": c.base + "/identity/v3/"}},
		"media-types": []any{map[string]any{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}}}
}

func (c *call) identityVersions() {
	writeJSON(c.w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{c.identityVersionDoc()}}})
}

func (c *call) identityVersion() {
	writeJSON(c.w, http.StatusOK, map[string]any{"version": c.identityVersionDoc()})
}

// authRequest is POST /v3/auth/tokens's body, the parts the fake reads.
type authRequest struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					ID       string     `json:"id"`
					Name     string     `json:"name"`
					Password string     `json:"password"`
					Domain   *domainRef `json:"domain"`
				} `json:"user"`
			} `json:"password"`
			ApplicationCredential *struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Secret string `json:"secret"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type domainRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type scopeRequest struct {
	Project *struct {
		ID     string     `json:"id"`
		Name   string     `json:"name"`
		Domain *domainRef `json:"domain"`
	} `json:"project"`
	Domain *domainRef     `json:"domain"`
	System map[string]any `json:"system"`
	Trust  map[string]any `json:"OS-TRUST:trust"`
}

const keystoneMalformed = "The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error."

// issueToken is Keystone's POST /v3/auth/tokens: a password of the user
// (by name and domain, or id) or the application credential; the token
// is scoped to the project (asked for or, unscoped, the user's default
// project, as Keystone does) and carries the service catalog.
func (c *call) issueToken() {
	var req authRequest
	if err := decodeJSON(c.r, &req); err != nil {
		c.errorf(http.StatusBadRequest, "%s %s", jsonError(err), keystoneMalformed)
		return
	}
	if req.Auth == nil || req.Auth.Identity == nil {
		c.errorf(http.StatusBadRequest, "Expecting to find identity in auth. %s", keystoneMalformed)
		return
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		c.errorf(http.StatusBadRequest, "Expecting to find methods in identity. %s", keystoneMalformed)
		return
	}
	var scope scopeRequest
	scoped := len(req.Auth.Scope) > 0 && !bytes.Equal(req.Auth.Scope, []byte("null")) && !bytes.Equal(req.Auth.Scope, []byte(`"unscoped"`))
	if scoped {
		if err := json.Unmarshal(req.Auth.Scope, &scope); err != nil {
			c.errorf(http.StatusBadRequest, "%s %s", jsonError(err), keystoneMalformed)
			return
		}
	}
	f := c.f
	var appCred bool
	for _, m := range id.Methods {
		switch m {
		case "password":
			p := id.Password
			if p == nil || p.User == nil {
				c.errorf(http.StatusBadRequest, "Expecting to find user in password. %s", keystoneMalformed)
				return
			}
			if !f.userMatches(p.User.ID, p.User.Name, p.User.Domain) || p.User.Password != f.password() {
				c.errorf(http.StatusUnauthorized, "The request you have made requires authentication.")
				return
			}
		case "application_credential":
			ac := id.ApplicationCredential
			if ac == nil {
				c.errorf(http.StatusBadRequest, "Expecting to find application_credential in identity. %s", keystoneMalformed)
				return
			}
			if f.opts.ApplicationCredentialID == "" || ac.ID != f.opts.ApplicationCredentialID || ac.Secret != f.opts.ApplicationCredentialSecret {
				c.errorf(http.StatusUnauthorized, "The request you have made requires authentication.")
				return
			}
			if scoped {
				c.errorf(http.StatusUnauthorized, "Application credentials cannot request a scope.")
				return
			}
			appCred = true
		default:
			c.errorf(http.StatusUnauthorized, "Attempted to authenticate with an unsupported method.")
			return
		}
	}
	if scoped && !f.projectScopeMatches(scope) {
		// Keystone does not tell a project that does not exist from one
		// the user has no role on.
		c.errorf(http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}

	token := newToken()
	now := time.Now().UTC()
	expires := now.Add(f.opts.TokenTTL)
	f.mu.Lock()
	f.tokens[token] = expires
	f.mu.Unlock()

	domain := map[string]any{"id": f.domainID, "name": f.opts.Domain}
	body := map[string]any{
		"methods":    id.Methods,
		"user":       map[string]any{"id": f.userID, "name": f.opts.User, "domain": domain, "password_expires_at": nil},
		"audit_ids":  []string{token[:22]},
		"expires_at": expires.Format(keystoneTime),
		"issued_at":  now.Format(keystoneTime),
		"project":    map[string]any{"id": f.projectID, "name": f.opts.Project, "domain": domain},
		"is_domain":  false,
		"roles": []any{
			map[string]any{"id": derivedID("role", "member"), "name": "member"},
			map[string]any{"id": derivedID("role", "reader"), "name": "reader"},
		},
		"catalog": c.catalog(),
	}
	if appCred {
		body["application_credential"] = map[string]any{"id": f.opts.ApplicationCredentialID, "name": "slipstream", "restricted": true}
	}
	c.w.Header().Set("X-Subject-Token", token)
	writeJSON(c.w, http.StatusCreated, map[string]any{"token": body})
}

// keystoneTime is how Keystone writes token times.
const keystoneTime = "2006-01-02T15:04:05.000000Z"

func (f *Fake) userMatches(id, name string, domain *domainRef) bool {
	if id != "" {
		return id == f.userID
	}
	return name == f.opts.User && f.domainMatches(domain)
}

func (f *Fake) domainMatches(d *domainRef) bool {
	if d == nil {
		return false
	}
	if d.ID != "" {
		return d.ID == f.domainID
	}
	return d.Name == f.opts.Domain
}

func (f *Fake) projectScopeMatches(s scopeRequest) bool {
	if s.Project == nil || s.Domain != nil || s.System != nil || s.Trust != nil {
		return false
	}
	if s.Project.ID != "" {
		return s.Project.ID == f.projectID
	}
	return s.Project.Name == f.opts.Project && f.domainMatches(s.Project.Domain)
}

// catalog lists the services on this server, public interface, in the
// fake's region.
func (c *call) catalog() []any {
	f := c.f
	entry := func(typ, name, url string) any {
		return map[string]any{"type": typ, "name": name, "id": derivedID("service", typ),
			"endpoints": []any{map[string]any{"id": derivedID("endpoint", typ), "interface": "public",
				"region": f.opts.Region, "region_id": f.opts.Region, "url": url}}}
	}
	return []any{
		entry("identity", "keystone", c.base+"/identity"),
		entry("compute", "nova", c.base+"/compute/v2.1"),
		entry("image", "glance", c.base+"/image"),
		entry("network", "neutron", c.base+"/network"),
	}
}

func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return "gAAAAAB" + hex.EncodeToString(b[:])
}

// validToken reports whether a request's X-Auth-Token is a token the fake
// issued that has not expired.
func (f *Fake) validToken(token string) bool {
	if token == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	exp, ok := f.tokens[token]
	if ok && time.Now().After(exp) {
		delete(f.tokens, token)
		return false
	}
	return ok
}

package openstackfake

import (
	"testing"
	"time"
)

func TestKeystoneTokensAndCatalog(t *testing.T) {
	tf := newTestFake(t, Options{TokenTTL: 300 * time.Millisecond})
	bad := tf.do("POST", "/identity/v3/auth/tokens", "", passwordAuth("demo", "wrong", "demo"))
	tf.wantError(bad, 401, "error", "requires authentication")
	if bad.obj("error")["title"] != "Unauthorized" {
		t.Errorf("Keystone's 401: %s", bad.raw)
	}
	tf.wantError(tf.do("POST", "/identity/v3/auth/tokens", "", passwordAuth("demo", "secret", "other")), 401, "error", "")
	tf.wantError(tf.do("POST", "/identity/v3/auth/tokens", "", `{"auth": {}}`), 400, "error", "identity")

	good := tf.do("POST", "/identity/v3/auth/tokens", "", passwordAuth("demo", "secret", "demo"))
	catalog, _ := good.obj("token")["catalog"].([]any)
	urls := map[string]string{}
	for _, e := range catalog {
		entry := e.(map[string]any)
		ep := entry["endpoints"].([]any)[0].(map[string]any)
		if ep["interface"] != "public" || ep["region"] != "RegionOne" {
			t.Errorf("endpoint %v", ep)
		}
		urls[entry["type"].(string)] = ep["url"].(string)
	}
	for typ, path := range map[string]string{"compute": "/compute/v2.1", "image": "/image", "network": "/network", "identity": "/identity"} {
		if urls[typ] != tf.f.URL()+path {
			t.Errorf("catalog %s = %q, want %q", typ, urls[typ], tf.f.URL()+path)
		}
	}

	tf.wantError(tf.do("GET", "/compute/v2.1/servers", "", ""), 401, "error", "requires authentication")
	tf.wantError(tf.do("GET", "/network/v2.0/networks", "not-a-token", ""), 401, "error", "requires authentication")
	if r := tf.do("GET", "/compute/v2.1/servers", tf.token, ""); r.status != 200 {
		t.Errorf("with a token: %d", r.status)
	}
	time.Sleep(350 * time.Millisecond)
	tf.wantError(tf.do("GET", "/compute/v2.1/servers", tf.token, ""), 401, "error", "requires authentication")
}

func TestApplicationCredentialLogin(t *testing.T) {
	tf := newTestFake(t, Options{ApplicationCredentialID: "ac", ApplicationCredentialSecret: "s"})
	body := `{"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "ac", "secret": "s"}}}}`
	if r := tf.do("POST", "/identity/v3/auth/tokens", "", body); r.status != 201 || r.obj("token", "project")["name"] != "demo" {
		t.Errorf("application credential: %d %s", r.status, r.raw)
	}
	scoped := `{"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "ac", "secret": "s"}},
		"scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}`
	tf.wantError(tf.do("POST", "/identity/v3/auth/tokens", "", scoped), 401, "error", "cannot request a scope")
}

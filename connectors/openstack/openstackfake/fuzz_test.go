package openstackfake

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}

// FuzzRequests sends arbitrary methods, paths, microversions and bodies
// to the fake, with a valid token: it never panics, never fails with a
// 500, and every error is an OpenStack-shaped JSON error.
func FuzzRequests(f *testing.F) {
	cloud, err := fakecloud.New(fakecloud.Options{Name: "openstack", NewID: NewID})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cloud.Close() })
	fake, err := New(cloud, Options{})
	if err != nil {
		f.Fatal(err)
	}
	image, _ := fake.AddImage("debian-12")
	send := func(method, path, mv string, body []byte, token string) *httptest.ResponseRecorder {
		req, err := http.NewRequest(method, "http://fake.test"+path, bytes.NewReader(body))
		if err != nil {
			return nil
		}
		if token != "" {
			req.Header.Set("X-Auth-Token", token)
		}
		if mv != "" {
			req.Header.Set("X-OpenStack-Nova-API-Version", mv)
		}
		w := httptest.NewRecorder()
		fake.ServeHTTP(w, req)
		return w
	}
	login := send("POST", "/identity/v3/auth/tokens", "", []byte(passwordAuth("demo", "secret", "demo")), "")
	token := login.Header().Get("X-Subject-Token")
	if token == "" {
		f.Fatalf("login: %d %s", login.Code, login.Body)
	}
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe test@example"
	seeds := []struct {
		method   byte
		path, mv string
		body     string
	}{
		{1, "/identity/v3/auth/tokens", "", passwordAuth("demo", "secret", "demo")},
		{1, "/identity/v3/auth/tokens", "", `{"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": 1}}}}`},
		{1, "/identity/v3/auth/tokens", "", `{"auth": {"identity": {"methods": ["password"], "password": {"user": null}}, "scope": "unscoped"}}`},
		{0, "/compute/v2.1/", "", ""},
		{0, "/compute/v2.1/servers/detail?limit=1&marker=x&name=(&tags=a,b", "2.96", ""},
		{1, "/compute/v2.1/servers", "2.96", `{"server": {"name": "x", "imageRef": "` + image + `", "flavorRef": "1", "networks": "auto", "tags": ["a"], "metadata": {"a": "b"}, "user_data": "IyEvYmluL3NoCg==", "min_count": 2, "max_count": "2", "return_reservation_id": true}}`},
		{1, "/compute/v2.1/servers", "2.1", `{"server": {"name": "x", "imageRef": "` + image + `", "flavorRef": 1, "networks": [{"uuid": "x", "port": "y"}], "security_groups": [{"name": null}]}}`},
		{1, "/compute/v2.1/servers", "latest", `{"server": []}`},
		{1, "/compute/v2.1/servers/x/action", "2.44", `{"createImage": {"name": "n", "metadata": {"k": 1}}}`},
		{1, "/compute/v2.1/servers/x/action", "", `{"os-stop": null, "os-start": null}`},
		{3, "/compute/v2.1/servers/x", "", ""},
		{1, "/compute/v2.1/os-keypairs", "2.91", `{"keypair": {"name": "k", "public_key": "` + key + `", "type": "x509"}}`},
		{0, "/compute/v2.1/flavors/detail?limit=a", "2.x", ""},
		{0, "/image/v2/images?name=debian-12&limit=1", "", ""},
		{3, "/image/v2/images/" + image, "", ""},
		{0, "/network/v2.0/ports?device_id=x&fields=id", "", ""},
		{1, "/network/v2.0/floatingips", "", `{"floatingip": {"floating_network_id": "x", "port_id": 7}}`},
		{2, "/network/v2.0/floatingips/x", "", `{"floatingip": {"port_id": null}}`},
		{4, "/nowhere//at/all", "", "{"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.mv, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method byte, path, mv string, body []byte) {
		w := send(fuzzMethods[int(method)%len(fuzzMethods)], path, mv, body, token)
		if w == nil {
			return // not a request an HTTP client can send
		}
		res := w.Result()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: %d %s", fuzzMethods[int(method)%len(fuzzMethods)], path, res.StatusCode, raw)
		}
		if res.StatusCode >= 400 && !isOpenStackError(res.StatusCode, res.Header, raw) {
			t.Fatalf("%s %s: %d with a body that is no OpenStack error: %q", fuzzMethods[int(method)%len(fuzzMethods)], path, res.StatusCode, raw)
		}
	})
}

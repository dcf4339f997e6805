package cloudsigmafake

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// FuzzRequest: whatever a client sends, the fake does not panic, and
// every answer outside 2xx is CloudSigma's error shape: a list of one
// object with error_point, a non-empty error_type and error_message.
func FuzzRequest(f *testing.F) {
	cloud, err := NewCloud(fakecloud.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cloud.Close() })
	img, _ := cloud.AddImage(fakecloud.Image{ID: "11111111-1111-4111-8111-111111111111", Name: "base"})
	fake := New(cloud, Options{})
	// A drive and a server to aim requests at.
	drive := seedClone(f, fake, img.ID)
	server := seedServer(f, fake, drive)

	f.Add("GET", "/api/2.0/servers/detail/?limit=0", "")
	f.Add("POST", "/api/2.0/servers/", `{"objects": [{"name": "a", "cpu": 2000, "mem": 1073741824, "vnc_password": "x",
		"drives": [{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": "`+drive+`"}],
		"nics": [{"ip_v4_conf": {"conf": "dhcp"}, "model": "virtio"}], "meta": {"a": "b"}, "pubkeys": [], "tags": []}]}`)
	f.Add("POST", "/api/2.0/servers/", `[{"name": 1}]`)
	f.Add("POST", "/api/2.0/servers/", `{"objects": {"name": "x"}}`)
	f.Add("POST", "/api/2.0/servers/", `{"name": "x", "cpu": 1e9, "mem": -1, "drives": [{"drive": {"uuid": null}}], "nics": [{"vlan": {}}]}`)
	f.Add("POST", "/api/2.0/servers/"+server+"/action/?do=start", "{}")
	f.Add("POST", "/api/2.0/servers/"+server+"/action/?do=stop", "")
	f.Add("DELETE", "/api/2.0/servers/"+server+"/?recurse=cdroms", "")
	f.Add("POST", "/api/2.0/drives/"+drive+"/action/?do=clone", `{"name": "c", "size": 99999999999, "meta": {"k": 1}}`)
	f.Add("POST", "/api/2.0/libdrives/"+img.ID+"/action/?do=clone", `{"media": "tape"}`)
	f.Add("POST", "/api/2.0/keypairs/", `{"objects": [{"name": "k", "public_key": "ssh-ed25519 AAAA"}]}`)
	f.Add("PUT", "/api/2.0/tags/x/", `{"resources": ["`+drive+`", null]}`)
	f.Add("POST", "/api/2.0/tags/", `[{"name": "t", "resources": [{"resource_uri": "/api/2.0/servers/`+server+`/"}]}]`)
	f.Add("GET", "/api/2.0/tags/?limit=abc", "")
	f.Add("DELETE", "/api/2.0/drives/..%2F/", "")
	f.Add("GET", "/api/2.0/capabilities/?format=xml", "")

	f.Fuzz(func(t *testing.T, method, target, body string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") {
			method = "GET"
		}
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := newRequest(method, target, body)
		if err != nil {
			return // not an HTTP request at all: no server would see it
		}
		w := httptest.NewRecorder()
		fake.ServeHTTP(w, req)
		if w.Code >= 200 && w.Code < 300 {
			if w.Code != 204 && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, target, w.Code, w.Body.String())
			}
			return
		}
		var list []map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list) != 1 {
			t.Fatalf("%s %s: %d with %q, not a list of one error", method, target, w.Code, w.Body.String())
		}
		e := list[0]
		_, hasPoint := e["error_point"]
		typ, _ := e["error_type"].(string)
		msg, _ := e["error_message"].(string)
		if !hasPoint || typ == "" || msg == "" {
			t.Fatalf("%s %s: %d with error %v", method, target, w.Code, e)
		}
	})
}

// errBadTarget is a request target httptest cannot make a request of.
var errBadTarget = errors.New("not a request target")

// newRequest is an authenticated request, or errBadTarget.
func newRequest(method, target, body string) (req *http.Request, err error) {
	defer func() {
		if recover() != nil { // httptest.NewRequest panics on a target it cannot parse
			req, err = nil, errBadTarget
		}
	}()
	r := httptest.NewRequest(method, target, bytes.NewReader([]byte(body)))
	r.SetBasicAuth(DefaultUsername, DefaultPassword)
	return r, nil
}

func seedClone(f *testing.F, fake *Fake, image string) string {
	req, _ := newRequest("POST", "/api/2.0/libdrives/"+image+"/action/?do=clone", `{"name": "d"}`)
	w := httptest.NewRecorder()
	fake.ServeHTTP(w, req)
	var out struct {
		Objects []struct {
			UUID string `json:"uuid"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.Objects) != 1 {
		f.Fatalf("seed clone: %d %s", w.Code, w.Body)
	}
	return out.Objects[0].UUID
}

func seedServer(f *testing.F, fake *Fake, drive string) string {
	body := `{"objects": [{"name": "s", "cpu": 2000, "mem": 1073741824, "vnc_password": "x",
		"drives": [{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": "` + drive + `"}],
		"nics": [{"ip_v4_conf": {"conf": "dhcp"}}]}]}`
	req, _ := newRequest("POST", "/api/2.0/servers/", body)
	w := httptest.NewRecorder()
	fake.ServeHTTP(w, req)
	var out struct {
		Objects []struct {
			UUID string `json:"uuid"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.Objects) != 1 {
		f.Fatalf("seed server: %d %s", w.Code, w.Body)
	}
	return out.Objects[0].UUID
}

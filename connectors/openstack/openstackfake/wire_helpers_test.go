package openstackfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// testFake serves a fake with a base image and logs in to it.
type testFake struct {
	t     *testing.T
	f     *Fake
	image string
	token string
}

func newTestFake(t *testing.T, opts Options) *testFake {
	t.Helper()
	cloud, err := fakecloud.New(fakecloud.Options{Name: "openstack", NewID: NewID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	f, err := New(cloud, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Close)
	img, err := f.AddImage("debian-12")
	if err != nil {
		t.Fatal(err)
	}
	tf := &testFake{t: t, f: f, image: img}
	resp := tf.do("POST", "/identity/v3/auth/tokens", "", passwordAuth("demo", "secret", "demo"))
	if resp.status != 201 {
		t.Fatalf("login: %d %s", resp.status, resp.raw)
	}
	tf.token = resp.header.Get("X-Subject-Token")
	return tf
}

func passwordAuth(user, password, project string) string {
	return `{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "` + user + `", "domain": {"name": "Default"}, "password": "` + password + `"}}},
		"scope": {"project": {"name": "` + project + `", "domain": {"name": "Default"}}}}}`
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends a request with the fake's token (token "" for none) and more
// headers as name, value pairs.
func (tf *testFake) do(method, path, token, body string, headers ...string) response {
	tf.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, tf.f.URL()+path, rd)
	if err != nil {
		tf.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tf.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal(raw, &r.body)
	return r
}

// nova is a compute request at a microversion ("" for none).
func (tf *testFake) nova(method, path, mv, body string) response {
	tf.t.Helper()
	if mv == "" {
		return tf.do(method, "/compute/v2.1"+path, tf.token, body)
	}
	return tf.do(method, "/compute/v2.1"+path, tf.token, body, "OpenStack-API-Version", "compute "+mv)
}

func (r response) obj(keys ...string) map[string]any {
	m := r.body
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func (tf *testFake) wantError(r response, status int, shape, contains string) {
	tf.t.Helper()
	if r.status != status {
		tf.t.Errorf("status %d, want %d: %s", r.status, status, r.raw)
		return
	}
	inner := r.obj(shape)
	if inner == nil || !strings.Contains(inner["message"].(string), contains) {
		tf.t.Errorf("error body %s, want {%q: {… %q …}}", r.raw, shape, contains)
	}
}

// createServer creates a server at mv (default 2.96) and returns its id.
func (tf *testFake) createServer(mv, extra string) string {
	tf.t.Helper()
	if mv == "" {
		mv = "2.96"
	}
	r := tf.nova("POST", "/servers", mv, `{"server": {"name": "web", "imageRef": "`+tf.image+`", "flavorRef": "d2",
		"networks": "auto", "user_data": "`+base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\n"))+`"`+extra+`}}`)
	if r.status != 202 {
		tf.t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r.obj("server")["id"].(string)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 100 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met within 2 s")
}

// Every error the fake answers is one of the services' shapes, with
// Content-Type application/json.
func isOpenStackError(status int, header http.Header, raw []byte) bool {
	if header.Get("Content-Type") != "application/json" {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return false
	}
	var inner struct {
		Code    *json.RawMessage `json:"code"`
		Message *string          `json:"message"`
		Title   string           `json:"title"`
		Type    string           `json:"type"`
	}
	if len(top) == 1 {
		for k, v := range top {
			if json.Unmarshal(v, &inner) != nil || inner.Message == nil {
				return false
			}
			switch k {
			case "error":
				return inner.Title != "" && inner.Code != nil && bytes.Equal(*inner.Code, []byte(strconv.Itoa(status)))
			case "NeutronError":
				return inner.Type != ""
			}
			return inner.Code != nil && bytes.Equal(*inner.Code, []byte(strconv.Itoa(status)))
		}
	}
	return json.Unmarshal(raw, &inner) == nil && inner.Message != nil && inner.Title != "" && inner.Code != nil
}

package cloudsigmafake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// The fake is tested with plain HTTP requests shaped on the reference's
// request dumps, apart from the connector's client, so that a mistake
// shared by the client and the fake does not pass unseen.

type env struct {
	t     *testing.T
	cloud *fakecloud.Cloud
	fake  *Fake
	image string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	cloud, err := NewCloud(fakecloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	img, err := cloud.AddImage(fakecloud.Image{ID: NewUUID(), Name: "Debian 12"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cloud: cloud, fake: New(cloud, opts), image: img.ID}
}

// do sends a request with the default credentials and returns the status
// and the decoded JSON answer (nil when there is none).
func (e *env) do(method, path string, body any) (int, any) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, r)
	req.SetBasicAuth(DefaultUsername, DefaultPassword)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	e.fake.ServeHTTP(w, req)
	var out any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			e.t.Fatalf("%s %s: the answer is not JSON: %q", method, path, w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return w.Code, out
}

// errorOf checks an error answer's shape and returns its only entry.
func errorOf(t *testing.T, answer any) map[string]any {
	t.Helper()
	list, ok := answer.([]any)
	if !ok || len(list) != 1 {
		t.Fatalf("error answer %v is not a list of one error", answer)
	}
	e, _ := list[0].(map[string]any)
	for _, k := range []string{"error_point", "error_type", "error_message"} {
		if _, ok := e[k]; !ok {
			t.Fatalf("error %v has no %s", e, k)
		}
	}
	if e["error_type"] == "" || e["error_message"] == "" {
		t.Fatalf("error %v says nothing", e)
	}
	return e
}

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func (e *env) cloneLib(size int64) string {
	e.t.Helper()
	body := map[string]any{"name": "disk"}
	if size > 0 {
		body["size"] = size
	}
	st, out := e.do("POST", "/api/2.0/libdrives/"+e.image+"/action/?do=clone", body)
	if st != http.StatusAccepted {
		e.t.Fatalf("clone: %d %v", st, out)
	}
	return get(out, "objects", 0, "uuid").(string)
}

func serverDef(name, drive string, extra map[string]any) map[string]any {
	s := map[string]any{"name": name, "cpu": 2000, "mem": 1 << 30, "vnc_password": "pw",
		"drives": []any{map[string]any{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": drive}},
		"nics":   []any{map[string]any{"ip_v4_conf": map[string]any{"conf": "dhcp"}, "model": "virtio"}}}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func (e *env) createServer(name, drive string, extra map[string]any) string {
	e.t.Helper()
	st, out := e.do("POST", "/api/2.0/servers/", map[string]any{"objects": []any{serverDef(name, drive, extra)}})
	if st != http.StatusCreated {
		e.t.Fatalf("create: %d %v", st, out)
	}
	return get(out, "objects", 0, "uuid").(string)
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{})
	for _, auth := range []func(*http.Request){
		func(*http.Request) {},
		func(r *http.Request) { r.SetBasicAuth(DefaultUsername, "wrong") },
		func(r *http.Request) { r.SetBasicAuth("other@example.com", DefaultPassword) },
		func(r *http.Request) { r.Header.Set("Authorization", "Digest username=\"x\"") },
	} {
		req := httptest.NewRequest("GET", "/api/2.0/servers/", nil)
		auth(req)
		w := httptest.NewRecorder()
		e.fake.ServeHTTP(w, req)
		var out any
		json.Unmarshal(w.Body.Bytes(), &out)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%v: %d", req.Header, w.Code)
			continue
		}
		if errorOf(t, out)["error_type"] != "permission" {
			t.Errorf("401 answer %v", out)
		}
	}
	if n := e.cloud.Calls(""); n != 0 {
		t.Errorf("refused requests were counted as %d calls", n)
	}
}

func TestRoutingErrors(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		typ          string
	}{
		{"GET", "/api/2.0/nothing/", 404, "notexist"},
		{"GET", "/api/1.0/servers/", 404, "notexist"},
		{"GET", "/api/2.0/servers", 404, "notexist"},
		{"PATCH", "/api/2.0/servers/", 405, "validation"},
		{"POST", "/api/2.0/servers/x/action/?do=explode", 400, "validation"},
		{"GET", "/api/2.0/servers/?limit=-1", 400, "validation"},
		{"GET", "/api/2.0/servers/?meta=x", 400, "validation"},
		{"GET", "/api/2.0/servers/00000000-0000-4000-8000-000000000000/", 404, "notexist"},
		{"DELETE", "/api/2.0/drives/" + e.image + "/", 403, "permission"},
		{"POST", "/api/2.0/libdrives/" + NewUUID() + "/action/?do=clone", 404, "notexist"},
		{"POST", "/api/2.0/drives/" + e.image + "/action/?do=clone", 404, "notexist"},
	} {
		st, out := e.do(tc.method, tc.path, nil)
		if st != tc.status || errorOf(t, out)["error_type"] != tc.typ {
			t.Errorf("%s %s: %d %v, want %d %s", tc.method, tc.path, st, out, tc.status, tc.typ)
		}
	}
}

func TestLibraryDriveThroughDrives(t *testing.T) {
	e := newEnv(t, Options{})
	st, out := e.do("GET", "/api/2.0/drives/"+e.image+"/", nil)
	if st != 200 || get(out, "owner") != nil || get(out, "media") != "disk" || get(out, "size") != float64(10<<30) {
		t.Errorf("a library drive through /drives/: %d %v", st, out)
	}
	st, out = e.do("GET", "/api/2.0/libdrives/", nil)
	if st != 200 || get(out, "meta", "total_count") != 1.0 || get(out, "objects", 0, "uuid") != e.image {
		t.Errorf("library: %d %v", st, out)
	}
	d := e.cloneLib(0)
	if st, out := e.do("GET", "/api/2.0/drives/"+d+"/", nil); st != 200 || get(out, "owner", "uuid") == nil {
		t.Errorf("a clone has an owner: %v", out)
	}
	if st, _ := e.do("GET", "/api/2.0/drives/", nil); st != 200 {
		t.Errorf("drive list: %d", st)
	}
	_, out = e.do("GET", "/api/2.0/drives/detail/", nil)
	if get(out, "meta", "total_count") != 1.0 {
		t.Errorf("the library shows among the account's drives: %v", out)
	}
}

func TestCloneStatusAndSize(t *testing.T) {
	e := newEnv(t, Options{CloneDelay: 400 * time.Millisecond})
	st, out := e.do("POST", "/api/2.0/libdrives/"+e.image+"/action/?do=clone", map[string]any{"size": 1 << 20})
	if st != 400 || errorOf(t, out)["error_point"] != "size" {
		t.Errorf("a clone smaller than its source: %d %v", st, out)
	}
	st, out = e.do("POST", "/api/2.0/libdrives/"+e.image+"/action/?do=clone", "")
	if st != 202 || get(out, "objects", 0, "status") != "cloning_dst" || get(out, "objects", 0, "name") != "Debian 12" {
		t.Errorf("a clone with no body: %d %v", st, out)
	}
	d := e.cloneLib(20 << 30)
	_, out = e.do("GET", "/api/2.0/drives/"+d+"/", nil)
	if get(out, "size") != float64(20<<30) || get(out, "status") != "cloning_dst" {
		t.Errorf("a new clone: %v", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(out, "status") == "cloning_dst" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		_, out = e.do("GET", "/api/2.0/drives/"+d+"/", nil)
	}
	if get(out, "status") != "unmounted" {
		t.Errorf("a clone after the delay: %v", get(out, "status"))
	}
}

func TestServerLifeCycle(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.cloneLib(0)
	ud := "#!/bin/sh\necho hi\n"
	id := e.createServer("web", d, map[string]any{"meta": map[string]any{
		"cloudinit-user-data": base64.StdEncoding.EncodeToString([]byte(ud)), "base64_fields": "cloudinit-user-data", "team": "qa"}})
	m, err := e.cloud.Machine(id)
	if err != nil || m.State != fakecloud.Stopped || string(m.UserData) != ud || m.Labels["team"] != "qa" || m.Labels["cloudinit-user-data"] != "" {
		t.Fatalf("the server's machine: %+v, %v", m, err)
	}
	_, out := e.do("GET", "/api/2.0/servers/"+id+"/", nil)
	if get(out, "status") != "stopped" || get(out, "runtime") != nil || get(out, "smp") != 1.0 || get(out, "drives", 0, "drive", "uuid") != d {
		t.Errorf("a new server: %v", out)
	}
	// Starting twice: the second is refused as CloudSigma words it.
	if st, out := e.do("POST", "/api/2.0/servers/"+id+"/action/?do=start", "{}"); st != 202 || get(out, "result") != "success" {
		t.Fatalf("start: %d %v", st, out)
	}
	e.cloud.WaitMachine(t.Context(), id, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running })
	st, out := e.do("POST", "/api/2.0/servers/"+id+"/action/?do=start", "{}")
	if st != 403 || !strings.Contains(errorOf(t, out)["error_message"].(string), `Cannot start guest in state "started"`) {
		t.Errorf("a second start: %d %v", st, out)
	}
	_, out = e.do("GET", "/api/2.0/servers/"+id+"/", nil)
	if get(out, "status") != "running" || get(out, "runtime", "nics", 0, "ip_v4", "uuid") == nil || get(out, "runtime", "nics", 0, "interface_type") != "public" {
		t.Errorf("a running server: %v", out)
	}
	if _, dout := e.do("GET", "/api/2.0/drives/"+d+"/", nil); get(dout, "status") != "mounted" || get(dout, "mounted_on", 0, "uuid") != id {
		t.Errorf("the drive of a running server: %v", dout)
	}
	if st, out := e.do("DELETE", "/api/2.0/servers/"+id+"/?recurse=all_drives", nil); st != 403 {
		t.Errorf("deleting a running server: %d %v", st, out)
	}
	if st, _ := e.do("POST", "/api/2.0/servers/"+id+"/action/?do=shutdown", "{}"); st != 202 {
		t.Errorf("shutdown: %d", st)
	}
	e.cloud.WaitMachine(t.Context(), id, func(m fakecloud.Machine) bool { return m.State == fakecloud.Stopped })
	if st, _ := e.do("DELETE", "/api/2.0/servers/"+id+"/?recurse=all_drives", nil); st != 204 {
		t.Errorf("deleting a stopped server: %d", st)
	}
	e.cloud.WaitMachine(t.Context(), id, func(m fakecloud.Machine) bool { return m.State == fakecloud.Terminated })
	if st, _ := e.do("GET", "/api/2.0/servers/"+id+"/", nil); st != 404 {
		t.Errorf("a deleted server: %d", st)
	}
	if st, _ := e.do("GET", "/api/2.0/drives/"+d+"/", nil); st != 404 {
		t.Errorf("the drive of a server deleted with all_drives: %d", st)
	}
}

func TestServerCreateChecks(t *testing.T) {
	e := newEnv(t, Options{Limits: Limits{CPUMax: 8000, SMPMax: 4}})
	d := e.cloneLib(0)
	for _, tc := range []struct {
		name  string
		def   map[string]any
		point string
	}{
		{"no name", serverDef("", d, nil), "name"},
		{"cpu too high", serverDef("x", d, map[string]any{"cpu": 9000}), "cpu"},
		{"cpu per core too low", serverDef("x", d, map[string]any{"cpu": 2000, "smp": 4}), "cpu"},
		{"cpu not a number", serverDef("x", d, map[string]any{"cpu": "fast"}), "cpu"},
		{"unknown drive", serverDef("x", NewUUID(), nil), "drives"},
		{"both public and private", serverDef("x", d, map[string]any{"nics": []any{map[string]any{"ip_v4_conf": map[string]any{"conf": "dhcp"}, "vlan": NewUUID()}}}), "nics"},
		{"unknown key", serverDef("x", d, map[string]any{"pubkeys": []any{NewUUID()}}), "pubkeys"},
		{"long meta key", serverDef("x", d, map[string]any{"meta": map[string]any{strings.Repeat("k", 33): "v"}}), "meta"},
		{"bad base64", serverDef("x", d, map[string]any{"meta": map[string]any{"cloudinit-user-data": "%%%", "base64_fields": "cloudinit-user-data"}}), "meta"},
	} {
		st, out := e.do("POST", "/api/2.0/servers/", map[string]any{"objects": []any{tc.def}})
		if st != 400 || errorOf(t, out)["error_point"] != tc.point {
			t.Errorf("%s: %d %v, want 400 at %s", tc.name, st, out, tc.point)
		}
	}
	// Two servers of one request cannot share a drive, and a refused
	// request makes none.
	st, out := e.do("POST", "/api/2.0/servers/", []any{serverDef("a", d, nil), serverDef("b", d, nil)})
	if st != 400 || len(e.cloud.Machines(nil)) != 0 {
		t.Errorf("two servers on one drive: %d %v", st, out)
	}
	// The list without {"objects"} and a single object are taken too.
	d2 := e.cloneLib(0)
	if st, out := e.do("POST", "/api/2.0/servers/", serverDef("one", d2, nil)); st != 201 || get(out, "objects", 0, "name") != "one" {
		t.Errorf("a single object: %d %v", st, out)
	}
}

func TestFaultsAsCloudSigmaErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.cloud.Faults.Throttle(1)
	if st, out := e.do("GET", "/api/2.0/servers/", nil); st != 429 {
		t.Errorf("throttled: %d %v", st, out)
	}
	e.cloud.Faults.Unavailable(1)
	if st, out := e.do("GET", "/api/2.0/servers/", nil); st != 503 || errorOf(t, out)["error_type"] != "backend" {
		t.Errorf("unavailable: %d %v", st, out)
	}
	d := e.cloneLib(0)
	e.cloud.Faults.OverQuota(1)
	st, out := e.do("POST", "/api/2.0/servers/", []any{serverDef("q", d, nil)})
	if st != 403 || !strings.Contains(errorOf(t, out)["error_message"].(string), "limits") {
		t.Errorf("over quota: %d %v", st, out)
	}
	// No room: the server is created, its start is refused, a later one
	// works.
	e.cloud.Faults.NoCapacity(1)
	id := e.createServer("c", d, nil)
	st, out = e.do("POST", "/api/2.0/servers/"+id+"/action/?do=start", "{}")
	if st != 503 || !strings.Contains(errorOf(t, out)["error_message"].(string), "cannot provide enough resources") {
		t.Errorf("no capacity: %d %v", st, out)
	}
	if st, _ := e.do("POST", "/api/2.0/servers/"+id+"/action/?do=start", "{}"); st != 202 {
		t.Errorf("start once there is room: %d", st)
	}
}

func TestPaginationAndFilters(t *testing.T) {
	e := newEnv(t, Options{})
	for i := range 25 {
		e.do("POST", "/api/2.0/tags/", map[string]any{"objects": []any{map[string]any{"name": fmt.Sprintf("t%02d", i)}}})
	}
	_, out := e.do("GET", "/api/2.0/tags/", nil)
	if n := len(get(out, "objects").([]any)); n != 20 || get(out, "meta", "total_count") != 25.0 {
		t.Errorf("default page: %d of %v", n, get(out, "meta"))
	}
	_, out = e.do("GET", "/api/2.0/tags/?limit=0", nil)
	if n := len(get(out, "objects").([]any)); n != 25 {
		t.Errorf("limit=0: %d", n)
	}
	_, out = e.do("GET", "/api/2.0/tags/?limit=10&offset=20", nil)
	if n := len(get(out, "objects").([]any)); n != 5 || get(out, "meta", "offset") != 20.0 {
		t.Errorf("last page: %d %v", n, get(out, "meta"))
	}
	_, out = e.do("GET", `/api/2.0/tags/?name=t01,t03&limit=0`, nil)
	if n := len(get(out, "objects").([]any)); n != 2 {
		t.Errorf("name filter t01,t03: %d", n)
	}
	if got := filterValues(`a\,b,c\\,d`); strings.Join(got, "|") != `a,b|c\|d` {
		t.Errorf("filterValues = %q", got)
	}
}

func TestKeypairsAndTags(t *testing.T) {
	e := newEnv(t, Options{})
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe test@example"
	st, out := e.do("POST", "/api/2.0/keypairs/", map[string]any{"objects": []any{map[string]any{"name": "k", "public_key": key}}})
	if st != 201 || get(out, "objects", 0, "private_key") != nil || !strings.Contains(get(out, "objects", 0, "fingerprint").(string), ":") {
		t.Fatalf("keypair: %d %v", st, out)
	}
	kid := get(out, "objects", 0, "uuid").(string)
	if st, out := e.do("POST", "/api/2.0/keypairs/", map[string]any{"objects": []any{map[string]any{"name": "bad", "public_key": "ssh-rsa nope"}}}); st != 400 {
		t.Errorf("a bad key: %d %v", st, out)
	}
	d := e.cloneLib(0)
	_, out = e.do("POST", "/api/2.0/tags/", map[string]any{"objects": []any{map[string]any{"name": "web"}}})
	tid := get(out, "objects", 0, "uuid").(string)
	id := e.createServer("s", d, map[string]any{"pubkeys": []any{kid}, "tags": []any{tid}})
	m, _ := e.cloud.Machine(id)
	if len(m.SSHKeys) != 1 || m.SSHKeys[0] != key {
		t.Errorf("the machine's keys: %q", m.SSHKeys)
	}
	_, out = e.do("GET", "/api/2.0/tags/"+tid+"/", nil)
	if get(out, "resources", 0, "uuid") != id || get(out, "resources", 0, "res_type") != "servers" {
		t.Errorf("the tag: %v", out)
	}
	if _, out := e.do("GET", "/api/2.0/servers/?tag="+tid, nil); get(out, "meta", "total_count") != 1.0 {
		t.Errorf("servers by tag: %v", out)
	}
	st, out = e.do("PUT", "/api/2.0/tags/"+tid+"/", map[string]any{"name": "web", "resources": []any{d}})
	if st != 200 || get(out, "resources", 0, "res_type") != "drives" || len(get(out, "resources").([]any)) != 1 {
		t.Errorf("tag update: %d %v", st, out)
	}
	if st, _ := e.do("DELETE", "/api/2.0/keypairs/"+kid+"/", nil); st != 204 || len(e.cloud.Keys()) != 0 {
		t.Errorf("keypair delete: %d", st)
	}
}

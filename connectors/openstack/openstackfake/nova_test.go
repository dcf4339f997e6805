package openstackfake

import (
	"strings"
	"testing"
	"time"
)

func TestNovaVersionsAndMicroversions(t *testing.T) {
	tf := newTestFake(t, Options{MaxMicroversion: "2.60"})
	r := tf.do("GET", "/compute/", "", "")
	if r.status != 200 || !strings.Contains(string(r.raw), `"version":"2.60"`) {
		t.Errorf("GET /compute/: %d %s", r.status, r.raw)
	}
	r = tf.do("GET", "/compute/v2.1/", "", "")
	if v := r.obj("version"); v["min_version"] != "2.1" || v["version"] != "2.60" || v["id"] != "v2.1" {
		t.Errorf("GET /compute/v2.1/: %s", r.raw)
	}
	for _, tc := range []struct {
		header, value, want string
		status              int
	}{
		{"", "", "2.1", 200},
		{"X-OpenStack-Nova-API-Version", "2.53", "2.53", 200},
		{"OpenStack-API-Version", "compute 2.52", "2.52", 200},
		{"OpenStack-API-Version", "compute latest", "2.60", 200},
		{"OpenStack-API-Version", "compute 2.61", "2.1", 406},
		{"X-OpenStack-Nova-API-Version", "two", "2.1", 400},
	} {
		var headers []string
		if tc.header != "" {
			headers = []string{tc.header, tc.value}
		}
		r := tf.do("GET", "/compute/v2.1/flavors", tf.token, "", headers...)
		if r.status != tc.status || r.header.Get("X-OpenStack-Nova-API-Version") != tc.want ||
			r.header.Get("OpenStack-API-Version") != "compute "+tc.want {
			t.Errorf("%s: %s → %d, version headers %q %q; want %d, %s", tc.header, tc.value, r.status,
				r.header.Get("X-OpenStack-Nova-API-Version"), r.header.Get("OpenStack-API-Version"), tc.status, tc.want)
		}
	}
	// Errors carry them too.
	r = tf.nova("GET", "/servers/nope", "2.55", "")
	tf.wantError(r, 404, "itemNotFound", "Instance nope could not be found.")
	if r.header.Get("X-OpenStack-Nova-API-Version") != "2.55" {
		t.Errorf("a 404 without the microversion header: %v", r.header)
	}
}

func TestServerLifeCycleOnTheWire(t *testing.T) {
	tf := newTestFake(t, Options{SchedulingDelay: 200 * time.Millisecond})
	id := tf.createServer("2.96", `, "metadata": {"team": "qa"}, "tags": ["slipstream-deployment=d1"]`)
	srv := tf.nova("GET", "/servers/"+id, "2.96", "").obj("server")
	if srv["status"] != "BUILD" || srv["OS-EXT-STS:task_state"] != "scheduling" || srv["OS-EXT-STS:vm_state"] != "building" {
		t.Errorf("a new server: %v %v %v", srv["status"], srv["OS-EXT-STS:task_state"], srv["OS-EXT-STS:vm_state"])
	}
	tf.wantError(tf.nova("POST", "/servers/"+id+"/action", "2.96", `{"os-stop": null}`), 409, "conflictingRequest", "task_state scheduling")
	time.Sleep(250 * time.Millisecond)
	srv = tf.nova("GET", "/servers/"+id, "2.96", "").obj("server")
	if srv["status"] != "ACTIVE" || srv["OS-EXT-STS:task_state"] != nil || srv["OS-EXT-STS:power_state"] != float64(1) {
		t.Errorf("a booted server: %v %v %v", srv["status"], srv["OS-EXT-STS:task_state"], srv["OS-EXT-STS:power_state"])
	}
	addrs, _ := srv["addresses"].(map[string]any)["private"].([]any)
	if len(addrs) != 1 || addrs[0].(map[string]any)["OS-EXT-IPS:type"] != "fixed" {
		t.Errorf("addresses %v", srv["addresses"])
	}
	if fl := srv["flavor"].(map[string]any); fl["original_name"] != "ds1G" || fl["vcpus"] != float64(1) {
		t.Errorf("flavor at 2.96: %v", fl)
	}
	if tags := srv["tags"].([]any); len(tags) != 1 || srv["metadata"].(map[string]any)["team"] != "qa" {
		t.Errorf("tags %v, metadata %v", srv["tags"], srv["metadata"])
	}
	// At 2.46 the flavor is a link, and at 2.25 there are no tags.
	old := tf.nova("GET", "/servers/"+id, "2.25", "").obj("server")
	if fl := old["flavor"].(map[string]any); fl["id"] != "d2" || fl["original_name"] != nil {
		t.Errorf("flavor at 2.25: %v", fl)
	}
	if _, ok := old["tags"]; ok {
		t.Errorf("tags at 2.25: %v", old["tags"])
	}

	// Stop, then snapshot: the image id is in the body since 2.45.
	if r := tf.nova("POST", "/servers/"+id+"/action", "2.96", `{"os-stop": null}`); r.status != 202 {
		t.Fatalf("os-stop: %d %s", r.status, r.raw)
	}
	tf.wantError(tf.nova("POST", "/servers/"+id+"/action", "2.96", `{"os-stop": null}`), 409, "conflictingRequest", "stop")
	waitFor(t, func() bool { return tf.nova("GET", "/servers/"+id, "", "").obj("server")["status"] == "SHUTOFF" })
	r := tf.nova("POST", "/servers/"+id+"/action", "2.96", `{"createImage": {"name": "snap-1", "metadata": {"kind": "base"}}}`)
	imageID, _ := r.body["image_id"].(string)
	if r.status != 202 || imageID == "" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("createImage at 2.96: %d %s", r.status, r.raw)
	}
	waitFor(t, func() bool { return tf.do("GET", "/image/v2/images/"+imageID, tf.token, "").body["status"] == "active" })
	img := tf.do("GET", "/image/v2/images/"+imageID, tf.token, "").body
	if img["kind"] != "base" || img["instance_uuid"] != id || img["visibility"] != "private" {
		t.Errorf("the snapshot in Glance: %v", img)
	}
	r = tf.nova("POST", "/servers/"+id+"/action", "2.44", `{"createImage": {"name": "snap-2"}}`)
	if r.status != 202 || !strings.Contains(r.header.Get("Location"), "/image/v2/images/") || len(r.raw) != 0 {
		t.Errorf("createImage at 2.44: %d, Location %q, body %s", r.status, r.header.Get("Location"), r.raw)
	}
	tf.wantError(tf.nova("POST", "/servers/"+id+"/action", "", `{"reboot": {"type": "SOFT"}}`), 400, "badRequest", "no such action")

	if r := tf.nova("DELETE", "/servers/"+id, "", ""); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	waitFor(t, func() bool { return tf.nova("GET", "/servers/"+id, "", "").status == 404 })
	tf.wantError(tf.nova("DELETE", "/servers/"+id, "", ""), 404, "itemNotFound", id)
}

func TestCreateValidation(t *testing.T) {
	tf := newTestFake(t, Options{ExtraNetworks: []string{"backend"}})
	server := func(body string) string { return `{"server": {` + body + `}}` }
	base := `"name": "x", "imageRef": "` + tf.image + `", "flavorRef": "1"`
	cases := []struct {
		mv, body string
		status   int
		contains string
	}{
		{"2.96", `not json`, 400, "Malformed request body"},
		{"2.96", `{"servers": {}}`, 400, "'servers' was unexpected"},
		{"2.96", server(base), 400, "'networks' is a required property"},
		{"2.36", server(base), 409, "Multiple possible networks found"},
		{"2.96", server(base + `, "networks": "none", "tags": ["a/b"]`), 400, "Tags must be"},
		{"2.51", server(base + `, "networks": "none", "tags": ["t"]`), 400, "'tags' was unexpected"},
		{"2.96", server(`"name": "x", "imageRef": "` + NewID("") + `", "flavorRef": "1", "networks": "none"`), 400, "Can not find requested image"},
		{"2.96", server(`"name": "x", "imageRef": "` + tf.image + `", "flavorRef": "999", "networks": "none"`), 400, "Flavor 999 could not be found"},
		{"2.96", server(base + `, "networks": [{"uuid": "` + NewID("") + `"}]`), 400, "could not be found"},
		{"2.96", server(base + `, "networks": "none", "user_data": "%%%"`), 400, "User data needs to be valid base 64."},
		{"2.96", server(base + `, "networks": "none", "key_name": "nope"`), 400, "Invalid key_name provided."},
		{"2.96", server(base + `, "networks": "none", "metadata": {"k": 1}`), 400, "metadata"},
		{"2.96", server(base + `, "networks": "none", "min_count": 3, "max_count": 2`), 400, "min_count must be <= max_count"},
		{"2.96", server(base + `, "networks": "none", "security_groups": [{"name": "nope"}]`), 400, "nope"},
		{"2.96", server(base + `, "networks": "none", "availability_zone": "mars"`), 400, "availability zone"},
	}
	for _, tc := range cases {
		tf.wantError(tf.nova("POST", "/servers", tc.mv, tc.body), tc.status, novaFaultNames[tc.status], tc.contains)
	}
	if n := len(tf.f.Cloud().Machines(nil)); n != 0 {
		t.Errorf("refused creates made %d servers", n)
	}
}

func TestFaultsOnTheWire(t *testing.T) {
	tf := newTestFake(t, Options{SchedulingDelay: 50 * time.Millisecond})
	cloud := tf.f.Cloud()
	cloud.Faults.Throttle(1)
	r := tf.nova("GET", "/servers/detail", "", "")
	tf.wantError(r, 429, "overLimit", "rate-limited")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("a 429 without Retry-After")
	}
	cloud.Faults.Unavailable(1)
	tf.wantError(tf.do("GET", "/network/v2.0/networks", tf.token, ""), 503, "NeutronError", "unavailable")
	cloud.Faults.Throttle(1)
	tf.wantError(tf.do("POST", "/identity/v3/auth/tokens", "", passwordAuth("demo", "secret", "demo")), 429, "error", "rate-limited")

	tf.createServer("", "")
	cloud.Faults.OverQuota(1)
	r = tf.nova("POST", "/servers", "", `{"server": {"name": "x", "imageRef": "`+tf.image+`", "flavorRef": "1"}}`)
	tf.wantError(r, 403, "forbidden", "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances")

	cloud.Faults.NoCapacity(1)
	id := tf.createServer("", "")
	waitFor(t, func() bool { return tf.nova("GET", "/servers/"+id, "", "").obj("server")["status"] == "ERROR" })
	fault := tf.nova("GET", "/servers/"+id, "", "").obj("server", "fault")
	if fault["message"] != "No valid host was found. There are not enough hosts available." || fault["code"] != float64(500) {
		t.Errorf("fault %v", fault)
	}
}

func TestKeypairsOnTheWire(t *testing.T) {
	tf := newTestFake(t, Options{})
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe test@example"
	body := `{"keypair": {"name": "k1", "public_key": "` + key + `"}}`
	if r := tf.nova("POST", "/os-keypairs", "2.1", body); r.status != 200 || r.obj("keypair")["fingerprint"] == "" {
		t.Errorf("import at 2.1: %d %s", r.status, r.raw)
	}
	tf.wantError(tf.nova("POST", "/os-keypairs", "2.1", body), 409, "conflictingRequest", "already exists")
	if r := tf.nova("POST", "/os-keypairs", "2.2", strings.Replace(body, "k1", "k2", 1)); r.status != 201 || r.obj("keypair")["type"] != "ssh" {
		t.Errorf("import at 2.2: %d %s", r.status, r.raw)
	}
	if r := tf.nova("POST", "/os-keypairs", "2.91", `{"keypair": {"name": "gen"}}`); r.status != 201 || !strings.Contains(r.obj("keypair")["private_key"].(string), "PRIVATE KEY") {
		t.Errorf("generate at 2.91: %d %s", r.status, r.raw)
	}
	tf.wantError(tf.nova("POST", "/os-keypairs", "2.92", `{"keypair": {"name": "gen2"}}`), 400, "badRequest", "public_key")
	tf.wantError(tf.nova("POST", "/os-keypairs", "2.92", `{"keypair": {"name": "bad", "public_key": "ssh-rsa nope"}}`), 400, "badRequest", "Keypair data is invalid")
	tf.wantError(tf.nova("POST", "/os-keypairs", "2.1", `{"keypair": {"name": "a.b", "public_key": "`+key+`"}}`), 400, "badRequest", "unsafe characters")
	if r := tf.nova("GET", "/os-keypairs/k1", "", ""); r.status != 200 || r.obj("keypair")["public_key"] != key {
		t.Errorf("get: %d %s", r.status, r.raw)
	}
	// The key reaches the server's authorized keys.
	id := tf.createServer("", `, "key_name": "k1"`)
	if m, _ := tf.f.Cloud().Machine(id); len(m.SSHKeys) != 1 || m.SSHKeys[0] != key || m.KeyName != "k1" {
		t.Errorf("the server's keys: %v", m.SSHKeys)
	}
	if r := tf.nova("DELETE", "/os-keypairs/k1", "2.2", ""); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	tf.wantError(tf.nova("GET", "/os-keypairs/k1", "", ""), 404, "itemNotFound", "k1")
}

func TestServerListFiltersAndPages(t *testing.T) {
	tf := newTestFake(t, Options{})
	for range 3 {
		tf.createServer("2.96", `, "tags": ["blue"]`)
	}
	tf.createServer("2.96", `, "tags": ["green"]`)
	r := tf.nova("POST", "/servers", "2.96", `{"server": {"name": "pool", "imageRef": "`+tf.image+`", "flavorRef": "1", "networks": "auto",
		"min_count": 2, "max_count": 2, "return_reservation_id": true}}`)
	res, _ := r.body["reservation_id"].(string)
	if r.status != 202 || !strings.HasPrefix(res, "r-") {
		t.Fatalf("multiple create: %d %s", r.status, r.raw)
	}
	pool := tf.nova("GET", "/servers/detail?reservation_id="+res, "2.96", "").body["servers"].([]any)
	if len(pool) != 2 || pool[0].(map[string]any)["name"] != "pool-2" {
		t.Errorf("the reservation's servers: %v", pool)
	}
	count := func(query, mv string) int {
		return len(tf.nova("GET", "/servers/detail"+query, mv, "").body["servers"].([]any))
	}
	if n := count("?tags=blue", "2.96"); n != 3 {
		t.Errorf("tags=blue: %d", n)
	}
	if n := count("?not-tags=blue", "2.96"); n != 3 {
		t.Errorf("not-tags=blue: %d", n)
	}
	if n := count("?tags=blue", "2.25"); n != 6 { // no tag filter before 2.26
		t.Errorf("tags=blue at 2.25: %d", n)
	}
	if n := count("?name=^pool-", ""); n != 2 {
		t.Errorf("name=^pool-: %d", n)
	}
	// Pages of two, linked.
	var seen []string
	next := "/compute/v2.1/servers?limit=2"
	for next != "" {
		r := tf.do("GET", strings.TrimPrefix(next, tf.f.URL()), tf.token, "")
		for _, s := range r.body["servers"].([]any) {
			seen = append(seen, s.(map[string]any)["id"].(string))
		}
		next = ""
		if links, ok := r.body["servers_links"].([]any); ok {
			next = links[0].(map[string]any)["href"].(string)
		}
	}
	if len(seen) != 6 {
		t.Errorf("paged through %d servers, want 6", len(seen))
	}
	tf.wantError(tf.nova("GET", "/servers?marker=nope", "", ""), 400, "badRequest", "marker [nope] not found")
	tf.wantError(tf.nova("GET", "/servers?limit=-1", "", ""), 400, "badRequest", "limit")
}

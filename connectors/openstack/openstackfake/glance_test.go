package openstackfake

import (
	"strings"
	"testing"
)

func TestGlanceOnTheWire(t *testing.T) {
	tf := newTestFake(t, Options{})
	r := tf.do("GET", "/image/v2/images/"+tf.image, tf.token, "")
	if r.status != 200 || r.body["status"] != "active" || r.body["visibility"] != "public" || r.body["name"] != "debian-12" {
		t.Errorf("the base image: %d %s", r.status, r.raw)
	}
	if r := tf.do("GET", "/image/v2/images?name=debian-12", tf.token, ""); len(r.body["images"].([]any)) != 1 {
		t.Errorf("list by name: %s", r.raw)
	}
	missing := tf.do("GET", "/image/v2/images/"+NewID(""), tf.token, "")
	if missing.status != 404 || missing.body["title"] != "Not Found" || missing.body["code"] != "404 Not Found" {
		t.Errorf("an unknown image: %d %s", missing.status, missing.raw)
	}
	if r := tf.do("GET", "/image/", "", ""); r.status != 300 || !strings.Contains(string(r.raw), `"v2.16"`) {
		t.Errorf("Glance versions: %d %s", r.status, r.raw)
	}
	if r := tf.do("DELETE", "/image/v2/images/"+tf.image, tf.token, ""); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.raw)
	}
	if r := tf.do("DELETE", "/image/v2/images/"+tf.image, tf.token, ""); r.status != 404 {
		t.Errorf("delete again: %d", r.status)
	}
}

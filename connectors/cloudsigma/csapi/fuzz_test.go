package csapi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeError: any answer outside 2xx decodes into an *Error that
// keeps its status and says something, on one line of valid UTF-8.
func FuzzDecodeError(f *testing.F) {
	for _, seed := range []string{
		`[{"error_message": "This field is required", "error_point": "resource", "error_type": "validation"}]`,
		`[{"error_point": null, "error_type": "permission", "error_message": "Cannot start guest"}]`,
		`{"error_type": "notexist", "error_message": "gone", "error_point": null}`,
		`[{"error_type": 7, "error_message": ["x"], "error_point": {"a": 1}}]`,
		`[]`, `{}`, `[null, 1, "x"]`, `<html>502</html>`, "", "\xff", `[{"error_message": "` + strings.Repeat("a\n", 500) + `"}]`,
	} {
		f.Add(400, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := DecodeError(status, body)
		if e.Status != status {
			t.Fatalf("status %d kept as %d", status, e.Status)
		}
		msg := e.Message()
		if msg == "" || !utf8.ValidString(e.Body) {
			t.Fatalf("message %q, body %q", msg, e.Body)
		}
		if e.Body != "" && strings.ContainsAny(e.Body, "\n\r") {
			t.Fatalf("body kept over several lines: %q", e.Body)
		}
		_ = e.Error()
	})
}

// FuzzDecodeAnswers: the types with their own decoding (references,
// meta) and the answers made of them never panic on any JSON.
func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(runningServer))
	for _, seed := range []string{
		`{"uuid": "x", "drives": [{"drive": "d"}], "tags": ["t", {"uuid": "u"}], "meta": {"a": 1}}`,
		`{"pubkeys": [null, 3], "nics": [{"vlan": {"uuid": null}, "ip_v4_conf": null}]}`,
		`{"objects": [{"uuid": "d", "owner": null, "meta": null, "mounted_on": [{"uuid": "s"}]}], "meta": {"total_count": 1}}`,
		`{"servers": {"cpu": {"max": 1e400}}, "drives": {"dssd": {"size": {"max": -1}}}}`,
		`[`, `null`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Server
		json.Unmarshal(b, &s)
		var l list[Drive]
		json.Unmarshal(b, &l)
		var caps Capabilities
		json.Unmarshal(b, &caps)
		var tags objects[Tag]
		json.Unmarshal(b, &tags)
		var r Ref
		if json.Unmarshal(b, &r) == nil {
			// What decodes as a reference encodes as its uuid.
			out, err := json.Marshal(r)
			if err != nil || !json.Valid(out) {
				t.Fatalf("reference %+v encodes as %s, %v", r, out, err)
			}
		}
	})
}

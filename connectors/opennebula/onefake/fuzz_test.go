package onefake

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kolo/xmlrpc"
)

func gzipWriter(t testing.TB, w io.Writer) *gzip.Writer {
	t.Helper()
	return gzip.NewWriter(w)
}

// FuzzCall: whatever a client posts, the fake does not panic, and its
// answer is XML-RPC that goca's library reads: a fault, or an array whose
// first value is a boolean (OpenNebula's success flag) — three values on
// success, five on failure.
func FuzzCall(f *testing.F) {
	fake := newFake(f, func(o *Options) { o.Quota = &Quota{VMs: 2, CPU: -1, MemoryMB: -2} })
	if _, err := fake.AddTemplate("t", `CPU = 1 MEMORY = 256 DISK = [ IMAGE_ID = 7 ] CONTEXT = [ K = "$USER[SSH_PUBLIC_KEY]" ]`); err != nil {
		f.Fatal(err)
	}
	seed := func(method string, args ...any) {
		body, err := xmlrpc.EncodeMethodCall(method, append([]any{session(fake)}, args...)...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	seed("one.vm.allocate", `CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ] NIC = [ NETWORK_ID = 0 ] CONTEXT = [ USER_DATA = "aGk=", USERDATA_ENCODING = base64 ]`, false)
	seed("one.vm.allocate", "CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ] CONTEXT = [ CONTEXT_METHOD = cloud-init, CLOUD_INIT_USER_DATA = \"H4sIAAAAAAAA/w==\" ]", true)
	seed("one.template.instantiate", 1, "x", false, `CONTEXT = [ A = "]]>" ]`, false)
	seed("one.vm.info", 1, false)
	seed("one.vm.action", "terminate-hard", 1)
	seed("one.vm.action", "poweroff", -5)
	seed("one.vm.update", 1, "SLIPSTREAM_LABELS = [ A = b ]", 1)
	seed("one.vm.disksaveas", 1, 0, "img", "", -1)
	seed("one.vmpool.infoextended", -3, -1, -1, -1)
	seed("one.vmpool.info", -9, 0, 100, 42, "")
	seed("one.image.update", 7, "X = y", 3)
	seed("one.image.delete", 7)
	seed("one.imagepool.info", -2, -1, -1)
	seed("one.vnpool.info", -2, -1, -1)
	seed("one.user.info", -1, false)
	f.Add([]byte(`<methodCall><methodName>one.vm.info</methodName><params><param><value><struct><member><name>a</name><value><nil/></value></member></struct></value></param></params></methodCall>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall><methodName>&a;</methodName></methodCall>`))
	f.Add([]byte(`<methodCall><methodName>one.vm.info</methodName><params><param><value><i8>99999999999</i8></value></param></params></methodCall>`))

	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d for %q", rec.Code, body)
		}
		resp := xmlrpc.Response(rec.Body.Bytes())
		if err := resp.Err(); err != nil {
			if _, ok := err.(xmlrpc.FaultError); !ok {
				t.Fatalf("a fault goca cannot read: %v\n%s", err, rec.Body)
			}
			return
		}
		var out []any
		if err := resp.Unmarshal(&out); err != nil {
			t.Fatalf("an answer goca cannot read: %v\n%s", err, rec.Body)
		}
		if len(out) < 3 {
			t.Fatalf("an answer of %d values: %v", len(out), out)
		}
		success, ok := out[0].(bool)
		if !ok || success && len(out) != 3 || !success && len(out) != 5 {
			t.Fatalf("not OpenNebula's answer: %v", out)
		}
		if body, isStr := out[1].(string); success && isStr && strings.HasPrefix(body, "<") {
			if err := wellFormed(body); err != nil {
				t.Fatalf("a body that is not XML: %v\n%s", err, body)
			}
		}
	})
}

// FuzzTemplate: the template parser never panics; what it reads renders
// as well-formed XML whenever its names are XML names; and a value quoted
// as the connector quotes it (every " escaped) is read back unchanged
// unless it holds what the connector refuses to write.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{`A = "x"`, "A = [ B = \"1\", C = 2 ]\n# c\nD =\n", `A = "\"q\\"`, `A = "]]>"`, "A = \"a\nb\"", `A = [`, `A = "x\`, "XML = 1"} {
		f.Add(s, "value \"with\" quotes\nand lines")
	}
	f.Fuzz(func(t *testing.T, text, value string) {
		tmpl, err := ParseTemplate(text)
		if err == nil {
			names := true
			for _, a := range tmpl.Attrs() {
				for k := range a.Vec {
					names = names && k != "" && (k[0] < '0' || k[0] > '9')
				}
			}
			if x := tmpl.XML("TEMPLATE"); names && strings.ToValidUTF8(x, "") == x {
				if err := wellFormed(x); err != nil {
					t.Fatalf("%q renders as %q: %v", text, x, err)
				}
			}
		}
		if strings.ContainsRune(value, 0) || strings.Contains(value, "]]>") || strings.HasSuffix(value, `\`) {
			return
		}
		quoted := `A = "` + strings.ReplaceAll(value, `"`, `\"`) + "\"\nB = [ C = \"" + strings.ReplaceAll(value, `"`, `\"`) + `" ]`
		tmpl, err = ParseTemplate(quoted)
		if err != nil {
			t.Fatalf("%q, quoted as %q: %v", value, quoted, err)
		}
		if got, _ := tmpl.Get("A"); got != value {
			t.Fatalf("%q reads back as %q", value, got)
		}
		if got := tmpl.Vector("B").Vec["C"]; got != value {
			t.Fatalf("%q in a vector reads back as %q", value, got)
		}
	})
}

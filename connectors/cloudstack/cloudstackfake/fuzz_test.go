package cloudstackfake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// FuzzRequest: whatever a client sends, by GET or POST, signed or not,
// the fake does not panic, and answers CloudStack's JSON: a success as
// one "<command>response" object, anything else as one object with an
// errorcode (the HTTP status) and an errortext.
func FuzzRequest(f *testing.F) {
	cloud, err := NewCloud(fakecloud.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cloud.Close() })
	img, _ := cloud.AddImage(fakecloud.Image{ID: "11111111-1111-4111-8111-111111111111", Name: "base"})
	fake := New(cloud, Options{})
	off, zone := DefaultOfferings[0].ID, DefaultZones[0].ID

	f.Add(false, true, "command=listZones&available=true", "")
	f.Add(true, true, "", "command=deployVirtualMachine&serviceofferingid="+off+"&templateid="+img.ID+"&zoneid="+zone+"&name=a&userdata=IyEvYmluL3NoCg%3D%3D")
	f.Add(true, true, "", "command=deployVirtualMachine&serviceofferingid="+DefaultOfferings[5].ID+"&templateid="+img.ID+"&zoneid="+zone+"&details[0].cpuNumber=99&details[0].memory=x")
	f.Add(true, true, "command=deployVirtualMachine", "serviceofferingid=x&templateid=&zoneid="+zone+"&rootdisksize=-1&networkids=,,")
	f.Add(false, true, "command=listVirtualMachines&tags[0].key=a&tags[0].value=b&page=0&pagesize=-1", "")
	f.Add(false, true, "command=listVirtualMachines&id=not-a-uuid&name=%ZZ", "")
	f.Add(true, true, "", "command=createTags&resourceids="+img.ID+",x&resourcetype=Template&tags[1].key=k&tags[0].value=v")
	f.Add(true, true, "", "command=registerSSHKeyPair&name=k&publickey=ssh-ed25519%20AAAA")
	f.Add(true, true, "", "command=createTemplate&name=t&displaytext=t&ostypeid=x&volumeid=y")
	f.Add(true, true, "", "command=destroyVirtualMachine&id="+img.ID+"&expunge=TRUE")
	f.Add(false, true, "command=queryAsyncJobResult&jobid=", "")
	f.Add(false, true, "command=listAsyncJobs&startdate=2024-13-45", "")
	f.Add(false, true, "command=listTemplates&templatefilter=self&id="+img.ID, "")
	f.Add(false, false, "command=listZones&apiKey=x&signature=y&signatureversion=3&expires=never", "")
	f.Add(true, false, "", "command=listZones&signature=&apikey=")

	f.Fuzz(func(t *testing.T, post, sign bool, query, body string) {
		if sign {
			query, body = signQuery(query, body, post)
		}
		// The raw query as it came, whatever it holds: the fake parses
		// it itself.
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, "http://cloud.test"+Path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = query
		if post {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		fake.ServeHTTP(w, req)
		var out map[string]map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 1 {
			t.Fatalf("%d with %q: not one CloudStack answer object", w.Code, w.Body.String())
		}
		for name, obj := range out {
			if !strings.HasSuffix(name, "response") {
				t.Fatalf("answer named %q", name)
			}
			if w.Code == http.StatusOK {
				return
			}
			code, _ := obj["errorcode"].(float64)
			text, _ := obj["errortext"].(string)
			if int(code) != w.Code || text == "" {
				t.Fatalf("%d with %v: errorcode and status differ, or no errortext", w.Code, obj)
			}
		}
	})
}

// signQuery adds apiKey, response=json and a valid signature to a fuzzed
// request, so that the handlers behind the check are reached. A query
// or body that does not parse is left as it is.
func signQuery(query, body string, post bool) (string, string) {
	ps, err := parseQuery(nil, query)
	if err != nil {
		return query, body
	}
	if post {
		if ps, err = parseQuery(ps, body); err != nil {
			return query, body
		}
	}
	ps = ps.add("apiKey", DefaultAPIKey).add("response", "json")
	unsigned, _, _, _, _ := canonical(ps)
	extra := "apiKey=" + url.QueryEscape(DefaultAPIKey) + "&response=json&signature=" + url.QueryEscape(sign(unsigned, DefaultSecretKey))
	if query == "" {
		return extra, body
	}
	return query + "&" + extra, body
}

// FuzzSignature: a request signed with Sign passes the check; one whose
// parameter is changed after signing (other than by case, which the
// lower-cased string does not see) fails it; and where no value holds
// "~", the SDK's way of signing gives the same signature.
func FuzzSignature(f *testing.F) {
	fake := New(nil, Options{})
	f.Add("name", "web 1", "tags[0].key", "slipstream-deployment")
	f.Add("userdata", "IyEvYmluL3NoCg==", "displaytext", "é*~+/ %")
	f.Add("APIKEY", "x", "Signature", "y")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		values := url.Values{"command": {"listZones"}, "apiKey": {DefaultAPIKey}}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}} {
			if kv[0] == "" || strings.EqualFold(kv[0], "signature") || strings.EqualFold(kv[0], "apikey") || strings.EqualFold(kv[0], "command") ||
				strings.EqualFold(kv[0], "signatureversion") || strings.EqualFold(kv[0], "expires") {
				continue
			}
			values.Set(kv[0], kv[1])
		}
		sig := Sign(values, DefaultSecretKey)
		ps := paramsOf(values).add("signature", sig)
		if !fake.verify(ps, time.Now()) {
			t.Fatalf("a request signed with Sign fails the check: %v", values)
		}
		tampered := paramsOf(values).add("signature", sig)
		for i := range tampered {
			if tampered[i].name == "command" {
				tampered[i].values = []string{"listZonesX"}
			}
		}
		if fake.verify(tampered, time.Now()) {
			t.Fatalf("a changed request passes the check: %v", values)
		}
		if !strings.Contains(v1+v2, "~") && utf8Valid(values) {
			if got := sdkSignature(values, DefaultSecretKey); got != sig {
				t.Fatalf("the SDK signs %v as %s, the server checks %s", values, got, sig)
			}
		}
	})
}

func paramsOf(values url.Values) params {
	var ps params
	for k, vs := range values {
		for _, v := range vs {
			ps = ps.add(k, v)
		}
	}
	return ps
}

// utf8Valid: the SDK and the server agree only on text (the server reads
// the request as UTF-8 and signs what it read).
func utf8Valid(values url.Values) bool {
	for k, vs := range values {
		if !bytes.Equal([]byte(strings.ToValidUTF8(k, "\uFFFD")), []byte(k)) {
			return false
		}
		for _, v := range vs {
			if strings.ToValidUTF8(v, "\uFFFD") != v {
				return false
			}
		}
	}
	return true
}

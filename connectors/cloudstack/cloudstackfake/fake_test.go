package cloudstackfake

import (
	"crypto/hmac"
	"crypto/sha1" // #nosec G505 -- the SDK's signature, computed to compare
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// server is a fake with one template on a loopback server.
func server(t *testing.T, opts Options) (*Fake, *httptest.Server, string) {
	t.Helper()
	cloud, err := NewCloud(fakecloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	img, err := cloud.AddImage(fakecloud.Image{ID: NewUUID(), Name: "debian-12"})
	if err != nil {
		t.Fatal(err)
	}
	f := New(cloud, opts)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv, img.ID
}

// sdk is the real client of the fake.
func sdk(srv *httptest.Server, secret string) *cloudstack.CloudStackClient {
	return cloudstack.NewClient(srv.URL+Path, DefaultAPIKey, secret, false)
}

// answer is a raw answer of the fake: its status and JSON body.
func answer(t *testing.T, srv *httptest.Server, method string, values url.Values) (int, map[string]map[string]any) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(srv.URL+Path, values)
	} else {
		resp, err = http.Get(srv.URL + Path + "?" + values.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%s %v: %d with %q, not CloudStack's JSON", method, values.Get("command"), resp.StatusCode, body)
	}
	return resp.StatusCode, out
}

// signed are values with apiKey, response=json and the signature for
// secret, as a hand-written client would send them.
func signed(values url.Values, secret string) url.Values {
	values.Set("apiKey", DefaultAPIKey)
	values.Set("response", "json")
	values.Set("signature", Sign(values, secret))
	return values
}

func TestSignatureAsTheManagementServerChecksIt(t *testing.T) {
	f, srv, img := server(t, Options{})
	if _, err := sdk(srv, DefaultSecretKey).Zone.ListZones(&cloudstack.ListZonesParams{}); err != nil {
		t.Fatalf("the SDK's signed GET: %v", err)
	}
	if _, err := sdk(srv, "wrong").Zone.ListZones(&cloudstack.ListZonesParams{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a wrong secret: %v, want 401", err)
	}

	// POST (the SDK's deploy) and GET (HTTPGETOnly) both serve.
	for _, getOnly := range []bool{false, true} {
		cs := sdk(srv, DefaultSecretKey)
		cs.HTTPGETOnly = getOnly
		p := cs.VirtualMachine.NewDeployVirtualMachineParams(DefaultOfferings[0].ID, img, DefaultZones[0].ID)
		p.SetName("vm-" + map[bool]string{false: "post", true: "get"}[getOnly])
		p.SetUserdata(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n")))
		r, err := cs.VirtualMachine.DeployVirtualMachine(p)
		if err != nil || r.Id == "" || r.JobID == "" {
			t.Fatalf("deploy (GET only %v): %+v, %v", getOnly, r, err)
		}
		m, err := f.Cloud().Machine(r.Id)
		if err != nil || string(m.UserData) != "#!/bin/sh\necho hi\n" {
			t.Errorf("deploy (GET only %v): machine %+v, %v", getOnly, m, err)
		}
	}

	// By hand: the case of a value does not count (the string is
	// lower-cased), anything else does.
	ok := signed(url.Values{"command": {"listZones"}, "name": {"Zone1"}}, DefaultSecretKey)
	if status, _ := answer(t, srv, http.MethodGet, ok); status != 200 {
		t.Errorf("a hand-signed request: %d", status)
	}
	ok.Set("name", "ZONE1")
	if status, _ := answer(t, srv, http.MethodPost, ok); status != 200 {
		t.Errorf("a value in another case: %d, want 200 (CloudStack signs the lower-cased string)", status)
	}
	ok.Set("name", "zone2")
	status, out := answer(t, srv, http.MethodGet, ok)
	e := out["listzonesresponse"]
	if status != 401 || e["errorcode"] != float64(401) || e["errortext"] != "unable to verify user credentials and/or request signature" {
		t.Errorf("a changed value: %d %v", status, out)
	}
	if _, has := e["cserrorcode"]; has {
		t.Errorf("the servlet's 401 has no cserrorcode: %v", e)
	}

	// Version 3 signatures expire.
	expired := url.Values{"command": {"listZones"}, "signatureversion": {"3"}, "expires": {time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}}
	if status, _ := answer(t, srv, http.MethodGet, signed(expired, DefaultSecretKey)); status != 401 {
		t.Errorf("an expired request: %d", status)
	}
	expired.Set("expires", time.Now().Add(time.Minute).UTC().Format("2006-01-02T15:04:05-0700"))
	if status, _ := answer(t, srv, http.MethodGet, signed(expired, DefaultSecretKey)); status != 200 {
		t.Errorf("a request that expires in a minute: %d", status)
	}

	// An unknown command is refused as unverified, with errorresponse.
	status, out = answer(t, srv, http.MethodGet, signed(url.Values{"command": {"listEverything"}}, DefaultSecretKey))
	if status != 401 || out["errorresponse"] == nil {
		t.Errorf("an unknown command: %d %v", status, out)
	}
}

// TestTildeIsSignedOtherwiseByTheSDK documents why the connector refuses
// "~": the SDK leaves it as is in the string it signs, the management
// server encodes it as %7E, so the signatures differ.
func TestTildeIsSignedOtherwiseByTheSDK(t *testing.T) {
	_, srv, _ := server(t, Options{})
	cs := sdk(srv, DefaultSecretKey)
	p := cs.SSH.NewListSSHKeyPairsParams()
	p.SetKeyword("~")
	if _, err := cs.SSH.ListSSHKeyPairs(p); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("the SDK's signature of a value with ~: %v, want refused", err)
	}
	if status, _ := answer(t, srv, http.MethodGet, signed(url.Values{"command": {"listSSHKeyPairs"}, "keyword": {"~"}}, DefaultSecretKey)); status != 200 {
		t.Errorf("signed as the server encodes: %d", status)
	}
}

func TestUserDataLimits(t *testing.T) {
	_, srv, img := server(t, Options{})
	base := func(ud string) url.Values {
		return url.Values{"command": {"deployVirtualMachine"}, "serviceofferingid": {DefaultOfferings[0].ID}, "templateid": {img},
			"zoneid": {DefaultZones[0].ID}, "userdata": {ud}}
	}
	long := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 4000)))
	for _, tc := range []struct {
		method, ud, want string
	}{
		{http.MethodGet, long, "User data is too long for an http GET request"},
		{http.MethodPost, base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 25000))), "User data is too long for an http POST request"},
		{http.MethodPost, "not base64!", "User data is not base64 encoded"},
	} {
		status, out := answer(t, srv, tc.method, signed(base(tc.ud), DefaultSecretKey))
		e := out["deployvirtualmachineresponse"]
		if status != 431 || e["errortext"] != tc.want || e["cserrorcode"] != float64(4350) {
			t.Errorf("%s with %d characters: %d %v, want 431 %q", tc.method, len(tc.ud), status, out, tc.want)
		}
	}
	if status, out := answer(t, srv, http.MethodPost, signed(base(long), DefaultSecretKey)); status != 200 {
		t.Errorf("the same user-data by POST: %d %v", status, out)
	}
}

func TestJobsStayPendingForTheDelay(t *testing.T) {
	f, srv, img := server(t, Options{JobDelay: 300 * time.Millisecond})
	cs := sdk(srv, DefaultSecretKey)
	r, err := cs.Resourcetags.CreateTags(cs.Resourcetags.NewCreateTagsParams([]string{img}, "Template", map[string]string{"k": "v"}))
	if err != nil {
		t.Fatal(err)
	}
	q, err := cs.Asyncjob.QueryAsyncJobResult(cs.Asyncjob.NewQueryAsyncJobResultParams(r.JobID))
	if err != nil || q.Jobstatus != 0 || q.Cmd != "org.apache.cloudstack.api.command.user.tag.CreateTagsCmd" {
		t.Errorf("a new job: %+v, %v; want pending", q, err)
	}
	time.Sleep(350 * time.Millisecond)
	q, err = cs.Asyncjob.QueryAsyncJobResult(cs.Asyncjob.NewQueryAsyncJobResultParams(r.JobID))
	if err != nil || q.Jobstatus != 1 || string(q.Jobresult) != `{"success":true}` {
		t.Errorf("after the delay: %+v, %v", q, err)
	}

	// A failed job: jobstatus 2, jobresult the error.
	f.FailJobs("createTags", 1, 530, "Failed to create tags")
	r, err = cs.Resourcetags.CreateTags(cs.Resourcetags.NewCreateTagsParams([]string{img}, "Template", map[string]string{"k2": "v"}))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond)
	q, err = cs.Asyncjob.QueryAsyncJobResult(cs.Asyncjob.NewQueryAsyncJobResultParams(r.JobID))
	if err != nil || q.Jobstatus != 2 || q.Jobresultcode != 530 || !strings.Contains(string(q.Jobresult), `"errortext":"Failed to create tags"`) {
		t.Errorf("a failed job: %+v %s, %v", q, q.Jobresult, err)
	}
	if _, err := cs.Asyncjob.QueryAsyncJobResult(cs.Asyncjob.NewQueryAsyncJobResultParams(NewUUID())); err == nil || !strings.Contains(err.Error(), "431") {
		t.Errorf("an unknown job: %v", err)
	}
}

func TestUnknownAndRemovedIDs(t *testing.T) {
	f, srv, img := server(t, Options{})
	cs := sdk(srv, DefaultSecretKey)
	p := cs.VirtualMachine.NewListVirtualMachinesParams()
	p.SetId(NewUUID())
	if _, err := cs.VirtualMachine.ListVirtualMachines(p); err == nil || !strings.Contains(err.Error(), "entity does not exist") {
		t.Errorf("an id that never was: %v", err)
	}
	dp := cs.VirtualMachine.NewDeployVirtualMachineParams(DefaultOfferings[0].ID, img, DefaultZones[0].ID)
	r, err := cs.VirtualMachine.DeployVirtualMachine(dp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Cloud().Terminate(r.Id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.SetId(r.Id)
		l, err := cs.VirtualMachine.ListVirtualMachines(p)
		if err != nil {
			t.Fatalf("an expunged VM's id: %v, want an empty list", err)
		}
		if l.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VM is still listed: %+v", l.VirtualMachines[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSDKSignsAsTheFakeChecks: for values without "~" the SDK's
// signature (cloudstack.EncodeValues, lower-cased, HMAC-SHA1) is Sign's.
func TestSDKSignsAsTheFakeChecks(t *testing.T) {
	values := url.Values{"command": {"deployVirtualMachine"}, "name": {"Web 1*+/=é"}, "tags[0].key": {"a b"}, "apiKey": {DefaultAPIKey}}
	if got, want := sdkSignature(values, DefaultSecretKey), Sign(values, DefaultSecretKey); got != want {
		t.Errorf("SDK %s, fake %s", got, want)
	}
}

func sdkSignature(values url.Values, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(strings.ToLower(cloudstack.EncodeValues(values))))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

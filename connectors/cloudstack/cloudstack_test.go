package cloudstack

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudstack/cloudstackfake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func asError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v (%T) is not a *connectors.Error", err, err)
	}
	return ce
}

func TestWrongSecretIsRefusedWith401(t *testing.T) {
	w := newWorld(t)
	const wrong = "not-the-secret-key-0123456789"
	c := w.connector(t, wrong)
	_, err := c.Offers(ctxFor(t))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || ce.Status != 401 || ce.Code != "401" || ce.Cloud != Name {
		t.Errorf("wrong secret: %v (kind %s, status %d, code %s), want a permanent cloudstack 401", err, ce.Kind, ce.Status, ce.Code)
	}
	for _, want := range []string{"unable to verify user credentials and/or request signature", "secret_key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	for _, secret := range []string{wrong, cloudstackfake.DefaultAPIKey, "signature="} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows %q: %v", secret, err)
		}
	}
	_, err = c.Create(ctxFor(t), w.harness().Spec("dep-auth", "web.1"))
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "401") {
		t.Errorf("create with a wrong secret: %v", err)
	}
	if n := len(w.cloud.Machines(nil)); n != 0 {
		t.Errorf("a refused create made %d machines", n)
	}
}

func TestSettingsFromTheEnvironment(t *testing.T) {
	w := newWorld(t)
	t.Setenv(EnvAPIURL, w.url)
	t.Setenv(EnvAPIKey, cloudstackfake.DefaultAPIKey)
	t.Setenv(EnvSecretKey, cloudstackfake.DefaultSecretKey)
	cc, err := New(context.Background(), connectors.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if offers, err := cc.Offers(ctxFor(t)); err != nil || len(offers) == 0 {
		t.Fatalf("Offers with credentials from the environment: %v, %v", offers, err)
	}
	// Settings win over the environment.
	cc, _ = New(context.Background(), connectors.Settings{"secret_key": "wrong"})
	if _, err := cc.Offers(ctxFor(t)); !strings.Contains(fmtErr(err), "401") {
		t.Errorf("the secret_key setting did not win over %s: %v", EnvSecretKey, err)
	}
	// A URL without a path is the management server's: /client/api.
	got, err := newConnector(connectors.Settings{"api_url": "https://cloud.example.com", "api_key": "k", "secret_key": "s"}, func(string) string { return "" })
	if err != nil || got.apiURL != "https://cloud.example.com/client/api" {
		t.Errorf("api_url without a path: %v, %v", got, err)
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		settings connectors.Settings
		want     []string
	}{
		{"no url", map[string]string{EnvAPIURL: ""}, nil, []string{`"api_url"`, EnvAPIURL}},
		{"no key", map[string]string{EnvAPIKey: ""}, nil, []string{`"api_key"`, EnvAPIKey}},
		{"no secret", map[string]string{EnvSecretKey: ""}, nil, []string{`"secret_key"`, EnvSecretKey}},
		{"bad url", nil, connectors.Settings{"api_url": "ftp://x/client/api"}, []string{"api_url", "http(s)"}},
		{"url with a query", nil, connectors.Settings{"api_url": "https://x/client/api?command=listZones"}, []string{"api_url", "query"}},
		{"missing ca file", nil, connectors.Settings{"ca_file": filepath.Join(t.TempDir(), "none.pem")}, []string{"ca_file"}},
		{"bad setting type", nil, connectors.Settings{"api_url": 3.5}, []string{"api_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := New(context.Background(), tc.settings)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %s", err, s)
				}
			}
			if strings.Contains(err.Error(), cloudstackfake.DefaultSecretKey) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestPrivateCAFromCAFile: an API on TLS with its own CA is reached with
// ca_file, and refused (permanently, as a TLS failure) without it.
func TestPrivateCAFromCAFile(t *testing.T) {
	cloud, err := cloudstackfake.NewCloud(fakecloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	srv := httptest.NewUnstartedServer(cloudstackfake.New(cloud, cloudstackfake.Options{}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := connectors.Settings{"api_url": srv.URL + cloudstackfake.Path, "api_key": cloudstackfake.DefaultAPIKey, "secret_key": cloudstackfake.DefaultSecretKey}
	cc, err := New(context.Background(), settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Offers(ctxFor(t)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown CA: %v, want a certificate error", err)
	}
	settings["ca_file"] = ca
	cc, err = New(context.Background(), settings)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Offers(ctxFor(t)); err != nil {
		t.Errorf("with ca_file: %v", err)
	}
}

// TestFailuresAreCloudStacksOwn: each failure the cloud can give reaches
// the caller with CloudStack's code and text, and the kind that decides
// retries.
func TestFailuresAreCloudStacksOwn(t *testing.T) {
	w := newWorld(t, func(o *cloudstackfake.Options) { o.Denied = []string{"listAsyncJobs"} })
	h := w.harness()
	spec := h.Spec("dep-fail", "web.1")
	for _, tc := range []struct {
		name   string
		inject func()
		call   func() error
		kind   connectors.Kind
		code   string
		says   []string
	}{
		{"rate limit", func() { w.cloud.Faults.Throttle(1) }, func() error { _, err := w.conn.Describe(ctxFor(t), "x"); return err },
			connectors.KindTransient, "429", []string{"api limit"}},
		{"proxy unavailable", func() { w.cloud.Faults.Unavailable(1) }, func() error { _, err := w.conn.Describe(ctxFor(t), "x"); return err },
			connectors.KindTransient, "503", []string{"not CloudStack's JSON", "text/html"}},
		{"no capacity", func() { w.cloud.Faults.NoCapacity(1) }, func() error { _, err := w.conn.Create(ctxFor(t), spec); return err },
			connectors.KindPermanent, "533", []string{"Unable to create a deployment"}},
		{"account limit", func() { w.cloud.Faults.OverQuota(1) }, func() error { _, err := w.conn.Create(ctxFor(t), spec); return err },
			connectors.KindPermanent, "535", []string{"Maximum number of resources of type 'user_vm'"}},
		{"unknown offering id", func() {}, func() error {
			s := spec
			s.Type = "c6f3a1e2-0b4d-4e5f-8a9b-ffffffffffff"
			_, err := w.conn.Create(ctxFor(t), s)
			return err
		}, connectors.KindPermanent, "UnknownServiceOffering", []string{"Medium Instance"}},
		{"unknown network", func() {}, func() error {
			s := spec
			s.Settings = connectors.Settings{"network_ids": []string{"0d1e2b3c-0000-4000-8000-000000000000"}}
			_, err := w.conn.Create(ctxFor(t), s)
			return err
		}, connectors.KindPermanent, "431", []string{"networkids", "entity does not exist"}},
		{"command the role denies", func() {}, func() error {
			return w.conn.call(ctxFor(t), "listAsyncJobs", func(cs *cloudstack.CloudStackClient) error {
				_, err := cs.Asyncjob.ListAsyncJobs(cs.Asyncjob.NewListAsyncJobsParams())
				return err
			})
		}, connectors.KindPermanent, "432", []string{"role", "listAsyncJobs"}},
		{"failed job", func() { w.fake.FailJobs("createTags", 1, 530, "Failed to create tags: the database is read-only") },
			func() error { return w.conn.tag(ctxFor(t), "Template", w.image, map[string]string{"a": "b"}) },
			connectors.KindPermanent, "530", []string{"the database is read-only", "job "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.inject()
			err := tc.call()
			w.cloud.Faults.Reset()
			ce := asError(t, err)
			if ce.Kind != tc.kind || ce.Code != tc.code {
				t.Errorf("%v: kind %s code %q, want %s %q", err, ce.Kind, ce.Code, tc.kind, tc.code)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
	if n := len(w.cloud.Machines(fakecloud.Live)); n != 0 {
		t.Errorf("failed creates left %d machines", n)
	}
}

func TestUserDataOf12KBArrivesByteExact(t *testing.T) {
	w := newWorld(t)
	spec := w.harness().WithKey(w.harness().Spec("dep-ud", "web.1"))
	var b strings.Builder
	b.WriteString("#cloud-config\n# été — bytes beyond ASCII\nwrite_files:\n")
	for i := 0; b.Len() < 12*1024; i++ {
		b.WriteString("  - path: /etc/slipstream/part-")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("\n    content: \"~!@#$%^&*()_+{}|:<>?`-=[]\\\\;',./\"\n")
	}
	spec.UserData = b.String()
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := w.cloud.Machine(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(fm.UserData) != spec.UserData {
		t.Errorf("the VM got %d bytes of user-data, not the %d sent", len(fm.UserData), len(spec.UserData))
	}
	if len(fm.SSHKeys) != 1 || !strings.HasPrefix(connectortest.TestPublicKey, fm.SSHKeys[0][:40]) {
		t.Errorf("the VM's keys are %q", fm.SSHKeys)
	}

	// Beyond vm.userdata.max.length (32768 characters of base64): the
	// cloud's refusal, with the size.
	spec.UserData = strings.Repeat("#", 25000)
	_, err = w.conn.Create(ctxFor(t), spec)
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || !strings.Contains(err.Error(), "User data is too long") || !strings.Contains(err.Error(), "33336 characters") {
		t.Errorf("user-data too long: %v", err)
	}
}

func TestDeployJobFailureIsReportedWithItsText(t *testing.T) {
	w := newWorld(t, func(o *cloudstackfake.Options) { o.CapacityInJob = true })
	w.cloud.Faults.NoCapacity(1)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-job", "web.1"))
	if err != nil {
		t.Fatalf("the deploy was accepted, its job fails later: %v", err)
	}
	if m.State != connectors.StatePending {
		t.Errorf("a new VM is %s", m.State)
	}
	var got *connectors.Machine
	err = connectors.WaitFor(ctxFor(t), w.conn.poll, "the VM to fail", func(ctx context.Context) (bool, string, error) {
		got, err = w.conn.Describe(ctx, m.ID)
		if err != nil {
			return false, "", err
		}
		return got.State == connectors.StateError, string(got.State), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Reason, "Unable to create a deployment for VM") {
		t.Errorf("Reason = %q, want the deploy job's error text", got.Reason)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Errorf("deleting a VM in Error: %v", err)
	}
}

// loseDeploy is a proxy that passes every request on, but for
// deployVirtualMachine lets the fake make the VM and then never answers:
// it holds the request until the client gives up.
func loseDeploy(deploys *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if command(r) == "deployVirtualMachine" {
				deploys.Add(1)
				next.ServeHTTP(httptest.NewRecorder(), r)
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestCancelMidCreateLeavesNoVM(t *testing.T) {
	var deploys atomic.Int32
	w := newWorldBehind(t, loseDeploy(&deploys))
	spec := w.harness().Spec("dep-cancel", "web.1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The caller gives up once the cloud has made the VM.
		for len(w.cloud.Machines(fakecloud.Live)) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	m, err := w.conn.Create(ctx, spec)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled create: %+v, %v", m, err)
	}
	if m != nil {
		t.Errorf("a cancelled create returned %+v; its VM should have been taken back", m)
	}
	if deploys.Load() != 1 {
		t.Errorf("%d deploys", deploys.Load())
	}
	if live := w.cloud.Machines(fakecloud.Live); len(live) != 0 {
		t.Errorf("a cancelled create left %d VMs: %+v", len(live), live)
	}
}

// command is the API command of a request, read without consuming it.
func command(r *http.Request) string {
	if c := r.URL.Query().Get("command"); c != "" {
		return c
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return ""
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	return form.Get("command")
}

// cutDeploy is a proxy that makes the VM but cuts the connection instead
// of answering the first deployVirtualMachine.
func cutDeploy(next http.Handler) http.Handler {
	var cut atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if command(r) == "deployVirtualMachine" && cut.CompareAndSwap(false, true) {
			next.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestLostDeployAnswerIsRetriedWithoutADuplicate: a deploy whose
// connection broke is a transient error whose VM was taken back, so that
// the caller's retry leaves one VM.
func TestLostDeployAnswerIsRetriedWithoutADuplicate(t *testing.T) {
	w := newWorldBehind(t, cutDeploy)
	spec := w.harness().Spec("dep-cut", "web.1")
	tries := 0
	var m *connectors.Machine
	err := connectors.Retry(ctxFor(t), w.conn.retry, nil, func(ctx context.Context) error {
		tries++
		var err error
		m, err = w.conn.Create(ctx, spec)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tries != 2 {
		t.Errorf("%d tries, want 2 (the cut one, then one that worked)", tries)
	}
	if live := w.cloud.Machines(fakecloud.Live); len(live) != 1 || live[0].ID != m.ID {
		t.Errorf("after a lost answer and a retry the cloud holds %+v, want only %s", live, m.ID)
	}
}

func TestTaggingFailureReturnsTheMachine(t *testing.T) {
	w := newWorld(t)
	w.fake.FailJobs("createTags", 1000, 530, "Failed to create tags")
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-tags", "web.1"))
	if err == nil || m == nil || m.ID == "" {
		t.Fatalf("a VM whose tagging failed: %+v, %v; want the VM with the error", m, err)
	}
	if !strings.Contains(err.Error(), "Failed to create tags") || connectors.KindOf(err) != connectors.KindPermanent {
		t.Errorf("error %v", err)
	}
	if _, err := w.cloud.Machine(m.ID); err != nil {
		t.Errorf("the returned VM is not in the cloud: %v", err)
	}
}

func TestDeleteWithoutExpungeRights(t *testing.T) {
	w := newWorld(t, func(o *cloudstackfake.Options) { o.NoUserExpunge = true })
	h := w.harness()
	for i, inst := range []string{"web.1", "web.2"} {
		m := h.Spec("dep-noexp", inst)
		got, err := w.conn.Create(ctxFor(t), m)
		if err != nil {
			t.Fatal(err)
		}
		before := w.cloud.Calls("destroyVirtualMachine")
		if err := w.conn.Delete(ctxFor(t), got.ID); err != nil {
			t.Fatalf("Delete without expunge rights: %v", err)
		}
		if _, err := w.conn.Describe(ctxFor(t), got.ID); !connectors.IsNotFound(err) {
			t.Errorf("after Delete: %v, want not found", err)
		}
		// The first delete learns that it may not expunge; the next ones
		// do not ask again.
		if calls, want := w.cloud.Calls("destroyVirtualMachine")-before, 2-i; calls != want {
			t.Errorf("delete %d made %d destroy calls, want %d", i+1, calls, want)
		}
	}
}

func TestSnapshotJobFailureLeavesNoTemplate(t *testing.T) {
	w := newWorld(t)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	w.fake.FailJobs("createTemplate", 1, 530, "Failed to create template: secondary storage is full")
	_, err = w.conn.Snapshot(ctxFor(t), m.ID, "img-1", nil)
	if err == nil || !strings.Contains(err.Error(), "secondary storage is full") {
		t.Errorf("Snapshot with a failing job: %v", err)
	}
	if imgs := w.cloud.Images(); len(imgs) != 1 {
		t.Errorf("the cloud holds %d images after a failed snapshot, want the base one only: %+v", len(imgs), imgs)
	}
	if _, err := w.conn.Snapshot(ctxFor(t), "0d1e2b3c-0000-4000-8000-000000000000", "img-2", nil); !connectors.IsNotFound(err) {
		t.Errorf("Snapshot of an unknown VM: %v, want not found", err)
	}
}

func TestZones(t *testing.T) {
	zones := []cloudstackfake.Zone{{ID: cloudstackfake.NewUUID(), Name: "ch-gva-2"}, {ID: cloudstackfake.NewUUID(), Name: "de-fra-1"}}
	w := newWorld(t, func(o *cloudstackfake.Options) { o.Zones = zones })
	spec := w.harness().Spec("dep-zone", "web.1")
	_, err := w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Code != "ZoneRequired" || !strings.Contains(err.Error(), "ch-gva-2, de-fra-1") {
		t.Errorf("two zones and no zone setting: %v", err)
	}
	for _, z := range []string{"de-fra-1", zones[1].ID} {
		s := spec
		s.Settings = connectors.Settings{"zone": z}
		m, err := w.conn.Create(ctxFor(t), s)
		if err != nil {
			t.Fatalf("zone %s: %v", z, err)
		}
		got, err := w.conn.Describe(ctxFor(t), m.ID)
		if err != nil || got.Settings.String("zone") != "de-fra-1" {
			t.Errorf("zone %s: Describe %+v, %v", z, got, err)
		}
		if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
			t.Fatal(err)
		}
	}
	s := spec
	s.Settings = connectors.Settings{"zone": "nowhere"}
	if _, err := w.conn.Create(ctxFor(t), s); !strings.Contains(fmtErr(err), "there is no zone \"nowhere\"") {
		t.Errorf("unknown zone: %v", err)
	}
}

func TestCustomizedOfferings(t *testing.T) {
	custom := cloudstackfake.Offering{ID: cloudstackfake.NewUUID(), Name: "Custom", Customized: true, SpeedMHz: 2000, MinCPU: 1, MaxCPU: 8, MinMemory: 1024, MaxMemory: 32768}
	w := newWorld(t, func(o *cloudstackfake.Options) { o.Offerings = []cloudstackfake.Offering{custom} })
	offers, err := w.conn.Offers(ctxFor(t))
	if err != nil || len(offers) != 1 || !offers[0].Free || offers[0].CPU != 8 || offers[0].RAMMB != 32768 {
		t.Fatalf("Offers of a cloud with a customized offering only: %+v, %v", offers, err)
	}
	spec := w.harness().Spec("dep-custom", "web.1")
	spec.Size = connectors.Size{CPU: 3, RAMGB: 6}
	spec.Type = ""
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if fm.CPU != 3 || fm.RAMMB != 6144 {
		t.Errorf("the VM has %d cores and %d MB, want 3 and 6144", fm.CPU, fm.RAMMB)
	}
	spec.Size = connectors.Size{CPU: 16, RAMGB: 6}
	if _, err := w.conn.Create(ctxFor(t), spec); !strings.Contains(fmtErr(err), "NoFittingOffer") {
		t.Errorf("beyond the customized offering's limits: %v", err)
	}

	// Named explicitly beside fixed offerings.
	w2 := newWorld(t)
	spec = w2.harness().Spec("dep-custom", "web.1")
	spec.Type, spec.Size = "Custom", connectors.Size{CPU: 2, RAMGB: 3, DiskGB: 20}
	m, err = w2.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ = w2.cloud.Machine(m.ID)
	if fm.CPU != 2 || fm.RAMMB != 3072 || fm.DiskGB != 20 {
		t.Errorf("the VM has %d cores, %d MB and %d GB, want 2, 3072 and 20 (rootdisksize over the template's 8)", fm.CPU, fm.RAMMB, fm.DiskGB)
	}
}

func TestDescribeReportsAddressesAndSettings(t *testing.T) {
	w := newWorld(t, func(o *cloudstackfake.Options) { o.StaticNAT = true })
	net := w.fake.Options().Networks[0]
	spec := w.harness().Spec("dep-addr", "web.1")
	spec.Settings = connectors.Settings{"network_ids": []string{net.ID}, "tags": map[string]string{"owner": "qa", "team": "overridden by the label"}}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	var got *connectors.Machine
	err = connectors.WaitFor(ctxFor(t), w.conn.poll, "running", func(ctx context.Context) (bool, string, error) {
		got, err = w.conn.Describe(ctx, m.ID)
		return err == nil && got.State == connectors.StateRunning, "", err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.PrivateIP == "" || got.PublicIP == "" {
		t.Errorf("addresses %q and %q", got.PrivateIP, got.PublicIP)
	}
	if ids := got.Settings.Strings("network_ids"); len(ids) != 1 || ids[0] != net.ID {
		t.Errorf("network_ids = %v", ids)
	}
	if got.Settings.String("zone") != "zone1" || got.Settings.String("service_offering") != spec.Type {
		t.Errorf("settings %v", got.Settings)
	}
	if got.Labels["owner"] != "qa" || got.Labels["team"] != "qa" {
		t.Errorf("labels %v: the tags setting, with the labels winning", got.Labels)
	}
}

// TestAnAnswerThatIsNotTheAPIs: a web page where the API should be is a
// permanent error that says so.
func TestAnAnswerThatIsNotTheAPIs(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><head><title>Apache CloudStack</title></head></html>"))
	})
	srv := httptest.NewServer(page)
	t.Cleanup(srv.Close)
	cc, err := New(context.Background(), connectors.Settings{"api_url": srv.URL + "/client/", "api_key": "k", "secret_key": "s"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cc.Offers(ctxFor(t))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || !strings.Contains(err.Error(), "api_url") || !strings.Contains(err.Error(), "Apache CloudStack") {
		t.Errorf("a web page for an answer: %v (%s)", err, ce.Kind)
	}
}

func TestKeyRegisteredUnderAnotherNameIsUsed(t *testing.T) {
	w := newWorld(t)
	if _, err := w.cloud.ImportKey(fakecloud.KeyPair{Name: "alice", PublicKey: connectortest.TestPublicKey, Fingerprint: mustKey(t).fingerprint}); err != nil {
		t.Fatal(err)
	}
	m, err := w.conn.Create(ctxFor(t), w.harness().WithKey(w.harness().Spec("dep-key", "web.1")))
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if fm.KeyName != "alice" || len(w.cloud.Keys()) != 1 {
		t.Errorf("the VM's key pair is %q, the cloud has %+v; want alice's, reused", fm.KeyName, w.cloud.Keys())
	}
}

func mustKey(t *testing.T) *sshKey {
	k, err := parseSSHKey("test", connectortest.TestPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestTildeIsRefusedBeforeAnyCall: a value the SDK would sign otherwise
// than the API checks it is a clear error, not a 401 about credentials.
func TestTildeIsRefusedBeforeAnyCall(t *testing.T) {
	w := newWorld(t)
	spec := w.harness().Spec("dep-tilde", "web.1")
	spec.Labels["path"] = "~/work"
	before := w.cloud.Calls("")
	_, err := w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Code != "UnsignableValue" || !strings.Contains(err.Error(), "~/work") {
		t.Errorf("a tag with ~: %v", err)
	}
	if n := w.cloud.Calls("") - before; n != 0 {
		t.Errorf("%d calls made for a create refused up front", n)
	}
}

func TestHostnames(t *testing.T) {
	for in, want := range map[string]string{
		"lamp-1a2b3c4d-web-2":   "lamp-1a2b3c4d-web-2",
		"1a2b-web-1":            "vm-1a2b-web-1",
		"web_1.x":               "web-1-x",
		"":                      "vm",
		strings.Repeat("a", 70): strings.Repeat("a", 63),
	} {
		if got := hostname(in); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKeyPairDeletedBehindOurBack: a key pair deleted after the
// connector registered it fails one create transiently, and the retry
// registers it again.
func TestKeyPairDeletedBehindOurBack(t *testing.T) {
	w := newWorld(t)
	h := w.harness()
	if _, err := w.conn.Create(ctxFor(t), h.WithKey(h.Spec("dep-kp", "web.1"))); err != nil {
		t.Fatal(err)
	}
	w.cloud.DeleteKey(mustKey(t).name)
	_, err := w.conn.Create(ctxFor(t), h.WithKey(h.Spec("dep-kp", "web.2")))
	if connectors.KindOf(err) != connectors.KindTransient || !strings.Contains(fmtErr(err), "registers it again") {
		t.Fatalf("a create with a key pair deleted meanwhile: %v", err)
	}
	if _, err := w.conn.Create(ctxFor(t), h.WithKey(h.Spec("dep-kp", "web.2"))); err != nil {
		t.Errorf("the retry: %v", err)
	}
	if n := len(w.cloud.Keys()); n != 1 {
		t.Errorf("%d key pairs", n)
	}
}

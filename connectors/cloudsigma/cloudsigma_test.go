package cloudsigma

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/cloudsigmafake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// drives lists the account's drives through the API.
func (w *world) drives(t *testing.T) []csapi.Drive {
	t.Helper()
	ds, err := w.api.ListDrives(ctxFor(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (w *world) servers(t *testing.T) []csapi.Server {
	t.Helper()
	ss, err := w.api.ListServers(ctxFor(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func asError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v (%T) is not a *connectors.Error", err, err)
	}
	return ce
}

func TestWrongPasswordIsPermanentAndSays401(t *testing.T) {
	w := newWorld(t)
	c := w.connector(t, "not the password")
	_, err := c.Offers(ctxFor(t))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || ce.Status != 401 || !strings.Contains(err.Error(), "401") || ce.Cloud != Name {
		t.Errorf("wrong password: %v (kind %s, status %d), want a permanent cloudsigma error that says 401", err, ce.Kind, ce.Status)
	}
	if strings.Contains(err.Error(), "not the password") {
		t.Errorf("the error shows the password: %v", err)
	}
	h := w.harness()
	_, err = c.Create(ctxFor(t), h.Spec("dep-auth", "web.1"))
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "401") {
		t.Errorf("create with a wrong password: %v", err)
	}
}

func TestCredentialsAndEndpointFromEnvironment(t *testing.T) {
	w := newWorld(t)
	t.Setenv(EnvUsername, cloudsigmafake.DefaultUsername)
	t.Setenv(EnvPassword, cloudsigmafake.DefaultPassword)
	t.Setenv(EnvEndpoint, w.url)
	t.Setenv(EnvLocation, "")
	cc, err := New(context.Background(), connectors.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if offers, err := cc.Offers(ctxFor(t)); err != nil || len(offers) != 1 {
		t.Fatalf("Offers with credentials from the environment: %v, %v", offers, err)
	}
	// Settings win over the environment.
	_, err = New(context.Background(), connectors.Settings{"password": "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	cc, _ = New(context.Background(), connectors.Settings{"password": "wrong"})
	if _, err := cc.Offers(ctxFor(t)); !strings.Contains(fmtErr(err), "401") {
		t.Errorf("the password setting did not win over %s: %v", EnvPassword, err)
	}

	// A location makes the endpoint, when there is no endpoint.
	t.Setenv(EnvEndpoint, "")
	cc, err = New(context.Background(), connectors.Settings{"location": "zrh"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cc.(*Connector).api.BaseURL(); got != "https://zrh.cloudsigma.com/api/2.0/" {
		t.Errorf("location zrh: base URL %s", got)
	}
	t.Setenv(EnvLocation, "fra")
	cc, _ = New(context.Background(), connectors.Settings{})
	if got := cc.(*Connector).api.BaseURL(); got != "https://fra.cloudsigma.com/api/2.0/" {
		t.Errorf("%s=fra: base URL %s", EnvLocation, got)
	}

	for _, tc := range []struct {
		name     string
		env      map[string]string
		settings connectors.Settings
		want     []string
	}{
		{"no username", map[string]string{EnvUsername: ""}, nil, []string{`"username"`, EnvUsername}},
		{"no password", map[string]string{EnvPassword: ""}, nil, []string{`"password"`, EnvPassword}},
		{"no location", map[string]string{EnvLocation: ""}, nil, []string{`"location"`, `"endpoint"`, EnvLocation, EnvEndpoint}},
		{"bad location", nil, connectors.Settings{"location": "zrh.evil.example/x"}, []string{"not a CloudSigma location"}},
		{"bad endpoint", nil, connectors.Settings{"endpoint": "ftp://x"}, []string{"endpoint"}},
		{"bad setting type", nil, connectors.Settings{"location": 3.5}, []string{"location"}},
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
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestServerCreationFailingAfterTheCloneLeavesNoDrive(t *testing.T) {
	w := newWorld(t)
	h := w.harness()

	// Refused: over the account's limits.
	w.cloud.Faults.OverQuota(1)
	_, err := w.conn.Create(ctxFor(t), h.Spec("dep-left", "web.1"))
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "limits") {
		t.Errorf("over the limits: %v", err)
	}
	if ds := w.drives(t); len(ds) != 0 {
		t.Errorf("a refused server creation left %d drives: %+v", len(ds), ds)
	}

	// Throttled until the create's time is up: the clone is deleted even
	// though the create's context has ended.
	w.cloud.Faults.Throttle(1000, cloudsigmafake.OpCreateServers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the caller gives up once the server creation was throttled twice
		for w.cloud.Calls(cloudsigmafake.OpCreateServers) < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err = w.conn.Create(ctx, h.Spec("dep-left", "web.2"))
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("a create throttled to its end: %v", err)
	}
	w.cloud.Faults.Reset()
	if ds := w.drives(t); len(ds) != 0 {
		t.Errorf("a create that gave up left %d drives", len(ds))
	}
	if n := len(w.cloud.Machines(fakecloud.Live)); n != 0 {
		t.Errorf("failed creates left %d machines", n)
	}
}

func TestNoCapacityTakesBackTheServerAndItsDrive(t *testing.T) {
	w := newWorld(t)
	w.cloud.Faults.NoCapacity(1)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-room", "web.1"))
	if m != nil || connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "enough resources") {
		t.Errorf("no capacity: %+v, %v; want no machine and a permanent error", m, err)
	}
	if ss, ds := w.servers(t), w.drives(t); len(ss)+len(ds) != 0 {
		t.Errorf("a start refused for lack of room left %d servers and %d drives", len(ss), len(ds))
	}
}

func TestStartThrottledTwiceStartsTheServerOnce(t *testing.T) {
	w := newWorld(t)
	w.cloud.Faults.Throttle(2, cloudsigmafake.OpStart)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-start", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if m.State != connectors.StatePending {
		t.Errorf("the new machine is %s, want pending", m.State)
	}
	if n := w.cloud.Calls(cloudsigmafake.OpStart); n != 3 {
		t.Errorf("%d start calls, want 3 (two throttled)", n)
	}
	if n := w.fake.Starts(m.ID); n != 1 {
		t.Errorf("the server was started %d times", n)
	}
	if _, err := w.cloud.WaitMachine(ctxFor(t), m.ID, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		t.Fatal(err)
	}
}

// A start whose answer was lost worked: the next attempt is refused
// (the server is not stopped) and the create goes on.
func TestStartRefusedBecauseAnEarlierStartWorked(t *testing.T) {
	w := newWorld(t)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-again", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.conn.start(ctxFor(t), m.ID); err != nil {
		t.Errorf("starting a started server: %v", err)
	}
	if n := w.fake.Starts(m.ID); n != 1 {
		t.Errorf("%d starts", n)
	}
}

func TestSizingLimitsFromCapabilities(t *testing.T) {
	w := newWorld(t, func(o *cloudsigmafake.Options) {
		o.Limits = cloudsigmafake.Limits{CPUMax: 24000, SMPMax: 8, MemMax: 32 << 30, DriveMax: 500 << 30}
	})
	offers, err := w.conn.Offers(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	want := connectors.Offer{Name: "cloudsigma", CPU: 8, RAMMB: 32 << 10, DiskGB: 500, Free: true}
	if len(offers) != 1 || offers[0] != want {
		t.Fatalf("Offers = %+v, want [%+v]", offers, want)
	}
	_, err = connectors.PickOffer(Name, offers, connectors.Size{CPU: 16, RAMGB: 8})
	ce := asError(t, err)
	if ce.Code != "NoFittingOffer" || !strings.Contains(err.Error(), "8 CPU, 32 GB RAM, 500 GB disk") {
		t.Errorf("16 cores: %v, want NoFittingOffer naming the limit", err)
	}
	if _, err := connectors.PickOffer(Name, offers, connectors.Size{CPU: 2, RAMGB: 4, DiskGB: 600}); err == nil {
		t.Errorf("a 600 GB disk fits a 500 GB limit")
	}

	// The size asked for is what the server gets.
	spec := w.harness().Spec("dep-size", "db.1")
	spec.Size = connectors.Size{CPU: 3, RAMGB: 2.5, DiskGB: 20}
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.api.GetServer(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU != 3*MHzPerCore || s.SMP != 3 || s.Mem != 2560<<20 {
		t.Errorf("server cpu %d MHz, smp %d, mem %d; want %d, 3, %d", s.CPU, s.SMP, s.Mem, 3*MHzPerCore, 2560<<20)
	}
	d, err := w.api.GetDrive(ctxFor(t), s.Drives[0].Drive.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != 20<<30 || d.Name != spec.Name {
		t.Errorf("drive %q of %d bytes, want %q of %d", d.Name, d.Size, spec.Name, 20<<30)
	}
	// A disk smaller than the image keeps the image's size.
	spec = w.harness().Spec("dep-size", "db.2")
	spec.Size = connectors.Size{DiskGB: 1}
	m, err = w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	s, _ = w.api.GetServer(ctxFor(t), m.ID)
	if d, _ := w.api.GetDrive(ctxFor(t), s.Drives[0].Drive.UUID); d == nil || d.Size != 4<<30 {
		t.Errorf("a 1 GB disk of a 4 GB image: %+v", d)
	}
	if s.CPU != MHzPerCore || s.SMP != 1 || s.Mem != 1<<30 {
		t.Errorf("no size: cpu %d, smp %d, mem %d; want 1 core of %d MHz, 1 GiB", s.CPU, s.SMP, s.Mem, MHzPerCore)
	}
}

func TestUserDataTravelsAsBase64Meta(t *testing.T) {
	w := newWorld(t)
	spec := w.harness().Spec("dep-ud", "web.1")
	spec.UserData = "#cloud-config\r\nwrite_files:\n- content: \"\u00e9t\u00e9 \u2603 \\u0000\"\n  path: /tmp/x\n" + strings.Repeat("z", 20000)
	spec.SSHPublicKey = connectortest.TestPublicKey + "\n" // as Terraform's file() reads it
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if string(fm.UserData) != spec.UserData {
		t.Errorf("the machine got %d bytes of user-data, not the %d sent", len(fm.UserData), len(spec.UserData))
	}
	s, err := w.api.GetServer(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Meta["base64_fields"] != "cloudinit-user-data" || s.Meta["cloudinit-user-data"] != base64.StdEncoding.EncodeToString([]byte(spec.UserData)) {
		t.Errorf("meta base64_fields %q, cloudinit-user-data %.40q…", s.Meta["base64_fields"], s.Meta["cloudinit-user-data"])
	}
	if !strings.HasPrefix(s.Meta["ssh_public_key"], "ssh-ed25519 AAAA") || len(s.Pubkeys) != 1 {
		t.Errorf("key: meta %q, pubkeys %v", s.Meta["ssh_public_key"], s.Pubkeys)
	}
	got, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range reserved {
		if _, ok := got.Labels[k]; ok {
			t.Errorf("Describe's labels hold %s", k)
		}
	}
	if got.Settings.String("ssh_public_key") != spec.SSHPublicKey || got.ImageID != w.image {
		t.Errorf("Describe: settings %v, image %q", got.Settings, got.ImageID)
	}
}

func TestVLANAndTagsSettings(t *testing.T) {
	w := newWorld(t)
	vlan := cloudsigmafake.NewUUID()
	spec := w.harness().Spec("dep-net", "web.1")
	spec.Settings = connectors.Settings{"vlan": vlan, "tags": []string{"lamp", "prod"}}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Settings.Strings("tags"), []string{"lamp", "prod"}) || m.Settings.String("vlan") != vlan {
		t.Errorf("Create's machine has settings %v", m.Settings)
	}
	spec2 := w.harness().Spec("dep-net", "web.2")
	spec2.Settings = connectors.Settings{"tags": []string{"prod"}}
	if _, err := w.conn.Create(ctxFor(t), spec2); err != nil {
		t.Fatal(err)
	}
	tags, _ := w.api.ListTags(ctxFor(t))
	if len(tags) != 2 {
		t.Errorf("%d tags after two creates under lamp and prod: %+v", len(tags), tags)
	}
	for _, tg := range tags {
		if want := map[string]int{"lamp": 1, "prod": 2}[tg.Name]; len(tg.Resources) != want {
			t.Errorf("tag %s holds %d servers, want %d", tg.Name, len(tg.Resources), want)
		}
	}
	if _, err := w.cloud.WaitMachine(ctxFor(t), m.ID, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		t.Fatal(err)
	}
	got, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings.String("vlan") != vlan || !slices.Equal(got.Settings.Strings("tags"), []string{"lamp", "prod"}) {
		t.Errorf("Describe's settings %v", got.Settings)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if got.PublicIP != fm.PrivateIP || got.PrivateIP != fm.PrivateIP || got.State != connectors.StateRunning {
		t.Errorf("a running server with a DHCP and a VLAN NIC: public %q, private %q, %s; its address is %s", got.PublicIP, got.PrivateIP, got.State, fm.PrivateIP)
	}
	s, _ := w.api.GetServer(ctxFor(t), m.ID)
	if len(s.NICs) != 2 || s.NICs[0].IPv4Conf == nil || s.NICs[0].IPv4Conf.Conf != "dhcp" || s.NICs[1].VLAN == nil || s.NICs[1].VLAN.UUID != vlan {
		t.Errorf("NICs %+v", s.NICs)
	}
}

func TestStoppedServerIsPendingWhileItsCreateStartsIt(t *testing.T) {
	w := newWorld(t)
	// A server created and not started yet: stopped, unless this
	// connector is about to start it.
	srv := &csapi.Server{UUID: "3a75-in-flight", Status: csapi.StatusStopped}
	if st, _ := w.conn.stateOf(srv); st != connectors.StateStopped {
		t.Errorf("a stopped server is %s", st)
	}
	done := w.conn.startInFlight(srv.UUID)
	if st, _ := w.conn.stateOf(srv); st != connectors.StatePending {
		t.Errorf("a stopped server whose start is under way is %s", st)
	}
	done()
	if st, _ := w.conn.stateOf(srv); st != connectors.StateStopped {
		t.Errorf("after its start, a stopped server is %s", st)
	}
	for status, want := range map[string]connectors.State{"starting": connectors.StatePending, "running": connectors.StateRunning,
		"stopping": connectors.StateStopping, "paused": connectors.StateError, "unavailable": connectors.StatePending, "odd": connectors.StateError} {
		if st, _ := w.conn.stateOf(&csapi.Server{Status: status}); st != want {
			t.Errorf("status %s is %s, want %s", status, st, want)
		}
	}
}

func TestDeleteTakesTheDriveAlong(t *testing.T) {
	w := newWorld(t)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-rm", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.cloud.WaitMachine(ctxFor(t), m.ID, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		t.Fatal(err)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if ss, ds := w.servers(t), w.drives(t); len(ss)+len(ds) != 0 {
		t.Errorf("Delete left %d servers and %d drives", len(ss), len(ds))
	}
}

func TestDieAfterBootIsAnError(t *testing.T) {
	w := newWorld(t)
	w.cloud.Faults.DieAfterBoot(1, 10*time.Millisecond)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-die", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.cloud.WaitMachine(ctxFor(t), m.ID, func(m fakecloud.Machine) bool { return m.State == fakecloud.Failed }); err != nil {
		t.Fatal(err)
	}
	got, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil || got.State != connectors.StateError || !strings.Contains(got.Reason, "paused") {
		t.Errorf("a dead guest: %+v, %v", got, err)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Errorf("deleting a dead guest: %v", err)
	}
}

func TestBatchIsOnePostOfAllServers(t *testing.T) {
	w := newWorld(t)
	spec := w.harness().Spec("dep-batch", "")
	spec.Name = connectors.MachineName("dep-batch", "worker")
	ms, err := w.conn.CreateBatch(ctxFor(t), spec, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.cloud.Calls(cloudsigmafake.OpCreateServers); n != 1 {
		t.Errorf("%d POST /servers/ for a batch of 4", n)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	for _, n := range names {
		if !regexp.MustCompile(`^` + regexp.QuoteMeta(spec.Name) + `-[0-9a-f]{8}$`).MatchString(n) {
			t.Errorf("batch names %v, want %s-<8 hex digits> (connectors.BatchNames)", names, spec.Name)
		}
	}
	if _, err := w.conn.CreateBatch(ctxFor(t), spec, 0); err == nil {
		t.Errorf("a batch of 0")
	}
}

func TestLabelsCloudSigmaCannotHold(t *testing.T) {
	w := newWorld(t)
	spec := w.harness().Spec("dep-lbl", "web.1")
	spec.Labels["a-label-name-longer-than-32-characters"] = "x"
	_, err := w.conn.Create(ctxFor(t), spec)
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "32") {
		t.Errorf("a 38-character label: %v", err)
	}
	spec = w.harness().Spec("dep-lbl", "web.2")
	spec.SSHPublicKey = "ssh-rsa not-a-key"
	if _, err := w.conn.Create(ctxFor(t), spec); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "ssh_public_key") {
		t.Errorf("a bad key: %v", err)
	}
	if ds := w.drives(t); len(ds) != 0 {
		t.Errorf("refused specs made %d drives", len(ds))
	}
}

func TestSnapshotOfASnapshotAndDeleteImageOfALibraryDrive(t *testing.T) {
	w := newWorld(t)
	h := w.harness()
	m, err := w.conn.Create(ctxFor(t), h.Spec("dep-img", "b.1"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := w.conn.Snapshot(ctxFor(t), m.ID, "first", map[string]string{"slipstream-image": "one"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.api.GetDrive(ctxFor(t), img)
	if err != nil || d.Meta["slipstream-image"] != "one" || d.Name != "first" || d.Meta[connectors.LabelDeployment] != "" {
		t.Errorf("the image's drive: %+v, %v; want its name and only the snapshot's labels", d, err)
	}
	spec := h.Spec("dep-img", "b.2")
	spec.ImageID = img
	m2, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	img2, err := w.conn.Snapshot(ctxFor(t), m2.ID, "second", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first image can go while a machine and an image came from it:
	// CloudSigma's clones are copies.
	if err := w.conn.DeleteImage(ctxFor(t), img); err != nil {
		t.Fatal(err)
	}
	if err := w.conn.DeleteImage(ctxFor(t), img2); err != nil {
		t.Fatal(err)
	}
	err = w.conn.DeleteImage(ctxFor(t), w.image)
	if connectors.KindOf(err) != connectors.KindPermanent {
		t.Errorf("deleting a library drive: %v", err)
	}
}

// loseAnswers passes requests of op to the fake but answers the first n
// of them 502, as a gateway whose upstream answer timed out: the request
// took effect, the client cannot know.
func loseAnswers(method, pathPrefix, do string, n int) func(http.Handler) http.Handler {
	var mu sync.Mutex
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			lose := n > 0 && r.Method == method && strings.HasPrefix(r.URL.Path, pathPrefix) && r.URL.Query().Get("do") == do
			if lose {
				n--
			}
			mu.Unlock()
			if !lose {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		})
	}
}

func TestLostCloneAnswerLeavesNoDrive(t *testing.T) {
	w := newWorldBehind(t, loseAnswers("POST", "/api/2.0/libdrives/", "clone", 1))
	_, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-lost", "web.1"))
	if !connectors.IsTransient(err) || !strings.Contains(err.Error(), "502") {
		t.Errorf("a clone whose answer was lost: %v, want a transient error", err)
	}
	if ds := w.drives(t); len(ds) != 0 {
		t.Errorf("the clone whose answer was lost is left: %+v", ds)
	}
}

func TestLostServerCreationAnswerMakesNoTwin(t *testing.T) {
	w := newWorldBehind(t, loseAnswers("POST", "/api/2.0/servers/", "", 1))
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-lost", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if ss := w.servers(t); len(ss) != 1 || ss[0].UUID != m.ID {
		t.Errorf("servers after a POST /servers/ whose answer was lost: %d (machine %s)", len(ss), m.ID)
	}
	if n := w.cloud.Calls(cloudsigmafake.OpCreateServers); n != 1 {
		t.Errorf("%d POST /servers/: the server made by the first was not found", n)
	}
	if n := w.fake.Starts(m.ID); n != 1 {
		t.Errorf("the adopted server was started %d times", n)
	}
}

func TestErrorClassification(t *testing.T) {
	item := func(typ, msg string) []csapi.ErrorItem { return []csapi.ErrorItem{{Type: typ, Message: msg}} }
	for _, tc := range []struct {
		status int
		items  []csapi.ErrorItem
		body   string
		kind   connectors.Kind
		code   string
	}{
		{400, item("validation", "This field is required."), "", connectors.KindPermanent, "validation"},
		{401, item("permission", "Authentication credentials were missing or incorrect."), "", connectors.KindPermanent, "permission"},
		{402, item("billing", "Not enough funds for 5 days of burst usage"), "", connectors.KindPermanent, "billing"},
		{403, item("permission", "Usage limits exceeded"), "", connectors.KindPermanent, "permission"},
		{403, item("concurrency", "Another operation on the server runs"), "", connectors.KindTransient, "concurrency"},
		{403, item("permission", "The drive is busy"), "", connectors.KindTransient, "permission"},
		{400, item("validation", "A clone of this drive is in progress"), "", connectors.KindTransient, "validation"},
		{404, item("notexist", "Object does not exist"), "", connectors.KindNotFound, "notexist"},
		{409, item("", "conflict"), "", connectors.KindTransient, "409"},
		{429, nil, "", connectors.KindTransient, "429"},
		{500, item("database", "There was a database error"), "", connectors.KindTransient, "database"},
		{502, nil, "<html>Bad Gateway</html>", connectors.KindTransient, "502"},
		{503, item("backend", "The system temporarily cannot fulfil the request"), "", connectors.KindTransient, "backend"},
		{503, item("backend", "We currently cannot provide enough resources to start this server"), "", connectors.KindPermanent, "backend"},
	} {
		e := &csapi.Error{Method: "POST", Path: "/servers/", Status: tc.status, Items: tc.items, Body: tc.body}
		ce := asError(t, apiErr(e))
		if ce.Kind != tc.kind || ce.Code != tc.code || ce.Status != tc.status || ce.Op != "POST /servers/" || ce.Cloud != Name {
			t.Errorf("%d %v: %+v; want kind %s, code %s", tc.status, tc.items, ce, tc.kind, tc.code)
		}
		if !strings.Contains(ce.Error(), fmt.Sprintf("HTTP %d", tc.status)) {
			t.Errorf("%q does not give the status", ce.Error())
		}
	}
	// No answer: a network failure is transient, a cancelled call is not.
	re := &csapi.RequestError{Method: "GET", Path: "/servers/", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	if ce := asError(t, apiErr(re)); ce.Kind != connectors.KindTransient || ce.Op != "GET /servers/" {
		t.Errorf("connection refused: %+v", ce)
	}
	re = &csapi.RequestError{Method: "GET", Path: "/servers/", Err: context.Canceled}
	if ce := asError(t, apiErr(re)); ce.Kind != connectors.KindPermanent {
		t.Errorf("cancelled: %+v", ce)
	}
}

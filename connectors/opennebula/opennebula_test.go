package opennebula

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	errs "github.com/OpenNebula/one/src/oca/go/src/goca/errors"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/vm"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/opennebula/onefake"
)

func asError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v (%T) is not a *connectors.Error", err, err)
	}
	return ce
}

func (w *world) spec(deployment, instance string) connectors.MachineSpec {
	return w.harness().Spec(deployment, instance)
}

func (w *world) live() []fakecloud.Machine { return w.cloud.Machines(fakecloud.Live) }

// vmInfo reads a VM through goca, to look at what the connector wrote.
func (w *world) vmInfo(t *testing.T, id string) *vm.VM {
	t.Helper()
	n, err := strconv.Atoi(id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := w.conn.one.VM(n).InfoContext(ctxFor(t), false)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func contextOf(t *testing.T, v *vm.VM) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range vectorPairs(&v.Template.Template, "CONTEXT") {
		out[p.Key] = p.Value
	}
	return out
}

func TestWrongPasswordIsAnAuthenticationError(t *testing.T) {
	w := newWorld(t)
	c := w.connector(t, "not-the-password")
	_, err := c.Offers(ctxFor(t))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || ce.Code != "AUTHENTICATION" || ce.Op != "one.user.info" || ce.Cloud != Name ||
		ce.Message != "[one.user.info] User couldn't be authenticated, aborting call." {
		t.Errorf("wrong password: %+v, want a permanent AUTHENTICATION error with OpenNebula's message", ce)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error shows the password: %v", err)
	}
	_, err = c.Create(ctxFor(t), w.spec("dep-auth", "web.1"))
	if ce := asError(t, err); ce.Code != "AUTHENTICATION" || len(w.live()) != 0 {
		t.Errorf("create with a wrong password: %v, %d machines", err, len(w.live()))
	}
}

func TestUnknownImageAndTemplate(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct{ image, code, says string }{
		{"999", "NO_EXISTS", "[one.image.info] Error getting image [999]."},
		{"template:42", "NO_EXISTS", "[one.template.info] Error getting virtual machine template [42]."},
		{"debian-12", "InvalidImage", "neither an OpenNebula image id"},
		{"template:x", "InvalidImage", "template: is followed by a VM template id"},
	} {
		spec := w.spec("dep-img", "web.1")
		spec.ImageID = tc.image
		_, err := w.conn.Create(ctxFor(t), spec)
		ce := asError(t, err)
		if ce.Kind != connectors.KindPermanent || ce.Code != tc.code || !strings.Contains(ce.Message, tc.says) {
			t.Errorf("image %q: %v (kind %s), want a permanent %s saying %q", tc.image, err, ce.Kind, tc.code, tc.says)
		}
	}
	if n := len(w.live()); n != 0 {
		t.Errorf("creates from unknown images left %d machines", n)
	}
	if n := w.cloud.Calls("one.vm.allocate") + w.cloud.Calls("one.template.instantiate"); n != 0 {
		t.Errorf("%d allocations were asked for unknown images", n)
	}
}

func TestQuotaIsAuthorizationWithOpenNebulasMessage(t *testing.T) {
	w := newWorld(t, func(o *onefake.Options) { o.Quota = &onefake.Quota{VMs: 1, CPU: 8, MemoryMB: 16384} })
	offers, err := w.conn.Offers(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 1 || !offers[0].Free || offers[0].CPU != 8 || offers[0].RAMMB != 16384 {
		t.Errorf("offers under a quota of 8 CPU, 16 GB: %+v", offers)
	}
	if _, err := connectors.PickOffer(Name, offers, connectors.Size{CPU: 16, RAMGB: 1}); err == nil || !strings.Contains(err.Error(), "largest it makes is 8 CPU, 16 GB RAM") {
		t.Errorf("16 CPU over a quota of 8: %v", err)
	}
	if _, err := w.conn.Create(ctxFor(t), w.spec("dep-q", "web.1")); err != nil {
		t.Fatal(err)
	}
	_, err = w.conn.Create(ctxFor(t), w.spec("dep-q", "web.2"))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || ce.Code != "AUTHORIZATION" || ce.Op != "one.vm.allocate" ||
		ce.Message != "[one.vm.allocate] User [2] : user [2] limit of 1 reached for VMS quota in VM." {
		t.Errorf("over the VM quota: %+v", ce)
	}
	if n := len(w.live()); n != 1 {
		t.Errorf("%d machines after a create refused for the quota, want 1", n)
	}
}

func TestOffersWithoutQuotaAndWithNone(t *testing.T) {
	w := newWorld(t)
	offers, err := w.conn.Offers(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := (connectors.Offer{CPU: MaxCPU, RAMMB: MaxRAMGB * 1024, Free: true}); len(offers) != 1 || offers[0] != want {
		t.Errorf("offers with an unlimited quota: %+v, want %+v", offers, want)
	}
	w = newWorld(t, func(o *onefake.Options) { o.Quota = &onefake.Quota{VMs: 0, CPU: -1, MemoryMB: -2} })
	_, err = w.conn.Offers(ctxFor(t))
	if ce := asError(t, err); ce.Code != "QuotaExhausted" || !strings.Contains(ce.Message, "allows no VMs") {
		t.Errorf("a quota of no VMs: %v", err)
	}
}

func TestNoCapacityIsOpenNebulasLeaseError(t *testing.T) {
	w := newWorld(t)
	w.cloud.Faults.NoCapacity(1)
	_, err := w.conn.Create(ctxFor(t), w.spec("dep-cap", "web.1"))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent || ce.Code != "ALLOCATE" || !strings.Contains(ce.Message, "Cannot get IP/MAC lease from virtual network 0.") {
		t.Errorf("no capacity: %+v", ce)
	}
	if n := len(w.live()); n != 0 {
		t.Errorf("%d machines after a refused allocation", n)
	}
}

func TestThrottlingAndOutagesAreTransient(t *testing.T) {
	w := newWorld(t)
	w.cloud.Faults.Throttle(1, "one.vm.allocate")
	_, err := w.conn.Create(ctxFor(t), w.spec("dep-t", "web.1"))
	if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Status != 429 || ce.Op != "one.vm.allocate" {
		t.Errorf("throttled allocate: %+v", ce)
	}
	if n := len(w.live()); n != 0 {
		t.Errorf("a throttled allocate made %d machines", n)
	}
	w.cloud.Faults.Unavailable(1)
	_, err = w.conn.Describe(ctxFor(t), "1")
	if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Status != 503 || !strings.Contains(ce.Message, "HTTP 503 Service Unavailable") {
		t.Errorf("503: %+v", ce)
	}
	// Delete rides out both.
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-t", "web.2"))
	if err != nil {
		t.Fatal(err)
	}
	w.cloud.Faults.Throttle(2)
	w.cloud.Faults.Unavailable(1)
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Errorf("delete through throttling and an outage: %v", err)
	}
}

// intercept serves a method's calls with answer while n lasts; answer
// gets the real handler, the request (its body intact) and the writer.
func intercept(method string, n int, answer func(next http.Handler, w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	var mu sync.Mutex
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			mu.Lock()
			hit := n > 0 && bytes.Contains(body, []byte("<methodName>"+method+"</methodName>"))
			if hit {
				n--
			}
			mu.Unlock()
			if hit {
				answer(next, w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// serveDetached has the fake answer the call as if the caller waited,
// whatever the caller does meanwhile; the answer is returned, not sent.
func serveDetached(next http.Handler, r *http.Request) *httptest.ResponseRecorder {
	body, _ := io.ReadAll(r.Body)
	rr := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, r.URL.String(), bytes.NewReader(body)).WithContext(context.Background())
	req.Header = r.Header.Clone()
	next.ServeHTTP(rr, req)
	return rr
}

func TestCancelMidCreateLeavesNoVM(t *testing.T) {
	reached := make(chan struct{})
	w := newWorldBehind(t, intercept("one.vm.allocate", 1, func(next http.Handler, _ http.ResponseWriter, r *http.Request) {
		serveDetached(next, r) // oned makes the VM…
		close(reached)
		<-r.Context().Done() // …and the caller goes away before the answer
	}))
	ctx, cancel := context.WithCancel(ctxFor(t))
	go func() { <-reached; cancel() }()
	m, err := w.conn.Create(ctx, w.spec("dep-cancel", "web.1"))
	if err == nil || !errors.Is(err, context.Canceled) || m != nil {
		t.Fatalf("a create cancelled while oned allocated: %v, %+v; want the cancellation and no machine", err, m)
	}
	if n := w.cloud.Calls("one.vm.allocate"); n != 1 {
		t.Errorf("%d allocations, want 1", n)
	}
	all := w.cloud.Machines(nil)
	if len(all) != 1 || all[0].State != fakecloud.Terminated {
		t.Errorf("the VM the cancelled create made is not terminated: %+v", all)
	}
}

func TestLostAllocateAnswerAdoptsTheVM(t *testing.T) {
	w := newWorldBehind(t, intercept("one.vm.allocate", 1, func(next http.Handler, w http.ResponseWriter, r *http.Request) {
		serveDetached(next, r)
		http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
	}))
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-lost", "web.1"))
	if err != nil {
		t.Fatalf("a create whose answer a proxy lost: %v", err)
	}
	live := w.live()
	if len(live) != 1 || live[0].ID != m.ID || w.cloud.Calls("one.vm.allocate") != 1 {
		t.Errorf("machines %+v after one allocate whose answer was lost; the create returned %s", live, m.ID)
	}
	if m.Labels[connectors.LabelInstance] != "web.1" || m.State != connectors.StatePending {
		t.Errorf("the adopted machine: %+v", m)
	}
}

func TestMalformedAnswersAreClearErrors(t *testing.T) {
	answers := map[string]string{
		"an empty array": "<?xml version=\"1.0\"?><methodResponse><params><param><value><array><data></data></array></value></param></params></methodResponse>",
		"not XML-RPC":    "<html><body>It works!</body></html>",
		"not a boolean":  "<methodResponse><params><param><value><array><data><value><i4>1</i4></value><value><string>x</string></value><value><i4>0</i4></value></data></array></value></param></params></methodResponse>",
		"a truncated VM": "<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value><string>&lt;VM&gt;&lt;ID&gt;1</string></value><value><i4>0</i4></value></data></array></value></param></params></methodResponse>",
		"a VM id that is no number": "<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value>" +
			"<value><string>&lt;VM&gt;&lt;ID&gt;one&lt;/ID&gt;&lt;/VM&gt;</string></value><value><i4>0</i4></value></data></array></value></param></params></methodResponse>",
	}
	for what, body := range answers {
		t.Run(what, func(t *testing.T) {
			w := newWorldBehind(t, intercept("one.vm.info", 1, func(_ http.Handler, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/xml")
				fmt.Fprint(w, body)
			}))
			_, err := w.conn.Describe(ctxFor(t), "1")
			ce := asError(t, err)
			if ce.Kind != connectors.KindPermanent || ce.Code != "MalformedAnswer" || ce.Op != "one.vm.info" || !strings.Contains(ce.Message, "not OpenNebula's") {
				t.Errorf("%s: %+v, want a permanent MalformedAnswer of one.vm.info", what, ce)
			}
		})
	}
	t.Run("a 404 says the endpoint is wrong", func(t *testing.T) {
		w := newWorld(t)
		c, err := newConnector(connectors.Settings{"endpoint": strings.TrimSuffix(w.url, "/RPC2") + "/xmlrpc", "username": "u", "password": "p"}, openNebula, noEnv, noHome)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Describe(ctxFor(t), "1")
		if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Status != 404 || !strings.Contains(ce.Message, "is it OpenNebula's XML-RPC endpoint") {
			t.Errorf("404: %+v, want a permanent error that questions the endpoint", ce)
		}
	})
	t.Run("an unknown method is the server library's fault", func(t *testing.T) {
		w := newWorld(t)
		err := guardErr(w.conn, "one.vm.nosuch", func() error {
			_, err := w.conn.one.Client.CallContext(ctxFor(t), "one.vm.nosuch", 1)
			return err
		})
		if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Code != "XMLRPCFault-506" {
			t.Errorf("unknown method: %+v", ce)
		}
	})
}

func TestUserDataKeyAndContextOnTheWire(t *testing.T) {
	w := newWorld(t)
	spec := w.spec("dep-ctx", "web.1")
	spec.SSHPublicKey = connectortest.TestPublicKey + "\n"
	spec.UserData = "#!/bin/sh\necho \"$HOME\" '${NAME}' ]]> \\\" \u00e9t\u00e9\n"
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
		t.Errorf("user-data at the machine %q, want %q", fm.UserData, spec.UserData)
	}
	if len(fm.SSHKeys) != 1 || fm.SSHKeys[0] != connectortest.TestPublicKey {
		t.Errorf("keys at the machine %q", fm.SSHKeys)
	}
	ctx := contextOf(t, w.vmInfo(t, m.ID))
	ud, _ := base64.StdEncoding.DecodeString(ctx["USER_DATA"])
	if ctx["USERDATA_ENCODING"] != "base64" || string(ud) != spec.UserData || ctx["NETWORK"] != "YES" || ctx["SET_HOSTNAME"] != spec.Name ||
		ctx["SSH_PUBLIC_KEY"] != spec.SSHPublicKey {
		t.Errorf("the VM's CONTEXT: %v", ctx)
	}
	d, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Settings.String("ssh_public_key") != spec.SSHPublicKey || d.Settings.String("network") != "public" {
		t.Errorf("settings read back: %v", d.Settings)
	}
}

func TestLabelsRoundTripAndRefusals(t *testing.T) {
	w := newWorld(t)
	spec := w.spec("dep-lab", "web.1")
	spec.Labels["note"] = "say \"hi\"\nand \\\"bye\\\" é ]] >"
	spec.Settings = connectors.Settings{"tags": map[string]string{"owner": "ops-team", "team": "overridden by the spec's label"}}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range spec.Labels {
		if d.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, d.Labels[k], v)
		}
	}
	if d.Labels["owner"] != "ops-team" || d.Labels["team"] != "qa" {
		t.Errorf("tags setting: labels %v", d.Labels)
	}
	if tags := d.Settings.Map("tags"); tags["owner"] != "ops-team" || tags["note"] != spec.Labels["note"] || tags[connectors.LabelDeployment] != "" {
		t.Errorf("tags read back: %v", tags)
	}
	// What OpenNebula stored: a vector of upper-cased keys.
	user := w.vmInfo(t, m.ID).UserTemplate.Template
	if v, err := user.GetStrFromVec("SLIPSTREAM_LABELS", "SLIPSTREAM_DEPLOYMENT"); err != nil || v != "dep-lab" {
		t.Errorf("SLIPSTREAM_LABELS/SLIPSTREAM_DEPLOYMENT = %q, %v", v, err)
	}
	if fm, _ := w.cloud.Machine(m.ID); fm.Labels[connectors.LabelDeployment] != "dep-lab" || fm.Labels["owner"] != "ops-team" {
		t.Errorf("the fake cloud's labels: %v", fm.Labels)
	}
	for key, val := range map[string]string{"Team": "x", "9lives": "x", "a_b": "x", "ok": "ends in a backslash \\", "fine": "has ]]> in it"} {
		bad := w.spec("dep-lab", "web.2")
		bad.Labels[key] = val
		_, err := w.conn.Create(ctxFor(t), bad)
		if ce := asError(t, err); ce.Code != "InvalidLabel" || ce.Kind != connectors.KindPermanent {
			t.Errorf("label %q = %q: %v, want InvalidLabel", key, val, err)
		}
	}
	if n := len(w.live()); n != 1 {
		t.Errorf("refused labels made machines: %d live", n)
	}
}

func TestNetworkChoice(t *testing.T) {
	nets := []onefake.Network{{ID: 0, Name: "public", Owner: "oneadmin", Bridge: "br0"}, {ID: 3, Name: "private", Owner: onefake.DefaultUsername, Bridge: "br1"},
		{ID: 4, Name: "private", Owner: "oneadmin", Bridge: "br2"}}
	w := newWorld(t, func(o *onefake.Options) { o.Networks = nets })
	_, err := w.conn.Create(ctxFor(t), w.spec("dep-net", "a.1"))
	if ce := asError(t, err); ce.Code != "NetworkNeeded" || !strings.Contains(ce.Message, "public (0, oneadmin)") {
		t.Errorf("no network setting with several networks: %v", err)
	}
	for setting, want := range map[string]string{"public": "0", "3": "3", "4": "4"} {
		spec := w.spec("dep-net", "b.1")
		spec.Settings = connectors.Settings{"network": setting}
		m, err := w.conn.Create(ctxFor(t), spec)
		if err != nil {
			t.Fatalf("network %q: %v", setting, err)
		}
		v := w.vmInfo(t, m.ID)
		if id, err := v.Template.GetStrFromVec("NIC", "NETWORK_ID"); err != nil || id != want {
			t.Errorf("network %q: NIC NETWORK_ID %q, want %s", setting, id, want)
		}
	}
	for setting, code := range map[string]string{"private": "NetworkAmbiguous", "nowhere": "NetworkNotFound"} {
		spec := w.spec("dep-net", "c.1")
		spec.Settings = connectors.Settings{"network": setting}
		_, err := w.conn.Create(ctxFor(t), spec)
		if ce := asError(t, err); ce.Code != code {
			t.Errorf("network %q: %v, want %s", setting, err, code)
		}
	}
	w = newWorld(t, func(o *onefake.Options) { o.Networks = []onefake.Network{} })
	_, err = w.conn.Create(ctxFor(t), w.spec("dep-net", "d.1"))
	if ce := asError(t, err); ce.Code != "NoNetwork" {
		t.Errorf("no network at all: %v", err)
	}
}

func TestTemplateInstantiation(t *testing.T) {
	w := newWorld(t, func(o *onefake.Options) { o.UserSSHKey = connectortest.TestPublicKey })
	id, err := w.fake.AddTemplate("debian-small", `# a template as Sunstone makes them
CPU = "0.5"
VCPU = "1"
MEMORY = "768"
DISK = [ IMAGE_ID = "7" ]
DISK = [ TYPE = "fs", SIZE = "512" ]
NIC = [ NETWORK_ID = "0" ]
CONTEXT = [ NETWORK = "YES", SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]", START_SCRIPT = "echo started by $UNAME" ]
LOGO = "images/logos/debian.png"`)
	if err != nil {
		t.Fatal(err)
	}
	image := "template:" + strconv.Itoa(id)

	// Sized as the template says, with the template's context merged.
	spec := w.spec("dep-tpl", "web.1")
	spec.ImageID, spec.Size = image, connectors.Size{}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if fm.CPU != 1 || fm.RAMMB != 768 || string(fm.UserData) != spec.UserData || len(fm.SSHKeys) != 1 || fm.SSHKeys[0] != connectortest.TestPublicKey {
		t.Errorf("the machine of the template: %d CPU, %d MB, user-data %q, keys %q", fm.CPU, fm.RAMMB, fm.UserData, fm.SSHKeys)
	}
	v := w.vmInfo(t, m.ID)
	ctx := contextOf(t, v)
	if ctx["START_SCRIPT"] != "echo started by "+onefake.DefaultUsername || ctx["SET_HOSTNAME"] != spec.Name || ctx["USERDATA_ENCODING"] != "base64" {
		t.Errorf("the merged CONTEXT: %v", ctx)
	}
	if logo, _ := v.UserTemplate.GetStr("LOGO"); logo == "" {
		t.Errorf("the template's own user attributes are lost: %v", v.UserTemplate)
	}
	d, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil || d.ImageID != image {
		t.Errorf("Describe: %+v, %v; want image %s", d, err, image)
	}

	// Sized by the spec: CPU, memory, the first disk grown, the others kept.
	spec = w.spec("dep-tpl", "web.2")
	spec.ImageID, spec.Size = image, connectors.Size{CPU: 2, RAMGB: 4, DiskGB: 20}
	spec.Settings = connectors.Settings{"network": "0"}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err = w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ = w.cloud.Machine(m.ID)
	v = w.vmInfo(t, m.ID)
	disks := v.Template.GetDisks()
	if fm.CPU != 2 || fm.RAMMB != 4096 || fm.DiskGB != 20 || len(disks) != 2 {
		t.Errorf("the sized machine: %d CPU, %d MB, %d GB, %d disks", fm.CPU, fm.RAMMB, fm.DiskGB, len(disks))
	}
	if size, _ := disks[1].Get("SIZE"); size != "512" {
		t.Errorf("the template's second disk is %s MB, want 512", size)
	}
}

func TestDescribeAndDeleteByName(t *testing.T) {
	w := newWorld(t)
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-name", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.conn.Describe(ctxFor(t), m.Name)
	if err != nil || d.ID != m.ID {
		t.Fatalf("Describe(%q) = %+v, %v; want VM %s", m.Name, d, err, m.ID)
	}
	twin := w.spec("dep-name", "web.1")
	twin.Labels[connectors.LabelInstance] = "web.9"
	if _, err := w.conn.Create(ctxFor(t), twin); err != nil {
		t.Fatal(err)
	}
	if _, err := w.conn.Describe(ctxFor(t), m.Name); asError(t, err).Code != "AmbiguousName" {
		t.Errorf("a name two VMs have: %v", err)
	}
	if _, err := w.conn.Describe(ctxFor(t), "no-such-vm"); !connectors.IsNotFound(err) {
		t.Errorf("a name no VM has: %v", err)
	}
	if err := w.conn.Delete(ctxFor(t), "no-such-vm"); err != nil {
		t.Errorf("deleting a name no VM has: %v", err)
	}
}

func TestDeleteWaitsOutAPowerOff(t *testing.T) {
	w := newWorld(t, func(o *onefake.Options) { o.Cloud.StopDelay = 300 * time.Millisecond })
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-del", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.cloud.WaitMachine(ctxFor(t), m.ID, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.cloud.Stop(m.ID); err != nil { // OpenNebula refuses a terminate while it powers off
		t.Fatal(err)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatalf("delete of a VM powering off: %v", err)
	}
	if fm, _ := w.cloud.Machine(m.ID); fm.State != fakecloud.Terminated {
		t.Errorf("after Delete the VM is %s", fm.State)
	}
	if w.cloud.Calls("one.vm.action") < 2 {
		t.Errorf("the refused terminate was not asked again (%d actions)", w.cloud.Calls("one.vm.action"))
	}
	if _, err := w.conn.Describe(ctxFor(t), m.ID); asError(t, err).Code != "DONE" {
		t.Errorf("Describe of a DONE VM: %v", err)
	}
}

func TestFailedVMIsAnErrorWithItsReason(t *testing.T) {
	w := newWorld(t)
	w.cloud.Faults.DieAfterBoot(1, 10*time.Millisecond)
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-die", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	var d *connectors.Machine
	err = connectors.WaitFor(ctxFor(t), connectors.PollBackoff, "the machine to fail", func(ctx context.Context) (bool, string, error) {
		d, err = w.conn.Describe(ctx, m.ID)
		return err == nil && d.State == connectors.StateError, "", err
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Reason != "BOOT_FAILURE: the machine stopped unexpectedly" {
		t.Errorf("reason %q", d.Reason)
	}
}

func TestStuckPendingShowsTheSchedulersMessage(t *testing.T) {
	w := newWorld(t, func(o *onefake.Options) { o.SchedMessageAfter = time.Millisecond })
	w.cloud.Faults.StuckPending(1)
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-stuck", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	d, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil || d.State != connectors.StatePending || !strings.Contains(d.Reason, "Cannot dispatch VM to any Host") {
		t.Errorf("a VM the scheduler cannot place: %+v, %v", d, err)
	}
}

func TestSnapshotAgainTakesTheSameImage(t *testing.T) {
	w := newWorld(t)
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"slipstream-image": "lamp_base", "slipstream-content": "abc\"def"}
	img, err := w.conn.Snapshot(ctxFor(t), m.ID, "lamp-base-1", labels)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.conn.Snapshot(ctxFor(t), m.ID, "lamp-base-1", labels)
	if err != nil || again != img {
		t.Errorf("a second Snapshot of the same name: %q, %v; want %s", again, err, img)
	}
	if n := w.cloud.Calls("one.vm.disksaveas"); n != 1 {
		t.Errorf("%d save-as for two Snapshots of one name", n)
	}
	id, _ := strconv.Atoi(img)
	info, err := w.conn.imageInfo(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	got := labelsOf(&info.Template.Template)
	if got["slipstream-image"] != "lamp_base" || got["slipstream-content"] != "abc\"def" {
		t.Errorf("the image's labels: %v", got)
	}
	// The image is the size of the VM's disk (10 GB), not of its image.
	if saved, _ := info.Template.GetStr("SAVED_VM_ID"); saved != m.ID || info.Size != 10*1024 {
		t.Errorf("the image: SAVED_VM_ID %q, %d MB", saved, info.Size)
	}
	// The VM stays powered off; its image cannot go while a VM uses it.
	if d, _ := w.conn.Describe(ctxFor(t), m.ID); d.State != connectors.StateStopped {
		t.Errorf("the snapshotted VM is %s", d.State)
	}
	spec := w.spec("dep-snap", "web.1")
	spec.ImageID = img
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m2, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	err = w.conn.DeleteImage(ctxFor(t), img)
	if ce := asError(t, err); ce.Code != "ACTION" || !strings.Contains(ce.Message, "There are 1 VMs using it") {
		t.Errorf("deleting an image in use: %v", err)
	}
	if err := w.conn.Delete(ctxFor(t), m2.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.conn.DeleteImage(ctxFor(t), img); err != nil {
		t.Errorf("DeleteImage: %v", err)
	}
	if err := w.conn.DeleteImage(ctxFor(t), "x"); asError(t, err).Code != "InvalidImage" {
		t.Errorf("DeleteImage of a malformed id: %v", err)
	}
}

func TestSnapshotPowersOffHardWhenACPIDoesNothing(t *testing.T) {
	var first []byte
	w := newWorldBehind(t, intercept("one.vm.action", 1, func(_ http.Handler, w http.ResponseWriter, r *http.Request) {
		// The guest ignores the ACPI poweroff: oned accepts, nothing happens.
		first, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<methodResponse><params><param><value><array><data><value><boolean>1</boolean></value><value><i4>1</i4></value><value><i4>0</i4></value></data></array></value></param></params></methodResponse>`)
	}))
	w.conn.softStop = 50 * time.Millisecond
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-acpi", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.conn.Snapshot(ctxFor(t), m.ID, "img", nil); err != nil {
		t.Fatalf("Snapshot of a VM that ignores ACPI: %v", err)
	}
	if !bytes.Contains(first, []byte("<string>poweroff</string>")) {
		t.Errorf("the first action is not the ACPI poweroff: %s", first)
	}
	if n := w.cloud.Calls("one.vm.action"); n != 1 { // the intercepted soft one never reached the fake
		t.Errorf("%d actions reached the fake, want the one poweroff-hard", n)
	}
}

func TestStateMapping(t *testing.T) {
	for _, tc := range []struct {
		state, lcm int
		err        string
		want       connectors.State
		reason     string
	}{
		{1, 0, "", connectors.StatePending, ""},
		{2, 0, "", connectors.StatePending, "on hold: OpenNebula deploys the VM once it is released"},
		{3, 1, "", connectors.StatePending, ""},
		{3, 2, "", connectors.StatePending, ""},
		{3, 3, "", connectors.StateRunning, ""},
		{3, 17, "", connectors.StateRunning, ""},
		{3, 16, "", connectors.StatePending, "UNKNOWN: OpenNebula cannot reach the VM's host for now"},
		{3, 18, "", connectors.StateStopping, ""},
		{8, 0, "", connectors.StateStopped, ""},
		{4, 0, "", connectors.StateStopped, ""},
		{9, 0, "", connectors.StateStopped, ""},
		{3, 12, "", connectors.StateTerminating, ""},
		{3, 11, "", connectors.StateTerminating, ""},
		{6, 0, "", connectors.StateTerminated, ""},
		{3, 36, "Error deploying virtual machine: no space left", connectors.StateError, "BOOT_FAILURE: Error deploying virtual machine: no space left"},
		{3, 39, "", connectors.StateError, "PROLOG_FAILURE"},
		{11, 0, "", connectors.StateError, "its disk images could not be cloned (CLONING_FAILURE)"},
		{3, 99, "", connectors.StateError, "unknown OpenNebula LCM state 99"},
		{7, 0, "", connectors.StateError, "unknown OpenNebula VM state 7"},
	} {
		v := &vm.VM{StateRaw: tc.state, LCMStateRaw: tc.lcm}
		if tc.err != "" {
			v.UserTemplate.AddPair("ERROR", tc.err)
		}
		got, reason := stateOf(v)
		if got != tc.want || reason != tc.reason {
			t.Errorf("STATE %d LCM_STATE %d: %s %q, want %s %q", tc.state, tc.lcm, got, reason, tc.want, tc.reason)
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		nics            [][2]string // IP, EXTERNAL_IP
		private, public string
	}{
		{[][2]string{{"10.0.0.5", ""}}, "10.0.0.5", ""},
		{[][2]string{{"10.0.0.5", "192.0.2.7"}}, "10.0.0.5", "192.0.2.7"},
		{[][2]string{{"10.0.0.5", ""}, {"8.8.4.4", ""}}, "10.0.0.5", "8.8.4.4"},
		{[][2]string{{"198.18.0.3", ""}}, "198.18.0.3", ""},
		{nil, "", ""},
	} {
		v := &vm.VM{}
		for _, n := range tc.nics {
			nic := v.Template.AddVector("NIC")
			nic.AddPair("IP", n[0])
			if n[1] != "" {
				nic.AddPair("EXTERNAL_IP", n[1])
			}
		}
		if p, q := addresses(&v.Template.Template); p != tc.private || q != tc.public {
			t.Errorf("%v: private %q public %q, want %q %q", tc.nics, p, q, tc.private, tc.public)
		}
	}
}

func TestCredentialsFromTheEnvironmentAndOneAuth(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/one_auth", "alice:s3cr:et\n")
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	home := func() (string, error) { return dir, nil }
	for _, tc := range []struct {
		what     string
		settings connectors.Settings
		env      map[string]string
		want     rpcConfig
		err      string
	}{
		{"settings win", connectors.Settings{"endpoint": "https://one.example.com/RPC2", "username": "u", "password": "p"},
			map[string]string{EnvUsername: "x", EnvPassword: "y"}, rpcConfig{endpoint: "https://one.example.com/RPC2", username: "u", password: "p"}, ""},
		{"Terraform provider variables", nil, map[string]string{EnvEndpoint: "http://a:2633/RPC2", EnvUsername: "tf", EnvPassword: "pw", EnvXMLRPC: "http://b/RPC2"},
			rpcConfig{endpoint: "http://a:2633/RPC2", username: "tf", password: "pw"}, ""},
		{"CLI variables and ONE_AUTH", nil, map[string]string{EnvXMLRPC: "http://b:2633/RPC2", EnvAuth: dir + "/one_auth"},
			rpcConfig{endpoint: "http://b:2633/RPC2", username: "alice", password: "s3cr:et"}, ""},
		{"the CLI's defaults", nil, map[string]string{}, rpcConfig{}, "one_auth does not exist"},
		{"a username without password", connectors.Settings{"username": "u"}, nil, rpcConfig{}, `no password for user "u"`},
		{"credentials in the URL", connectors.Settings{"endpoint": "https://u:p@one/RPC2", "username": "u", "password": "p"}, nil, rpcConfig{}, "holds credentials"},
		{"not a URL", connectors.Settings{"endpoint": "one.example.com", "username": "u", "password": "p"}, nil, rpcConfig{}, "not an http or https URL"},
	} {
		got, err := openNebulaCredentials(tc.settings, env(tc.env), home)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error saying %q", tc.what, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %+v, %v; want %+v", tc.what, got, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), ":p@")) {
			t.Errorf("%s: the error shows a password: %v", tc.what, err)
		}
	}
	got, err := openNebulaCredentials(nil, env(nil), home)
	if err == nil || !strings.Contains(err.Error(), dir+"/.one/one_auth") {
		t.Errorf("without ONE_AUTH the CLI's ~/.one/one_auth is read: %+v, %v", got, err)
	}
	writeFile(t, dir+"/bad_auth", "just-a-token\n")
	_, err = openNebulaCredentials(nil, env(map[string]string{EnvAuth: dir + "/bad_auth"}), home)
	if err == nil || strings.Contains(err.Error(), "just-a-token") || !strings.Contains(err.Error(), `"user:password"`) {
		t.Errorf("a ONE_AUTH file without user:password: %v", err)
	}
}

func TestErrorClassification(t *testing.T) {
	w := newWorld(t)
	c := w.conn
	for _, tc := range []struct {
		code int
		msg  string
		kind connectors.Kind
		name string
	}{
		{0x100, "[one.vm.info] User couldn't be authenticated, aborting call.", connectors.KindPermanent, "AUTHENTICATION"},
		{0x200, "[one.vm.allocate] User [2] : user [2] limit of 4 reached for CPU quota in VM.", connectors.KindPermanent, "AUTHORIZATION"},
		{0x400, "[one.vm.info] Error getting virtual machine [9].", connectors.KindNotFound, "NO_EXISTS"},
		{0x800, `[one.vm.action] Error performing action "terminate-hard": Could not terminate VM 9, wrong state ACTIVE.`, connectors.KindPermanent, "ACTION"},
		{0x1000, "[one.vmpool.info] Incorrect filter_flag, state", connectors.KindPermanent, "XML_RPC_API"},
		{0x2000, "[one.vm.info] Cannot process request, no leader found", connectors.KindTransient, "INTERNAL"},
		{0x2000, "[one.vmpool.info] JSON query search is not supported by the SQL backend", connectors.KindPermanent, "INTERNAL"},
		{0x4000, "[one.vm.allocate] Error allocating a new virtual machine. Cannot get IP/MAC lease from virtual network 0.", connectors.KindPermanent, "ALLOCATE"},
		{0x8000, "[one.vm.action] The resource virtual machine is locked. [9].", connectors.KindPermanent, "LOCKED"},
		{0x10000, "[one.vm.allocate] Error replicating log entry 7.", connectors.KindTransient, "REPLICATION"},
	} {
		err := c.apiErr("one.vm.info", &callError{Method: "one.test", Err: responseError(tc.code, tc.msg)})
		ce := asError(t, err)
		if ce.Kind != tc.kind || ce.Code != tc.name || ce.Message != tc.msg || ce.Op != "one.test" || ce.Cloud != Name {
			t.Errorf("code 0x%X: %+v, want kind %s code %s", tc.code, ce, tc.kind, tc.name)
		}
		if !rejected(err) {
			t.Errorf("code 0x%X is an answer of oned: it made nothing", tc.code)
		}
	}
	if ce := asError(t, c.apiErr("one.vm.info", context.Canceled)); ce.Kind != connectors.KindPermanent {
		t.Errorf("cancelled: %+v", ce)
	}
}

func TestCreateBatchNamesItsMachines(t *testing.T) {
	w := newWorld(t)
	spec := w.spec("dep-b", "")
	spec.Name = "dep-b-" + strings.Repeat("w", 60)
	ms, err := w.conn.CreateBatch(ctxFor(t), spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		if len(m.Name) > 63 {
			t.Errorf("name %q is longer than a hostname label", m.Name)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != 3 || !regexp.MustCompile(`^dep-b-w+-[0-9a-f]{8}$`).MatchString(names[2]) {
		t.Errorf("batch names %v: want three of their own (connectors.BatchNames)", names)
	}
	if _, err := w.conn.CreateBatch(ctxFor(t), spec, 0); asError(t, err).Code != "InvalidCount" {
		t.Errorf("a batch of 0: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func responseError(code int, msg string) error {
	return &errs.ResponseError{Code: errs.OneErrCode(code), Msg: msg}
}

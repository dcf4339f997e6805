package opennebula

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/opennebula/onefake"
)

// stratusLabWorld is the fake as StratusLab's one-proxy, and a stratuslab
// connector given the proxy's URL as the StratusLab client was
// (…/xmlrpc, without the /pswd/ its password login goes to).
func stratusLabWorld(t *testing.T, opts ...func(*onefake.Options)) *world {
	t.Helper()
	w := newWorld(t, append([]func(*onefake.Options){func(o *onefake.Options) { o.OneProxy = true }}, opts...)...)
	w.conn = w.stratusLab(t, w.fake.Options().Password)
	return w
}

func (w *world) stratusLab(t *testing.T, password string) *Connector {
	t.Helper()
	endpoint := strings.TrimSuffix(w.url, onefake.ProxyPath) + "/xmlrpc"
	c, err := newStratusLab(connectors.Settings{"endpoint": endpoint, "username": w.fake.Options().Username, "password": password}, noEnv, noHome)
	if err != nil {
		t.Fatal(err)
	}
	return quick(c)
}

func TestStratusLabConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T) *connectortest.Harness {
		w := stratusLabWorld(t)
		h := w.harness()
		h.Name = StratusLabName
		return h
	})
}

func TestStratusLabEndpoints(t *testing.T) {
	for _, tc := range []struct {
		given, want string
		proxy       bool
	}{
		{"cloud.lal.stratuslab.eu", "https://cloud.lal.stratuslab.eu:2634/pswd/xmlrpc", true},
		{"cloud.example.com:8443", "https://cloud.example.com:8443/pswd/xmlrpc", true},
		{"https://cloud.lal.stratuslab.eu/one-proxy/xmlrpc", "https://cloud.lal.stratuslab.eu/one-proxy/pswd/xmlrpc", true},
		{"https://cloud.example.com:2634/pswd/xmlrpc", "https://cloud.example.com:2634/pswd/xmlrpc", true},
		{"https://one.example.com:2633/RPC2", "https://one.example.com:2633/RPC2", false},
	} {
		got, proxy, err := stratusLabEndpoint(tc.given)
		if err != nil || got != tc.want || proxy != tc.proxy {
			t.Errorf("%s: %s (one-proxy %v), %v; want %s (%v)", tc.given, got, proxy, err, tc.want, tc.proxy)
		}
	}
	if _, _, err := stratusLabEndpoint("ftp://cloud.example.com/xmlrpc"); err == nil {
		t.Error("an ftp endpoint was taken")
	}
}

func TestStratusLabProxyRefusesAWrongPassword(t *testing.T) {
	w := stratusLabWorld(t)
	_, err := w.stratusLab(t, "wrong").Describe(ctxFor(t), "1")
	ce := asError(t, err)
	if ce.Cloud != StratusLabName || ce.Kind != connectors.KindPermanent || ce.Status != 401 || !strings.Contains(ce.Message, "refused the credentials") {
		t.Errorf("a wrong password at the one-proxy: %+v", ce)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestStratusLabContextualization(t *testing.T) {
	w := stratusLabWorld(t)
	spec := w.spec("dep-sl", "web.1")
	spec.SSHPublicKey = connectortest.TestPublicKey
	spec.UserData = "#cloud-config\nruncmd:\n  - echo \"$HOME\" ]]> \u00e9t\u00e9\n" + strings.Repeat("# padding\n", 500)
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if string(fm.UserData) != spec.UserData || len(fm.SSHKeys) != 1 || fm.SSHKeys[0] != connectortest.TestPublicKey {
		t.Errorf("the machine got user-data %d bytes (want %d) and keys %q", len(fm.UserData), len(spec.UserData), fm.SSHKeys)
	}
	if fm.Type != "m1.small" || fm.CPU != 1 || fm.RAMMB != 1536 {
		t.Errorf("sized %s: %d CPU, %d MB; want StratusLab's m1.small", fm.Type, fm.CPU, fm.RAMMB)
	}
	v := w.vmInfo(t, m.ID)
	ctx := contextOf(t, v)
	if ctx["CONTEXT_METHOD"] != "cloud-init" || ctx["PUBLIC_KEY"] != connectortest.TestPublicKey || ctx["USER_DATA"] != "" {
		t.Errorf("StratusLab's CONTEXT: %v", ctx)
	}
	keys, _ := base64.StdEncoding.DecodeString(ctx["CLOUD_INIT_AUTHORIZED_KEYS"])
	if string(keys) != connectortest.TestPublicKey+"\n" {
		t.Errorf("CLOUD_INIT_AUTHORIZED_KEYS holds %q", keys)
	}
	gz, _ := base64.StdEncoding.DecodeString(ctx["CLOUD_INIT_USER_DATA"])
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("CLOUD_INIT_USER_DATA is not gzip in base64: %v", err)
	}
	if ud, _ := io.ReadAll(zr); string(ud) != spec.UserData {
		t.Errorf("CLOUD_INIT_USER_DATA inflates to %d bytes, not the user-data", len(ud))
	}
	swap := v.Template.GetDisks()
	if len(swap) != 2 {
		t.Fatalf("%d disks, want the image and a swap disk", len(swap))
	}
	if typ, _ := swap[1].Get("TYPE"); typ != "swap" {
		t.Errorf("the second disk is %q, want swap", typ)
	}
	d, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil || d.Type != "m1.small" || d.Settings.String("ssh_public_key") != connectortest.TestPublicKey || d.Settings.String("network") != StratusLabNetwork {
		t.Errorf("Describe: %+v, %v", d, err)
	}

	// StratusLab's limit: 16 KB of gzipped user-data.
	big := make([]byte, 20000)
	_, _ = rand.Read(big)
	spec.UserData = base64.StdEncoding.EncodeToString(big)
	_, err = w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Code != "InvalidUserData" || !strings.Contains(ce.Message, "at most 16384") {
		t.Errorf("user-data over StratusLab's limit: %v", err)
	}
}

func TestStratusLabInstanceTypes(t *testing.T) {
	w := stratusLabWorld(t)
	offers, err := w.conn.Offers(ctxFor(t))
	if err != nil || len(offers) != len(stratusLabTypes) {
		t.Fatalf("offers %v, %v", offers, err)
	}
	for _, tc := range []struct {
		size connectors.Size
		want string
	}{{connectors.Size{}, "t1.micro"}, {connectors.Size{CPU: 1, RAMGB: 1}, "m1.small"}, {connectors.Size{CPU: 2, RAMGB: 1}, "c1.medium"}, {connectors.Size{CPU: 4, RAMGB: 8}, "m1.xlarge"}} {
		if o, err := connectors.PickOffer(StratusLabName, offers, tc.size); err != nil || o.Name != tc.want {
			t.Errorf("%s: %+v, %v; want %s", tc.size, o, err, tc.want)
		}
	}
	spec := w.spec("dep-it", "web.1")
	spec.Type = "m9.huge"
	_, err = w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Code != "InvalidInstanceType" || !strings.Contains(ce.Message, "c1.medium, c1.xlarge, m1.large") {
		t.Errorf("an unknown instance type: %v", err)
	}
	// Without a type the client's default, m1.small, applies to a spec of no size.
	spec.Type, spec.Size = "", connectors.Size{}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if fm, _ := w.cloud.Machine(m.ID); fm.RAMMB != 1536 || fm.Type != "m1.small" || m.Type != "m1.small" {
		t.Errorf("a spec of no size and no type got %d MB, type %q (machine %q); want m1.small's 1536", fm.RAMMB, fm.Type, m.Type)
	}
}

func TestStratusLabConfigurationFile(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".stratuslab"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(home, stratusLabConfig), `# ----------------------------------------
[default]
selected_section = sl-cloud
endpoint_timeout = 5
username = nobody

[sl-cloud]
name = "StratusLab Cloud"
endpoint = cloud.lal.stratuslab.eu
username = alice
password = 50%% off ; a comment
 and more

[other]
endpoint = https://one.example.com:2633/RPC2
password = %(username)s-pw

[instance_types]
my.type = 4, 2048, 2048
m1.small = 2, 2048, 0
broken = 1, 2
`)
	homeFn := func() (string, error) { return home, nil }
	c, err := newStratusLab(nil, noEnv, homeFn)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.flavor.credentials(nil, noEnv, homeFn)
	want := rpcConfig{endpoint: "https://cloud.lal.stratuslab.eu:2634/pswd/xmlrpc", username: "alice", password: "50% off\nand more", basicAuth: true}
	if err != nil || cfg != want {
		t.Errorf("from the configuration file: %+v, %v; want %+v", cfg, err, want)
	}
	if it, ok := c.flavor.instanceType("my.type"); !ok || it.CPU != 4 || it.RAMMB != 2048 || it.SwapMB != 2048 {
		t.Errorf("the file's instance type: %+v, %v", it, ok)
	}
	if it, _ := c.flavor.instanceType("m1.small"); it.CPU != 2 {
		t.Errorf("the file's m1.small does not win over the client's: %+v", it)
	}
	if _, ok := c.flavor.instanceType("broken"); ok {
		t.Error("an instance type of two numbers was taken")
	}
	section := func(k string) string {
		return map[string]string{EnvStratusLabSection: "other"}[k]
	}
	c, err = newStratusLab(connectors.Settings{"username": "bob"}, section, homeFn)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = c.flavor.credentials(connectors.Settings{"username": "bob"}, section, homeFn)
	if want := (rpcConfig{endpoint: "https://one.example.com:2633/RPC2", username: "bob", password: "nobody-pw"}); err != nil || cfg != want {
		t.Errorf("section %s: %+v, %v; want %+v", "other", cfg, err, want)
	}
	writeFile(t, filepath.Join(home, stratusLabConfig), "[default]\npassword = 100% secret\n")
	if _, err := newStratusLab(nil, noEnv, homeFn); err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "%%") {
		t.Errorf("a lone %% in the file: %v", err)
	}
	if _, err := newStratusLab(nil, noEnv, noHome); err == nil || !strings.Contains(err.Error(), EnvStratusLabEndpoint) {
		t.Errorf("no endpoint anywhere: %v", err)
	}
}

func TestStratusLabMarketplaceIdentifier(t *testing.T) {
	w := stratusLabWorld(t)
	const id = "BN1EEkPiBx87_uLj2-sdybSI-Xb"
	spec := w.spec("dep-mkt", "web.1")
	spec.ImageID = id
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	_, err := w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Code != "InvalidImage" || !strings.Contains(ce.Message, MarketplaceAttr) {
		t.Errorf("a Marketplace identifier no image carries: %v", err)
	}
	if err := w.conn.one.Image(baseImage).UpdateContext(ctxFor(t), MarketplaceAttr+` = "`+id+`"`, parameters.Merge); err != nil {
		t.Fatal(err)
	}
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if fm, _ := w.cloud.Machine(m.ID); fm.ImageID != w.image {
		t.Errorf("the machine started from image %s, want %s", fm.ImageID, w.image)
	}
	if d, err := w.conn.Describe(ctxFor(t), m.ID); err != nil || d.ImageID != id {
		t.Errorf("Describe: image %q, %v; want the identifier %s", d.ImageID, err, id)
	}
}

func TestStratusLabDefaultNetworkIsPublic(t *testing.T) {
	w := stratusLabWorld(t, func(o *onefake.Options) {
		o.Networks = []onefake.Network{{ID: 5, Name: "local", Owner: "oneadmin"}, {ID: 6, Name: "public", Owner: "oneadmin"}}
	})
	m, err := w.conn.Create(ctxFor(t), w.spec("dep-pub", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := w.vmInfo(t, m.ID).Template.GetStrFromVec("NIC", "NETWORK_ID"); id != "6" {
		t.Errorf("the VM is on network %s, want public (6)", id)
	}
}

// A stratuslab connector pointed at an OpenNebula front-end (…/RPC2)
// speaks OpenNebula's own authentication.
func TestStratusLabOnAnOpenNebulaFrontEnd(t *testing.T) {
	w := newWorld(t)
	c, err := newStratusLab(connectors.Settings{"endpoint": w.url, "username": onefake.DefaultUsername, "password": onefake.DefaultPassword}, noEnv, noHome)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quick(c).Create(ctxFor(t), w.spec("dep-one", "web.1")); err != nil {
		t.Errorf("a create through oned's endpoint: %v", err)
	}
}

// An instance type's swap disk does not take the place of a VM template's
// disks (OpenNebula replaces a template's DISKs with the extra template's).
func TestStratusLabTemplateKeepsItsDisksBesideTheSwap(t *testing.T) {
	w := stratusLabWorld(t)
	id, err := w.fake.AddTemplate("sl", `CPU = 1
MEMORY = 512
DISK = [ IMAGE_ID = 7, SIZE = 4096 ]
NIC = [ NETWORK_ID = 0 ]`)
	if err != nil {
		t.Fatal(err)
	}
	spec := w.spec("dep-sltpl", "web.1")
	spec.ImageID, spec.Type = "template:"+strconv.Itoa(id), "m1.large"
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	disks := w.vmInfo(t, m.ID).Template.GetDisks()
	if len(disks) != 2 {
		t.Fatalf("%d disks, want the template's and the swap", len(disks))
	}
	img, _ := disks[0].Get("IMAGE_ID")
	size, _ := disks[0].Get("SIZE")
	typ, _ := disks[1].Get("TYPE")
	swap, _ := disks[1].Get("SIZE")
	if img != "7" || size != "10240" || typ != "swap" || swap != "6144" {
		t.Errorf("disks: image %s of %s MB, then %s of %s MB; want image 7 grown to the spec's 10 GB, then m1.large's 6144 MB swap", img, size, typ, swap)
	}
	if fm, _ := w.cloud.Machine(m.ID); fm.CPU != 2 || fm.RAMMB != 6144 || fm.Type != "m1.large" {
		t.Errorf("the machine: %+v", fm)
	}
}

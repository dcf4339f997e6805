package onefake

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe test@example"

func newFake(t testing.TB, opts ...func(*Options)) *Fake {
	t.Helper()
	o := Options{}
	for _, fn := range opts {
		fn(&o)
	}
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.AddImage(7, "debian-12", 2252); err != nil {
		t.Fatal(err)
	}
	return f
}

// rpc calls the fake as goca does; it returns the answer's array, or the
// fault.
func rpc(t testing.TB, f *Fake, method string, args ...any) ([]any, error) {
	t.Helper()
	body, err := xmlrpc.EncodeMethodCall(method, args...)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", method, rec.Code, rec.Body)
	}
	resp := xmlrpc.Response(rec.Body.Bytes())
	if err := resp.Err(); err != nil {
		return nil, err
	}
	var out []any
	if err := resp.Unmarshal(&out); err != nil {
		t.Fatalf("%s: the answer is not XML-RPC: %v\n%s", method, err, rec.Body)
	}
	return out, nil
}

func session(f *Fake) string { return f.opts.Username + ":" + f.opts.Password }

// ok calls and wants OpenNebula's success.
func ok(t testing.TB, f *Fake, method string, args ...any) any {
	t.Helper()
	out, err := rpc(t, f, method, append([]any{session(f)}, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if len(out) != 3 || out[0] != true {
		t.Fatalf("%s: %v", method, out)
	}
	return out[1]
}

// failed calls and wants OpenNebula's failure: its code and message.
func failed(t testing.TB, f *Fake, method string, args ...any) (int64, string) {
	t.Helper()
	out, err := rpc(t, f, method, append([]any{session(f)}, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if len(out) != 5 || out[0] != false {
		t.Fatalf("%s: %v, want a failure [false, message, code, id, replication index]", method, out)
	}
	return out[2].(int64), out[1].(string)
}

func TestParseTemplate(t *testing.T) {
	got, err := ParseTemplate(`# comment
NAME = "web \"one\""
  cpu=0.5
MEMORY =
xml_x = "lower-case xml is kept"
XMLRPC = "upper-case XML is not"
1ST = bare
DISK = [ IMAGE_ID = "7", size = 20480,
  image_id = "8" ]
NIC = [ ]
CONTEXT = [
  USER_DATA = "line 1
line 2 with \ and $VAR",
  NETWORK = YES ]
A="x" B="y"
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []*Attr{
		{Name: "NAME", Value: `web "one"`}, {Name: "CPU", Value: "0.5"}, {Name: "MEMORY"}, {Name: "XML_X", Value: "lower-case xml is kept"},
		{Name: "ONE_XMLRPC", Value: "upper-case XML is not"}, {Name: "ONE_1ST", Value: "bare"},
		{Name: "DISK", Vec: map[string]string{"IMAGE_ID": "7", "SIZE": "20480"}}, {Name: "NIC", Vec: map[string]string{}},
		{Name: "CONTEXT", Vec: map[string]string{"USER_DATA": "line 1\nline 2 with \\ and $VAR", "NETWORK": "YES"}},
		{Name: "A", Value: "x"}, {Name: "B", Value: "y"},
	}
	if !reflect.DeepEqual(got.Attrs(), want) {
		for _, a := range got.Attrs() {
			t.Logf("%+v", *a)
		}
		t.Errorf("parsed differently")
	}
	for text, says := range map[string]string{
		`A = "x ]]> y"`:       "CDATA",
		`A = x]]>`:            "CDATA",
		`A = "no end`:         "no closing quote",
		`A "x"`:               "expecting =",
		`= "x"`:               "attribute name",
		`A = [ B = "x" C = y`: "expected , or ]",
		`A = [ B = ]`:         "expecting a value",
		"A = [ B =\n]":        "empty value",
		`A = ,`:               "expecting a value",
	} {
		if _, err := ParseTemplate(text); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want an error saying %q", text, err, says)
		}
	}
}

func TestMergeIsOnedsMerge(t *testing.T) {
	base, _ := ParseTemplate(`CPU = 1
DISK = [ IMAGE_ID = 7 ]
DISK = [ TYPE = swap, SIZE = 512 ]
CONTEXT = [ A = 1, B = 2 ]
NIC = [ NETWORK_ID = 0 ]`)
	extra, _ := ParseTemplate(`CPU = 2
CONTEXT = [ C = 3 ]
NIC = [ ]`)
	base.Merge(extra)
	if cpu, _ := base.Get("CPU"); cpu != "2" || len(base.Vectors("DISK")) != 2 || len(base.Vectors("NIC")) != 0 {
		t.Errorf("merged: %s", base.XML("T"))
	}
	if c := base.Vector("CONTEXT"); !reflect.DeepEqual(c.Vec, map[string]string{"C": "3"}) {
		t.Errorf("the CONTEXT given replaces the template's: %v", c.Vec)
	}
	if got := base.XML("TEMPLATE"); got != "<TEMPLATE><CONTEXT><C>3</C></CONTEXT><CPU>2</CPU><DISK><IMAGE_ID>7</IMAGE_ID></DISK><DISK><SIZE>512</SIZE><TYPE>swap</TYPE></DISK></TEMPLATE>" {
		t.Errorf("XML %s", got)
	}
}

func TestProtocolFaultsAndAuthentication(t *testing.T) {
	f := newFake(t)
	for _, tc := range []struct {
		body string
		code int
	}{
		{"not xml", faultParse},
		{"<methodCall><methodName>one.vm.info</methodName><params><param><value><int>x</int></value></param></params></methodCall>", faultParse},
		{"<methodCall><methodName>one.vm.nosuch</methodName></methodCall>", faultNoSuchMethod},
		{"<methodCall><methodName>one.vm.info</methodName><params><param><value>s</value></param></params></methodCall>", faultIndex},
		{"<methodCall><methodName>one.vm.info</methodName><params><param><value>s</value></param><param><value><string>1</string></value></param></params></methodCall>", faultType},
		{"<methodCall><methodName>one.vm.info</methodName><params><param><value><int>1</int></value><param><value><int>1</int></value></param></param></params></methodCall>", faultParse},
		{"<methodCall><methodName>one.vm.info</methodName><params><param><value>" + strings.Repeat("<array><data><value>", 40) + "</params></methodCall>", faultLimitExceeded},
	} {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, strings.NewReader(tc.body)))
		var fe xmlrpc.FaultError
		if err := xmlrpc.Response(rec.Body.Bytes()).Err(); !errors.As(err, &fe) || fe.Code != tc.code {
			t.Errorf("%.60q: %v, want fault %d", tc.body, err, tc.code)
		}
	}
	out, err := rpc(t, f, "one.vm.info", "slipstream:wrong", 1, false)
	if err != nil || len(out) != 5 || out[0] != false || out[1] != "[one.vm.info] User couldn't be authenticated, aborting call." || out[2] != int64(0x100) {
		t.Errorf("wrong session: %v, %v", out, err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{{http.MethodGet, Path, 405}, {http.MethodPost, "/RPC3", 404}} {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
	proxy := newFake(t, func(o *Options) { o.OneProxy = true })
	body, _ := xmlrpc.EncodeMethodCall("one.vm.info", "anything:goes", 1, false)
	for user, status := range map[string]int{"": 401, "wrong": 401, DefaultUsername: 200} {
		req := httptest.NewRequest(http.MethodPost, ProxyPath, bytes.NewReader(body))
		if user != "" {
			pass := "nope"
			if user == DefaultUsername {
				pass = DefaultPassword
			}
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, req)
		if rec.Code != status {
			t.Errorf("one-proxy with user %q: %d, want %d", user, rec.Code, status)
		}
	}
}

func TestAllocateChecksAndVMActions(t *testing.T) {
	f := newFake(t, func(o *Options) {
		o.Networks = []Network{{ID: 0, Name: "public", Owner: oneadmin}, {ID: 1, Name: "mine", Owner: DefaultUsername}}
	})
	for tmpl, says := range map[string]string{
		`CPU = 1`:      "MEMORY attribute must be a positive integer value.",
		`MEMORY = 512`: "CPU attribute must be a positive float or integer value.",
		`CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 99 ]`:                                        "Image with ID: 99 does not exist",
		`CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7, SIZE = 10 ]`:                              "not smaller than the image's 2252 MB",
		`CPU = 1 MEMORY = 512 DISK = [ TYPE = swap ]`:                                          "Volatile disks must specify a SIZE.",
		`CPU = 1 MEMORY = 512 DISK = [ IMAGE = "debian-12" ]`:                                  "User slipstream does not own an image with name: debian-12",
		`CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ] NIC = [ NETWORK = public ]`:              "does not own a network with name: public",
		`CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ] NIC = [ NETWORK_ID = 9 ]`:                "Virtual network with ID: 9 does not exist",
		`CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ] CONTEXT = [ A = 1 ] CONTEXT = [ B = 2 ]`: "Only one CONTEXT attribute",
	} {
		code, msg := failed(t, f, "one.vm.allocate", tmpl, false)
		if code != codeAllocate || !strings.HasPrefix(msg, "[one.vm.allocate] Error allocating a new virtual machine.") || !strings.Contains(msg, says) {
			t.Errorf("%s: 0x%X %q, want ALLOCATE saying %q", tmpl, code, msg, says)
		}
	}
	userData := "#!/bin/sh\necho $HOME\n"
	id := ok(t, f, "one.vm.allocate", `NAME = "web"
CPU = 0.5
VCPU = 2
MEMORY = 1024
DISK = [ IMAGE = "debian-12", IMAGE_UNAME = oneadmin ]
NIC = [ NETWORK = mine ]
CONTEXT = [ NETWORK = YES, SSH_PUBLIC_KEY = "`+testKey+`", USER_DATA = "`+base64.StdEncoding.EncodeToString([]byte(userData))+`", USERDATA_ENCODING = base64, HOST = "$NAME-$VMID" ]
SLIPSTREAM_LABELS = [ SLIPSTREAM_DEPLOYMENT = d1 ]
LOGO = x`, true).(int64)
	m, err := f.cloud.Machine("1")
	if err != nil || id != 1 || m.Name != "web" || m.CPU != 2 || m.RAMMB != 1024 || m.State != fakecloud.Stopped || string(m.UserData) != userData ||
		len(m.SSHKeys) != 1 || m.Labels["slipstream-deployment"] != "d1" {
		t.Fatalf("VM %d, machine %+v, %v", id, m, err)
	}
	info := ok(t, f, "one.vm.info", 1, false).(string)
	for _, s := range []string{"<STATE>2</STATE>", "<HOST>web-1</HOST>", "<NETWORK>mine</NETWORK>", "<USER_TEMPLATE><LOGO>x</LOGO><SLIPSTREAM_LABELS>", "<DISK_ID>1</DISK_ID>"} {
		if !strings.Contains(info, s) {
			t.Errorf("one.vm.info lacks %s:\n%s", s, info)
		}
	}
	if code, msg := failed(t, f, "one.vm.action", "poweroff", 1); code != codeAction || !strings.Contains(msg, "wrong state HOLD") {
		t.Errorf("poweroff on hold: 0x%X %s", code, msg)
	}
	ok(t, f, "one.vm.action", "release", 1)
	if _, err := f.cloud.WaitMachine(t.Context(), "1", func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		t.Fatal(err)
	}
	if code, msg := failed(t, f, "one.vm.disksaveas", 1, 0, "img", "", -1); code != codeInternal || !strings.Contains(msg, "POWEROFF") {
		t.Errorf("save-as of a running VM: 0x%X %s", code, msg)
	}
	ok(t, f, "one.vm.update", 1, `SLIPSTREAM_LABELS = [ SLIPSTREAM_POOL = w ]`, 1)
	if m, _ := f.cloud.Machine("1"); !reflect.DeepEqual(m.Labels, map[string]string{"slipstream-pool": "w"}) {
		t.Errorf("labels after one.vm.update: %v", m.Labels)
	}
	if code, msg := failed(t, f, "one.vm.action", "suspend", 1); code != codeAction || !strings.Contains(msg, `Action "suspend" is not supported`) {
		t.Errorf("suspend: 0x%X %s", code, msg)
	}
	if code, _ := failed(t, f, "one.vmpool.infoextended", -2, -1, -1, -1, "VM.NAME=web"); code != codeInternal {
		t.Errorf("a JSON query: 0x%X, want INTERNAL as on SQLite", code)
	}
	if pool := ok(t, f, "one.vmpool.info", -2, -1, -1, 3).(string); !strings.Contains(pool, "<ID>1</ID>") || strings.Contains(pool, "LOGO") {
		t.Errorf("the short pool of ACTIVE VMs: %s", pool)
	}
	ok(t, f, "one.vm.action", "terminate-hard", 1)
	if _, err := f.cloud.WaitMachine(t.Context(), "1", func(m fakecloud.Machine) bool { return m.State == fakecloud.Terminated }); err != nil {
		t.Fatal(err)
	}
	if pool := ok(t, f, "one.vmpool.info", -2, -1, -1, -1).(string); pool != "<VM_POOL></VM_POOL>" {
		t.Errorf("the pool without DONE VMs: %s", pool)
	}
	if info := ok(t, f, "one.vm.info", 1, false).(string); !strings.Contains(info, "<STATE>6</STATE>") {
		t.Errorf("a terminated VM is DONE: %s", info)
	}
	ok(t, f, "one.vm.action", "terminate-hard", 1) // DONE: nothing to do
	if code, msg := failed(t, f, "one.vm.info", 99, false); code != codeNoExists || msg != "[one.vm.info] Error getting virtual machine [99]." {
		t.Errorf("unknown VM: 0x%X %q", code, msg)
	}
}

func TestStratusLabContextAndInjectedFaults(t *testing.T) {
	f := newFake(t)
	var gz bytes.Buffer
	gzw := gzipWriter(t, &gz)
	gzw.Write([]byte("#cloud-config\n"))
	gzw.Close()
	ok(t, f, "one.vm.allocate", `CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ]
CONTEXT = [ CONTEXT_METHOD = "cloud-init", CLOUD_INIT_USER_DATA = "`+base64.StdEncoding.EncodeToString(gz.Bytes())+
		`", CLOUD_INIT_AUTHORIZED_KEYS = "`+base64.StdEncoding.EncodeToString([]byte(testKey+"\n"))+`", USER_DATA = "ignored" ]`, false)
	if m, _ := f.cloud.Machine("1"); string(m.UserData) != "#cloud-config\n" || len(m.SSHKeys) != 1 || len(f.cloud.Keys()) != 1 {
		t.Errorf("StratusLab's cloud-init context: user-data %q, keys %q, key pairs %d", m.UserData, m.SSHKeys, len(f.cloud.Keys()))
	}
	tmpl := `CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ] NIC = [ NETWORK_ID = 0 ]`
	f.cloud.Faults.NoCapacity(1)
	if code, msg := failed(t, f, "one.vm.allocate", tmpl, false); code != codeAllocate || !strings.HasSuffix(msg, "Cannot get IP/MAC lease from virtual network 0.") {
		t.Errorf("capacity: 0x%X %s", code, msg)
	}
	f.cloud.Faults.OverQuota(1)
	if code, msg := failed(t, f, "one.vm.allocate", tmpl, false); code != codeAuthorization || !strings.Contains(msg, "reached for VMS quota in VM") {
		t.Errorf("quota: 0x%X %s", code, msg)
	}
	for fault, status := range map[string]int{"throttle": 429, "unavailable": 503} {
		if fault == "throttle" {
			f.cloud.Faults.Throttle(1)
		} else {
			f.cloud.Faults.Unavailable(1)
		}
		body, _ := xmlrpc.EncodeMethodCall("one.vm.info", session(f), 1, false)
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body)))
		if rec.Code != status {
			t.Errorf("%s: HTTP %d, want %d", fault, rec.Code, status)
		}
	}
}

func TestSchedMessageOfAStuckVM(t *testing.T) {
	f := newFake(t, func(o *Options) { o.SchedMessageAfter = time.Millisecond })
	f.cloud.Faults.StuckPending(1)
	ok(t, f, "one.vm.allocate", `CPU = 1 MEMORY = 512 DISK = [ IMAGE_ID = 7 ]`, false)
	time.Sleep(5 * time.Millisecond)
	if info := ok(t, f, "one.vm.info", 1, false).(string); !strings.Contains(info, "Cannot dispatch VM to any Host") || !strings.Contains(info, "<STATE>1</STATE>") {
		t.Errorf("a VM stuck pending: %s", info)
	}
}

// wellFormed reports whether s is one well-formed XML element.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	var v struct {
		XMLName xml.Name
		Inner   []byte `xml:",innerxml"`
	}
	return d.Decode(&v)
}

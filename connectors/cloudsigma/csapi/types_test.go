package csapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// runningServer is shaped on the reference's "Server Runtime and Server
// Details" dump (a running server with a DHCP NIC), with a private NIC,
// meta, a key and a tag added as the other dumps nest them.
const runningServer = `{
    "context": true, "cpu": 4000, "cpu_model": null, "cpu_type": "amd", "cpus_instead_of_cores": false,
    "drives": [{"boot_order": 1, "dev_channel": "0:0", "device": "virtio",
        "drive": {"resource_uri": "/api/2.0/drives/6b1a3fe4-5a4c-4d3a-9bf0-0e5c1b6b2f55/", "uuid": "6b1a3fe4-5a4c-4d3a-9bf0-0e5c1b6b2f55"},
        "runtime": {"io": {"bytes_read": 512}}}],
    "enable_numa": false, "grantees": [], "hypervisor": "kvm", "jobs": [], "mem": 2147483648,
    "meta": {"slipstream-deployment": "dep-1", "base64_fields": "cloudinit-user-data", "cloudinit-user-data": "IyEvYmluL3NoCg=="},
    "name": "dep-1-web-1",
    "nics": [
        {"boot_order": null, "ip_v4_conf": {"conf": "dhcp", "ip": null}, "ip_v6_conf": null, "mac": "22:b8:8c:17:fe:19", "model": "virtio",
         "runtime": {"interface_type": "public", "io": {"bytes_recv": 0}, "ip_v4": {"resource_uri": "/api/2.0/ips/203.0.113.7/", "uuid": "203.0.113.7"}, "ip_v6": null},
         "vlan": null},
        {"boot_order": null, "ip_v4_conf": null, "ip_v6_conf": null, "mac": "22:25:57:2a:dc:cc", "model": "virtio", "runtime": null,
         "vlan": {"resource_uri": "/api/2.0/vlans/10619300-edda-42ba-91e0-7e3df0689d00/", "uuid": "10619300-edda-42ba-91e0-7e3df0689d00"}}
    ],
    "owner": {"resource_uri": "/api/2.0/user/c2fc9982-cf2e-434a-bf63-e22a27b39f00/", "uuid": "c2fc9982-cf2e-434a-bf63-e22a27b39f00"},
    "permissions": [],
    "pubkeys": [{"resource_uri": "/api/2.0/pubkeys/fdd6fbba-644b-49d8-9324-ff6589179da3/", "uuid": "fdd6fbba-644b-49d8-9324-ff6589179da3"}],
    "requirements": [], "resource_uri": "/api/2.0/servers/4e31777b-92b5-4633-9f31-c28443a63cfd/",
    "runtime": {"active_since": "2015-03-19T13:52:51+00:00", "nics": [
        {"interface_type": "public", "io": {"bytes_recv": 0}, "ip_v4": {"resource_uri": "/api/2.0/ips/203.0.113.7/", "uuid": "203.0.113.7"}, "ip_v6": null, "mac": "22:b8:8c:17:fe:19"},
        {"interface_type": "private", "ip_v4": null, "mac": "22:25:57:2a:dc:cc"}]},
    "smp": 2, "status": "running",
    "tags": [{"resource_uri": "/api/2.0/tags/7b102579-e850-47cf-adf9-9c1a499b08f8/", "uuid": "7b102579-e850-47cf-adf9-9c1a499b08f8"}],
    "uuid": "4e31777b-92b5-4633-9f31-c28443a63cfd", "vnc_password": "testserver"
}`

func TestDecodeServer(t *testing.T) {
	var s Server
	if err := json.Unmarshal([]byte(runningServer), &s); err != nil {
		t.Fatal(err)
	}
	want := Server{
		UUID: "4e31777b-92b5-4633-9f31-c28443a63cfd", Name: "dep-1-web-1", CPU: 4000, SMP: 2, Mem: 2147483648,
		VNCPassword: "testserver", Status: StatusRunning,
		Drives: []ServerDrive{{BootOrder: 1, DevChannel: "0:0", Device: "virtio",
			Drive: Ref{UUID: "6b1a3fe4-5a4c-4d3a-9bf0-0e5c1b6b2f55", ResourceURI: "/api/2.0/drives/6b1a3fe4-5a4c-4d3a-9bf0-0e5c1b6b2f55/"}}},
		NICs: []NIC{
			{IPv4Conf: &IPConf{Conf: "dhcp"}, Model: "virtio", MAC: "22:b8:8c:17:fe:19",
				Runtime: &NICRuntime{InterfaceType: "public", IPv4: &Ref{UUID: "203.0.113.7", ResourceURI: "/api/2.0/ips/203.0.113.7/"}}},
			{Model: "virtio", MAC: "22:25:57:2a:dc:cc",
				VLAN: &Ref{UUID: "10619300-edda-42ba-91e0-7e3df0689d00", ResourceURI: "/api/2.0/vlans/10619300-edda-42ba-91e0-7e3df0689d00/"}},
		},
		Meta:    Meta{"slipstream-deployment": "dep-1", "base64_fields": "cloudinit-user-data", "cloudinit-user-data": "IyEvYmluL3NoCg=="},
		Pubkeys: []Ref{{UUID: "fdd6fbba-644b-49d8-9324-ff6589179da3", ResourceURI: "/api/2.0/pubkeys/fdd6fbba-644b-49d8-9324-ff6589179da3/"}},
		Tags:    []Ref{{UUID: "7b102579-e850-47cf-adf9-9c1a499b08f8", ResourceURI: "/api/2.0/tags/7b102579-e850-47cf-adf9-9c1a499b08f8/"}},
		Runtime: &ServerRuntime{ActiveSince: "2015-03-19T13:52:51+00:00", NICs: []NICRuntime{
			{InterfaceType: "public", IPv4: &Ref{UUID: "203.0.113.7", ResourceURI: "/api/2.0/ips/203.0.113.7/"}, MAC: "22:b8:8c:17:fe:19"},
			{InterfaceType: "private", MAC: "22:25:57:2a:dc:cc"}}},
		ResourceURI: "/api/2.0/servers/4e31777b-92b5-4633-9f31-c28443a63cfd/",
	}
	if !reflect.DeepEqual(s, want) {
		got, _ := json.MarshalIndent(s, "", " ")
		t.Errorf("decoded\n%s", got)
	}
}

// A server definition is sent as the "Creating" request dumps give one:
// references as bare uuids, no status, runtime or uuid.
func TestEncodeServerDefinition(t *testing.T) {
	s := Server{Name: "web", CPU: 2000, SMP: 1, Mem: 1 << 30, VNCPassword: "secret12",
		Drives:  []ServerDrive{{BootOrder: 1, DevChannel: "0:0", Device: "virtio", Drive: Ref{UUID: "d1"}}},
		NICs:    []NIC{{IPv4Conf: &IPConf{Conf: "dhcp"}, Model: "virtio"}, {VLAN: &Ref{UUID: "v1"}, Model: "virtio"}},
		Meta:    Meta{"k": "v"},
		Pubkeys: Refs("p1"),
		Tags:    Refs("t1", "t2"),
	}
	b, err := json.Marshal(objects[Server]{Objects: []Server{s}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	want := map[string]any{"objects": []any{map[string]any{
		"name": "web", "cpu": 2000.0, "smp": 1.0, "mem": float64(1 << 30), "vnc_password": "secret12",
		"drives": []any{map[string]any{"boot_order": 1.0, "dev_channel": "0:0", "device": "virtio", "drive": "d1"}},
		"nics": []any{
			map[string]any{"ip_v4_conf": map[string]any{"conf": "dhcp"}, "model": "virtio"},
			map[string]any{"vlan": "v1", "model": "virtio"},
		},
		"meta": map[string]any{"k": "v"}, "pubkeys": []any{"p1"}, "tags": []any{"t1", "t2"},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("encoded %s", b)
	}
}

func TestDecodeCapabilitiesWithFloats(t *testing.T) {
	var caps Capabilities
	err := json.Unmarshal([]byte(`{"default_storage_type": "dssd",
		"drives": {"dssd": {"max_size": 15492389427364, "min_size": 536870912, "size": {"max": 15492389427364, "min": 536870912}},
		           "zadara": {"max_size": 14180205493621, "min_size": 1073741824.0, "size": {"max": 14180205493621, "min": 1073741824.0}}},
		"hosts": {"amd": {"cpu": {"max": 96000, "min": 250}, "cpu_per_smp": {"max": 2893, "min": 1000}, "mem": {"max": 558345748480, "min": 268435456}, "smp": {"max": 32, "min": 1}}},
		"servers": {"cpu": {"max": 96000, "min": 250}, "smp": {"max": 32, "min": 1}, "start_methods": ["eager"]}}`), &caps)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Servers.CPU.Max != 96000 || caps.Hosts["amd"].CPUPerSMP.Max != 2893 || caps.Drives["zadara"].Size.Min != 1073741824 ||
		caps.Drives["dssd"].Size.Max != 15492389427364 || caps.DefaultStorageType != "dssd" {
		t.Errorf("capabilities %+v", caps)
	}
}

func TestRefAndMetaDecoding(t *testing.T) {
	for in, want := range map[string]Ref{
		`"abc"`:                               {UUID: "abc"},
		`null`:                                {},
		`{"uuid": "abc"}`:                     {UUID: "abc"},
		`{"uuid": 12, "resource_uri": "/x/"}`: {UUID: "12", ResourceURI: "/x/"},
	} {
		var r Ref
		if err := json.Unmarshal([]byte(in), &r); err != nil || r != want {
			t.Errorf("Ref %s = %+v, %v; want %+v", in, r, err, want)
		}
	}
	for _, bad := range []string{`12`, `[1]`, `true`, `{"uuid": [1`} {
		var r Ref
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("Ref %s decoded as %+v", bad, r)
		}
	}
	var m Meta
	if err := json.Unmarshal([]byte(`{"a": "b", "paid": false, "n": 3, "z": null}`), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, Meta{"a": "b", "paid": "false", "n": "3", "z": ""}) {
		t.Errorf("meta %v", m)
	}
	if err := json.Unmarshal([]byte(`null`), &m); err != nil || m != nil {
		t.Errorf("null meta: %v, %v", m, err)
	}
}

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		status              int
		body                string
		typ, point, message string
	}{
		{400, `[{"error_message": "This field is required", "error_point": "resource", "error_type": "validation"}]`, "validation", "resource", "resource: This field is required"},
		{403, `[{"error_point": null, "error_type": "permission", "error_message": "Cannot start guest in state \"started\". Guest should be in state \"stopped\""}]`,
			"permission", "", `Cannot start guest in state "started". Guest should be in state "stopped"`},
		{404, `{"error_point": null, "error_type": "notexist", "error_message": "gone"}`, "notexist", "", "gone"},
		{400, `[{"error_type": "validation", "error_message": "a"}, {"error_type": "validation", "error_message": "b", "error_point": "cpu"}]`, "validation", "cpu", "a; cpu: b"},
		{502, "<html><body>Bad   Gateway\n</body></html>", "", "", "Bad Gateway: <html><body>Bad Gateway </body></html>"},
		{503, "", "", "", "Service Unavailable"},
		{429, `[{"error_type": 7, "error_message": ["x", "y"]}]`, "7", "", `["x", "y"]`},
		{599, "\xff\xfe", "", "", "unexpected answer: \uFFFD"},
	} {
		e := DecodeError(tc.status, []byte(tc.body))
		if e.Status != tc.status || e.Type() != tc.typ || e.Point() != tc.point || e.Message() != tc.message {
			t.Errorf("DecodeError(%d, %q) = type %q point %q message %q", tc.status, tc.body, e.Type(), e.Point(), e.Message())
		}
	}
	long := DecodeError(500, []byte(strings.Repeat("é", 300)))
	if len(long.Body) > maxBodyInMessage+len("…") || !strings.HasSuffix(long.Body, "…") {
		t.Errorf("a long body is kept as %d bytes: %q", len(long.Body), long.Body)
	}
}

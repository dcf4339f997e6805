package cloudsigmafake

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// server is what the fake keeps of a server besides its Cloud machine
// (which has the same uuid, and holds its state, addresses, user-data
// and keys).
type server struct {
	uuid        string
	name        string
	cpu         int // MHz
	smp         int
	mem         int64 // bytes
	vncPassword string
	drives      []attachment
	nics        []nic
	meta        map[string]string
	pubkeys     []string
	// noRoom is set on a server created while a capacity fault was due:
	// CloudSigma takes any server's definition, and its start finds
	// there is no room.
	noRoom bool
}

type attachment struct {
	bootOrder  int
	devChannel string
	device     string
	drive      string
}

type nic struct {
	conf  string // "dhcp", "static", "manual"; "" for a private NIC
	ip    string // a static NIC's address
	vlan  string // a private NIC's VLAN
	model string
	mac   string
}

// bootDrive is the drive the server boots from: the attached drive with
// the lowest positive boot order, else the first attached disk.
func (s *server) bootDrive() string {
	best, order := "", 0
	for _, a := range s.drives {
		if a.bootOrder > 0 && (order == 0 || a.bootOrder < order) {
			best, order = a.drive, a.bootOrder
		}
	}
	if best == "" && len(s.drives) > 0 {
		best = s.drives[0].drive
	}
	return best
}

// serverStatus is CloudSigma's status of a server whose machine is m
// ("Server State Diagram"). A machine that died is "paused", which the
// diagram calls "essentially dead"; one being deleted keeps the status it
// was deleted in, stopped.
func serverStatus(m fakecloud.Machine) string {
	switch m.State {
	case fakecloud.Pending:
		return "starting"
	case fakecloud.Running:
		return "running"
	case fakecloud.Stopping:
		return "stopping"
	case fakecloud.Failed:
		return "paused"
	}
	return "stopped"
}

// serverOf is a server of the account and its machine; a server whose
// machine is gone (terminated) is forgotten and does not exist. f.mu is
// held.
func (f *Fake) serverOf(id string) (*server, fakecloud.Machine, error) {
	s, ok := f.servers[id]
	if !ok {
		return nil, fakecloud.Machine{}, errNotExist("Server", id)
	}
	m, err := f.cloud.Machine(id)
	if err != nil || m.State == fakecloud.Terminated {
		f.forgetServer(id)
		return nil, fakecloud.Machine{}, errNotExist("Server", id)
	}
	return s, m, nil
}

// forgetServer drops a server that is gone; f.mu is held.
func (f *Fake) forgetServer(id string) {
	delete(f.servers, id)
	f.untag(id)
}

// serverJSON is a server's full definition, shaped on the reference's
// dumps ("Creating", full request; "Server Runtime and Server Details").
func (f *Fake) serverJSON(s *server, m fakecloud.Machine) map[string]any {
	drives := []any{}
	for _, a := range s.drives {
		var order any
		if a.bootOrder > 0 {
			order = a.bootOrder
		}
		drives = append(drives, map[string]any{"boot_order": order, "dev_channel": a.devChannel, "device": a.device,
			"drive": refJSON("drives", a.drive), "runtime": nil})
	}
	runtime := f.runtimeJSON(s, m)
	var rtNICs []any
	if runtime != nil {
		rtNICs, _ = runtime["nics"].([]any)
	}
	nics := []any{}
	for i, n := range s.nics {
		var conf, vlan, rt any
		if n.conf != "" {
			var ip any
			if n.ip != "" {
				ip = refJSON("ips", n.ip)
			}
			conf = map[string]any{"conf": n.conf, "ip": ip}
		}
		if n.vlan != "" {
			vlan = refJSON("vlans", n.vlan)
		}
		if i < len(rtNICs) {
			rt = rtNICs[i]
		}
		nics = append(nics, map[string]any{"boot_order": nil, "ip_v4_conf": conf, "ip_v6_conf": nil, "mac": n.mac,
			"model": n.model, "runtime": rt, "vlan": vlan})
	}
	pubkeys := []any{}
	for _, k := range s.pubkeys {
		pubkeys = append(pubkeys, refJSON("pubkeys", k))
	}
	var rt any
	if runtime != nil {
		rt = runtime
	}
	return map[string]any{
		"context": true, "cpu": s.cpu, "cpu_model": nil, "cpu_type": "amd", "cpus_instead_of_cores": false,
		"drives": drives, "enable_numa": false, "grantees": []any{}, "hv_relaxed": false, "hv_tsc": false,
		"hypervisor": "kvm", "jobs": []any{}, "mem": s.mem, "meta": orEmpty(s.meta), "name": s.name, "nics": nics,
		"owner": f.ownerJSON(), "permissions": []any{}, "pubkeys": pubkeys, "requirements": []any{},
		"resource_uri": uri("servers", s.uuid), "runtime": rt, "smp": s.smp, "status": serverStatus(m),
		"tags": f.tagRefs(s.uuid), "uuid": s.uuid, "vnc_password": s.vncPassword,
	}
}

// runtimeJSON is a started server's runtime, or nil. The public (DHCP or
// static) NICs get the machine's address, the one this host reaches it
// at; private NICs get none, as CloudSigma leaves their addressing to the
// user (Network Interfaces).
func (f *Fake) runtimeJSON(s *server, m fakecloud.Machine) map[string]any {
	if m.State != fakecloud.Running && m.State != fakecloud.Stopping || m.PrivateIP == "" {
		return nil
	}
	nics := []any{}
	for _, n := range s.nics {
		typ, ip := "private", any(nil)
		if n.conf != "" {
			typ, ip = "public", refJSON("ips", m.PrivateIP)
		}
		nics = append(nics, map[string]any{"interface_type": typ, "io": map[string]any{"bytes_recv": 0, "bytes_sent": 0,
			"packets_recv": 0, "packets_sent": 0}, "ip_v4": ip, "ip_v6": nil, "mac": n.mac})
	}
	launched := m.Launched
	if launched.IsZero() {
		launched = time.Now().UTC()
	}
	return map[string]any{"active_since": launched.Format("2006-01-02T15:04:05+00:00"), "nics": nics}
}

func listServers(detail bool) handler {
	return func(f *Fake, c *call) (int, any, error) {
		p, filters, aerr := listQuery(c, "name", "uuid", "tag")
		if aerr != nil {
			return 0, nil, aerr
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		ids := make([]string, 0, len(f.servers))
		for id := range f.servers {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var all []any
		for _, id := range ids {
			s, m, err := f.serverOf(id)
			if err != nil {
				continue
			}
			if !matches(filters, "name", s.name) || !matches(filters, "uuid", s.uuid) || !f.tagMatches(filters, s.uuid) {
				continue
			}
			if detail {
				all = append(all, f.serverJSON(s, m))
			} else {
				var rt any
				if r := f.runtimeJSON(s, m); r != nil {
					rt = r
				}
				all = append(all, map[string]any{"name": s.name, "owner": f.ownerJSON(), "resource_uri": uri("servers", id),
					"runtime": rt, "status": serverStatus(m), "uuid": id})
			}
		}
		return http.StatusOK, listAnswer(p, all), nil
	}
}

func getServer(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, m, err := f.serverOf(c.id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, f.serverJSON(s, m), nil
}

// userData is what cloud-init's CloudSigma datasource gives the machine:
// the cloudinit-user-data meta, base64-decoded when base64_fields names
// it (Meta, "Server's metadata fields with special meaning").
func userData(meta map[string]string) ([]byte, *apiError) {
	v, ok := meta["cloudinit-user-data"]
	if !ok {
		return nil, nil
	}
	if !base64Field(meta, "cloudinit-user-data") {
		return []byte(v), nil
	}
	b, err := decodeBase64(v)
	if err != nil {
		return nil, errValidation("meta", "cloudinit-user-data is listed in base64_fields but is not base64: %v", err)
	}
	return b, nil
}

func base64Field(meta map[string]string, key string) bool {
	for _, f := range strings.Split(meta["base64_fields"], ",") {
		if strings.TrimSpace(f) == key {
			return true
		}
	}
	return false
}

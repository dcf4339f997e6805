package openstackfake

import (
	"slices"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// novaState is a server's state in Nova's words.
type novaState struct {
	Status     string // BUILD, ACTIVE, SHUTOFF, ERROR, DELETED
	VMState    string // building, active, stopped, error, deleted
	TaskState  string // "" (null), scheduling, spawning, powering-off, image_uploading, deleting
	PowerState int    // 0 no state, 1 running, 4 shutdown
}

// Nova's power states.
const (
	powerNoState  = 0
	powerRunning  = 1
	powerShutdown = 4
)

// stateOf maps a fake machine to Nova's state. A new server is
// "scheduling" for SchedulingDelay whatever the Cloud says, then
// "spawning" until it runs; a stopped server whose snapshot is being
// written is "image_uploading".
func (f *Fake) stateOf(m fakecloud.Machine) novaState {
	switch m.State {
	case fakecloud.Pending:
		if time.Since(m.Created) < f.opts.SchedulingDelay {
			return novaState{"BUILD", "building", "scheduling", powerNoState}
		}
		return novaState{"BUILD", "building", "spawning", powerNoState}
	case fakecloud.Running:
		if time.Since(m.Created) < f.opts.SchedulingDelay {
			return novaState{"BUILD", "building", "scheduling", powerNoState}
		}
		return novaState{"ACTIVE", "active", f.imageTask(m.ID), powerRunning}
	case fakecloud.Stopping:
		return novaState{"ACTIVE", "active", "powering-off", powerRunning}
	case fakecloud.Stopped:
		return novaState{"SHUTOFF", "stopped", f.imageTask(m.ID), powerShutdown}
	case fakecloud.Terminating:
		return novaState{"ACTIVE", "active", "deleting", powerNoState}
	case fakecloud.Failed:
		return novaState{"ERROR", "error", "", powerNoState}
	}
	return novaState{"DELETED", "deleted", "", powerNoState}
}

// imageTask is "image_uploading" while an image of the server is being
// written, as Nova's task_state is during a snapshot.
func (f *Fake) imageTask(serverID string) string {
	for _, img := range f.cloud.Images() {
		if img.Source == serverID && img.State == "pending" {
			return "image_uploading"
		}
	}
	return ""
}

// faultOf is the fault Nova shows on a server in ERROR.
func faultOf(m fakecloud.Machine) map[string]any {
	msg, code := m.Reason, 500
	if msg == fakecloud.ReasonNoCapacity {
		msg = "No valid host was found. There are not enough hosts available."
	}
	if msg == "" {
		msg = "Unknown error"
	}
	return map[string]any{"code": code, "message": msg, "created": m.Created.Add(time.Second).Format(novaTime)}
}

// novaTime is how Nova writes created and updated.
const novaTime = "2006-01-02T15:04:05Z"

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func extraStrings(m map[string]any, key string) []string {
	v, _ := m[key].([]string)
	return v
}

func extraString(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// serverLinks are a server's self and bookmark links.
func (c *call) serverLinks(id string) []any {
	return []any{
		map[string]any{"rel": "self", "href": c.base + "/compute/v2.1/servers/" + id},
		map[string]any{"rel": "bookmark", "href": c.base + "/compute/servers/" + id},
	}
}

// serverView is a server as GET /servers/{id} shows it at the call's
// microversion.
func (c *call) serverView(m fakecloud.Machine) map[string]any {
	f := c.f
	st := f.stateOf(m)
	v := map[string]any{
		"id": m.ID, "name": m.Name, "status": st.Status,
		"tenant_id": f.projectID, "user_id": f.userID,
		"metadata": m.Labels, "hostId": derivedID("host", f.projectID)[:32],
		"image":      map[string]any{"id": m.ImageID, "links": []any{map[string]any{"rel": "bookmark", "href": c.base + "/compute/images/" + m.ImageID}}},
		"flavor":     c.serverFlavor(m),
		"created":    m.Created.Format(novaTime),
		"updated":    time.Now().UTC().Format(novaTime),
		"addresses":  f.addressesOf(m),
		"accessIPv4": "", "accessIPv6": "",
		"links":                                c.serverLinks(m.ID),
		"OS-DCF:diskConfig":                    "MANUAL",
		"progress":                             0,
		"OS-EXT-AZ:availability_zone":          extraString(m.Extra, extraAZ),
		"config_drive":                         "",
		"key_name":                             nullable(m.KeyName),
		"OS-SRV-USG:launched_at":               nil,
		"OS-SRV-USG:terminated_at":             nil,
		"OS-EXT-STS:task_state":                nullable(st.TaskState),
		"OS-EXT-STS:vm_state":                  st.VMState,
		"OS-EXT-STS:power_state":               st.PowerState,
		"os-extended-volumes:volumes_attached": []any{},
	}
	if v["metadata"] == nil {
		v["metadata"] = map[string]string{}
	}
	if !m.Launched.IsZero() {
		v["OS-SRV-USG:launched_at"] = m.Launched.Format("2006-01-02T15:04:05.000000")
	}
	if st.Status != "BUILD" {
		var groups []any
		for _, g := range extraStrings(m.Extra, extraSecurityGroups) {
			groups = append(groups, map[string]any{"name": g})
		}
		if len(groups) > 0 {
			v["security_groups"] = groups
		}
	}
	if st.Status == "ERROR" {
		v["fault"] = faultOf(m)
	}
	if c.mv.atLeast(9) {
		v["locked"] = false
	}
	if c.mv.atLeast(19) {
		v["description"] = nil
	}
	if c.mv.atLeast(26) {
		tags := extraStrings(m.Extra, extraTags)
		if tags == nil {
			tags = []string{}
		}
		v["tags"] = tags
	}
	if c.mv.atLeast(63) {
		v["trusted_image_certificates"] = nil
	}
	if c.mv.atLeast(71) {
		v["server_groups"] = []string{}
	}
	if c.mv.atLeast(73) {
		v["locked_reason"] = nil
	}
	return v
}

// serverFlavor is the server's flavor: a link to it before 2.47, its
// description (with original_name) since.
func (c *call) serverFlavor(m fakecloud.Machine) map[string]any {
	id := extraString(m.Extra, extraFlavorID)
	if !c.mv.atLeast(47) {
		return map[string]any{"id": id, "links": []any{map[string]any{"rel": "bookmark", "href": c.base + "/compute/flavors/" + id}}}
	}
	fl, _ := c.f.flavorByRef(id)
	return map[string]any{"vcpus": fl.VCPUs, "ram": fl.RAMMB, "disk": fl.DiskGB, "ephemeral": 0, "swap": 0,
		"original_name": m.Type, "extra_specs": map[string]string{}}
}

// addressesOf lists the server's addresses by network name: its fixed
// address once it has one (it has booted: its port exists), and the
// floating address associated with its port.
func (f *Fake) addressesOf(m fakecloud.Machine) map[string]any {
	out := map[string]any{}
	nets := extraStrings(m.Extra, extraNetworks)
	if len(nets) == 0 || m.PrivateIP == "" || m.State == fakecloud.Terminated {
		return out
	}
	net, ok := f.networkByID(nets[0])
	if !ok {
		return out
	}
	mac := derivedMAC(m.ID)
	addrs := []any{map[string]any{"version": 4, "addr": m.PrivateIP, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}}
	port := portID(m.ID)
	f.mu.Lock()
	var fips []string
	for _, fip := range f.floatingIPs {
		if fip.PortID == port {
			fips = append(fips, fip.Address)
		}
	}
	f.mu.Unlock()
	slices.Sort(fips)
	for _, a := range fips {
		addrs = append(addrs, map[string]any{"version": 4, "addr": a, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac})
	}
	out[net.Name] = addrs
	return out
}

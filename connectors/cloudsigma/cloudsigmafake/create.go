package cloudsigmafake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// serverBody is one object of POST /servers/ (Servers, "Creating"; the
// minimal and full request dumps).
type serverBody struct {
	Name        *string        `json:"name"`
	CPU         *int           `json:"cpu"`
	SMP         *int           `json:"smp"`
	Mem         *int64         `json:"mem"`
	VNCPassword *string        `json:"vnc_password"`
	Drives      []driveBody    `json:"drives"`
	NICs        []nicBody      `json:"nics"`
	Meta        map[string]any `json:"meta"`
	Pubkeys     []ref          `json:"pubkeys"`
	Tags        []ref          `json:"tags"`
}

type driveBody struct {
	BootOrder  *int   `json:"boot_order"`
	DevChannel string `json:"dev_channel"`
	Device     string `json:"device"`
	Drive      ref    `json:"drive"`
}

type nicBody struct {
	IPv4Conf *struct {
		Conf string `json:"conf"`
		IP   ref    `json:"ip"`
	} `json:"ip_v4_conf"`
	Model string `json:"model"`
	MAC   string `json:"mac"`
	VLAN  ref    `json:"vlan"`
}

var devChannel = regexp.MustCompile(`^[0-9]{1,4}:[0-9]{1,2}$`)

// newServer checks one object of a create and makes the server it
// defines (its uuid is its machine's, once made) and lists the tags to
// put it under; f.mu is held. taken are the drives earlier objects of the
// same request attach.
func (f *Fake) newServer(raw json.RawMessage, taken map[string]bool) (*server, []string, *apiError) {
	var b serverBody
	if aerr := decodeObject(raw, &b); aerr != nil {
		return nil, nil, aerr
	}
	l := f.opts.Limits
	switch {
	case b.Name == nil || *b.Name == "":
		return nil, nil, errValidation("name", "This field is required.")
	case b.CPU == nil:
		return nil, nil, errValidation("cpu", "This field is required.")
	case b.Mem == nil:
		return nil, nil, errValidation("mem", "This field is required.")
	case b.VNCPassword == nil || *b.VNCPassword == "":
		return nil, nil, errValidation("vnc_password", "This field is required.")
	case *b.CPU < l.CPUMin || *b.CPU > l.CPUMax:
		return nil, nil, errValidation("cpu", "CPU must be between %d and %d MHz", l.CPUMin, l.CPUMax)
	case *b.Mem < l.MemMin || *b.Mem > l.MemMax:
		return nil, nil, errValidation("mem", "Memory must be between %d and %d bytes", l.MemMin, l.MemMax)
	}
	s := &server{name: *b.Name, cpu: *b.CPU, mem: *b.Mem, vncPassword: *b.VNCPassword}
	// Without smp the API gives the fewest cores the clock fits in.
	s.smp = max(1, (s.cpu+l.CPUPerSMPMax-1)/l.CPUPerSMPMax)
	if b.SMP != nil {
		s.smp = *b.SMP
	}
	if s.smp < l.SMPMin || s.smp > l.SMPMax {
		return nil, nil, errValidation("smp", "SMP must be between %d and %d", l.SMPMin, l.SMPMax)
	}
	if per := s.cpu / s.smp; per < l.CPUPerSMPMin || per > l.CPUPerSMPMax {
		return nil, nil, errValidation("cpu", "CPU per SMP must be between %d and %d MHz; %d MHz on %d cores is %d", l.CPUPerSMPMin, l.CPUPerSMPMax, s.cpu, s.smp, per)
	}
	for _, d := range b.Drives {
		a, aerr := f.attachment(d, taken)
		if aerr != nil {
			return nil, nil, aerr
		}
		s.drives = append(s.drives, a)
	}
	if s.bootDrive() == "" {
		// CloudSigma takes a server with no drive; the fake boots a
		// machine from its boot drive's image, so it needs one.
		return nil, nil, errValidation("drives", "The fake cloud needs a boot drive on every server")
	}
	for _, n := range b.NICs {
		x, aerr := nicOf(n)
		if aerr != nil {
			return nil, nil, aerr
		}
		s.nics = append(s.nics, x)
	}
	meta, aerr := stringMeta("meta", b.Meta)
	if aerr != nil {
		return nil, nil, aerr
	}
	s.meta = meta
	keys := f.cloud.Keys()
	for _, r := range b.Pubkeys {
		if !keyExists(keys, string(r)) {
			return nil, nil, errValidation("pubkeys", "Keypair %s does not exist", r)
		}
		s.pubkeys = append(s.pubkeys, string(r))
	}
	var tags []string
	for _, r := range b.Tags {
		if f.tags[string(r)] == nil {
			return nil, nil, errValidation("tags", "Tag %s does not exist", r)
		}
		tags = append(tags, string(r))
	}
	return s, tags, nil
}

func (f *Fake) attachment(d driveBody, taken map[string]bool) (attachment, *apiError) {
	a := attachment{devChannel: d.DevChannel, device: d.Device, drive: string(d.Drive)}
	if d.BootOrder != nil {
		a.bootOrder = *d.BootOrder
	}
	switch {
	case a.device != "virtio" && a.device != "ide" && a.device != "scsi":
		return a, errValidation("drives", "Select a valid choice. %q is not one of the available choices (ide, virtio, scsi).", a.device)
	case !devChannel.MatchString(a.devChannel):
		return a, errValidation("drives", "dev_channel %q is not {controller}:{unit}", a.devChannel)
	case f.drives[a.drive] == nil:
		return a, errValidation("drives", "Drive %s does not exist", a.drive)
	case taken[a.drive] || len(f.attachedTo(a.drive)) > 0:
		return a, errValidation("drives", "Drive %s is already attached to a server and does not allow multimount", a.drive)
	}
	taken[a.drive] = true
	return a, nil
}

func nicOf(n nicBody) (nic, *apiError) {
	x := nic{model: n.Model, mac: n.MAC, vlan: string(n.VLAN)}
	if x.model == "" {
		x.model = "virtio"
	}
	if x.mac == "" {
		x.mac = newMAC()
	}
	if n.IPv4Conf != nil {
		x.conf, x.ip = n.IPv4Conf.Conf, string(n.IPv4Conf.IP)
		switch {
		case x.conf != "dhcp" && x.conf != "static" && x.conf != "manual":
			return x, errValidation("nics", "Select a valid choice. %q is not one of the available choices (dhcp, static, manual).", x.conf)
		case x.conf == "static" && x.ip == "":
			return x, errValidation("nics", "A static IP configuration needs an ip")
		}
	}
	switch {
	case x.conf != "" && x.vlan != "":
		return x, errValidation("nics", "Cannot assign both Private and Public on a NIC")
	case x.conf == "" && x.vlan == "":
		return x, errValidation("nics", "A NIC needs either ip_v4_conf or vlan")
	}
	return x, nil
}

func keyExists(keys []fakecloud.KeyPair, id string) bool {
	for _, k := range keys {
		if k.ID == id {
			return true
		}
	}
	return false
}

// createServers answers POST /servers/: every object is checked before
// any server is made, and a failure of the Cloud takes back the servers
// the request made before it. Servers are created stopped.
func createServers(f *Fake, c *call) (int, any, error) {
	raws, aerr := objectsOf(c.body)
	if aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	taken := map[string]bool{}
	var servers []*server
	var tagsOf [][]string
	for _, raw := range raws {
		s, tags, aerr := f.newServer(raw, taken)
		if aerr != nil {
			return 0, nil, aerr
		}
		servers, tagsOf = append(servers, s), append(tagsOf, tags)
	}
	var made []fakecloud.Machine
	for _, s := range servers {
		m, err := f.runServer(c.op, s)
		if err != nil {
			for _, prev := range made {
				// Just made by this call: Terminate fails only on an
				// unknown id, and err is what the client gets.
				_, _ = f.cloud.Terminate(prev.ID)
			}
			return 0, nil, err
		}
		made = append(made, m)
	}
	out := make([]any, 0, len(servers))
	for i, s := range servers {
		s.uuid = made[i].ID
		f.servers[s.uuid] = s
		for _, t := range tagsOf[i] {
			f.tags[t].add(s.uuid)
		}
		out = append(out, f.serverJSON(s, made[i]))
	}
	return http.StatusCreated, map[string]any{"objects": out}, nil
}

// runServer makes the Cloud machine of a server: stopped, from its boot
// drive's image, with the user-data and keys cloud-init would find in
// its context. f.mu is held.
func (f *Fake) runServer(op string, s *server) (fakecloud.Machine, error) {
	boot := f.drives[s.bootDrive()]
	ud, aerr := userData(s.meta)
	if aerr != nil {
		return fakecloud.Machine{}, aerr
	}
	labels := maps.Clone(s.meta)
	for k := range labels {
		if k == "base64_fields" || base64Field(s.meta, k) {
			delete(labels, k) // encoded payloads, not labels
		}
	}
	req := fakecloud.RunRequest{Op: op, Name: s.name, ImageID: boot.image, CPU: s.smp, RAMMB: int(s.mem >> 20),
		DiskGB: int(boot.size >> 30), UserData: ud, SSHKeys: f.sshKeys(s), Labels: labels, Stopped: true}
	ms, err := f.cloud.Run(req)
	var fault *fakecloud.Fault
	if errors.As(err, &fault) && fault.Kind == fakecloud.FaultCapacity {
		// CloudSigma takes a server's definition whatever room there
		// is; its start finds there is none.
		s.noRoom = true
		ms, err = f.cloud.Run(req)
	}
	if err != nil {
		return fakecloud.Machine{}, err
	}
	if len(ms) != 1 {
		return fakecloud.Machine{}, fmt.Errorf("the cloud made %d machines for one server", len(ms))
	}
	return ms[0], nil
}

// sshKeys are the keys cloud-init authorizes: those of the server's
// pubkeys and of its ssh_public_key meta, each once. f.mu is held.
func (f *Fake) sshKeys(s *server) []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		k = strings.TrimSpace(k)
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	keys := f.cloud.Keys()
	for _, id := range s.pubkeys {
		for _, k := range keys {
			if k.ID == id {
				add(k.PublicKey)
			}
		}
	}
	add(s.meta["ssh_public_key"])
	return out
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

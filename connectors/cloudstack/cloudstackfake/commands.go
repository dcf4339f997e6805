package cloudstackfake

import (
	"crypto/md5" // #nosec G501 -- CloudStack's key pair fingerprint is MD5; the fake must compute the same
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// handler answers one command: the object under its response name, or
// an error.
type handler func(f *Fake, c *call) (any, error)

// commands are the commands the fake serves. Any other is unknown, and
// answered 401 as the management server does.
var commands map[string]handler

func init() {
	commands = map[string]handler{
		"listZones":             listZones,
		"listServiceOfferings":  listServiceOfferings,
		"listNetworks":          listNetworks,
		"listTemplates":         listTemplates,
		"registerSSHKeyPair":    registerSSHKeyPair,
		"listSSHKeyPairs":       listSSHKeyPairs,
		"deployVirtualMachine":  deployVirtualMachine,
		"listVirtualMachines":   listVirtualMachines,
		"destroyVirtualMachine": destroyVirtualMachine,
		"stopVirtualMachine":    stopVirtualMachine,
		"createTags":            createTags,
		"listVolumes":           listVolumes,
		"createTemplate":        createTemplate,
		"deleteTemplate":        deleteTemplate,
		"queryAsyncJobResult":   queryAsyncJobResult,
		"listAsyncJobs":         listAsyncJobs,
	}
}

// zone finds a zone by uuid; an unknown one is ParamProcessWorker's 431.
func (f *Fake) zone(c *call, name, id string) (Zone, error) {
	for _, z := range f.opts.Zones {
		if z.ID == id {
			return z, nil
		}
	}
	return Zone{}, errNoEntity(c.command, name, id)
}

func (f *Fake) zoneName(id string) string {
	for _, z := range f.opts.Zones {
		if z.ID == id {
			return z.Name
		}
	}
	return ""
}

// listZones: id, name, available.
func listZones(f *Fake, c *call) (any, error) {
	var out []map[string]any
	id, name := c.params.first("id"), c.params.first("name")
	if id != "" {
		if _, err := f.zone(c, "id", id); err != nil {
			return nil, err
		}
	}
	for _, z := range f.opts.Zones {
		if (id != "" && z.ID != id) || (name != "" && z.Name != name) {
			continue
		}
		out = append(out, map[string]any{"id": z.ID, "name": z.Name, "allocationstate": "Enabled", "networktype": "Advanced",
			"securitygroupsenabled": false, "localstorageenabled": false, "dhcpprovider": "VirtualRouter", "tags": []any{}})
	}
	return list("zone", out, c.params)
}

func (f *Fake) offering(c *call, name, id string) (Offering, error) {
	for _, o := range f.opts.Offerings {
		if o.ID == id {
			return o, nil
		}
	}
	return Offering{}, errNoEntity(c.command, name, id)
}

// offeringJSON is ServiceOfferingResponse.
func offeringJSON(o Offering) map[string]any {
	out := map[string]any{"id": o.ID, "name": o.Name, "displaytext": o.Name, "cpunumber": o.CPU, "cpuspeed": o.SpeedMHz, "memory": o.MemoryMB,
		"iscustomized": o.Customized, "storagetype": "shared", "provisioningtype": "thin", "offerha": false, "limitcpuuse": false,
		"isvolatile": false, "issystem": false, "defaultuse": false, "state": "Active", "created": "2024-01-15T09:30:00+0000"}
	if o.RootDiskGB > 0 {
		out["rootdisksize"] = o.RootDiskGB
	}
	if o.Customized {
		out["serviceofferingdetails"] = map[string]string{
			"mincpunumber": strconv.Itoa(o.MinCPU), "maxcpunumber": strconv.Itoa(o.MaxCPU),
			"minmemory": strconv.Itoa(o.MinMemory), "maxmemory": strconv.Itoa(o.MaxMemory),
		}
		delete(out, "cpunumber")
		delete(out, "memory")
	}
	return out
}

// listServiceOfferings: id, name.
func listServiceOfferings(f *Fake, c *call) (any, error) {
	id, name := c.params.first("id"), c.params.first("name")
	if id != "" {
		if _, err := f.offering(c, "id", id); err != nil {
			return nil, err
		}
	}
	var out []map[string]any
	for _, o := range f.opts.Offerings {
		if (id != "" && o.ID != id) || (name != "" && o.Name != name) {
			continue
		}
		out = append(out, offeringJSON(o))
	}
	return list("serviceoffering", out, c.params)
}

func (f *Fake) network(c *call, name, id string) (Network, error) {
	for _, n := range f.opts.Networks {
		if n.ID == id {
			return n, nil
		}
	}
	return Network{}, errNoEntity(c.command, name, id)
}

// listNetworks: id, zoneid.
func listNetworks(f *Fake, c *call) (any, error) {
	id, zone := c.params.first("id"), c.params.first("zoneid")
	if id != "" {
		if _, err := f.network(c, "id", id); err != nil {
			return nil, err
		}
	}
	if zone != "" {
		if _, err := f.zone(c, "zoneid", zone); err != nil {
			return nil, err
		}
	}
	var out []map[string]any
	for _, n := range f.opts.Networks {
		if (id != "" && n.ID != id) || (zone != "" && n.ZoneID != zone) {
			continue
		}
		out = append(out, map[string]any{"id": n.ID, "name": n.Name, "displaytext": n.Name, "zoneid": n.ZoneID, "zonename": f.zoneName(n.ZoneID),
			"cidr": n.CIDR, "type": "Isolated", "traffictype": "Guest", "state": "Implemented", "isdefault": true,
			"account": accountName, "domainid": f.domainID, "domain": domainName})
	}
	return list("network", out, c.params)
}

// fingerprint is SSHKeysHelper.getPublicKeyFingerprint: the MD5 of the
// key blob (the second field of the line), as colon-separated hex.
func fingerprint(publicKey string) (string, error) {
	fields := strings.Fields(publicKey)
	if len(fields) < 2 {
		return "", errors.New("not a public key line")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return "", err
	}
	sum := md5.Sum(blob) // #nosec G401 -- CloudStack's fingerprint format, not a security decision
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(parts, ":"), nil
}

// keyTypes are the key types SSHKeysHelper accepts.
var keyTypes = regexp.MustCompile(`^(ssh-rsa|ssh-dss|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) `)

func (f *Fake) keypairJSON(k fakecloud.KeyPair) map[string]any {
	return map[string]any{"id": k.ID, "name": k.Name, "fingerprint": k.Fingerprint, "account": accountName, "domainid": f.domainID,
		"domain": domainName, "hasannotations": false}
}

// registerSSHKeyPair: name, publickey (both required). A name in use, or
// a public key the account has under another name, is refused.
func registerSSHKeyPair(f *Fake, c *call) (any, error) {
	name, pub := c.params.first("name"), strings.TrimSpace(c.params.first("publickey"))
	switch {
	case !c.params.has("name"):
		return nil, errMissing(c.command, "name")
	case !c.params.has("publickey"):
		return nil, errMissing(c.command, "publickey")
	case !keyTypes.MatchString(pub):
		return nil, errParam("Public key is invalid")
	}
	fp, err := fingerprint(pub)
	if err != nil {
		return nil, errParam("Public key is invalid")
	}
	for _, k := range f.cloud.Keys() {
		if k.Fingerprint == fp && k.Name != name {
			return nil, errParam("A key pair with the same public key already exists for this account: %s", k.Name)
		}
	}
	k, err := f.cloud.ImportKey(fakecloud.KeyPair{Name: name, PublicKey: pub, Fingerprint: fp, ID: NewUUID()})
	if errors.Is(err, fakecloud.ErrDuplicate) {
		return nil, errParam("A key pair with name '%s' already exists for this account.", name)
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.keys[k.Name] = k.ID
	f.known[k.ID] = "keypair"
	f.mu.Unlock()
	return map[string]any{"keypair": f.keypairJSON(k)}, nil
}

// listSSHKeyPairs: name, fingerprint, keyword.
func listSSHKeyPairs(f *Fake, c *call) (any, error) {
	name, fp, kw := c.params.first("name"), c.params.first("fingerprint"), c.params.first("keyword")
	var out []map[string]any
	for _, k := range f.cloud.Keys() {
		if (name != "" && k.Name != name) || (fp != "" && k.Fingerprint != fp) || (kw != "" && !strings.Contains(k.Name, kw)) {
			continue
		}
		out = append(out, f.keypairJSON(k))
	}
	return list("sshkeypair", out, c.params)
}

// mapParam reads a map parameter, name[i].field=value, as CloudStack's
// ParamProcessWorker does: one map per index, in index order.
func mapParam(ps params, name string) []map[string]string {
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\[(\d+)\]\.(.+)$`)
	byIndex := map[int]map[string]string{}
	for _, p := range ps {
		m := re.FindStringSubmatch(p.name)
		if m == nil || len(p.values) == 0 {
			continue
		}
		i, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		if byIndex[i] == nil {
			byIndex[i] = map[string]string{}
		}
		byIndex[i][m[2]] = p.values[0]
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]map[string]string, len(idx))
	for n, i := range idx {
		out[n] = byIndex[i]
	}
	return out
}

// tagsParam reads a tags map parameter as key/value pairs.
func tagsParam(ps params) map[string]string {
	tags := map[string]string{}
	for _, m := range mapParam(ps, "tags") {
		if k, ok := m["key"]; ok {
			tags[k] = m["value"]
		}
	}
	return tags
}

// tagsJSON is a resource's tags as ResourceTagResponse lists them.
func (f *Fake) tagsJSON(resourceType, id string, tags map[string]string) []map[string]any {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]any{"key": k, "value": tags[k], "resourcetype": resourceType, "resourceid": id,
			"account": accountName, "domainid": f.domainID, "domain": domainName})
	}
	return out
}

// createTags: resourceids (comma-separated), resourcetype (UserVm or
// Template), tags. Asynchronous; a key the resource has already is
// refused by the job.
func createTags(f *Fake, c *call) (any, error) {
	ids, rtype := c.params.first("resourceids"), c.params.first("resourcetype")
	switch {
	case ids == "":
		return nil, errMissing(c.command, "resourceids")
	case rtype == "":
		return nil, errMissing(c.command, "resourcetype")
	}
	tags := tagsParam(c.params)
	if len(tags) == 0 {
		return nil, errMissing(c.command, "tags")
	}
	for k, v := range tags {
		if k == "" || len(k) > 255 || len(v) > 255 {
			return nil, errParam("Tag key and value must be 1 to 255 characters: %q", k)
		}
	}
	var kind string
	switch {
	case strings.EqualFold(rtype, "UserVm"):
		kind, rtype = "vm", "UserVm"
	case strings.EqualFold(rtype, "Template"):
		kind, rtype = "template", "Template"
	default:
		return nil, errParam("Invalid resource type %s; this fake tags UserVm and Template", rtype)
	}
	resources := strings.Split(ids, ",")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range resources {
		if !f.exists(kind, id) {
			return nil, errParam("Unable to find resource by id %s and type %s", id, rtype)
		}
	}
	fail := f.injectedFailure(c.command)
	// The work is done when the job runs; here at once, and the job
	// reports it after the delay.
	if fail == nil {
		fail = f.applyTags(kind, rtype, resources, tags)
	}
	j := f.startJob(c.command, "", "", func() (bool, any, *csError) { return true, successJSON(), fail })
	return asyncAnswer(j, ""), nil
}

// applyTags adds tags to resources, refusing keys a resource has already
// (TaggedResourceManagerImpl); f.mu is held.
func (f *Fake) applyTags(kind, rtype string, resources []string, tags map[string]string) *csError {
	for _, id := range resources {
		var have map[string]string
		if kind == "vm" {
			m, err := f.cloud.Machine(id)
			if err != nil {
				return &csError{code: 431, text: fmt.Sprintf("Unable to find resource by id %s and type %s", id, rtype)}
			}
			have = m.Labels
		} else {
			have = f.tmplTags[id]
		}
		for k := range tags {
			if _, dup := have[k]; dup {
				return &csError{code: 530, text: fmt.Sprintf("tag %s already on %s with id %s", k, rtype, id)}
			}
		}
	}
	for _, id := range resources {
		if kind == "vm" {
			if err := f.cloud.SetLabels(id, tags); err != nil {
				return &csError{code: 530, text: err.Error()}
			}
			continue
		}
		if f.tmplTags[id] == nil {
			f.tmplTags[id] = map[string]string{}
		}
		for k, v := range tags {
			f.tmplTags[id][k] = v
		}
	}
	return nil
}

// exists reports whether a resource of kind exists now; f.mu is held.
func (f *Fake) exists(kind, id string) bool {
	switch kind {
	case "vm":
		m, err := f.cloud.Machine(id)
		return err == nil && m.State != fakecloud.Terminated
	case "template":
		_, err := f.cloud.Image(id)
		return err == nil
	}
	return false
}

// resolves reports whether a uuid names an entity of kind, now or once
// (ParamProcessWorker translates removed entities' uuids too); f.mu is
// held.
func (f *Fake) resolves(kind, id string) bool {
	return f.known[id] == kind || f.exists(kind, id)
}

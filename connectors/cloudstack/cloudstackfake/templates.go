package cloudstackfake

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// template is what the fake keeps of a template made by createTemplate
// (the Cloud image holds the rest): CloudStack allows several templates
// of one name, the Cloud does not, so the name lives here.
type template struct {
	name, displaytext, osTypeID, zoneID string
	created                             time.Time
}

// templateName is a template's name: createTemplate's, or the base
// image's; f.mu is held.
func (f *Fake) templateName(img fakecloud.Image) string {
	if t, ok := f.templates[img.ID]; ok {
		return t.name
	}
	return img.Name
}

// osTypeOf is a template's guest OS type; f.mu is held.
func (f *Fake) osTypeOf(img fakecloud.Image) string {
	if t, ok := f.templates[img.ID]; ok {
		return t.osTypeID
	}
	if s, ok := img.Extra["ostypeid"].(string); ok && s != "" {
		return s
	}
	return DefaultOSTypeID
}

// templateJSON is TemplateResponse; f.mu is held.
func (f *Fake) templateJSON(img fakecloud.Image) map[string]any {
	t, own := f.templates[img.ID]
	zoneID, display, created := f.opts.Zones[0].ID, img.Name, img.Created
	ttype, public := "USER", true
	if own {
		zoneID, display, created, public = t.zoneID, t.displaytext, t.created, false
	}
	status := "Download Complete"
	switch img.State {
	case "pending":
		status = "Creating"
	case "failed":
		status = "Failed"
	}
	return map[string]any{
		"id": img.ID, "name": f.templateName(img), "displaytext": display, "ostypeid": f.osTypeOf(img), "ostypename": "Debian GNU/Linux 12 (64-bit)",
		"isready": img.State == "available", "status": status, "size": templateSize(img), "zoneid": zoneID, "zonename": f.zoneName(zoneID),
		"templatetype": ttype, "format": "QCOW2", "hypervisor": "KVM", "account": accountName, "domainid": f.domainID, "domain": domainName,
		"ispublic": public, "isfeatured": !own, "isextractable": false, "passwordenabled": false, "sshkeyenabled": false, "bootable": true,
		"crossZones": false, "created": csTime(created), "tags": f.tagsJSON("Template", img.ID, f.tmplTags[img.ID]),
	}
}

// templateFilters are listTemplates' templatefilter values.
var templateFilters = map[string]bool{"featured": true, "self": true, "selfexecutable": true, "sharedexecutable": true,
	"executable": true, "community": true, "all": true}

// listTemplates: templatefilter (required), id, name, zoneid. featured
// lists the base images, self and selfexecutable those made by
// createTemplate, the others all.
func listTemplates(f *Fake, c *call) (any, error) {
	filter := c.params.first("templatefilter")
	if !c.params.has("templatefilter") {
		return nil, errMissing(c.command, "templatefilter")
	}
	if !templateFilters[filter] {
		return nil, errParam("Invalid template filter %s", filter)
	}
	id, name, zone := c.params.first("id"), c.params.first("name"), c.params.first("zoneid")
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "" && !f.resolves("template", id) {
		return nil, errNoEntity(c.command, "id", id)
	}
	if zone != "" {
		if _, err := f.zone(c, "zoneid", zone); err != nil {
			return nil, err
		}
	}
	var out []map[string]any
	for _, img := range f.cloud.Images() {
		_, own := f.templates[img.ID]
		switch {
		case id != "" && img.ID != id, name != "" && f.templateName(img) != name:
			continue
		case (filter == "self" || filter == "selfexecutable") && !own, filter == "featured" && own:
			continue
		}
		j := f.templateJSON(img)
		if zone != "" && j["zoneid"] != zone {
			continue
		}
		out = append(out, j)
	}
	return list("template", out, c.params)
}

// listVolumes: virtualmachineid, type, id. Every VM has one ROOT volume.
func listVolumes(f *Fake, c *call) (any, error) {
	vmID, typ, id := c.params.first("virtualmachineid"), c.params.first("type"), c.params.first("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	if vmID != "" && !f.resolves("vm", vmID) {
		return nil, errNoEntity(c.command, "virtualmachineid", vmID)
	}
	if id != "" && f.known[id] != "volume" {
		return nil, errNoEntity(c.command, "id", id)
	}
	var out []map[string]any
	for _, e := range f.vmsNow() {
		m, v := e.m, e.v
		if (vmID != "" && v.id != vmID) || (id != "" && v.volumeID != id) || (typ != "" && !strings.EqualFold(typ, "ROOT")) {
			continue
		}
		out = append(out, map[string]any{
			"id": v.volumeID, "name": fmt.Sprintf("ROOT-%d", v.seq), "type": "ROOT", "deviceid": 0, "virtualmachineid": v.id,
			"vmname": v.hostname, "vmdisplayname": v.displayname, "vmstate": vmState(m, v), "state": "Ready",
			"size": int64(m.DiskGB) << 30, "zoneid": v.zoneID, "zonename": f.zoneName(v.zoneID), "storagetype": "shared",
			"account": accountName, "domainid": f.domainID, "domain": domainName, "created": csTime(m.Created), "templateid": v.templateID,
		})
	}
	return list("volume", out, c.params)
}

// createTemplate: name, displaytext, ostypeid and volumeid (required).
// The volume's VM must be stopped. Answers the new template's id and the
// job's at once; the job ends once the template is ready.
func createTemplate(f *Fake, c *call) (any, error) {
	for _, name := range []string{"name", "displaytext", "ostypeid"} {
		if !c.params.has(name) {
			return nil, errMissing(c.command, name)
		}
	}
	volID := c.params.first("volumeid")
	if volID == "" {
		return nil, errParam("Failed to create private template record, need to either specify snapshotId or volumeId")
	}
	name := c.params.first("name")
	if name == "" || len(name) > 255 {
		return nil, errParam("Template name must be 1 to 255 characters")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.known[volID] != "volume" {
		return nil, errNoEntity(c.command, "volumeid", volID)
	}
	vmID := f.volumes[volID]
	v, ok := f.vms[vmID]
	if !ok || !f.exists("vm", vmID) {
		return nil, errParam("Failed to create template: volume %s is not attached to an existing VM", volID)
	}
	osType := c.params.first("ostypeid")
	if !f.knownOSType(osType) {
		return nil, errNoEntity(c.command, "ostypeid", osType)
	}
	img, err := f.cloud.Snapshot(vmID, "", nil, map[string]any{"ostypeid": osType})
	if errors.Is(err, fakecloud.ErrIncorrectState) {
		return nil, errParam("VolumeId: %s is attached to VM %s which is not stopped; stop it before creating a template of its root volume", volID, v.hostname)
	}
	if err != nil {
		return nil, err
	}
	f.templates[img.ID] = &template{name: name, displaytext: c.params.first("displaytext"), osTypeID: osType, zoneID: v.zoneID, created: time.Now()}
	f.known[img.ID] = "template"
	fail := f.injectedFailure(c.command)
	j := f.startJob(c.command, "Template", img.ID, func() (bool, any, *csError) {
		if fail != nil {
			return true, nil, fail
		}
		cur, err := f.cloud.Image(img.ID)
		switch {
		case err != nil:
			return true, nil, &csError{code: 530, text: "Failed to create template: it was deleted while it was being created"}
		case cur.State == "failed":
			return true, nil, &csError{code: 530, text: "Failed to create template: copying the volume failed"}
		case cur.State == "available":
			return true, map[string]any{"template": f.templateJSON(cur)}, nil
		}
		return false, nil, nil
	})
	return asyncAnswer(j, img.ID), nil
}

// knownOSType reports whether a guest OS type id is one the fake knows:
// the default, or one of an image's; f.mu is held.
func (f *Fake) knownOSType(id string) bool {
	if id == DefaultOSTypeID {
		return true
	}
	for _, img := range f.cloud.Images() {
		if f.osTypeOf(img) == id {
			return true
		}
	}
	return false
}

// deleteTemplate: id (required), zoneid. Asynchronous.
func deleteTemplate(f *Fake, c *call) (any, error) {
	id := c.params.first("id")
	if id == "" {
		return nil, errMissing(c.command, "id")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.resolves("template", id) {
		return nil, errNoEntity(c.command, "id", id)
	}
	if z := c.params.first("zoneid"); z != "" {
		if _, err := f.zone(c, "zoneid", z); err != nil {
			return nil, err
		}
	}
	if !f.exists("template", id) {
		return nil, errParam("unable to find template with id %s", id)
	}
	fail := f.injectedFailure(c.command)
	if fail == nil {
		if err := f.cloud.DeleteImage(id); err != nil {
			fail = &csError{code: 530, text: "Failed to delete template: " + err.Error()}
		} else {
			delete(f.templates, id)
			delete(f.tmplTags, id)
		}
	}
	j := f.startJob(c.command, "Template", id, func() (bool, any, *csError) { return true, successJSON(), fail })
	return asyncAnswer(j, ""), nil
}

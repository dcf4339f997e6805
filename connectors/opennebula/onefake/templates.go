package onefake

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
)

// vmTemplate is a VM template of oneadmin's, usable by every user.
type vmTemplate struct {
	id      int
	name    string
	body    *Template
	regtime int64
}

func (f *Fake) vmTemplate(id int) *vmTemplate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.templates[id]
}

func (f *Fake) templateInfo(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	t := f.vmTemplate(id)
	if t == nil {
		return nil, errNoExists(p.method, "virtual machine template", id)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<VMTEMPLATE><ID>%d</ID><UID>%d</UID><GID>%d</GID>", t.id, oneadminID, oneadminGID)
	element(&b, "UNAME", oneadmin)
	element(&b, "GNAME", oneadmin)
	element(&b, "NAME", t.name)
	b.WriteString("<LOCK/>" + sharedPermissions)
	fmt.Fprintf(&b, "<REGTIME>%d</REGTIME>", t.regtime)
	f.mu.Lock()
	b.WriteString(t.body.XML("TEMPLATE"))
	f.mu.Unlock()
	b.WriteString("</VMTEMPLATE>")
	return b.String(), nil
}

// templateInstantiate is VMTemplateInstantiate: the template, the extra
// template merged over it (each attribute it names replaces the
// template's of that name), the name given (else the template's name and
// the VM's id), then an allocation.
func (f *Fake) templateInstantiate(_ context.Context, p params) (any, *oneErr) {
	id, name, hold, extra, persistent := p.int(0, -1), p.str(1), p.bool(2), p.str(3), p.bool(4)
	t := f.vmTemplate(id)
	if t == nil {
		return nil, errNoExists(p.method, "virtual machine template", id)
	}
	if persistent {
		return nil, errInternal(p.method, "the fake makes no persistent copies of templates", id)
	}
	f.mu.Lock()
	body := t.body.Clone()
	f.mu.Unlock()
	if extra != "" {
		x, err := ParseTemplate(extra)
		if err != nil {
			return nil, errInternal(p.method, "Error parsing template: "+err.Error(), -1)
		}
		body.Merge(x)
	}
	body.Erase("NAME")
	if name != "" {
		body.Set("NAME", name)
	}
	vid, e := f.allocate(p.method, body, hold, t)
	if e != nil {
		return nil, e
	}
	return vid, nil
}

// network is the network of an id.
func (f *Fake) network(id int) (Network, bool) {
	for _, n := range f.opts.Networks {
		if n.ID == id {
			return n, true
		}
	}
	return Network{}, false
}

func (f *Fake) vnInfo(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	n, ok := f.network(id)
	if !ok {
		return nil, errNoExists(p.method, "virtual network", id)
	}
	return f.vnXML(n, true), nil
}

// vnPoolInfo lists the networks the user can use (who -2, -1), or its
// own (-3, its id).
func (f *Fake) vnPoolInfo(_ context.Context, p params) (any, *oneErr) {
	who, start, end := p.int(0, -2), p.int(1, -1), p.int(2, -1)
	if who < -4 {
		return nil, errAPI(p.method, "Incorrect filter_flag, must be >= -4.")
	}
	var b bytes.Buffer
	b.WriteString("<VNET_POOL>")
	for _, n := range f.opts.Networks {
		if start >= 0 && n.ID < start || end >= 0 && n.ID > end {
			continue
		}
		if (who == -3 || who >= 0) && n.Owner != f.opts.Username {
			continue
		}
		b.WriteString(f.vnXML(n, false))
	}
	b.WriteString("</VNET_POOL>")
	return b.String(), nil
}

// vnXML is VirtualNetwork::to_xml, with one address range (the leases
// are the machines' addresses, which the fake cloud's runtime gives).
func (f *Fake) vnXML(n Network, full bool) string {
	uid, gid, gname := oneadminID, oneadminGID, oneadmin
	if n.Owner == f.opts.Username {
		uid, gid, gname = f.opts.UserID, usersGroup, usersGName
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<VNET><ID>%d</ID><UID>%d</UID><GID>%d</GID>", n.ID, uid, gid)
	element(&b, "UNAME", n.Owner)
	element(&b, "GNAME", gname)
	element(&b, "NAME", n.Name)
	if full {
		b.WriteString("<LOCK/>")
	}
	b.WriteString(sharedPermissions + "<CLUSTERS><ID>0</ID></CLUSTERS>")
	element(&b, "BRIDGE", n.Bridge)
	b.WriteString("<BRIDGE_TYPE>linux</BRIDGE_TYPE><STATE>1</STATE><PREV_STATE>0</PREV_STATE><PARENT_NETWORK_ID/><VN_MAD>bridge</VN_MAD>")
	b.WriteString("<PHYDEV/><VLAN_ID/><OUTER_VLAN_ID/><VLAN_ID_AUTOMATIC>0</VLAN_ID_AUTOMATIC><OUTER_VLAN_ID_AUTOMATIC>0</OUTER_VLAN_ID_AUTOMATIC>")
	b.WriteString("<USED_LEASES>0</USED_LEASES><VROUTERS/><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/>")
	t := &Template{}
	t.Set("BRIDGE", n.Bridge)
	t.Set("VN_MAD", "bridge")
	b.WriteString(t.XML("TEMPLATE"))
	b.WriteString("<AR_POOL><AR><AR_ID>0</AR_ID><IP>198.18.0.1</IP><MAC>02:00:c6:12:00:01</MAC><SIZE>" + strconv.Itoa(1<<15) +
		"</SIZE><TYPE>IP4</TYPE></AR></AR_POOL></VNET>")
	return b.String()
}

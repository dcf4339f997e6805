package onefake

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
)

// userInfo is one.user.info of the user (-1, or its id), with its quotas
// and the default ones; another user's is refused, as a user may not read
// another's.
func (f *Fake) userInfo(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	switch {
	case id == -1 || id == f.opts.UserID:
	case id == oneadminID:
		return nil, errAuthorization(p.method, f.opts.UserID, "")
	default:
		return nil, errNoExists(p.method, "user", id)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<USER><ID>%d</ID><GID>%d</GID><GROUPS><ID>%d</ID></GROUPS>", f.opts.UserID, usersGroup, usersGroup)
	element(&b, "GNAME", usersGName)
	element(&b, "NAME", f.opts.Username)
	// oned gives the password's hash; the fake gives a hash-shaped word.
	b.WriteString("<PASSWORD>0000000000000000000000000000000000000000000000000000000000000000</PASSWORD>")
	b.WriteString("<AUTH_DRIVER>core</AUTH_DRIVER><ENABLED>1</ENABLED><LOGIN_TOKEN/>")
	t := &Template{}
	if f.opts.UserSSHKey != "" {
		t.Set("SSH_PUBLIC_KEY", f.opts.UserSSHKey)
	}
	b.WriteString(t.XML("TEMPLATE"))
	b.WriteString("<DATASTORE_QUOTA/><NETWORK_QUOTA/>")
	if q := f.opts.Quota; q != nil {
		vms, cpu, mem := f.usage()
		b.WriteString("<VM_QUOTA><VM>")
		quota := func(name string, limit, used int) {
			fmt.Fprintf(&b, "<%s>%d</%s><%s_USED>%d</%s_USED>", name, limit, name, name, used, name)
		}
		quota("CPU", q.CPU, cpu)
		quota("MEMORY", q.MemoryMB, mem)
		quota("RUNNING_CPU", -1, cpu)
		quota("RUNNING_MEMORY", -1, mem)
		quota("RUNNING_VMS", -1, vms)
		quota("SYSTEM_DISK_SIZE", -1, 0)
		quota("VMS", q.VMs, vms)
		b.WriteString("</VM></VM_QUOTA>")
	} else {
		b.WriteString("<VM_QUOTA/>")
	}
	b.WriteString("<IMAGE_QUOTA/><DEFAULT_USER_QUOTAS><DATASTORE_QUOTA/><NETWORK_QUOTA/><VM_QUOTA><VM>")
	for _, n := range []string{"CPU", "MEMORY", "RUNNING_CPU", "RUNNING_MEMORY", "RUNNING_VMS", "SYSTEM_DISK_SIZE", "VMS"} {
		b.WriteString("<" + n + ">" + strconv.Itoa(-2) + "</" + n + ">")
	}
	b.WriteString("</VM></VM_QUOTA><IMAGE_QUOTA/></DEFAULT_USER_QUOTAS></USER>")
	return b.String(), nil
}

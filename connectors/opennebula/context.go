package opennebula

import (
	"encoding/base64"
)

// machineContext is what a machine's CONTEXT tells it.
type machineContext struct {
	Hostname string
	UserData string
	// SSHKey is the authorized_keys line as the spec gives it, or "".
	SSHKey string
}

// openNebulaContext is the CONTEXT OpenNebula's contextualization packages
// and cloud-init's OpenNebula datasource read (OpenNebula's "Virtual
// Machine Template" reference, "Context Section"): NETWORK="YES" (configure
// the NICs), SET_HOSTNAME, SSH_PUBLIC_KEY (for root and the image's login
// user), and the user-data in base64, which USERDATA_ENCODING says.
func openNebulaContext(m machineContext) ([]pair, error) {
	ps := []pair{{"NETWORK", "YES"}, {"SET_HOSTNAME", m.Hostname}}
	if m.SSHKey != "" {
		ps = append(ps, pair{"SSH_PUBLIC_KEY", m.SSHKey})
	}
	if m.UserData != "" {
		ps = append(ps, pair{"USER_DATA", base64.StdEncoding.EncodeToString([]byte(m.UserData))}, pair{"USERDATA_ENCODING", "base64"})
	}
	return ps, nil
}

// mergeContext is a template's CONTEXT with the connector's variables
// over it: OpenNebula replaces a CONTEXT given at instantiation as a
// whole, so the template's own variables (a start script, a token) are
// given again with it.
func mergeContext(base, ours []pair) []pair {
	out := make([]pair, 0, len(base)+len(ours))
	set := map[string]int{}
	for _, p := range base {
		if i, dup := set[p.Key]; dup {
			out[i] = p
			continue
		}
		set[p.Key] = len(out)
		out = append(out, p)
	}
	for _, p := range ours {
		if i, dup := set[p.Key]; dup {
			out[i] = p
			continue
		}
		set[p.Key] = len(out)
		out = append(out, p)
	}
	return out
}

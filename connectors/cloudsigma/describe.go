package cloudsigma

import (
	"context"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// Describe reads a server (GET /servers/{uuid}/). A server that does not
// exist is KindNotFound.
func (c *Connector) Describe(ctx context.Context, id string) (*connectors.Machine, error) {
	s, err := c.api.GetServer(ctx, id)
	if gone(err) {
		return nil, connectors.NotFound(Name, "GET /servers/"+id+"/", "server", id)
	}
	if err != nil {
		return nil, apiErr(err)
	}
	tags, err := c.tagNames(ctx, s)
	if err != nil {
		return nil, err
	}
	return c.machine(s, tags), nil
}

// List lists the servers whose meta has LabelDeployment = deployment. The
// API filters lists by name, uuid and tag only, so the detailed list of
// every server (GET /servers/detail/, every page) is filtered here.
func (c *Connector) List(ctx context.Context, deployment string) ([]*connectors.Machine, error) {
	servers, err := c.api.ListServers(ctx, nil)
	if err != nil {
		return nil, apiErr(err)
	}
	var mine []*csapi.Server
	for i := range servers {
		if servers[i].Meta[connectors.LabelDeployment] == deployment {
			mine = append(mine, &servers[i])
		}
	}
	tags, err := c.tagNames(ctx, mine...)
	if err != nil {
		return nil, err
	}
	out := make([]*connectors.Machine, 0, len(mine))
	for _, s := range mine {
		out = append(out, c.machine(s, tags))
	}
	return out, nil
}

// machine is a server as a connectors.Machine. tagNames maps tag uuids to
// names (nil when the server has no tags).
func (c *Connector) machine(s *csapi.Server, tagNames map[string]string) *connectors.Machine {
	m := &connectors.Machine{ID: s.UUID, Name: s.Name, ImageID: s.Meta[metaImage], Labels: labelsOf(s.Meta),
		Settings: connectors.Settings{}}
	m.State, m.Reason = c.stateOf(s)
	m.PublicIP, m.PrivateIP = addresses(s)
	for _, n := range s.NICs {
		if n.VLAN != nil && n.VLAN.UUID != "" {
			m.Settings["vlan"] = n.VLAN.UUID
			break
		}
	}
	if len(s.Tags) > 0 {
		var names []string
		for _, t := range s.Tags {
			if n := tagNames[t.UUID]; n != "" {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			slices.Sort(names) // a set: the API's order is its own
			m.Settings["tags"] = names
		}
	}
	if k := s.Meta[metaSSHKey]; k != "" {
		m.Settings["ssh_public_key"] = k
	}
	return m
}

// stateOf maps a server's status ("Server State Diagram") onto the
// connectors' states:
//   - stopped is pending while this connector's create is about to start
//     it (the server is created stopped and started by the next call),
//     stopped otherwise;
//   - starting is pending, running running, stopping stopping;
//   - paused, which the diagram calls "essentially dead" (the guest did
//     something illegal), is an error;
//   - unavailable (the server's host is unreachable; the diagram takes it
//     back to starting or running) is pending: the machine is expected
//     back.
func (c *Connector) stateOf(s *csapi.Server) (connectors.State, string) {
	switch s.Status {
	case csapi.StatusStopped:
		if c.starting(s.UUID) {
			return connectors.StatePending, ""
		}
		return connectors.StateStopped, ""
	case csapi.StatusStarting:
		return connectors.StatePending, ""
	case csapi.StatusRunning:
		return connectors.StateRunning, ""
	case csapi.StatusStopping:
		return connectors.StateStopping, ""
	case csapi.StatusPaused:
		return connectors.StateError, "paused: CloudSigma paused the guest after it crashed or did something illegal"
	case csapi.StatusUnavailable:
		return connectors.StatePending, "unavailable: CloudSigma cannot reach the server's host for now"
	}
	return connectors.StateError, "unknown CloudSigma status " + s.Status
}

// addresses are a started server's public address, the one its DHCP NIC
// got (runtime.nics[].ip_v4.uuid of the "public" interface), and its
// private address: that of its VLAN NIC when CloudSigma knows one, which
// it rarely does ("Assignment of IPs on private network interface is up
// to the user"), else the public one, which is where the machine is
// reached from anywhere, its deployment included.
func addresses(s *csapi.Server) (public, private string) {
	var nics []csapi.NICRuntime
	if s.Runtime != nil {
		nics = s.Runtime.NICs
	}
	if len(nics) == 0 {
		for _, n := range s.NICs {
			if n.Runtime != nil {
				nics = append(nics, *n.Runtime)
			}
		}
	}
	for _, n := range nics {
		if n.IPv4 == nil || n.IPv4.UUID == "" {
			continue
		}
		switch {
		case n.InterfaceType == "private" && private == "":
			private = n.IPv4.UUID
		case n.InterfaceType != "private" && public == "":
			public = n.IPv4.UUID
		}
	}
	if private == "" {
		private = public
	}
	return public, private
}

package openstack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const opList = "GET /servers/detail"

// machineState maps Nova's status (and task) to the connectors' state.
// Statuses of a server that is not running but keeps its disk (paused,
// suspended, shelved) are stopped, with the status as the reason;
// the transient ones of a running server (REBOOT, RESIZE, …) running.
func machineState(s *servers.Server) (connectors.State, string) {
	switch s.Status {
	case "BUILD":
		return connectors.StatePending, ""
	case "ACTIVE":
		switch s.TaskState {
		case "powering-off":
			return connectors.StateStopping, ""
		case "deleting":
			return connectors.StateTerminating, ""
		}
		return connectors.StateRunning, ""
	case "SHUTOFF", "STOPPED":
		if s.TaskState == "powering-on" {
			return connectors.StatePending, ""
		}
		return connectors.StateStopped, ""
	case "PAUSED", "SUSPENDED", "SHELVED", "SHELVED_OFFLOADED":
		return connectors.StateStopped, "Nova status " + s.Status
	case "ERROR":
		return connectors.StateError, coalesce(s.Fault.Message, "Nova put the server in ERROR")
	case "DELETED", "SOFT_DELETED":
		return connectors.StateTerminated, ""
	case "UNKNOWN":
		return connectors.StateError, "Nova status UNKNOWN: it cannot reach the server's compute host"
	}
	return connectors.StateRunning, ""
}

// machineOf is the connectors' view of a server.
func (c *Connector) machineOf(ctx context.Context, s *servers.Server) *connectors.Machine {
	state, reason := machineState(s)
	m := &connectors.Machine{ID: s.ID, Name: s.Name, State: state, Reason: reason, Created: s.Created,
		Labels: maps.Clone(s.Metadata), Settings: connectors.Settings{}}
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	delete(m.Labels, metaFloatingPool)
	if id, ok := s.Image["id"].(string); ok {
		m.ImageID = id
	}
	if name, ok := s.Flavor["original_name"].(string); ok {
		m.Type = name
	} else if id, ok := s.Flavor["id"].(string); ok {
		m.Type = c.flavorName(ctx, id)
	}
	nets := slices.Sorted(maps.Keys(s.Addresses))
	for _, net := range nets {
		addrs, _ := s.Addresses[net].([]any)
		for _, a := range addrs {
			addr, _ := a.(map[string]any)
			ip, _ := addr["addr"].(string)
			if ip == "" || !isIPv4(addr["version"]) {
				continue
			}
			switch addr["OS-EXT-IPS:type"] {
			case "floating":
				m.PublicIP = coalesce(m.PublicIP, ip)
			default:
				m.PrivateIP = coalesce(m.PrivateIP, ip)
			}
		}
	}
	m.PublicIP = coalesce(m.PublicIP, s.AccessIPv4)
	if len(nets) == 1 {
		m.Settings["network"] = nets[0]
	}
	var groups []string
	for _, g := range s.SecurityGroups {
		if name, ok := g["name"].(string); ok && !slices.Contains(groups, name) {
			groups = append(groups, name)
		}
	}
	if len(groups) > 0 {
		m.Settings["security_groups"] = groups
	}
	if s.AvailabilityZone != "" {
		m.Settings["availability_zone"] = s.AvailabilityZone
	}
	if pool := s.Metadata[metaFloatingPool]; pool != "" {
		m.Settings["floating_ip_pool"] = pool
	}
	return m
}

// isIPv4 reads an address's "version" (a number, however decoded).
func isIPv4(v any) bool {
	switch n := v.(type) {
	case float64:
		return n == 4
	case json.Number:
		return n.String() == "4"
	case nil:
		return true
	}
	return fmt.Sprint(v) == "4"
}

// Describe reads the server. A server with a floating IP pool whose
// floating IP is not associated yet (its port did not exist when Create
// ran) gets it now; failing that is not Describe's error: the next
// Describe tries again.
func (c *Connector) Describe(ctx context.Context, id string) (*connectors.Machine, error) {
	srv, err := servers.Get(ctx, c.compute, id).Extract()
	if err != nil {
		return nil, apiError(opGet, err)
	}
	if srv.Status == "DELETED" || srv.Status == "SOFT_DELETED" {
		return nil, connectors.NotFound(cloudName, opGet, "server", id)
	}
	m := c.machineOf(ctx, srv)
	if pool := srv.Metadata[metaFloatingPool]; pool != "" && m.PublicIP == "" && srv.Status == "ACTIVE" && srv.TaskState == "" {
		if n, err := c.poolFor(ctx, pool); err == nil {
			if ip, err := c.ensureFloatingIP(ctx, id, n.ID); err == nil && ip != "" {
				m.PublicIP = ip
			}
		}
	}
	return m, nil
}

// List finds a deployment's servers: by their deployment tag, on Nova's
// side, when the microversion has tags (2.52); else every server of the
// project, kept by their metadata. Either way the metadata decides.
//
// A server made by this connector under a microversion before 2.52 has
// no tag: a cloud upgraded past 2.52 while a deployment lives hides it
// from the tag filter.
func (c *Connector) List(ctx context.Context, deployment string) ([]*connectors.Machine, error) {
	if deployment == "" {
		return nil, &connectors.Error{Cloud: cloudName, Op: opList, Code: "InvalidRequest", Kind: connectors.KindPermanent,
			Message: "List needs a deployment id"}
	}
	var opts serverQuery
	if tag, ok := deploymentTag(deployment); ok && c.atLeast(52) {
		opts = serverQuery{"tags": {tag}}
	}
	return c.listServers(ctx, opts, func(s *servers.Server) bool {
		return s.Metadata[connectors.LabelDeployment] == deployment
	})
}

// serverQuery is the query of a server list (gophercloud's ListOpts have
// no reservation_id).
type serverQuery url.Values

func (q serverQuery) ToServerListQuery() (string, error) {
	if len(q) == 0 {
		return "", nil
	}
	return "?" + url.Values(q).Encode(), nil
}

// listServers reads every page of servers matching the query and keeps
// those keep says, not deleted.
func (c *Connector) listServers(ctx context.Context, q serverQuery, keep func(*servers.Server) bool) ([]*connectors.Machine, error) {
	var out []*connectors.Machine
	err := servers.List(c.compute, q).EachPage(ctx, func(ctx context.Context, p pagination.Page) (bool, error) {
		list, err := servers.ExtractServers(p)
		if err != nil {
			return false, err
		}
		for i := range list {
			s := &list[i]
			if s.Status == "DELETED" || s.Status == "SOFT_DELETED" || !keep(s) {
				continue
			}
			out = append(out, c.machineOf(ctx, s))
		}
		return true, nil
	})
	if err != nil {
		return nil, apiError(opList, err)
	}
	return out, nil
}

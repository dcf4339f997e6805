package opennebula

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/OpenNebula/one/src/oca/go/src/goca/parameters"
	vn "github.com/OpenNebula/one/src/oca/go/src/goca/schemas/virtualnetwork"
)

// nic is the NIC a VM gets, and the network's name as the machine's
// network setting reports it:
//   - a network id is taken as it is (OpenNebula refuses an unknown one
//     at allocation);
//   - a name is resolved among the networks the user can use
//     (one.vnpool.info), so that a network another user (oneadmin)
//     shares is found too;
//   - no setting: a VM template keeps its own NICs; a VM from an image
//     gets the flavor's default network, or the one network the user can
//     use (a VM without one could not reach the coordinator).
func (c *Connector) nic(ctx context.Context, setting string, fromImage bool) ([]pair, string, error) {
	if setting == "" && !fromImage {
		return nil, "", nil
	}
	if id, err := strconv.Atoi(setting); err == nil && id >= 0 {
		return []pair{{"NETWORK_ID", setting}}, setting, nil
	}
	nets, err := guard(c, opNetworks, func() ([]vn.VirtualNetwork, error) {
		pool, err := c.one.VirtualNetworks().InfoContext(ctx, parameters.PoolWhoAll, -1, -1)
		if err != nil {
			return nil, err
		}
		return pool.VirtualNetworks, nil
	})
	if err != nil {
		return nil, "", err
	}
	name, how := setting, "the network setting"
	if name == "" {
		name, how = c.flavor.defaultNetwork, "the default network"
	}
	if name == "" {
		switch len(nets) {
		case 1:
			return []pair{{"NETWORK_ID", strconv.Itoa(nets[0].ID)}}, nets[0].Name, nil
		case 0:
			return nil, "", c.permanent(opNetworks, "NoNetwork", "the user can use no virtual network, and a VM needs one to reach the coordinator")
		}
		return nil, "", c.permanent(opNetworks, "NetworkNeeded", "set the network setting: the user can use several virtual networks (%s)", networkList(nets))
	}
	var found []vn.VirtualNetwork
	for _, n := range nets {
		if n.Name == name {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 1:
		return []pair{{"NETWORK_ID", strconv.Itoa(found[0].ID)}}, name, nil
	case 0:
		return nil, "", c.permanent(opNetworks, "NetworkNotFound", "%s names virtual network %q, which the user cannot use; it can use %s", how, name, networkList(nets))
	}
	return nil, "", c.permanent(opNetworks, "NetworkAmbiguous", "several virtual networks are named %q (%s): set the network setting to the id of one", name, networkList(found))
}

// networkList names networks for messages: "public (0, oneadmin), …".
func networkList(nets []vn.VirtualNetwork) string {
	if len(nets) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(nets))
	for _, n := range nets {
		parts = append(parts, fmt.Sprintf("%s (%d, %s)", n.Name, n.ID, n.UName))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

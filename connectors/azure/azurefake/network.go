package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	armnetworkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9/fake"
)

func (f *Fake) virtualNetworksServer() armnetworkfake.VirtualNetworksServer {
	return armnetworkfake.VirtualNetworksServer{BeginCreateOrUpdate: f.createVNet, Get: f.getVNet, BeginDelete: f.deleteVNet}
}

func (f *Fake) createVNet(ctx context.Context, group, name string, body armnetwork.VirtualNetwork, _ *armnetwork.VirtualNetworksClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.VirtualNetworksClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg, err := f.group(group)
	if err != nil {
		errResp.SetError(err)
		return
	}
	if e := f.checkLocation(body.Location); e != nil {
		errResp.SetError(e)
		return
	}
	id := f.rid(rg.name, "Microsoft.Network/virtualNetworks", name)
	v := &vnet{id: id, group: rg.name, name: name, location: f.opts.Location, tags: tagsIn(body.Tags)}
	if p := body.Properties; p != nil {
		if p.AddressSpace != nil {
			for _, pre := range p.AddressSpace.AddressPrefixes {
				if _, err := netip.ParsePrefix(str(pre)); err != nil {
					errResp.SetError(&apiError{Status: 400, Code: "InvalidAddressPrefixFormat", Message: fmt.Sprintf("Address prefix %s of resource %s is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.", str(pre), id)})
					return
				}
				v.prefixes = append(v.prefixes, *pre)
			}
		}
		for _, s := range p.Subnets {
			if s == nil || str(s.Name) == "" || s.Properties == nil {
				errResp.SetError(invalidParameter("subnets", "Every subnet needs a name and properties."))
				return
			}
			prefix := str(s.Properties.AddressPrefix)
			if prefix == "" && len(s.Properties.AddressPrefixes) > 0 {
				prefix = str(s.Properties.AddressPrefixes[0])
			}
			sp, err := netip.ParsePrefix(prefix)
			if err != nil || !v.contains(sp) {
				errResp.SetError(&apiError{Status: 400, Code: "NetcfgSubnetRangeOutsideVnet",
					Message: fmt.Sprintf("Subnet '%s' is not valid because its IP address range %s is outside the IP address range of virtual network '%s'.", str(s.Name), prefix, name)})
				return
			}
			v.subnets = append(v.subnets, &subnet{id: id + "/subnets/" + *s.Name, name: *s.Name, prefix: prefix, defaultOutbound: s.Properties.DefaultOutboundAccess})
		}
	}
	if len(v.prefixes) == 0 {
		errResp.SetError(invalidParameter("addressSpace", "The virtual network needs an address space."))
		return
	}
	if old, ok := f.vnets[strings.ToLower(id)]; ok {
		for _, s := range old.subnets {
			if !v.hasSubnet(s.name) && f.subnetInUse(s.id) != "" {
				errResp.SetError(errSubnetInUse(s, f.subnetInUse(s.id)))
				return
			}
		}
	}
	f.vnets[strings.ToLower(id)] = v
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	f.track(ctx, done(http.StatusOK, func() any { return vnetModel(v) }))
	return
}

func (v *vnet) contains(p netip.Prefix) bool {
	for _, s := range v.prefixes {
		vp, err := netip.ParsePrefix(s)
		if err == nil && vp.Bits() <= p.Bits() && vp.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func (v *vnet) hasSubnet(name string) bool {
	for _, s := range v.subnets {
		if strings.EqualFold(s.name, name) {
			return true
		}
	}
	return false
}

// subnetInUse names a network interface in the subnet, or ""; f.mu is
// held.
func (f *Fake) subnetInUse(subnetID string) string {
	for _, n := range f.nics {
		if strings.EqualFold(n.subnetID, subnetID) {
			return n.id
		}
	}
	return ""
}

func errSubnetInUse(s *subnet, by string) *apiError {
	return &apiError{Status: 400, Code: "InUseSubnetCannotBeDeleted",
		Message: fmt.Sprintf("Subnet %s is in use by %s/ipConfigurations/ipconfig1 and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.", s.name, by)}
}

func vnetModel(v *vnet) armnetwork.VirtualNetwork {
	state := armnetwork.ProvisioningStateSucceeded
	out := armnetwork.VirtualNetwork{ID: &v.id, Name: &v.name, Type: new("Microsoft.Network/virtualNetworks"), Location: &v.location, Tags: tagsOut(v.tags),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{ProvisioningState: &state, AddressSpace: &armnetwork.AddressSpace{}}}
	for _, p := range v.prefixes {
		out.Properties.AddressSpace.AddressPrefixes = append(out.Properties.AddressSpace.AddressPrefixes, &p)
	}
	for _, s := range v.subnets {
		sm := subnetModel(s)
		out.Properties.Subnets = append(out.Properties.Subnets, &sm)
	}
	return out
}

func subnetModel(s *subnet) armnetwork.Subnet {
	state := armnetwork.ProvisioningStateSucceeded
	return armnetwork.Subnet{ID: &s.id, Name: &s.name, Type: new("Microsoft.Network/virtualNetworks/subnets"),
		Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: &s.prefix, DefaultOutboundAccess: s.defaultOutbound, ProvisioningState: &state}}
}

func (f *Fake) getVNet(_ context.Context, group, name string, _ *armnetwork.VirtualNetworksClientGetOptions) (resp azfake.Responder[armnetwork.VirtualNetworksClientGetResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := lookupIn(f, f.vnets, group, "Microsoft.Network/virtualNetworks", name, f.rid(group, "Microsoft.Network/virtualNetworks", name))
	if err != nil {
		errResp.SetError(err)
		return
	}
	resp.SetResponse(http.StatusOK, armnetwork.VirtualNetworksClientGetResponse{VirtualNetwork: vnetModel(v)}, nil)
	return
}

func (f *Fake) deleteVNet(ctx context.Context, group, name string, _ *armnetwork.VirtualNetworksClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.VirtualNetworksClientDeleteResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[strings.ToLower(group)]; !ok {
		errResp.SetError(errGroupNotFound(group))
		return
	}
	key := strings.ToLower(f.rid(group, "Microsoft.Network/virtualNetworks", name))
	v, ok := f.vnets[key]
	if !ok {
		resp.SetTerminalResponse(http.StatusNoContent, armnetwork.VirtualNetworksClientDeleteResponse{}, nil)
		return
	}
	for _, s := range v.subnets {
		if by := f.subnetInUse(s.id); by != "" {
			errResp.SetError(errSubnetInUse(s, by))
			return
		}
	}
	delete(f.vnets, key)
	resp.AddNonTerminalResponse(http.StatusAccepted, nil)
	f.track(ctx, done(http.StatusNoContent, nil))
	return
}

func (f *Fake) subnetsServer() armnetworkfake.SubnetsServer {
	return armnetworkfake.SubnetsServer{
		Get: func(_ context.Context, group, vnetName, name string, _ *armnetwork.SubnetsClientGetOptions) (resp azfake.Responder[armnetwork.SubnetsClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			s, e := f.findSubnet(f.rid(group, "Microsoft.Network/virtualNetworks", vnetName, "subnets", name))
			if e != nil {
				errResp.SetError(e)
				return
			}
			resp.SetResponse(http.StatusOK, armnetwork.SubnetsClientGetResponse{Subnet: subnetModel(s)}, nil)
			return
		},
	}
}

// findSubnet finds a subnet by id; f.mu is held.
func (f *Fake) findSubnet(id string) (*subnet, *apiError) {
	ref, ok := parseID(id)
	if !ok || ref.kind != kindSubnet {
		return nil, &apiError{Status: 400, Code: "InvalidResourceReference", Message: fmt.Sprintf("Resource %s is not a subnet.", id)}
	}
	v, ok := f.vnets[strings.ToLower(f.rid(ref.group, "Microsoft.Network/virtualNetworks", ref.vnet))]
	if ok {
		for _, s := range v.subnets {
			if strings.EqualFold(s.name, ref.name) {
				return s, nil
			}
		}
	}
	return nil, &apiError{Status: 404, Code: "NotFound", Message: fmt.Sprintf("Resource %s not found.", id)}
}

// ---- network interfaces ----

func (f *Fake) interfacesServer() armnetworkfake.InterfacesServer {
	return armnetworkfake.InterfacesServer{BeginCreateOrUpdate: f.createNIC, Get: f.getNIC, BeginDelete: f.deleteNICOp}
}

func (f *Fake) createNIC(ctx context.Context, group, name string, body armnetwork.Interface, _ *armnetwork.InterfacesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg, err := f.group(group)
	if err != nil {
		errResp.SetError(err)
		return
	}
	if e := f.checkLocation(body.Location); e != nil {
		errResp.SetError(e)
		return
	}
	id := f.rid(rg.name, "Microsoft.Network/networkInterfaces", name)
	if body.Properties == nil || len(body.Properties.IPConfigurations) == 0 || body.Properties.IPConfigurations[0] == nil || body.Properties.IPConfigurations[0].Properties == nil {
		errResp.SetError(invalidParameter("ipConfigurations", "Network interface %s must have one or more IP configurations.", id))
		return
	}
	ipc := body.Properties.IPConfigurations[0].Properties
	if ipc.Subnet == nil || str(ipc.Subnet.ID) == "" {
		errResp.SetError(invalidParameter("ipConfigurations.subnet", "IP configuration of network interface %s must reference a subnet.", id))
		return
	}
	if _, e := f.findSubnet(*ipc.Subnet.ID); e != nil {
		errResp.SetError(&apiError{Status: 400, Code: "InvalidResourceReference",
			Message: fmt.Sprintf("Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", *ipc.Subnet.ID, id)})
		return
	}
	n := &nic{id: id, group: rg.name, name: name, location: f.opts.Location, tags: tagsIn(body.Tags), subnetID: *ipc.Subnet.ID}
	if old, ok := f.nics[strings.ToLower(id)]; ok {
		n.vmID, n.privateIP = old.vmID, old.privateIP
		if p, ok := f.pips[strings.ToLower(old.pipID)]; ok {
			p.nicID = ""
		}
	}
	if ipc.PublicIPAddress != nil && str(ipc.PublicIPAddress.ID) != "" {
		p, ok := f.pips[strings.ToLower(*ipc.PublicIPAddress.ID)]
		if !ok {
			errResp.SetError(&apiError{Status: 400, Code: "InvalidResourceReference",
				Message: fmt.Sprintf("Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", *ipc.PublicIPAddress.ID, id)})
			return
		}
		if p.nicID != "" && !strings.EqualFold(p.nicID, id) {
			errResp.SetError(&apiError{Status: 400, Code: "PublicIPAddressInUse", Message: fmt.Sprintf("Resource %s is referenced by resource %s, and cannot be referenced by %s.", p.id, p.nicID, id)})
			return
		}
		p.nicID, n.pipID = id, p.id
	}
	if n.privateIP == "" {
		n.privateIP = str(ipc.PrivateIPAddress)
		if n.privateIP == "" {
			n.privateIP = f.nextAddress()
		}
	}
	f.nics[strings.ToLower(id)] = n
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	f.track(ctx, done(http.StatusOK, func() any { return f.nicModel(n, false) }))
	return
}

// nicModel is a network interface as the network provider describes it;
// expandIP puts its public address's properties inline, as
// $expand=ipConfigurations/publicIPAddress does; f.mu is held.
func (f *Fake) nicModel(n *nic, expandIP bool) armnetwork.Interface {
	state := armnetwork.ProvisioningStateSucceeded
	primary := true
	dynamic := armnetwork.IPAllocationMethodDynamic
	addr := n.privateIP
	if n.vmID != "" {
		if m, err := f.cloud.Machine(n.vmID); err == nil && m.PrivateIP != "" {
			addr = m.PrivateIP
		}
	}
	ipc := &armnetwork.InterfaceIPConfigurationPropertiesFormat{Primary: &primary, PrivateIPAddress: &addr, PrivateIPAllocationMethod: &dynamic,
		Subnet: &armnetwork.Subnet{ID: &n.subnetID}, ProvisioningState: &state}
	if n.pipID != "" {
		ipc.PublicIPAddress = &armnetwork.PublicIPAddress{ID: &n.pipID}
		if p, ok := f.pips[strings.ToLower(n.pipID)]; ok && expandIP {
			m := pipModel(p)
			ipc.PublicIPAddress = &m
		}
	}
	out := armnetwork.Interface{ID: &n.id, Name: &n.name, Type: new("Microsoft.Network/networkInterfaces"), Location: &n.location, Tags: tagsOut(n.tags),
		Properties: &armnetwork.InterfacePropertiesFormat{ProvisioningState: &state, Primary: &primary,
			IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{ID: new(n.id + "/ipConfigurations/ipconfig1"), Name: new("ipconfig1"), Properties: ipc}}}}
	if n.vmID != "" {
		out.Properties.VirtualMachine = &armnetwork.SubResource{ID: &n.vmID}
	}
	return out
}

func (f *Fake) getNIC(_ context.Context, group, name string, opts *armnetwork.InterfacesClientGetOptions) (resp azfake.Responder[armnetwork.InterfacesClientGetResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := lookupIn(f, f.nics, group, "Microsoft.Network/networkInterfaces", name, f.rid(group, "Microsoft.Network/networkInterfaces", name))
	if err != nil {
		errResp.SetError(err)
		return
	}
	expand := opts != nil && opts.Expand != nil && strings.Contains(strings.ToLower(*opts.Expand), "publicipaddress")
	resp.SetResponse(http.StatusOK, armnetwork.InterfacesClientGetResponse{Interface: f.nicModel(n, expand)}, nil)
	return
}

func (f *Fake) deleteNICOp(ctx context.Context, group, name string, _ *armnetwork.InterfacesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.InterfacesClientDeleteResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[strings.ToLower(group)]; !ok {
		errResp.SetError(errGroupNotFound(group))
		return
	}
	n, ok := f.nics[strings.ToLower(f.rid(group, "Microsoft.Network/networkInterfaces", name))]
	if !ok {
		resp.SetTerminalResponse(http.StatusNoContent, armnetwork.InterfacesClientDeleteResponse{}, nil)
		return
	}
	if n.vmID != "" {
		errResp.SetError(&apiError{Status: 400, Code: "NicInUse",
			Message: fmt.Sprintf("Network Interface %s is used by existing resource %s. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.", n.id, n.vmID)})
		return
	}
	f.deleteNIC(n, false)
	resp.AddNonTerminalResponse(http.StatusAccepted, nil)
	f.track(ctx, done(http.StatusNoContent, nil))
	return
}

// ---- public addresses ----

func (f *Fake) publicIPsServer() armnetworkfake.PublicIPAddressesServer {
	return armnetworkfake.PublicIPAddressesServer{
		BeginCreateOrUpdate: f.createPublicIP,
		Get: func(_ context.Context, group, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			p, err := lookupIn(f, f.pips, group, "Microsoft.Network/publicIPAddresses", name, f.rid(group, "Microsoft.Network/publicIPAddresses", name))
			if err != nil {
				errResp.SetError(err)
				return
			}
			resp.SetResponse(http.StatusOK, armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: pipModel(p)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, group, name string, _ *armnetwork.PublicIPAddressesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.PublicIPAddressesClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.groups[strings.ToLower(group)]; !ok {
				errResp.SetError(errGroupNotFound(group))
				return
			}
			key := strings.ToLower(f.rid(group, "Microsoft.Network/publicIPAddresses", name))
			p, ok := f.pips[key]
			if !ok {
				resp.SetTerminalResponse(http.StatusNoContent, armnetwork.PublicIPAddressesClientDeleteResponse{}, nil)
				return
			}
			if p.nicID != "" {
				errResp.SetError(&apiError{Status: 400, Code: "PublicIPAddressCannotBeDeleted",
					Message: fmt.Sprintf("Public IP address %s can not be deleted since it is still allocated to resource %s/ipConfigurations/ipconfig1.", p.id, p.nicID)})
				return
			}
			delete(f.pips, key)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			f.track(ctx, done(http.StatusNoContent, nil))
			return
		},
	}
}

func (f *Fake) createPublicIP(ctx context.Context, group, name string, body armnetwork.PublicIPAddress, _ *armnetwork.PublicIPAddressesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.PublicIPAddressesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg, err := f.group(group)
	if err != nil {
		errResp.SetError(err)
		return
	}
	if e := f.checkLocation(body.Location); e != nil {
		errResp.SetError(e)
		return
	}
	id := f.rid(rg.name, "Microsoft.Network/publicIPAddresses", name)
	p, ok := f.pips[strings.ToLower(id)]
	if !ok {
		p = &publicIP{id: id, group: rg.name, name: name, location: f.opts.Location, address: f.nextPublicAddress(), deleteOption: deleteOptionDetach}
		f.pips[strings.ToLower(id)] = p
	}
	p.tags = tagsIn(body.Tags)
	if body.Properties != nil && body.Properties.DeleteOption != nil {
		p.deleteOption = string(*body.Properties.DeleteOption)
	}
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	f.track(ctx, done(http.StatusOK, func() any { return pipModel(p) }))
	return
}

func pipModel(p *publicIP) armnetwork.PublicIPAddress {
	state := armnetwork.ProvisioningStateSucceeded
	static := armnetwork.IPAllocationMethodStatic
	sku, tier := armnetwork.PublicIPAddressSKUNameStandard, armnetwork.PublicIPAddressSKUTierRegional
	del := armnetwork.DeleteOptions(p.deleteOption)
	out := armnetwork.PublicIPAddress{ID: &p.id, Name: &p.name, Type: new("Microsoft.Network/publicIPAddresses"), Location: &p.location, Tags: tagsOut(p.tags),
		SKU:        &armnetwork.PublicIPAddressSKU{Name: &sku, Tier: &tier},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{IPAddress: &p.address, PublicIPAllocationMethod: &static, DeleteOption: &del, ProvisioningState: &state}}
	if p.nicID != "" {
		out.Properties.IPConfiguration = &armnetwork.IPConfiguration{ID: new(p.nicID + "/ipConfigurations/ipconfig1")}
	}
	return out
}

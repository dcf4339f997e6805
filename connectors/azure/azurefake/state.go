package azurefake

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Resource types as resource ids spell them, lower-cased for comparison.
const (
	kindVM             = "microsoft.compute/virtualmachines"
	kindImage          = "microsoft.compute/images"
	kindGallery        = "microsoft.compute/galleries"
	kindGalleryImage   = "microsoft.compute/galleries/images"
	kindGalleryVersion = "microsoft.compute/galleries/images/versions"
	kindDisk           = "microsoft.compute/disks"
	kindVNet           = "microsoft.network/virtualnetworks"
	kindSubnet         = "microsoft.network/virtualnetworks/subnets"
	kindNIC            = "microsoft.network/networkinterfaces"
	kindPublicIP       = "microsoft.network/publicipaddresses"
)

// Delete options, as the API spells them.
const (
	deleteOptionDelete = "Delete"
	deleteOptionDetach = "Detach"
)

type resourceGroup struct {
	name, location string
	tags           map[string]string
	deleting       bool
}

type vnet struct {
	id, group, name, location string
	tags                      map[string]string
	prefixes                  []string
	subnets                   []*subnet
}

type subnet struct {
	id, name, prefix string
	defaultOutbound  *bool
}

type nic struct {
	id, group, name, location string
	tags                      map[string]string
	subnetID, pipID, vmID     string
	// privateIP is the address Azure gives the NIC when it is made; once
	// its VM's guest runs, the NIC shows the guest's address instead,
	// which is the one that reaches it.
	privateIP string
}

type publicIP struct {
	id, group, name, location string
	tags                      map[string]string
	address, nicID            string
	deleteOption              string
}

type disk struct {
	id, group, name, location string
	vmID                      string
	sizeGB                    int32
	deleteOption              string
}

type nicRef struct {
	id, deleteOption string
	primary          bool
}

type sshKey struct{ path, data string }

type vm struct {
	id, group, name, location string
	tags                      map[string]string
	size                      string
	image                     imageRef
	adminUser, computerName   string
	keys                      []sshKey
	nics                      []nicRef
	diskID                    string
	vmGUID                    string
	created                   time.Time
	deallocated, generalized  bool
	deleting                  bool
}

// imageRef is a VM's storageProfile.imageReference as it was given.
type imageRef struct {
	id, publisher, offer, sku, version string
	cloudID                            string // the fake cloud's image
}

type image struct {
	id, group, name, location string
	tags                      map[string]string
	sourceVM, cloudID, hyperV string
	base                      bool // registered by AddImage: no source VM
}

type gallery struct {
	id, group, name, location string
	tags                      map[string]string
}

type galleryImage struct {
	id, gallery, name, location string
	tags                        map[string]string
	osType, osState, hyperV     string
	publisher, offer, sku       string
}

type galleryVersion struct {
	id, def, name, location string
	tags                    map[string]string
	sourceVM, cloudID       string
	base                    bool
}

func (r *vnet) resourceID() string           { return r.id }
func (r *nic) resourceID() string            { return r.id }
func (r *publicIP) resourceID() string       { return r.id }
func (r *disk) resourceID() string           { return r.id }
func (r *image) resourceID() string          { return r.id }
func (r *gallery) resourceID() string        { return r.id }
func (r *galleryImage) resourceID() string   { return r.id }
func (r *galleryVersion) resourceID() string { return r.id }

// rid is the id of a resource of the fake's subscription: typ is the
// provider and type path ("Microsoft.Compute/virtualMachines"), names
// the resource's (and its parents') names, interleaved with child types.
func (f *Fake) rid(group, typ string, names ...string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", f.opts.SubscriptionID, group, typ, strings.Join(names, "/"))
}

// idRef is a resource id taken apart.
type idRef struct {
	subscription, group, kind, name string
	// parents' names, for child resources
	gallery, image, vnet string
}

// parseID takes a resource id apart; ok is false when it is not one.
func parseID(id string) (idRef, bool) {
	r, err := arm.ParseResourceID(id)
	if err != nil || r.ResourceGroupName == "" || r.Name == "" {
		return idRef{}, false
	}
	ref := idRef{subscription: r.SubscriptionID, group: r.ResourceGroupName, kind: strings.ToLower(r.ResourceType.String()), name: r.Name}
	switch ref.kind {
	case kindGalleryImage:
		ref.gallery = r.Parent.Name
	case kindGalleryVersion:
		ref.image = r.Parent.Name
		ref.gallery = r.Parent.Parent.Name
	case kindSubnet:
		ref.vnet = r.Parent.Name
	}
	return ref, true
}

// group returns an existing resource group that is not being deleted, or
// Azure's error; f.mu is held.
func (f *Fake) group(name string) (*resourceGroup, error) {
	rg, ok := f.groups[strings.ToLower(name)]
	if !ok {
		return nil, errGroupNotFound(name)
	}
	if rg.deleting {
		return nil, &apiError{Status: 409, Code: "ResourceGroupBeingDeleted",
			Message: fmt.Sprintf("The resource group '%s' is in deprovisioning state and cannot perform this operation.", rg.name)}
	}
	return rg, nil
}

func errGroupNotFound(name string) *apiError {
	return &apiError{Status: 404, Code: "ResourceGroupNotFound", Message: fmt.Sprintf("Resource group '%s' could not be found.", name)}
}

// errNotFound is ARM's answer for a missing resource of a group that
// exists.
func errNotFound(typ, group, name string) *apiError {
	return &apiError{Status: 404, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", typ, name, group)}
}

// lookupIn finds a resource by id in one of the fake's maps, or answers
// as ARM does: ResourceGroupNotFound, then ResourceNotFound; f.mu is held.
func lookupIn[T any](f *Fake, m map[string]*T, group, typ, name, id string) (*T, error) {
	if _, ok := f.groups[strings.ToLower(group)]; !ok {
		return nil, errGroupNotFound(group)
	}
	r, ok := m[strings.ToLower(id)]
	if !ok {
		return nil, errNotFound(typ, group, name)
	}
	return r, nil
}

// reap removes the VMs whose machine the fake cloud has terminated (by a
// delete, a resource group's deletion, or a test behind the API's back),
// and with each its network interfaces, public addresses and OS disk as
// their delete options say; f.mu is held. It runs before every request,
// so that what the API shows follows the fake cloud.
func (f *Fake) reap() {
	for key, v := range f.vms {
		m, err := f.cloud.Machine(v.id)
		if err == nil && m.State != fakecloud.Terminated {
			continue
		}
		delete(f.vms, key)
		for _, ref := range v.nics {
			n, ok := f.nics[strings.ToLower(ref.id)]
			if !ok {
				continue
			}
			n.vmID = ""
			if ref.deleteOption == deleteOptionDelete {
				f.deleteNIC(n, true)
			}
		}
		if d, ok := f.disks[strings.ToLower(v.diskID)]; ok {
			d.vmID = ""
			if d.deleteOption == deleteOptionDelete {
				delete(f.disks, strings.ToLower(d.id))
			}
		}
	}
	for key, rg := range f.groups {
		if rg.deleting && !f.groupHolds(rg.name) {
			delete(f.groups, key)
		}
	}
}

// deleteNIC removes a network interface; withVM says it goes with its
// VM, whose deletion also deletes the public address when the address's
// own delete option says so; f.mu is held.
func (f *Fake) deleteNIC(n *nic, withVM bool) {
	delete(f.nics, strings.ToLower(n.id))
	if p, ok := f.pips[strings.ToLower(n.pipID)]; ok {
		p.nicID = ""
		if withVM && p.deleteOption == deleteOptionDelete {
			delete(f.pips, strings.ToLower(p.id))
		}
	}
}

// groupHolds reports whether any resource is left in the group; f.mu is
// held.
func (f *Fake) groupHolds(group string) bool {
	in := func(g string) bool { return strings.EqualFold(g, group) }
	for _, v := range f.vms {
		if in(v.group) {
			return true
		}
	}
	for _, n := range f.nics {
		if in(n.group) {
			return true
		}
	}
	for _, p := range f.pips {
		if in(p.group) {
			return true
		}
	}
	for _, d := range f.disks {
		if in(d.group) {
			return true
		}
	}
	for _, v := range f.vnets {
		if in(v.group) {
			return true
		}
	}
	for _, i := range f.images {
		if in(i.group) {
			return true
		}
	}
	for _, g := range f.galleries {
		if in(g.group) {
			return true
		}
	}
	return false
}

// deleteGroupContents starts deleting everything in a group: its VMs are
// terminated (reap removes them and their NICs and disks once the fake
// cloud has), the rest goes at once; f.mu is held.
func (f *Fake) deleteGroupContents(group string) {
	in := func(g string) bool { return strings.EqualFold(g, group) }
	for _, v := range f.vms {
		if in(v.group) {
			v.deleting = true
			if _, err := f.cloud.Terminate(v.id); err != nil && !errors.Is(err, fakecloud.ErrNotFound) {
				f.logf("terminating VM %s with its resource group: %v", v.id, err)
			}
		}
	}
	for k, v := range f.vnets {
		if in(v.group) {
			delete(f.vnets, k)
		}
	}
	for k, p := range f.pips {
		if in(p.group) {
			delete(f.pips, k)
		}
	}
	for k, i := range f.images {
		if in(i.group) {
			f.dropCloudImage(i.cloudID)
			delete(f.images, k)
		}
	}
	for k, v := range f.versions {
		if g, ok := parseID(v.id); ok && in(g.group) {
			f.dropCloudImage(v.cloudID)
			delete(f.versions, k)
		}
	}
	for k, d := range f.imageDefs {
		if g, ok := parseID(d.id); ok && in(g.group) {
			delete(f.imageDefs, k)
		}
	}
	for k, g := range f.galleries {
		if in(g.group) {
			delete(f.galleries, k)
		}
	}
	for k, n := range f.nics {
		if in(n.group) && n.vmID == "" {
			f.deleteNIC(n, false)
			delete(f.nics, k)
		}
	}
	for k, d := range f.disks {
		if in(d.group) && d.vmID == "" {
			delete(f.disks, k)
		}
	}
}

// dropCloudImage removes an image from the fake cloud, logging what
// refuses (an image still in use keeps its layer).
func (f *Fake) dropCloudImage(id string) {
	if err := f.cloud.DeleteImage(id); err != nil && !errors.Is(err, fakecloud.ErrImageNotFound) {
		f.logf("deleting image %s: %v", id, err)
	}
}

func (f *Fake) logf(format string, args ...any) {
	if f.opts.Cloud.Log != nil {
		f.opts.Cloud.Log("azurefake: "+format, args...)
	}
}

// ensureGallery returns the gallery, making it if missing; f.mu is held.
func (f *Fake) ensureGallery(group, name string) *gallery {
	id := f.rid(group, "Microsoft.Compute/galleries", name)
	if g, ok := f.galleries[strings.ToLower(id)]; ok {
		return g
	}
	g := &gallery{id: id, group: group, name: name, location: f.opts.Location, tags: map[string]string{}}
	f.galleries[strings.ToLower(id)] = g
	return g
}

// ensureImageDef returns the gallery's image definition, making a Linux
// generalized V2 one if missing; f.mu is held.
func (f *Fake) ensureImageDef(g *gallery, name string) *galleryImage {
	id := g.id + "/images/" + name
	if d, ok := f.imageDefs[strings.ToLower(id)]; ok {
		return d
	}
	d := &galleryImage{id: id, gallery: g.id, name: name, location: g.location, tags: map[string]string{},
		osType: "Linux", osState: "Generalized", hyperV: "V2", publisher: "fake", offer: name, sku: name}
	f.imageDefs[strings.ToLower(id)] = d
	return d
}

// nextAddress hands out the next private (10.0.0.0/16) address.
func (f *Fake) nextAddress() string {
	f.nextAddr++
	n := f.nextAddr + 3 // Azure keeps the first four of a subnet
	return fmt.Sprintf("10.0.%d.%d", (n/256)%256, n%256)
}

// nextPublicAddress hands out a documentation-range public address.
func (f *Fake) nextPublicAddress() string {
	f.nextAddr++
	return fmt.Sprintf("203.0.113.%d", 1+f.nextAddr%254)
}

func cloneTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return maps.Clone(t)
}

// tagsIn is an SDK model's tags as a plain map.
func tagsIn(t map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range t {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// tagsOut is a plain map as an SDK model's tags.
func tagsOut(t map[string]string) map[string]*string {
	out := make(map[string]*string, len(t))
	for k, v := range t {
		out[k] = &v
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Package azurefake is a fake Microsoft Azure for connectors/azure: the
// Azure Resource Manager operations the connector calls (resource groups
// and the tagged resource listing; virtual networks, network interfaces
// and public addresses; virtual machines, VM sizes, managed images and
// compute galleries) and a minimal Microsoft Entra ID (OpenID discovery
// and the OAuth2 token endpoint), so that the real SDK — its pipeline,
// bearer-token policy, long-running-operation poller and error mapping —
// and the real azidentity credentials run against it.
//
// The ARM operations are handlers on the SDK's own fake servers
// (armcompute/v8/fake, armnetwork/v9/fake, armresources/v4/fake), wired
// through their server-factory transports; this package routes each
// request to the right one, because a request that arrives over HTTP does
// not carry the SDK's operation name. Everything that is not protocol is
// a fakecloud.Cloud: a VM PUT decodes the base64 customData and the SSH
// keys and calls Cloud.Run (so the guest runtime boots a namespace host
// from exactly the bytes the connector sent), deleting a VM terminates it
// and then deletes its NIC, public address and OS disk as their delete
// options say, deallocate stops it, and images and gallery image versions
// are Cloud.Snapshot layers. Every ARM request calls Cloud.Enter first,
// and injected faults are answered as Azure answers them (429
// TooManyRequests, 503 ServiceUnavailable, 409 SkuNotAvailable, 409
// OperationNotAllowed for a quota).
//
// The fake is served two ways: as a policy.Transporter for
// arm.ClientOptions.Transport (Fake.Do: in-process, for unit tests), and as
// an http.Handler (Fake.ServeHTTP; Fake.StartTLS serves it over HTTPS on
// loopback with a CA of its own), which hands each request to the same
// transports and writes their answer back. Both answer the Entra ID
// endpoints too, so a credential whose authority host is the fake gets its
// token from it.
//
// Long-running operations answer as the SDK's fake poller protocol has
// them: the first answer comes from an azfake.PollerResponder (201 or 202
// with Fake-Poller-Status: InProgress), and the poller then asks
// <resource path>/get/fake/status on the host it called. Those polls are
// answered here, from the fake cloud's state at the time of the poll (a
// machine being terminated, an image whose layer is being written), not
// from a script fixed when the operation began; a Retry-After-Ms header
// keeps the SDK polling quickly.
//
// What the fake leaves out: one page per list (no nextLink), no role
// checks beyond a valid bearer token, no network security groups, no
// availability zones, and gallery image versions only from a virtual
// machine (source.virtualMachineId).
package azurefake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	armcomputefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
	armnetworkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9/fake"
	armresourcesfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4/fake"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Defaults of Options: the one subscription, tenant and service principal
// the fake knows unless told otherwise. They are test values, not secrets.
const (
	DefaultSubscriptionID = "8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f"
	DefaultTenantID       = "72f9a8bf-86f1-41af-91ab-2d7cd011db47"
	DefaultClientID       = "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4"
	DefaultClientSecret   = "fake-secret~not-a-real-one"
	// DefaultFederatedToken is the client assertion the token endpoint
	// takes for DefaultClientID (workload identity federation).
	// #nosec G101 -- a test value only the fake accepts, no credential of any real service
	DefaultFederatedToken = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2xpcHN0cmVhbSJ9."
	DefaultLocation       = "westeurope"
	// PublicAudience is Azure Resource Manager's token audience in the
	// public cloud: what a credential asks a token for by default.
	PublicAudience = "https://management.core.windows.net/"
	// FakeAudience is the audience the fake's Azure Stack Hub style
	// metadata (/metadata/endpoints) advertises: a token for it shows that
	// the connector read the metadata.
	FakeAudience = "https://management.azure.fake/"
)

// Size is a VM size the fake offers.
type Size struct {
	Name     string
	Cores    int32
	MemoryMB int32
}

// DefaultSizes are a few real Azure sizes, enough for generic sizing to
// choose among.
var DefaultSizes = []Size{
	{"Standard_B1s", 1, 1024}, {"Standard_B1ms", 1, 2048}, {"Standard_B2s", 2, 4096}, {"Standard_B2ms", 2, 8192},
	{"Standard_B4ms", 4, 16384}, {"Standard_D2s_v5", 2, 8192}, {"Standard_D4s_v5", 4, 16384}, {"Standard_D8s_v5", 8, 32768},
	{"Standard_E2s_v5", 2, 16384}, {"Standard_F2s_v2", 2, 4096}, {"Standard_F4s_v2", 4, 8192}, {"Standard_F8s_v2", 8, 16384},
}

// Options configure a Fake. The zero value is a usable fake.
type Options struct {
	// Cloud configures the fake cloud behind the API (runtime, delays,
	// log). Its NewID is the fake's own: machine and image ids are the
	// ARM resource ids the requests name.
	Cloud fakecloud.Options
	// SubscriptionID is the one subscription; default
	// DefaultSubscriptionID.
	SubscriptionID string
	// TenantID, ClientID and ClientSecret are the service principal the
	// token endpoint accepts; FederatedToken is the client assertion it
	// accepts for ClientID. Defaults: the Default* constants.
	TenantID, ClientID, ClientSecret, FederatedToken string
	// Location is where the fake has capacity; default DefaultLocation.
	Location string
	// Sizes are the VM sizes of Location; default DefaultSizes.
	Sizes []Size
	// UnavailableSizes are listed but refused with SkuNotAvailable, as a
	// size restricted for the subscription is.
	UnavailableSizes []string
	// CapacityFailsLater makes an injected capacity fault accept the VM
	// and fail its provisioning a moment later with AllocationFailed, as
	// Azure reports most allocation failures, instead of refusing the PUT
	// with SkuNotAvailable.
	CapacityFailsLater bool
	// PollInterval is the Retry-After-Ms the fake asks pollers to wait;
	// default 20 ms.
	PollInterval time.Duration
}

// Fake is one fake Azure subscription with its tenant.
type Fake struct {
	opts  Options
	cloud *fakecloud.Cloud

	compute   *armcomputefake.ServerFactoryTransport
	network   *armnetworkfake.ServerFactoryTransport
	resources *armresourcesfake.ServerFactoryTransport
	// dispatchMu serializes calls into the SDK's server transports: they
	// keep their pollers and pagers in maps keyed by the request path,
	// which two concurrent requests on one path (two deletes of one VM)
	// would share.
	dispatchMu sync.Mutex

	// idMu guards nextID, the id the fake cloud gives the next machine or
	// image: set just before Run or Snapshot, so that the fake cloud's ids
	// are the resource ids the requests name.
	idMu   sync.Mutex
	nextID string

	mu        sync.Mutex
	groups    map[string]*resourceGroup // by lower-case name
	vnets     map[string]*vnet          // by lower-case id
	nics      map[string]*nic
	pips      map[string]*publicIP
	disks     map[string]*disk
	vms       map[string]*vm
	images    map[string]*image
	galleries map[string]*gallery
	imageDefs map[string]*galleryImage
	versions  map[string]*galleryVersion
	marketImg map[string]string // marketplace URN (lower-case) → fake cloud image id
	lros      map[string]*lro   // by lower-case resource path
	tokens    map[string]token
	scopes    []string // every scope a token was asked for, in order
	nextAddr  int      // last octets handed out for private and public addresses

	hostsMu sync.Mutex
	hosts   map[string]int // requests served over HTTP, by Host
}

// New starts a fake with no resource groups and no images.
func New(opts Options) (*Fake, error) {
	if opts.SubscriptionID == "" {
		opts.SubscriptionID = DefaultSubscriptionID
	}
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.FederatedToken == "" {
		opts.FederatedToken = DefaultFederatedToken
	}
	if opts.Location == "" {
		opts.Location = DefaultLocation
	}
	if len(opts.Sizes) == 0 {
		opts.Sizes = DefaultSizes
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	f := &Fake{opts: opts,
		groups: map[string]*resourceGroup{}, vnets: map[string]*vnet{}, nics: map[string]*nic{}, pips: map[string]*publicIP{},
		disks: map[string]*disk{}, vms: map[string]*vm{}, images: map[string]*image{}, galleries: map[string]*gallery{},
		imageDefs: map[string]*galleryImage{}, versions: map[string]*galleryVersion{}, marketImg: map[string]string{},
		lros: map[string]*lro{}, tokens: map[string]token{}}
	co := opts.Cloud
	if co.Name == "" {
		co.Name = "azure"
	}
	co.NewID = f.newID
	cloud, err := fakecloud.New(co)
	if err != nil {
		return nil, err
	}
	f.cloud = cloud
	f.compute = armcomputefake.NewServerFactoryTransport(&armcomputefake.ServerFactory{
		VirtualMachinesServer:      f.virtualMachinesServer(),
		VirtualMachineSizesServer:  f.sizesServer(),
		ImagesServer:               f.imagesServer(),
		GalleriesServer:            f.galleriesServer(),
		GalleryImagesServer:        f.galleryImagesServer(),
		GalleryImageVersionsServer: f.galleryVersionsServer(),
	})
	f.network = armnetworkfake.NewServerFactoryTransport(&armnetworkfake.ServerFactory{
		InterfacesServer:        f.interfacesServer(),
		PublicIPAddressesServer: f.publicIPsServer(),
		VirtualNetworksServer:   f.virtualNetworksServer(),
		SubnetsServer:           f.subnetsServer(),
	})
	f.resources = armresourcesfake.NewServerFactoryTransport(&armresourcesfake.ServerFactory{
		Server:               f.resourcesServer(),
		ResourceGroupsServer: f.resourceGroupsServer(),
	})
	return f, nil
}

// Cloud is the fake cloud behind the API: its machines, images and
// faults.
func (f *Fake) Cloud() *fakecloud.Cloud { return f.cloud }

// Options are the fake's options, defaults filled in.
func (f *Fake) Options() Options { return f.opts }

// Close closes the fake cloud (its machines are terminated).
func (f *Fake) Close() error { return f.cloud.Close() }

// newID is the fake cloud's NewID: the resource id set for the Run or
// Snapshot under way, or a random one for calls that did not set one.
func (f *Fake) newID(string) string {
	f.idMu.Lock()
	defer f.idMu.Unlock()
	if id := f.nextID; id != "" {
		f.nextID = ""
		return id
	}
	return randomHex(8)
}

// withID runs fn (a Run or Snapshot of the fake cloud) so that the
// machine or image it makes gets id.
func (f *Fake) withID(id string, fn func() error) error {
	f.idMu.Lock()
	f.nextID = id
	f.idMu.Unlock()
	defer func() {
		f.idMu.Lock()
		f.nextID = ""
		f.idMu.Unlock()
	}()
	return fn()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newGUID is a random version 4 UUID, as Azure's vmId and resourceGuid.
func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// AddImage registers a base image that VMs start from. id is how
// requests name it: a marketplace URN (publisher:offer:sku:version), or
// the resource id of a managed image or gallery image version, which is
// then listed under that id (its resource group is made if missing).
func (f *Fake) AddImage(id, name string, layers []string) error {
	if _, err := f.cloud.AddImage(fakecloud.Image{ID: id, Name: name, Layers: layers, LoginUser: "azureuser"}); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.HasPrefix(id, "/") {
		f.marketImg[strings.ToLower(id)] = id
		return nil
	}
	ref, ok := parseID(id)
	if !ok {
		return fmt.Errorf("azurefake: image id %q is neither a URN nor a resource id", id)
	}
	rg := f.ensureGroup(ref.group)
	switch strings.ToLower(ref.kind) {
	case kindImage:
		f.images[strings.ToLower(id)] = &image{id: id, group: rg.name, name: ref.name, location: f.opts.Location, cloudID: id, hyperV: "V2", base: true}
	case kindGalleryVersion:
		g := f.ensureGallery(rg.name, ref.gallery)
		def := f.ensureImageDef(g, ref.image)
		f.versions[strings.ToLower(id)] = &galleryVersion{id: id, def: def.id, name: ref.name, location: f.opts.Location, cloudID: id, base: true}
	default:
		return fmt.Errorf("azurefake: image id %q is a %s, not an image", id, ref.kind)
	}
	return nil
}

// ensureGroup returns the resource group, making it if missing; f.mu is
// held.
func (f *Fake) ensureGroup(name string) *resourceGroup {
	if rg, ok := f.groups[strings.ToLower(name)]; ok {
		return rg
	}
	rg := &resourceGroup{name: name, location: f.opts.Location, tags: map[string]string{}}
	f.groups[strings.ToLower(name)] = rg
	return rg
}

// AddGallery makes a compute gallery (and its resource group if missing)
// and returns its resource id, for the connector's gallery setting.
func (f *Fake) AddGallery(group, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg := f.ensureGroup(group)
	return f.ensureGallery(rg.name, name).id
}

// AddResourceGroup makes a resource group with tags, as a user's own
// group that a recipe names.
func (f *Fake) AddResourceGroup(name string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensureGroup(name).tags = cloneTags(tags)
}

// AddVirtualNetwork makes a virtual network with one subnet covering its
// address space (and its resource group if missing), as a user's own
// network, and returns the subnet's id.
func (f *Fake) AddVirtualNetwork(group, name, prefix string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg := f.ensureGroup(group)
	id := f.rid(rg.name, "Microsoft.Network/virtualNetworks", name)
	v := &vnet{id: id, group: rg.name, name: name, location: f.opts.Location, tags: map[string]string{}, prefixes: []string{prefix},
		subnets: []*subnet{{id: id + "/subnets/default", name: "default", prefix: prefix}}}
	f.vnets[strings.ToLower(id)] = v
	return v.subnets[0].id
}

// IssueToken is an access token the fake accepts for Azure Resource
// Manager, for a credential that does not get its token from the fake's
// token endpoint (the Azure CLI's, say).
func (f *Fake) IssueToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issue(PublicAudience)
}

// TokenScopes lists the scopes tokens were asked for at the token
// endpoint, in order.
func (f *Fake) TokenScopes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.scopes)
}

// ResourceGroups lists the names of the resource groups.
func (f *Fake) ResourceGroups() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, rg := range f.groups {
		out = append(out, rg.name)
	}
	slices.Sort(out)
	return out
}

// ResourceGroupTags returns a resource group's tags (nil when it does not
// exist).
func (f *Fake) ResourceGroupTags(name string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rg, ok := f.groups[strings.ToLower(name)]; ok {
		return maps.Clone(rg.tags)
	}
	return nil
}

// Resources lists the ids of the resources the fake holds besides
// resource groups and VMs: virtual networks, network interfaces, public
// addresses, disks, images, galleries, image definitions and versions.
func (f *Fake) Resources() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reap()
	var out []string
	for _, m := range []map[string]string{idsOf(f.vnets), idsOf(f.nics), idsOf(f.pips), idsOf(f.disks), idsOf(f.images),
		idsOf(f.galleries), idsOf(f.imageDefs), idsOf(f.versions)} {
		for _, id := range m {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ResourcesOfType lists the ids of one kind of resource: "vnet", "nic",
// "publicip", "disk", "image", "version".
func (f *Fake) ResourcesOfType(kind string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reap()
	var m map[string]string
	switch kind {
	case "vnet":
		m = idsOf(f.vnets)
	case "nic":
		m = idsOf(f.nics)
	case "publicip":
		m = idsOf(f.pips)
	case "disk":
		m = idsOf(f.disks)
	case "image":
		m = idsOf(f.images)
	case "version":
		m = idsOf(f.versions)
	}
	out := slices.Collect(maps.Values(m))
	slices.Sort(out)
	return out
}

type identified interface{ resourceID() string }

func idsOf[T identified](m map[string]T) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v.resourceID()
	}
	return out
}

// call is what the dispatcher knows of the request a handler answers.
type call struct {
	path string // the request path (unescaped)
	api  string
}

type callKey struct{}

func callOf(ctx context.Context) call {
	c, _ := ctx.Value(callKey{}).(call)
	return c
}

// Package azure is the SlipStream connector for Microsoft Azure, on the
// Azure SDK for Go (armcompute v8, armnetwork v9, armresources v4,
// azidentity): the resource slipstream_azure_vm and its pool and image
// resources.
//
// # What a machine is
//
// A machine is a Linux virtual machine. Its id is the VM's full Azure
// Resource Manager id
// (/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/virtualMachines/NAME),
// which holds everything Describe, Delete and an import need. Around it:
//
//   - a resource group: the per-machine setting resource_group names an
//     existing one, which is used and never deleted; without it the
//     connector uses slipstream-<deployment>, created (tagged
//     slipstream-deployment and slipstream-managed) when missing;
//   - a virtual network and subnet: subnet_id names an existing subnet;
//     without it the connector makes slipstream-<deployment>-vnet
//     (10.0.0.0/16, one subnet with default outbound access, so that a
//     machine without a public address still reaches the coordinator) in
//     the machine's resource group, tagged likewise;
//   - per VM, a network interface (<vm>-nic) and, with associate_public_ip, a
//     Standard static public address (<vm>-ip); both are created first and
//     awaited with the SDK's poller, because the VM's PUT names the
//     interface;
//   - the VM itself: size (vm_size, or the smallest size that fits the
//     generic sizing, from VirtualMachineSizes), image (a managed image
//     or gallery image version id, or a marketplace URN
//     publisher:offer:sku:version), an OS disk sized from Size.DiskGB, the
//     user-data base64 in osProfile.customData, the SSH key in
//     linuxConfiguration.ssh.publicKeys for admin_username (default
//     azureuser; Azure needs a key, so a machine given none gets a
//     throw-away ed25519 key whose private half is discarded), labels and
//     the tags setting as tags, and delete options Delete on the OS disk,
//     the interface and the public address.
//
// Create returns once Azure accepted the VM's PUT: the VM's own
// long-running operation (the boot) is never awaited. When the PUT is
// refused, the interface and address made for it are deleted again; when
// its answer was lost (the context ended), Create asks whether the VM
// exists and returns it with the error if so. The resource group and
// network of a deployment are shared by its machines: they are deleted
// (the group, or the network in a named group) when Delete removed the
// deployment's last VM, or when a create failed for good and no VM of the
// deployment is left. Within one connector, creates and that clean-up are
// serialized per deployment and resource group, so a create cannot lose
// its group to a concurrent delete; two provider processes working on one
// deployment at once are not (see docs/clouds.md).
//
// # State, listing, deletion
//
// Describe reads the VM with its instance view: PowerState
// starting → pending, running → running, stopping/deallocating →
// stopping, stopped/deallocated → stopped; provisioning Failed → error
// with the status's message as Reason; provisioning Deleting →
// terminating. The private address comes from the primary interface and
// the public one from its public address (one GET with $expand). List
// asks the resource listing (Resources – List, filtered by the
// slipstream-deployment tag, so no resource group needs to be known) and
// describes each VM it finds. Delete deletes the VM and awaits it: the
// delete options take the disk, interface and address with it.
//
// # Images
//
// Snapshot deallocates the VM (awaited), generalizes it, and captures a
// managed image named after the snapshot in image_resource_group (default
// slipstream-images, made when missing and never deleted by the
// connector; not the deployment's group, which goes with its last VM). With
// the gallery setting (a compute gallery's resource id) it captures a
// gallery image version from the VM instead, in an image definition named
// after the recipe's image (made when missing), and returns the version's
// id. DeleteImage deletes either.
//
// # Credentials and clouds
//
// tenant_id, client_id and client_secret in the provider block make a
// client-secret credential. Without client_secret, the credential is a
// chain of the environment (AZURE_TENANT_ID, AZURE_CLIENT_ID,
// AZURE_CLIENT_SECRET or a certificate), workload identity
// (AZURE_FEDERATED_TOKEN_FILE) and the Azure CLI (az login). environment
// picks the public, US Government or China cloud; endpoint points at
// another Resource Manager (Azure Stack Hub, a test double), whose
// /metadata/endpoints gives the token audience and the login endpoint;
// authority_host overrides the Entra ID authority; ca_file adds PEM CAs
// to trust for both. The SDK's own retries are off: every call is tried
// once and its error classified (errors.go), so that retries are decided
// in one place, by connectors.Retry; only the polls of an awaited
// operation are repeated here, because the operation goes on regardless.
//
// It is tested against connectors/azure/azurefake, the SDK's own fake
// servers on a fake cloud, both in process (as the clients' transport)
// and over HTTPS on loopback with the real credentials.
package azure

import (
	"context"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Name is the connector's name in the catalog and in errors.
const Name = "azure"

// Environment variables read for settings left out, as Azure's own tools
// name them: the azidentity and Azure CLI names, ARM_ENDPOINT as Azure
// Stack Hub's tools have it, AZURE_ENVIRONMENT as the Go SDK's autorest
// had it, and REQUESTS_CA_BUNDLE, which the Azure CLI reads for a
// private CA.
const (
	EnvSubscriptionID = "AZURE_SUBSCRIPTION_ID"
	EnvLocation       = "AZURE_LOCATION"
	EnvTenantID       = "AZURE_TENANT_ID"
	EnvClientID       = "AZURE_CLIENT_ID"
	EnvEnvironment    = "AZURE_ENVIRONMENT"
	EnvEndpoint       = "ARM_ENDPOINT"
	EnvAuthorityHost  = "AZURE_AUTHORITY_HOST"
	EnvCAFile         = "REQUESTS_CA_BUNDLE"
)

// Defaults of settings.
const (
	defaultAdminUser  = "azureuser"
	defaultImageGroup = "slipstream-images"
)

// Connector creates machines in one Azure subscription and location. It
// is safe for concurrent use.
type Connector struct {
	subscription string
	location     string
	imageGroup   string
	gallery      *galleryRef // nil: snapshots are managed images
	cred         *credential
	armOpts      *arm.ClientOptions // for clients of another subscription (an image's)

	vms       *armcompute.VirtualMachinesClient
	sizes     *armcompute.VirtualMachineSizesClient
	images    *armcompute.ImagesClient
	defs      *armcompute.GalleryImagesClient
	versions  *armcompute.GalleryImageVersionsClient
	nics      *armnetwork.InterfacesClient
	pips      *armnetwork.PublicIPAddressesClient
	vnets     *armnetwork.VirtualNetworksClient
	groups    *armresources.ResourceGroupsClient
	resources *armresources.Client

	// retry spaces the repeats of transient failures inside a call (the
	// polls of an awaited operation, the steps of a create after the
	// first that made something); pollEvery is the poll interval of
	// awaited operations when Azure suggests none.
	retry     connectors.Backoff
	pollEvery time.Duration
	// cleanupTimeout bounds taking back what a failed create made; it
	// runs even when the create's context has ended.
	cleanupTimeout time.Duration

	mu          sync.Mutex
	deployments map[string]*deployment // by deployment and resource group
	offers      []connectors.Offer     // VirtualMachineSizes, once

	keyOnce sync.Once
	key     string // the throw-away key of machines given none
	keyErr  error
}

var (
	_ connectors.Connector = (*Connector)(nil)
	_ connectors.Factory   = New
)

// New makes the connector from the provider configuration's settings,
// each falling back on its environment variable (Env*): subscription_id
// and location are required; the credential is a service principal with
// client_secret, or the chain of environment, workload identity and Azure
// CLI. When endpoint is set, New reads its /metadata/endpoints (Azure
// Stack Hub) for the token audience and the login endpoint; nothing else
// calls Azure.
func New(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	return newConnector(ctx, settings, nil)
}

// cleanupContext is a context for taking back what a failed call made:
// it keeps ctx's values but not its end, and has its own timeout.
func (c *Connector) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.cleanupTimeout)
}

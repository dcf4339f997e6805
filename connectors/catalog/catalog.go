// Package catalog lists the connectors SlipStream knows and the settings each
// accepts. It is the one place both the recipe compiler (which checks a cloud
// block's and a node's settings) and the provider (whose resources and provider
// configuration take those settings) read, so the two never disagree.
package catalog

import "sort"

// Scope says where a setting lives in the Terraform that slipc emits.
type Scope int

const (
	// ScopeProvider settings configure the cloud as a whole (region,
	// credentials): they go in the cloud's provider alias.
	ScopeProvider Scope = iota
	// ScopeInstance settings shape each machine (instance type, network):
	// they go on every instance resource; a cloud block gives their default,
	// a node block overrides it.
	ScopeInstance
	// ScopePool settings list existing machines that nodes are placed on in
	// order (the fixed connector's hosts).
	ScopePool
)

// Type is the value type of a setting, in Terraform's type syntax.
type Type string

const (
	String     Type = "string"
	Number     Type = "number"
	Bool       Type = "bool"
	ListString Type = "list(string)"
	MapString  Type = "map(string)"
)

// Setting is one attribute a connector accepts.
type Setting struct {
	Name        string
	Type        Type
	Scope       Scope
	Required    bool
	Sensitive   bool
	Description string
}

// Connector describes one connector type.
type Connector struct {
	// Name is what a recipe's cloud block sets as `connector`.
	Name string
	// Title is the cloud's name for people ("Amazon EC2").
	Title string
	// ImageHint says what an image id is on this cloud, and IDExample
	// what a machine id looks like (for docs and import errors).
	ImageHint string
	IDExample string
	// Resource is the Terraform resource type that starts one machine.
	Resource string
	// PoolResource is the Terraform resource type that starts a node's
	// machines as one pool, in batches (clouds whose machines are created;
	// empty for adopted hosts).
	PoolResource string
	// ImageResource is the Terraform resource type that builds one of the
	// recipe's images on this cloud (the image factory; empty for adopted
	// hosts, which start from no image).
	ImageResource string
	// Implemented is true once the provider has Resource. Until then the
	// connector is planned: its settings are listed (so the compiler and
	// the docs know them and the connector's work only flips this flag),
	// but slipc rejects a cloud that uses it and the provider offers no
	// configuration block for it, so a recipe cannot compile to Terraform
	// that fails at plan time with "resource type not supported".
	// provider.TestCatalogImplementedMatchesResources keeps this flag and
	// the provider's resources in step.
	Implemented bool
	// NeedsImage is false for connectors that adopt existing machines, which
	// therefore need no native image id.
	NeedsImage bool
	// Sized is true for connectors that create machines and so map the
	// generic cpu, ram and disk sizes onto the cloud's instance types.
	Sized bool
	// Bootstrap names the bootstrap the connector's machines run, which
	// their resource renders: "user_data" (cloud-init) or "ssh_bootstrap"
	// (a script run over SSH).
	Bootstrap string
	// TypeSetting names the ScopeInstance setting that gives a machine's
	// instance type or flavor explicitly ("instance_type", "flavor"); it
	// wins over the generic sizing. Empty for clouds sized freely.
	TypeSetting string
	Settings    []Setting
}

// Setting returns the named setting.
func (c *Connector) Setting(name string) (Setting, bool) {
	for _, s := range c.Settings {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Pool returns the connector's host-pool setting (ScopePool), if it has one.
func (c *Connector) Pool() (Setting, bool) {
	for _, s := range c.Settings {
		if s.Scope == ScopePool {
			return s, true
		}
	}
	return Setting{}, false
}

// SettingNames lists the names of the settings in the given scopes, sorted.
func (c *Connector) SettingNames(scopes ...Scope) []string {
	var names []string
	for _, s := range c.Settings {
		for _, sc := range scopes {
			if s.Scope == sc {
				names = append(names, s.Name)
				break
			}
		}
	}
	sort.Strings(names)
	return names
}

var connectors = map[string]*Connector{
	"fixed": {
		Name: "fixed", Title: "existing hosts", Resource: "slipstream_fixed_host", Implemented: true, NeedsImage: false, Bootstrap: "ssh_bootstrap",
		Settings: []Setting{
			{Name: "hosts", Type: ListString, Scope: ScopePool, Required: true, Description: "Addresses (host or host:port) of the existing machines, each node's own: a map from node name to its list, or one list when one node uses the cloud."},
			{Name: "user", Type: String, Scope: ScopeProvider, Description: "SSH login user (default root)."},
			{Name: "port", Type: Number, Scope: ScopeProvider, Description: "SSH port when a host gives none (default 22)."},
			{Name: "private_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "PEM private key for SSH login."},
			{Name: "private_key_file", Type: String, Scope: ScopeProvider, Description: "Path of the private key file for SSH login."},
			{Name: "known_hosts", Type: String, Scope: ScopeProvider, Description: "known_hosts lines pinning the hosts' keys."},
			{Name: "bastion_host", Type: String, Scope: ScopeProvider, Description: "Jump host to reach the hosts through."},
			{Name: "bastion_user", Type: String, Scope: ScopeProvider, Description: "Login user on the jump host."},
		},
	},
	"ec2": {
		Name: "ec2", Title: "Amazon EC2", ImageHint: "an AMI id, `ami-…`", IDExample: "`i-0123456789abcdef0`", Sized: true, Resource: "slipstream_ec2_instance", PoolResource: "slipstream_ec2_pool", ImageResource: "slipstream_ec2_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "instance_type",
		Settings: []Setting{
			{Name: "region", Type: String, Scope: ScopeProvider, Required: true, Description: "AWS region, e.g. `eu-west-1`."},
			{Name: "profile", Type: String, Scope: ScopeProvider, Description: "Profile of the shared configuration and credentials files (`~/.aws/config`, `~/.aws/credentials`); default `AWS_PROFILE`, then `default`."},
			{Name: "access_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Access key id; by default the standard AWS chain (environment, shared files, profile, instance role)."},
			{Name: "secret_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Secret access key, with `access_key`."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "EC2 API endpoint override (a private endpoint, or a test double)."},
			{Name: "instance_type", Type: String, Scope: ScopeInstance, Description: "Instance type, e.g. `t3.small`; by default the smallest type that fits the component's cpu and ram."},
			{Name: "subnet_id", Type: String, Scope: ScopeInstance, Description: "Subnet to start in; by default the default VPC's subnet of the region's default zone."},
			{Name: "security_group_ids", Type: ListString, Scope: ScopeInstance, Description: "Security groups; they must let the machine reach the coordinator."},
			{Name: "key_name", Type: String, Scope: ScopeInstance, Description: "Existing key pair for the image's login user (instead of `ssh_public_key`)."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, imported as a key pair named after its fingerprint."},
			{Name: "associate_public_ip", Type: Bool, Scope: ScopeInstance, Description: "Give the instance a public address."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags, beside the `slipstream-*` tags that name the deployment and instance."},
		},
	},
	"openstack": {
		Name: "openstack", Title: "OpenStack", ImageHint: "a Glance image id", IDExample: "a server uuid", Sized: true, Resource: "slipstream_openstack_instance", PoolResource: "slipstream_openstack_pool", ImageResource: "slipstream_openstack_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "flavor",
		Settings: []Setting{
			{Name: "auth_url", Type: String, Scope: ScopeProvider, Description: "Keystone v3 URL; default `OS_AUTH_URL` or the `clouds.yaml` entry."},
			{Name: "cloud", Type: String, Scope: ScopeProvider, Description: "Entry of `clouds.yaml` to take the credentials from; default `OS_CLOUD`."},
			{Name: "region", Type: String, Scope: ScopeProvider, Description: "Region name; default `OS_REGION_NAME`."},
			{Name: "user_name", Type: String, Scope: ScopeProvider, Description: "User name; default `OS_USERNAME`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password; default `OS_PASSWORD`."},
			{Name: "project_name", Type: String, Scope: ScopeProvider, Description: "Project (tenant) name; default `OS_PROJECT_NAME`."},
			{Name: "domain_name", Type: String, Scope: ScopeProvider, Description: "Domain of the user and project; default `OS_USER_DOMAIN_NAME`, then `Default`."},
			{Name: "application_credential_id", Type: String, Scope: ScopeProvider, Description: "Application credential id (instead of a password); default `OS_APPLICATION_CREDENTIAL_ID`."},
			{Name: "application_credential_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Application credential secret; default `OS_APPLICATION_CREDENTIAL_SECRET`."},
			{Name: "flavor", Type: String, Scope: ScopeInstance, Description: "Flavor name; by default the smallest flavor that fits the component's cpu, ram and disk."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Network (name or id) to attach; by default the project's only network."},
			{Name: "floating_ip_pool", Type: String, Scope: ScopeInstance, Description: "External network to take a floating address from, once the server has a port."},
			{Name: "security_groups", Type: ListString, Scope: ScopeInstance, Description: "Security groups (names); they must let the machine reach the coordinator."},
			{Name: "availability_zone", Type: String, Scope: ScopeInstance, Description: "Availability zone."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, imported as a key pair named after its fingerprint."},
		},
	},
	"cloudsigma": {
		Name: "cloudsigma", Title: "CloudSigma", ImageHint: "the uuid of a library drive, or of one of the account's drives, cloned for the machine", IDExample: "a server uuid", Sized: true, Resource: "slipstream_cloudsigma_server", PoolResource: "slipstream_cloudsigma_pool", ImageResource: "slipstream_cloudsigma_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "location", Type: String, Scope: ScopeProvider, Required: true, Description: "Location code, e.g. `zrh`: the API is `https://<location>.cloudsigma.com/api/2.0/`."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "Account e-mail; default `CLOUDSIGMA_USERNAME`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Account password; default `CLOUDSIGMA_PASSWORD`."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "API endpoint override; default `CLOUDSIGMA_ENDPOINT`, then the location's."},
			{Name: "vlan", Type: String, Scope: ScopeInstance, Description: "Private VLAN uuid to attach, beside the public DHCP interface."},
			{Name: "tags", Type: ListString, Scope: ScopeInstance, Description: "Tag names to put the server under."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, imported as a key pair named after its fingerprint."},
		},
	},
	// Planned: the second wave (issue 16). Their settings are listed so
	// that recipes can be written and checked against them; slipc refuses
	// to compile a cloud that uses them until their resource exists.
	"azure": {
		Name: "azure", Title: "Microsoft Azure", ImageHint: "an image id or `publisher:offer:sku:version`", IDExample: "a VM resource id", Sized: true,
		Resource: "slipstream_azure_vm", PoolResource: "slipstream_azure_pool", ImageResource: "slipstream_azure_image", NeedsImage: true, Bootstrap: "user_data", TypeSetting: "vm_size",
		Settings: []Setting{
			{Name: "subscription_id", Type: String, Scope: ScopeProvider, Required: true, Description: "Subscription to create the machines in."},
			{Name: "location", Type: String, Scope: ScopeProvider, Required: true, Description: "Azure region, e.g. `westeurope`."},
			{Name: "tenant_id", Type: String, Scope: ScopeProvider, Description: "Directory (tenant) of the service principal; default the credential chain's."},
			{Name: "client_id", Type: String, Scope: ScopeProvider, Description: "Service principal's application id; default the credential chain (environment, workload identity, Azure CLI)."},
			{Name: "client_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Service principal's secret."},
			{Name: "resource_group", Type: String, Scope: ScopeInstance, Description: "Resource group; by default one named after the deployment, deleted with it."},
			{Name: "vm_size", Type: String, Scope: ScopeInstance, Description: "VM size, e.g. `Standard_B2s`; by default the smallest that fits cpu and ram."},
			{Name: "subnet_id", Type: String, Scope: ScopeInstance, Description: "Subnet to attach; by default a virtual network made for the deployment."},
			{Name: "public_ip", Type: Bool, Scope: ScopeInstance, Description: "Give the VM a public address."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags."},
		},
	},
	"cloudstack": {
		Name: "cloudstack", Title: "Apache CloudStack", ImageHint: "a template id", IDExample: "a VM uuid", Sized: true,
		Resource: "slipstream_cloudstack_instance", PoolResource: "slipstream_cloudstack_pool", ImageResource: "slipstream_cloudstack_image", NeedsImage: true, Bootstrap: "user_data", TypeSetting: "service_offering",
		Settings: []Setting{
			{Name: "api_url", Type: String, Scope: ScopeProvider, Required: true, Description: "API URL, e.g. `https://cloud.example.com/client/api`."},
			{Name: "api_key", Type: String, Scope: ScopeProvider, Description: "API key; default `CLOUDSTACK_API_KEY`."},
			{Name: "secret_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Secret key; default `CLOUDSTACK_SECRET_KEY`."},
			{Name: "zone", Type: String, Scope: ScopeInstance, Description: "Zone (name or id)."},
			{Name: "service_offering", Type: String, Scope: ScopeInstance, Description: "Service offering; by default the smallest that fits cpu and ram."},
			{Name: "network_ids", Type: ListString, Scope: ScopeInstance, Description: "Networks to attach."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, registered as an SSH key pair."},
		},
	},
	"opennebula": {
		Name: "opennebula", Title: "OpenNebula", ImageHint: "a template or image id", IDExample: "a VM id", Sized: true,
		Resource: "slipstream_opennebula_vm", PoolResource: "slipstream_opennebula_pool", ImageResource: "slipstream_opennebula_image", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Required: true, Description: "XML-RPC endpoint, e.g. `https://one.example.com:2633/RPC2`."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "User name; default `ONE_USERNAME`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password or login token; default `ONE_PASSWORD`."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Virtual network (name or id) to attach."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key put in the VM's context."},
		},
	},
}

// Lookup returns the connector of that name.
func Lookup(name string) (*Connector, bool) {
	c, ok := connectors[name]
	return c, ok
}

// Names lists every connector name, implemented or planned, sorted.
func Names() []string {
	return names(func(*Connector) bool { return true })
}

// Implemented lists the connectors the provider has a resource for,
// sorted: the ones a recipe may use.
func Implemented() []string {
	return names(func(c *Connector) bool { return c.Implemented })
}

// Planned lists the connectors that are known but not yet available,
// sorted.
func Planned() []string {
	return names(func(c *Connector) bool { return !c.Implemented })
}

func names(keep func(*Connector) bool) []string {
	var names []string
	for n, c := range connectors {
		if keep(c) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

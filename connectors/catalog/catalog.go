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
	// Resource is the Terraform resource type that starts one machine.
	Resource string
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
	// Bootstrap names the deployment attribute the resource takes its
	// bootstrap from: "user_data" (cloud-init) or "ssh_bootstrap" (a script
	// run over SSH).
	Bootstrap string
	Settings  []Setting
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
		Name: "fixed", Resource: "slipstream_fixed_host", Implemented: true, NeedsImage: false, Bootstrap: "ssh_bootstrap",
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
	// Planned: the ec2 connector arrives with issue 10.
	"ec2": {
		Name: "ec2", Sized: true, Resource: "slipstream_ec2_instance", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "region", Type: String, Scope: ScopeProvider, Required: true, Description: "AWS region."},
			{Name: "profile", Type: String, Scope: ScopeProvider, Description: "Shared-credentials profile."},
			{Name: "access_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Access key id."},
			{Name: "secret_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Secret access key."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "EC2 API endpoint override."},
			{Name: "instance_type", Type: String, Scope: ScopeInstance, Description: "Instance type; by default chosen from cpu and ram."},
			{Name: "subnet_id", Type: String, Scope: ScopeInstance, Description: "Subnet to start in."},
			{Name: "security_group_ids", Type: ListString, Scope: ScopeInstance, Description: "Security groups."},
			{Name: "key_name", Type: String, Scope: ScopeInstance, Description: "Existing key pair name."},
			{Name: "associate_public_ip", Type: Bool, Scope: ScopeInstance, Description: "Give the instance a public address."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags."},
		},
	},
	// Planned: the openstack connector arrives with issue 10.
	"openstack": {
		Name: "openstack", Sized: true, Resource: "slipstream_openstack_instance", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "auth_url", Type: String, Scope: ScopeProvider, Required: true, Description: "Keystone v3 URL."},
			{Name: "region", Type: String, Scope: ScopeProvider, Description: "Region name."},
			{Name: "user_name", Type: String, Scope: ScopeProvider, Description: "User name."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password."},
			{Name: "project_name", Type: String, Scope: ScopeProvider, Description: "Project (tenant) name."},
			{Name: "domain_name", Type: String, Scope: ScopeProvider, Description: "Domain name."},
			{Name: "application_credential_id", Type: String, Scope: ScopeProvider, Description: "Application credential id."},
			{Name: "application_credential_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Application credential secret."},
			{Name: "flavor", Type: String, Scope: ScopeInstance, Description: "Flavor name; by default chosen from cpu and ram."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Network to attach."},
			{Name: "floating_ip_pool", Type: String, Scope: ScopeInstance, Description: "Pool to take a floating address from."},
			{Name: "security_groups", Type: ListString, Scope: ScopeInstance, Description: "Security groups."},
			{Name: "availability_zone", Type: String, Scope: ScopeInstance, Description: "Availability zone."},
		},
	},
	// Planned: the cloudsigma connector arrives with issue 10.
	"cloudsigma": {
		Name: "cloudsigma", Sized: true, Resource: "slipstream_cloudsigma_server", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "location", Type: String, Scope: ScopeProvider, Required: true, Description: "Location code, e.g. zrh."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "Account e-mail."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Account password."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "API endpoint override."},
			{Name: "vlan", Type: String, Scope: ScopeInstance, Description: "Private VLAN uuid to attach."},
			{Name: "tags", Type: ListString, Scope: ScopeInstance, Description: "Tag names."},
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

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

// connectors are the known connectors by name. Each has its own file in
// this package that registers it: adding a cloud is a file here, its
// package in connectors/, and a line in the provider's registry.
var connectors = map[string]*Connector{}

// register adds a connector; a name registered twice is a programming
// error, caught as the package loads.
func register(c *Connector) {
	if _, dup := connectors[c.Name]; dup {
		panic("catalog: connector " + c.Name + " registered twice")
	}
	connectors[c.Name] = c
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

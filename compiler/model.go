package compiler

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

// Module is one recipe folder: every *.slip.hcl file in it, decoded but not
// yet resolved. References between blocks are still traversals here; the
// resolve pass turns them into pointers.
type Module struct {
	// Dir is the folder the files came from; file() and templatefile() paths
	// in this module are relative to it.
	Dir string
	// Confine, when set, is the folder that file() and templatefile() in
	// this module may read inside (symbolic links included): the tree of
	// the repository a fetched recipe came from, so that a recipe from
	// the network cannot copy this machine's files (~/.ssh, the cache
	// around it) into the Terraform it compiles to. Empty for recipes on
	// the user's own disk, which read what they name, as Terraform does.
	Confine string
	// Prefix names this module in messages and emitted asset paths: "" for
	// the root, "shared" for `import "shared"`, "shared.base" for an import
	// of an import.
	Prefix string

	Variables   map[string]*Variable
	Clouds      map[string]*Cloud
	Images      map[string]*Image
	Components  map[string]*Component
	Deployments map[string]*Deployment
	Imports     map[string]*Import
	// decls holds each declared block's range by "kind.name", to report
	// duplicates.
	decls map[string]hcl.Range
}

func newModule(dir, prefix string) *Module {
	return &Module{
		Dir: dir, Prefix: prefix,
		Variables:   map[string]*Variable{},
		Clouds:      map[string]*Cloud{},
		Images:      map[string]*Image{},
		Components:  map[string]*Component{},
		Deployments: map[string]*Deployment{},
		Imports:     map[string]*Import{},
		decls:       map[string]hcl.Range{},
	}
}

// Variable is a deploy-time parameter; it becomes a Terraform variable.
type Variable struct {
	Name        string
	Type        cty.Type
	TypeExpr    hcl.Expression
	Default     cty.Value // cty.NilVal when there is none
	Description string
	Sensitive   bool
	DeclRange   hcl.Range
	Module      *Module
}

// Cloud is a named target: a connector type plus its settings.
type Cloud struct {
	Name        string
	Connector   string
	Description string
	// Settings holds the connector-specific attributes, by name.
	Settings       map[string]*hcl.Attribute
	ConnectorRange hcl.Range
	// ConnectorAttrRange spans the whole connector = "…" attribute.
	ConnectorAttrRange hcl.Range
	// Todo marks a cloud still to fill in (an imported SlipStream cloud
	// service): what is missing, in words. Validation warns and goes on
	// checking the rest of the recipe; compiling refuses the cloud. A cloud
	// with a todo may leave out its connector.
	Todo      string
	TodoRange hcl.Range
	DeclRange hcl.Range
	Module    *Module
}

// hostPool returns the cloud's pool of existing hosts (the fixed
// connector's hosts), or nil when its connector starts machines instead.
func (c *Cloud) hostPool() *hcl.Attribute {
	conn, ok := catalog.Lookup(c.Connector)
	if !ok {
		return nil
	}
	pool, ok := conn.Pool()
	if !ok {
		return nil
	}
	return c.Settings[pool.Name]
}

// Param is an input or output parameter of an image or component.
type Param struct {
	Name        string
	Output      bool
	Default     hcl.Expression // nil when there is none (inputs only)
	Description string
	Sensitive   bool
	// Allowed, when not nil, lists the values an input may take
	// (SlipStream's Enum parameters); AllowedRange is where it is written.
	Allowed      []string
	AllowedRange hcl.Range
	DeclRange    hcl.Range
	Module       *Module
}

// Script is a script attribute as written: its expression and where.
type Script struct {
	Phase string
	Expr  hcl.Expression
	// Owner labels the block that holds it, e.g. `image "base"`.
	Owner  string
	Module *Module
}

// Sizing is SlipStream's generic machine size, mapped per connector onto
// instance types and flavors.
type Sizing struct {
	CPU, RAM, Disk hcl.Expression // nil when unset
}

// Image is a base image (native ids per cloud) or a derived one (parent),
// with build steps.
type Image struct {
	Name        string
	Description string
	ParentExpr  hcl.Expression
	Parent      *Image // set by resolve
	IDs         map[string]hcl.Expression
	IDsRange    hcl.Range
	LoginUser   hcl.Expression
	Platform    hcl.Expression
	Packages    hcl.Expression
	PreInstall  *Script
	PostInstall *Script
	// Build, when it is false, keeps an image's build steps at deploy
	// time: no image is built for it (see compiler/images.go).
	Build     hcl.Expression
	Params    []*Param
	Sizing    Sizing
	DeclRange hcl.Range
	Module    *Module
}

// Component is an image plus deployment scripts and parameters.
type Component struct {
	Name        string
	Description string
	ImageExpr   hcl.Expression
	Image       *Image // set by resolve
	// Scripts are the deployment scripts per phase, in run order: one,
	// or several when the phase is written as a list (deploy = [a, b],
	// as SlipStream ran each target of an image chain root first).
	Scripts   map[string][]*Script
	Params    []*Param
	Sizing    Sizing
	DeclRange hcl.Range
	Module    *Module
}

// Deployment is a set of nodes started and coordinated together.
type Deployment struct {
	Name        string
	Description string
	KeepRunning hcl.Expression
	// StoreSensitive false keeps the sensitive runtime parameters out of
	// the Terraform state (the ready resource's store_sensitive): the
	// compiled configuration then has no output for them.
	StoreSensitive bool
	Nodes          []*Node
	DeclRange      hcl.Range
	Module         *Module
}

// Node is a group of identical instances of one component on one cloud.
type Node struct {
	Name                    string
	ComponentExpr           hcl.Expression
	Component               *Component // set by resolve
	CloudExpr               hcl.Expression
	Cloud                   *Cloud // set by resolve
	Multiplicity            hcl.Expression
	MaxProvisioningFailures hcl.Expression
	// Pool, when set, says whether the node's machines are started as one
	// pool resource (true) or one resource each (false); by default a
	// node of more than PoolThreshold instances on a cloud is pooled.
	Pool hcl.Expression
	// Inputs are the values given to the component's inputs, by name.
	Inputs map[string]*InputValue
	// Settings are connector-specific instance settings.
	Settings  map[string]*hcl.Attribute
	DeclRange hcl.Range
	Module    *Module
}

// InputValue is one entry of a node's `inputs` map. Exactly one of Expr
// (a literal or deploy-time expression) and FromNode/FromKey (a mapping from
// another node's output) is set.
type InputValue struct {
	Name      string
	Expr      hcl.Expression
	FromNode  string
	FromKey   string
	KeyRange  hcl.Range
	FromRange hcl.Range
	// IsLiteral marks SlipStream's quoted literal "'text'"; Literal holds
	// the text without the quotes.
	IsLiteral bool
	Literal   string
	// Invalid marks an entry whose value was reported as malformed.
	Invalid bool
}

// Import brings another recipe folder's blocks in under a name.
type Import struct {
	Name        string
	Source      string
	SourceRange hcl.Range
	DeclRange   hcl.Range
	Module      *Module // set by resolve
}

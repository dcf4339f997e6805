package compiler

import (
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/slipstream/terraform-provider-slipstream/compiler/internal/didyoumean"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

// Plan is one deployment, checked and with inheritance applied: everything
// the emitter and the wait-graph analysis need, per node.
type Plan struct {
	Program    *Program
	Deployment *Deployment
	Nodes      []*PlanNode
	// Clouds are the clouds the nodes use, sorted by name.
	Clouds []*Cloud
	// KeyedPools are the fixed clouds whose hosts are given per node (a
	// map from node name to its list) rather than as one list.
	KeyedPools map[*Cloud]bool
	// Builds are the images built for the nodes, by image then cloud
	// (images.go).
	Builds []*ImageBuild
}

// PlanNode is a node with its component's image chain folded in.
type PlanNode struct {
	*Node
	Connector *catalog.Connector
	// Chain is the image chain, root (base) first.
	Chain []*Image
	// Params are the effective parameters, nearest declaration winning:
	// the component's over its image's, a child image's over its parent's.
	Params map[string]*Param
	// Scripts per phase in run order: build steps root-first along the chain,
	// then the component's deployment scripts.
	Scripts map[string][]*Script
	// Packages are each image's packages expression, root first; their union
	// is installed.
	Packages  []hcl.Expression
	ImageID   hcl.Expression // nil when the connector needs no image
	LoginUser hcl.Expression
	Platform  hcl.Expression
	Sizing    Sizing
	// Settings are the instance settings: the cloud's, overridden by the node's.
	Settings map[string]*hcl.Attribute
	// Count is the constant multiplicity, or -1 when it is only known at
	// deploy time.
	Count int
	// Pooled: the node's machines are one pool resource
	// (Connector.PoolResource), not one resource each.
	Pooled bool
	// Build is the image build the node's machines start from, nil when
	// they start from a native image (images.go).
	Build *ImageBuild
}

// PoolThreshold is the multiplicity above which a node on a cloud that
// creates machines is started as a pool, unless the node says `pool`.
// Up to it, one resource per machine (drift and replacement per machine,
// a plan line each) costs Terraform little; above it a pool starts the
// machines in batches and keeps the plan one resource, however large.
const PoolThreshold = 20

// exprModule returns the module an expression folded into the node came
// from (an image of the chain or the component may live in an imported
// folder), which is what its file() paths are relative to.
func (n *PlanNode) exprModule(expr hcl.Expression) *Module {
	for _, im := range n.Chain {
		for _, e := range []hcl.Expression{im.LoginUser, im.Platform, im.Packages, im.Sizing.CPU, im.Sizing.RAM, im.Sizing.Disk} {
			if e == expr {
				return im.Module
			}
		}
		for _, e := range im.IDs {
			if e == expr {
				return im.Module
			}
		}
	}
	if c := n.Component; c != nil {
		for _, e := range []hcl.Expression{c.Sizing.CPU, c.Sizing.RAM, c.Sizing.Disk} {
			if e == expr {
				return c.Module
			}
		}
	}
	return n.Module
}

// ParamNames lists the node's parameter names, sorted.
func (n *PlanNode) ParamNames() []string { return sortedKeys(n.Params) }

// Phases lists script phases in the order an instance runs them.
var Phases = []string{"pre_install", "post_install", "deploy", "report", "on_vm_add", "on_vm_remove"}

var keepRunningValues = []string{"always", "on-success", "on-error", "never"}

// mappingStringRE is SlipStream's mapping syntax: "<node>:<output>".
var mappingStringRE = regexp.MustCompile(`^(\w+):(\w[\w.-]*)$`)

// Deployments lists the root folder's deployment names, sorted.
func (p *Program) Deployments() []string { return sortedKeys(p.Root.Deployments) }

// Check checks one deployment of the root folder and builds its Plan. It
// also checks every cloud, image and component of every folder, so that an
// error in an unused block is not silently shipped.
func (p *Program) Check(name string) (*Plan, hcl.Diagnostics) {
	diags := p.checkDefinitions()
	dep, ok := p.Root.Deployments[name]
	if !ok {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "No such deployment",
			Detail: fmt.Sprintf("The recipe has no deployment named %q.%s", name, didyoumean.Hint(name, p.Deployments())),
		})
	}
	plan, d := p.checkDeployment(dep)
	return plan, fixRanges(append(diags, d...))
}

// CheckAll checks every deployment of the root folder (slipc validate).
func (p *Program) CheckAll() ([]*Plan, hcl.Diagnostics) {
	diags := p.checkDefinitions()
	var plans []*Plan
	for _, name := range p.Deployments() {
		plan, d := p.checkDeployment(p.Root.Deployments[name])
		diags = append(diags, d...)
		if plan != nil {
			plans = append(plans, plan)
		}
	}
	return plans, fixRanges(diags)
}

// checkDefinitions checks blocks on their own, independent of deployments.
func (p *Program) checkDefinitions() hcl.Diagnostics {
	var diags hcl.Diagnostics
	cloudNames := map[string]bool{}
	for _, m := range p.Modules {
		for name := range m.Clouds {
			cloudNames[name] = true
		}
	}
	for _, m := range p.Modules {
		for _, name := range sortedKeys(m.Clouds) {
			diags = append(diags, p.checkCloud(m.Clouds[name])...)
		}
		for _, name := range sortedKeys(m.Images) {
			im := m.Images[name]
			for _, cloud := range sortedKeys(im.IDs) {
				diags = append(diags, p.checkExprs(im.Module, im.IDs[cloud])...)
				if !cloudNames[cloud] {
					rng := im.IDs[cloud].Range()
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagWarning, Summary: "Image id for an unknown cloud",
						Detail:  fmt.Sprintf("Image %q gives an id for cloud %q, but no cloud of that name is declared, so the id is never used.%s", im.Name, cloud, didyoumean.Hint(cloud, sortedKeys(cloudNames))),
						Subject: &rng, Context: im.IDsRange.Ptr(),
					})
				}
			}
			diags = append(diags, p.checkSizing(im.Module, im.Sizing)...)
			diags = append(diags, p.checkExprs(im.Module, im.LoginUser, im.Platform, im.Packages)...)
			for _, prm := range im.Params {
				diags = append(diags, p.checkAllowedDefault(im.Module, prm)...)
			}
			for _, s := range []*Script{im.PreInstall, im.PostInstall} {
				if s != nil {
					diags = append(diags, p.checkExprs(m, s.Expr)...)
				}
			}
		}
		for _, name := range sortedKeys(m.Components) {
			c := m.Components[name]
			diags = append(diags, p.checkSizing(m, c.Sizing)...)
			for _, phase := range sortedKeys(c.Scripts) {
				for _, sc := range c.Scripts[phase] {
					diags = append(diags, p.checkExprs(m, sc.Expr)...)
				}
			}
			for _, prm := range c.Params {
				diags = append(diags, p.checkExprs(m, prm.Default)...)
				diags = append(diags, p.checkAllowedDefault(m, prm)...)
			}
		}
	}
	return diags
}

// checkAllowedDefault checks that an input's default, when it is known
// now, is one of its allowed values.
func (p *Program) checkAllowedDefault(m *Module, prm *Param) hcl.Diagnostics {
	if prm.Allowed == nil || prm.Default == nil {
		return nil
	}
	v, d := prm.Default.Value(p.evalContext(m))
	if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil // reported by checkExprs, or known at deploy time only
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || contains(prm.Allowed, s.AsString()) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "Default not allowed",
		Detail:  fmt.Sprintf("The default of input %q is %q, which is not one of its allowed values: %s.", prm.Name, s.AsString(), quoteJoin(prm.Allowed)),
		Subject: prm.Default.Range().Ptr(), Context: prm.DeclRange.Ptr(),
	}}
}

// checkAllowedValue checks a node's constant value for an input against
// the input's allowed values (a mapping or a deploy-time value is not
// known at compile time; the Terraform variable of an unmapped input
// checks what a deploy gives).
func (p *Program) checkAllowedValue(pn *PlanNode, prm *Param, iv *InputValue) hcl.Diagnostics {
	if prm.Allowed == nil || iv.FromNode != "" {
		return nil
	}
	text := iv.Literal
	if !iv.IsLiteral {
		if dependsOnVariables(iv.Expr) || len(iv.Expr.Variables()) > 0 {
			return nil
		}
		v, d := iv.Expr.Value(p.evalContext(pn.Module))
		if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			return nil
		}
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil
		}
		text = s.AsString()
	}
	if contains(prm.Allowed, text) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "Value not allowed",
		Detail:  fmt.Sprintf("Node %q gives input %q the value %q, which is not one of its allowed values (declared at %s): %s.", pn.Name, prm.Name, text, prm.AllowedRange, quoteJoin(prm.Allowed)),
		Subject: iv.FromRange.Ptr(), Context: hcl.RangeBetween(iv.KeyRange, iv.FromRange).Ptr(),
	}}
}

// checkExprs evaluates expressions once to surface errors in them (unknown
// functions, missing files, type errors) at compile time.
func (p *Program) checkExprs(m *Module, exprs ...hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, e := range exprs {
		if e == nil {
			continue
		}
		_, d := e.Value(p.evalContext(m))
		diags = append(diags, d...)
	}
	return diags
}

// todoConnector stands for the connector of a cloud still to fill in
// (Cloud.Todo, no connector yet): it starts nothing and takes no settings,
// so the nodes on such a cloud can be checked but never emitted.
var todoConnector = &catalog.Connector{Name: "todo", Title: "a cloud to fill in"}

// connectorList says which connectors a cloud can use now and which are
// planned, for the diagnostics about a cloud's connector.
func connectorList() string {
	s := "The connectors available now are: " + strings.Join(catalog.Implemented(), ", ") + "."
	if planned := catalog.Planned(); len(planned) > 0 {
		s += " Planned, not yet available: " + strings.Join(planned, ", ") + "."
	}
	return s
}

func (p *Program) checkCloud(c *Cloud) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if c.Todo != "" {
		detail := fmt.Sprintf("Cloud %q is still to fill in: %s\n\nslipc validate checks the rest of the recipe meanwhile; slipc compile refuses the cloud until it is filled in and this todo line is deleted.", c.Name, c.Todo)
		if c.Connector == "" {
			detail += " It needs a connector and that connector's settings (see docs/clouds.md). " + connectorList()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning, Summary: "Cloud to fill in", Detail: detail,
			Subject: c.TodoRange.Ptr(), Context: c.DeclRange.Ptr(),
		})
		if c.Connector == "" {
			// Its settings are checked once it names its connector.
			return diags
		}
	}
	conn, ok := catalog.Lookup(c.Connector)
	if !ok {
		if c.Connector != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unknown connector",
				Detail:  fmt.Sprintf("There is no connector %q.%s %s", c.Connector, didyoumean.Hint(c.Connector, catalog.Names()), connectorList()),
				Subject: c.ConnectorRange.Ptr(), Context: c.DeclRange.Ptr(),
			})
		}
		return diags
	}
	if !conn.Implemented && !p.opts.plannedConnectors {
		// The catalog knows the connector's settings, but the provider has
		// no resource for it: compiled Terraform would fail at plan time.
		// Its settings are still checked below, so the recipe is otherwise
		// ready for the day the connector lands.
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Connector not yet available",
			Detail: fmt.Sprintf("Cloud %q uses connector %q, which is planned but not yet available: the provider has no %s resource yet, so nothing could start this cloud's machines. %s",
				c.Name, conn.Name, conn.Resource, connectorList()),
			Subject: c.ConnectorRange.Ptr(), Context: c.ConnectorAttrRange.Ptr(),
		})
	}
	for _, name := range sortedKeys(c.Settings) {
		attr := c.Settings[name]
		if _, ok := conn.Setting(name); !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unsupported connector setting",
				Detail: fmt.Sprintf("Connector %q has no setting %q.%s Its settings are: %s.", conn.Name, name,
					didyoumean.Hint(name, append(conn.SettingNames(catalog.ScopeProvider, catalog.ScopeInstance, catalog.ScopePool), "connector", "description")),
					strings.Join(conn.SettingNames(catalog.ScopeProvider, catalog.ScopeInstance, catalog.ScopePool), ", ")),
				Subject: attr.NameRange.Ptr(), Context: attr.Range.Ptr(),
			})
			continue
		}
		diags = append(diags, p.checkExprs(c.Module, attr.Expr)...)
	}
	for _, s := range conn.Settings {
		if s.Required && s.Scope != catalog.ScopeInstance && c.Settings[s.Name] == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Missing required connector setting",
				Detail:  fmt.Sprintf("Cloud %q uses connector %q, which requires %q (%s).", c.Name, conn.Name, s.Name, s.Description),
				Subject: c.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

func (p *Program) checkSizing(m *Module, s Sizing) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, e := range map[string]hcl.Expression{"cpu": s.CPU, "ram": s.RAM, "disk": s.Disk} {
		if e == nil {
			continue
		}
		v, d := e.Value(p.evalContext(m))
		diags = append(diags, d...)
		if d.HasErrors() || !v.IsWhollyKnown() {
			continue
		}
		n, err := convert.Convert(v, cty.Number)
		if err != nil || n.IsNull() || n.AsBigFloat().Sign() <= 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Invalid size",
				Detail:  fmt.Sprintf("%s must be a positive number (cpu in cores, ram and disk in GB).", name),
				Subject: e.Range().Ptr(),
			})
		}
	}
	sortDiags(diags)
	return diags
}

func (p *Program) checkDeployment(dep *Deployment) (*Plan, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	m := dep.Module
	plan := &Plan{Program: p, Deployment: dep}
	if dep.KeepRunning != nil {
		v, d := dep.KeepRunning.Value(p.evalContext(m))
		diags = append(diags, d...)
		if !d.HasErrors() && v.IsWhollyKnown() {
			s, err := convert.Convert(v, cty.String)
			if err != nil || s.IsNull() || !contains(keepRunningValues, s.AsString()) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Invalid keep_running",
					Detail:  fmt.Sprintf("keep_running must be one of %s.", quoteJoin(keepRunningValues)),
					Subject: dep.KeepRunning.Range().Ptr(),
				})
			}
		}
	}
	byName := map[string]*PlanNode{}
	var nodeNames []string
	for _, n := range dep.Nodes {
		nodeNames = append(nodeNames, n.Name)
	}
	clouds := map[*Cloud]bool{}
	for _, n := range dep.Nodes {
		pn, d := p.planNode(n)
		diags = append(diags, d...)
		if pn == nil {
			continue
		}
		byName[n.Name] = pn
		plan.Nodes = append(plan.Nodes, pn)
		clouds[n.Cloud] = true
	}
	for c := range clouds {
		plan.Clouds = append(plan.Clouds, c)
	}
	sort.Slice(plan.Clouds, func(i, j int) bool { return plan.Clouds[i].Name < plan.Clouds[j].Name })
	for _, pn := range plan.Nodes {
		diags = append(diags, p.checkInputs(pn, byName, nodeNames)...)
	}
	diags = append(diags, p.planBuilds(plan)...)
	diags = append(diags, p.checkHostPools(plan)...)
	diags = append(diags, p.analyzeWaits(plan)...)
	return plan, diags
}

// foldChain folds pn.Chain into the node, root first, the nearest
// declaration winning: the parameters, the build steps and packages, the
// image id on cloud, the login user, the platform and the sizing. Image
// builds fold their chain with it too (images.go).
func (pn *PlanNode) foldChain(cloud string) {
	sizing := Sizing{}
	for _, im := range pn.Chain {
		for _, prm := range im.Params {
			pn.Params[prm.Name] = prm
		}
		if im.PreInstall != nil {
			pn.Scripts["pre_install"] = append(pn.Scripts["pre_install"], im.PreInstall)
		}
		if im.PostInstall != nil {
			pn.Scripts["post_install"] = append(pn.Scripts["post_install"], im.PostInstall)
		}
		if im.Packages != nil {
			pn.Packages = append(pn.Packages, im.Packages)
		}
		if id, ok := im.IDs[cloud]; ok {
			pn.ImageID = id
		}
		if im.LoginUser != nil {
			pn.LoginUser = im.LoginUser
		}
		if im.Platform != nil {
			pn.Platform = im.Platform
		}
		sizing = overlaySizing(sizing, im.Sizing)
	}
	pn.Sizing = sizing
}

// planNode folds the node's component and image chain together.
func (p *Program) planNode(n *Node) (*PlanNode, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	if n.Component == nil || n.Cloud == nil {
		return nil, nil // reported by resolve
	}
	conn, ok := catalog.Lookup(n.Cloud.Connector)
	if !ok && n.Cloud.Todo != "" && n.Cloud.Connector == "" {
		// A cloud still to fill in has no connector yet: the node is
		// planned without one, so its mappings and the wait graph are
		// still checked; checkCloud warns, compiling refuses.
		conn, ok = todoConnector, true
	}
	if !ok {
		return nil, nil // reported by checkCloud
	}
	pn := &PlanNode{Node: n, Connector: conn, Params: map[string]*Param{}, Scripts: map[string][]*Script{}, Settings: map[string]*hcl.Attribute{}}
	for im := n.Component.Image; im != nil; im = im.Parent {
		pn.Chain = append([]*Image{im}, pn.Chain...)
	}
	pn.foldChain(n.Cloud.Name)
	for _, prm := range n.Component.Params {
		pn.Params[prm.Name] = prm
	}
	pn.Sizing = overlaySizing(pn.Sizing, n.Component.Sizing)
	for _, phase := range componentScriptPhases {
		if scripts := n.Component.Scripts[phase]; len(scripts) > 0 {
			pn.Scripts[phase] = append(pn.Scripts[phase], scripts...)
		}
	}
	if conn.NeedsImage && pn.ImageID == nil {
		var chain []string
		for _, im := range pn.Chain {
			chain = append(chain, fmt.Sprintf("%q", im.Name))
		}
		rng := n.CloudExpr.Range()
		base := "the base image"
		if len(pn.Chain) > 0 {
			base = fmt.Sprintf("image %q", pn.Chain[0].Name)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "No image for this cloud",
			Detail:  fmt.Sprintf("Node %q runs on cloud %q (connector %q), but no image in its chain (%s) has an id for that cloud. Add it to %s, e.g. ids = { %s = \"<native image id>\" }.", n.Name, n.Cloud.Name, conn.Name, strings.Join(chain, " → "), base, n.Cloud.Name),
			Subject: &rng, Context: n.DeclRange.Ptr(),
		})
	}
	// Instance settings: the cloud's first, then the node's.
	for name, attr := range n.Cloud.Settings {
		if s, ok := conn.Setting(name); ok && s.Scope == catalog.ScopeInstance {
			pn.Settings[name] = attr
		}
	}
	for _, name := range sortedKeys(n.Settings) {
		attr := n.Settings[name]
		s, ok := conn.Setting(name)
		switch {
		case conn == todoConnector:
			// Checked once the cloud names its connector.
			pn.Settings[name] = attr
		case !ok:
			names := append(conn.SettingNames(catalog.ScopeInstance), "component", "cloud", "multiplicity", "max_provisioning_failures", "inputs", "pool")
			detail := fmt.Sprintf("An argument named %q is not expected in node %q.", name, n.Name)
			if hint := didyoumean.Hint(name, names); hint != "" {
				detail += hint
			} else if home, ok := attrHome[name]; ok {
				detail += fmt.Sprintf(" The argument %q belongs in %s.", name, home)
			} else if in := conn.SettingNames(catalog.ScopeInstance); len(in) > 0 {
				detail += fmt.Sprintf(" Connector %q takes these per-node settings: %s.", conn.Name, strings.Join(in, ", "))
			} else {
				detail += fmt.Sprintf(" Connector %q takes no per-node settings.", conn.Name)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: detail, Subject: attr.NameRange.Ptr(), Context: attr.Range.Ptr()})
		case s.Scope != catalog.ScopeInstance:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Cloud-wide setting on a node",
				Detail:  fmt.Sprintf("%q is a setting of the whole cloud for connector %q; set it in cloud %q instead.", name, conn.Name, n.Cloud.Name),
				Subject: attr.NameRange.Ptr(), Context: attr.Range.Ptr(),
			})
		default:
			pn.Settings[name] = attr
			diags = append(diags, p.checkExprs(n.Module, attr.Expr)...)
		}
	}
	pn.Count, diags = p.checkCount(n.Module, n.Multiplicity, "multiplicity", 1, diags)
	_, diags = p.checkCount(n.Module, n.MaxProvisioningFailures, "max_provisioning_failures", 0, diags)
	pn.Pooled, diags = p.checkPool(pn, diags)
	return pn, diags
}

// checkPool decides whether the node is pooled: as its `pool` says (a
// constant true or false), else when its multiplicity, or the default of
// the variable it is, exceeds PoolThreshold on a cloud with pools.
func (p *Program) checkPool(pn *PlanNode, diags hcl.Diagnostics) (bool, hcl.Diagnostics) {
	n := pn.Node
	if n.Pool == nil {
		count := pn.Count
		if count < 0 && n.Multiplicity != nil {
			count = p.variableDefault(n.Multiplicity)
		}
		return pn.Connector.PoolResource != "" && count > PoolThreshold, diags
	}
	rng := n.Pool.Range()
	v, d := n.Pool.Value(nil)
	if d.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
		return false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid pool",
			Detail:  fmt.Sprintf("pool must be true or false, written as such: it decides which Terraform resources slipc writes for node %q, so it cannot depend on a variable.", n.Name),
			Subject: &rng,
		})
	}
	if v.True() && pn.Connector.PoolResource == "" {
		return false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "No pools on this cloud",
			Detail:  fmt.Sprintf("Node %q is on cloud %q, whose connector %q adopts existing machines one by one: it has no pools. Remove `pool = true`.", n.Name, n.Cloud.Name, pn.Connector.Name),
			Subject: &rng,
		})
	}
	return v.True(), diags
}

// variableDefault is the default of the variable e refers to, as a whole
// number ≥ 0, or -1.
func (p *Program) variableDefault(e hcl.Expression) int {
	trav, td := hcl.AbsTraversalForExpr(e)
	if td.HasErrors() || len(trav) != 2 {
		return -1
	}
	names := traversalNames(trav)
	vr := p.Variables[names[len(names)-1]]
	if vr == nil || vr.Default == cty.NilVal {
		return -1
	}
	n, ok := wholeNonNegative(vr.Default)
	if !ok {
		return -1
	}
	return n
}

// checkCount checks a non-negative whole number; it returns its value, or -1
// when it is known only at deploy time. A bare variable reference is checked
// through the variable's default.
func (p *Program) checkCount(m *Module, e hcl.Expression, what string, dflt int, diags hcl.Diagnostics) (int, hcl.Diagnostics) {
	if e == nil {
		return dflt, diags
	}
	v, d := e.Value(p.evalContext(m))
	diags = append(diags, d...)
	if d.HasErrors() {
		return -1, diags
	}
	subject := e.Range()
	detail := ""
	if !v.IsWhollyKnown() {
		trav, td := hcl.AbsTraversalForExpr(e)
		if td.HasErrors() || len(trav) != 2 {
			return -1, diags
		}
		vr := p.Variables[traversalNames(trav)[len(traversalNames(trav))-1]]
		if vr == nil || vr.Default == cty.NilVal {
			return -1, diags
		}
		v, detail = vr.Default, fmt.Sprintf(" (the default of variable %q, declared at %s)", vr.Name, vr.DeclRange)
		if _, ok := wholeNonNegative(v); !ok {
			return -1, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s", what),
				Detail:  fmt.Sprintf("%s must be a whole number ≥ 0; %s is not%s.", what, showValue(v), detail),
				Subject: &subject,
			})
		}
		return -1, diags
	}
	n, ok := wholeNonNegative(v)
	if !ok {
		return -1, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s", what),
			Detail:  fmt.Sprintf("%s must be a whole number ≥ 0; %s is not.", what, showValue(v)),
			Subject: &subject,
		})
	}
	return n, diags
}

// showValue renders a value for a message as the user would write it.
func showValue(v cty.Value) string {
	if s, err := convert.Convert(v, cty.String); err == nil && !s.IsNull() && s.IsKnown() {
		if v.Type() == cty.String {
			return fmt.Sprintf("%q", s.AsString())
		}
		return s.AsString()
	}
	return v.Type().FriendlyName()
}

func wholeNonNegative(v cty.Value) (int, bool) {
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() || !n.IsKnown() {
		return 0, false
	}
	bf := n.AsBigFloat()
	if bf.Sign() < 0 || !bf.IsInt() || bf.Cmp(big.NewFloat(1e6)) > 0 {
		return 0, false
	}
	i, _ := bf.Int64()
	return int(i), true
}

// checkInputs classifies and checks a node's input values: mappings must
// name another node's output, literals an input, and every input without a
// default must be given something.
func (p *Program) checkInputs(pn *PlanNode, byName map[string]*PlanNode, nodeNames []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	inputNames := func() []string {
		var names []string
		for _, name := range pn.ParamNames() {
			if !pn.Params[name].Output {
				names = append(names, name)
			}
		}
		return names
	}
	for _, key := range sortedKeys(pn.Inputs) {
		iv := pn.Inputs[key]
		if iv.Invalid {
			continue
		}
		prm, ok := pn.Params[key]
		switch {
		case !ok:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unknown input parameter",
				Detail:  fmt.Sprintf("Component %q has no input %q.%s", pn.Component.Name, key, didyoumean.Hint(key, inputNames())),
				Subject: iv.KeyRange.Ptr(), Context: hcl.RangeBetween(iv.KeyRange, iv.FromRange).Ptr(),
			})
			continue
		case prm.Output:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Cannot give a value to an output",
				Detail:  fmt.Sprintf("%q is an output of component %q: its instances set it at run time with ss-set. Only inputs take values here.", key, pn.Component.Name),
				Subject: iv.KeyRange.Ptr(), Context: hcl.RangeBetween(iv.KeyRange, iv.FromRange).Ptr(),
			})
			continue
		}
		if iv.FromNode == "" {
			diags = append(diags, p.classifyInputString(pn, iv, nodeNames)...)
		}
		if iv.FromNode == "" {
			diags = append(diags, p.checkExprs(pn.Module, iv.Expr)...)
			diags = append(diags, p.checkAllowedValue(pn, prm, iv)...)
			continue
		}
		src, ok := byName[iv.FromNode]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Mapping from an unknown node",
				Detail:  fmt.Sprintf("Input %q of node %q is mapped from node %q, which deployment %q does not have.%s", key, pn.Name, iv.FromNode, pn.Module.Prefix+deploymentOf(pn), didyoumean.Hint(iv.FromNode, nodeNames)),
				Subject: iv.FromRange.Ptr(), Context: hcl.RangeBetween(iv.KeyRange, iv.FromRange).Ptr(),
			})
			continue
		}
		out, ok := src.Params[iv.FromKey]
		if !ok && !contains(builtinOutputs, iv.FromKey) && !builtinParams[iv.FromKey] {
			var outs []string
			for _, name := range src.ParamNames() {
				if src.Params[name].Output {
					outs = append(outs, name)
				}
			}
			outs = append(outs, builtinOutputs...)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Mapping from a missing output",
				Detail:  fmt.Sprintf("Input %q of node %q is mapped from %s:%s, but component %q of node %q has no output %q.%s", key, pn.Name, iv.FromNode, iv.FromKey, src.Component.Name, src.Name, iv.FromKey, didyoumean.Hint(iv.FromKey, outs)),
				Subject: iv.FromRange.Ptr(), Context: hcl.RangeBetween(iv.KeyRange, iv.FromRange).Ptr(),
			})
			continue
		}
		if out != nil && out.Sensitive && !prm.Sensitive {
			// The input holds the same secret, so it is sensitive, whatever
			// the component declares (the coordinator treats it so as
			// well). Parameter definitions are the component's, shared by
			// its nodes in slipstream_deployment.components: the
			// declaration itself is marked, for every node of the
			// component, which only keeps more values out of plans.
			prm.Sensitive = true
		}
	}
	for _, name := range inputNames() {
		prm := pn.Params[name]
		if prm.Default == nil && pn.Inputs[name] == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Input left without a value",
				Detail:  fmt.Sprintf("Input %q of component %q (declared at %s) has no default, and node %q gives it none. Map it from another node (inputs = { %s = node.<node>.<output> }), give a literal, or a deploy-time variable (inputs = { %s = var.<name> }).", name, pn.Component.Name, prm.DeclRange, pn.Name, hclKey(name), hclKey(name)),
				Subject: pn.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

func deploymentOf(pn *PlanNode) string {
	for _, dep := range pn.Module.Deployments {
		for _, n := range dep.Nodes {
			if n == pn.Node {
				return dep.Name
			}
		}
	}
	return ""
}

// classifyInputString applies SlipStream's mapping syntax to a constant
// string: "db:password" maps from node db when the deployment has a node db;
// "'text'" is SlipStream's quoted literal.
func (p *Program) classifyInputString(pn *PlanNode, iv *InputValue, nodeNames []string) hcl.Diagnostics {
	if dependsOnVariables(iv.Expr) || len(iv.Expr.Variables()) > 0 {
		return nil
	}
	v, d := iv.Expr.Value(nil)
	if d.HasErrors() || v.Type() != cty.String || v.IsNull() || !v.IsKnown() {
		return nil
	}
	s := v.AsString()
	if len(s) >= 2 && strings.HasPrefix(s, "'") && strings.HasSuffix(s, "'") {
		iv.Literal = s[1 : len(s)-1]
		iv.IsLiteral = true
		return nil
	}
	m := mappingStringRE.FindStringSubmatch(s)
	if m == nil {
		return nil
	}
	if contains(nodeNames, m[1]) {
		iv.FromNode, iv.FromKey = m[1], m[2]
		return nil
	}
	if sug := didyoumean.Suggest(m[1], nodeNames); sug != "" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagWarning, Summary: "Looks like a mapping from an unknown node",
			Detail:  fmt.Sprintf("%q has SlipStream's mapping form <node>:<output>, but there is no node %q, so it is passed as literal text. Did you mean %q? If the literal is intended, write it as \"'%s'\".", s, m[1], sug+":"+m[2], s),
			Subject: iv.FromRange.Ptr(), Context: hcl.RangeBetween(iv.KeyRange, iv.FromRange).Ptr(),
		}}
	}
	return nil
}

// checkHostPools checks each fixed cloud's hosts against the nodes placed
// on it. hosts is either a map from node name to that node's own list of
// hosts, which keeps every node on its machines whatever the other nodes'
// multiplicities, or a plain list, allowed only when one node uses the
// cloud: with several, each node's hosts would start where the previous
// node's ended, so scaling one node would move every later node to other
// machines. Each node's list must hold its multiplicity when that is known
// at compile time. Keys naming no node of this deployment are ignored (a
// cloud may serve several deployments of the folder). Keyed clouds are
// recorded in plan.KeyedPools for emit.
func (p *Program) checkHostPools(plan *Plan) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range plan.Clouds {
		attr := c.hostPool()
		if attr == nil {
			continue
		}
		var nodes []*PlanNode
		var names []string
		for _, pn := range plan.Nodes {
			if pn.Cloud == c {
				nodes = append(nodes, pn)
				names = append(names, pn.Name)
			}
		}
		sort.Strings(names)
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		v, d := attr.Expr.Value(p.evalContext(c.Module))
		if d.HasErrors() {
			continue // reported with the cloud
		}
		bad := func(summary, detail string) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: summary, Detail: detail,
				Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(),
			})
		}
		example := hostsExample(names)
		ty := v.Type()
		switch {
		case ty.IsObjectType() || ty.IsMapType():
			if plan.KeyedPools == nil {
				plan.KeyedPools = map[*Cloud]bool{}
			}
			plan.KeyedPools[c] = true
			if !v.IsKnown() || v.IsNull() {
				continue
			}
			var keys []string
			for it := v.ElementIterator(); it.Next(); {
				k, _ := it.Element()
				keys = append(keys, k.AsString())
			}
			var spare []string // keys naming no node here: typos, or another deployment's nodes
			for _, k := range keys {
				if !contains(names, k) {
					spare = append(spare, k)
				}
			}
			for _, pn := range nodes {
				if !contains(keys, pn.Name) {
					bad("No hosts for node", fmt.Sprintf("Cloud %q gives its hosts per node, but none for node %q, which is placed on it.%s Add %s = [ … ] to its hosts.",
						c.Name, pn.Name, didyoumean.Hint(pn.Name, spare), pn.Name))
					continue
				}
				var list cty.Value
				if ty.IsObjectType() {
					list = v.GetAttr(pn.Name)
				} else {
					list = v.Index(cty.StringVal(pn.Name))
				}
				lt := list.Type()
				if !lt.IsListType() && !lt.IsTupleType() && !lt.IsSetType() {
					bad("Invalid hosts", fmt.Sprintf("Cloud %q: the hosts of node %q must be a list of addresses, not %s.", c.Name, pn.Name, lt.FriendlyName()))
					continue
				}
				if list.IsWhollyKnown() && !list.IsNull() && pn.Count >= 0 && pn.Count > list.LengthInt() {
					bad("Not enough hosts", fmt.Sprintf("Cloud %q lists %d host(s) for node %q, which has %d instance(s).", c.Name, list.LengthInt(), pn.Name, pn.Count))
				}
			}
		case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
			if len(nodes) > 1 {
				bad("One host list for several nodes", fmt.Sprintf(
					"Nodes %s are all placed on cloud %q, whose hosts is one list. Each node would take the hosts after the previous node's, so scaling one node would move every later node to other machines. "+
						"Give each node its own hosts instead: %s.", quoteJoin(names), c.Name, example))
				continue
			}
			if len(nodes) == 1 && v.IsWhollyKnown() && !v.IsNull() && nodes[0].Count >= 0 && nodes[0].Count > v.LengthInt() {
				bad("Not enough hosts", fmt.Sprintf("Cloud %q lists %d host(s), but node %q has %d instance(s).", c.Name, v.LengthInt(), nodes[0].Name, nodes[0].Count))
			}
		default:
			bad("Invalid hosts", fmt.Sprintf("Cloud %q: hosts must be a list of addresses (one node on the cloud) or a map from node name to its list of addresses (%s), not %s; a variable used here needs a type, such as map(list(string)).",
				c.Name, example, ty.FriendlyName()))
		}
	}
	return diags
}

// hostsExample shows the per-node form of hosts for the named nodes.
func hostsExample(names []string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s = [ … ]", n))
	}
	return "hosts = { " + strings.Join(parts, ", ") + " }"
}

func overlaySizing(base, over Sizing) Sizing {
	if over.CPU != nil {
		base.CPU = over.CPU
	}
	if over.RAM != nil {
		base.RAM = over.RAM
	}
	if over.Disk != nil {
		base.Disk = over.Disk
	}
	return base
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteJoin(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// hclKey writes a map key as HCL wants it: bare when it is an identifier.
func hclKey(name string) string {
	if regexp.MustCompile(`^[A-Za-z_][\w-]*$`).MatchString(name) {
		return name
	}
	return fmt.Sprintf("%q", name)
}

func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

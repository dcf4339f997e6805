package compiler

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

// Image builds (the image factory). An image with build steps (pre_install,
// packages, post_install) is built, for every cloud that a node using it
// runs on and whose connector builds images (catalog ImageResource), into
// a native image of that cloud; the node's machines start from it and
// their agents skip the steps it holds. A derived image whose own level
// has build steps is built from its parent's built image, so the builds
// form a chain like the images; a level without steps adds no build. An
// image with an id on the cloud (ids = { cloud = "…" }) is that native
// image and is not built there; `build = false` keeps an image's steps at
// deploy time, as before the image factory.
//
// A build runs the whole chain's steps, root first as a deployment runs
// them; its agent skips those the parent's built image already holds
// (coordination/agent/image.go), so each build runs its own level's steps.

// ImageBuild is one image built on one cloud.
type ImageBuild struct {
	Image *Image
	Cloud *Cloud
	// Connector is the cloud's; Connector.ImageResource the resource.
	Connector *catalog.Connector
	// Parent is the build the builder starts from, or nil: it starts from
	// ParentID, the nearest ancestor's native id on the cloud.
	Parent   *ImageBuild
	ParentID hcl.Expression
	// Chain is the image's chain, root first: whose steps the build runs.
	Chain []*Image
}

// resourceName is the build's Terraform resource name: the image's and
// the cloud's.
func (b *ImageBuild) resourceName() string {
	return ident(qualifiedName(b.Image.Module, b.Image.Name), b.Cloud.Name)
}

// hasSteps reports whether an image's own level has build steps.
func hasSteps(im *Image) bool {
	return im.PreInstall != nil || im.PostInstall != nil || im.Packages != nil
}

// builds reports whether im is built on clouds that build images: it has
// steps and does not say build = false (a constant).
func (p *Program) builds(im *Image, diags *hcl.Diagnostics) bool {
	if !hasSteps(im) {
		return false
	}
	if im.Build == nil {
		return true
	}
	v, d := im.Build.Value(nil)
	if d.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
		rng := im.Build.Range()
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid build",
			Detail:  fmt.Sprintf("build must be true or false, written as such: it decides whether slipc writes Terraform that builds image %q, so it cannot depend on a variable.", im.Name),
			Subject: &rng, Context: im.DeclRange.Ptr(),
		})
		return false
	}
	return v.True()
}

// buildPlanner finds the builds a plan needs, each once.
type buildPlanner struct {
	p       *Program
	plan    *Plan
	memo    map[buildKey]*ImageBuild
	checked map[*Image]bool
	diags   hcl.Diagnostics
}

type buildKey struct {
	im    *Image
	cloud string
}

func newBuildPlanner(p *Program, plan *Plan) *buildPlanner {
	return &buildPlanner{p: p, plan: plan, memo: map[buildKey]*ImageBuild{}, checked: map[*Image]bool{}}
}

// buildOf returns the build whose image machines of im start from on
// cloud c: im's own, or its nearest built ancestor's; nil when they start
// from a native image (or there is none to start from: the node's check
// reports it).
func (bp *buildPlanner) buildOf(im *Image, c *Cloud, conn *catalog.Connector) *ImageBuild {
	if im == nil {
		return nil
	}
	if _, native := im.IDs[c.Name]; native {
		return nil
	}
	parent := bp.buildOf(im.Parent, c, conn)
	d := hcl.Diagnostics{}
	building := bp.p.builds(im, &d)
	if !bp.checked[im] {
		bp.checked[im] = true
		bp.diags = append(bp.diags, d...)
	}
	if !building {
		return parent
	}
	k := buildKey{im, c.Name}
	if b, ok := bp.memo[k]; ok {
		return b
	}
	b := &ImageBuild{Image: im, Cloud: c, Connector: conn, Parent: parent}
	for a := im; a != nil; a = a.Parent {
		b.Chain = append([]*Image{a}, b.Chain...)
	}
	if parent == nil {
		for a := im.Parent; a != nil && b.ParentID == nil; a = a.Parent {
			b.ParentID = a.IDs[c.Name]
		}
		if b.ParentID == nil {
			return nil
		}
	}
	bp.memo[k] = b
	bp.plan.Builds = append(bp.plan.Builds, b)
	return b
}

// done sorts the plan's builds and returns what was found wrong.
func (bp *buildPlanner) done() hcl.Diagnostics {
	sortByName(bp.plan.Builds, func(b *ImageBuild) string { return b.resourceName() })
	return bp.diags
}

// planBuilds finds the build each node starts from, and the builds the
// plan needs.
func (p *Program) planBuilds(plan *Plan) hcl.Diagnostics {
	bp := newBuildPlanner(p, plan)
	for _, pn := range plan.Nodes {
		if pn.Connector.ImageResource == "" || pn.Node.Component == nil {
			continue
		}
		pn.Build = bp.buildOf(pn.Node.Component.Image, pn.Node.Cloud, pn.Connector)
	}
	return bp.done()
}

// CheckImages plans a recipe without deployment as an image factory
// alone, as Packer is used: every image of the root folder with build
// steps, on every cloud of the root folder that builds images and where
// an ancestor of the image has an id to start from.
func (p *Program) CheckImages() (*Plan, hcl.Diagnostics) {
	diags := p.checkDefinitions()
	plan := &Plan{Program: p}
	bp := newBuildPlanner(p, plan)
	clouds := map[*Cloud]bool{}
	for _, cname := range sortedKeys(p.Root.Clouds) {
		c := p.Root.Clouds[cname]
		conn, ok := catalog.Lookup(c.Connector)
		if !ok || conn.ImageResource == "" {
			continue
		}
		for _, iname := range sortedKeys(p.Root.Images) {
			if b := bp.buildOf(p.Root.Images[iname], c, conn); b != nil {
				clouds[c] = true
			}
		}
	}
	for c := range clouds {
		plan.Clouds = append(plan.Clouds, c)
	}
	sortByName(plan.Clouds, func(c *Cloud) string { return c.Name })
	return plan, fixRanges(append(diags, bp.done()...))
}

// emitBuilds writes one image resource per build.
func (e *emitter) emitBuilds(body *tfFile) {
	for _, b := range e.plan.Builds {
		r := body.block("resource", []string{b.Connector.ImageResource, b.resourceName()})
		if !e.opts.Module || len(e.plan.Clouds) > 0 {
			r.SetAttributeTraversal("provider", traversal("slipstream", ident(b.Cloud.Name)))
		}
		r.AppendNewline()
		// The build folds its chain as a node does: a pseudo node whose
		// chain is the image's.
		pn := &PlanNode{Chain: b.Chain, Params: map[string]*Param{}, Scripts: map[string][]*Script{}}
		pn.foldChain(b.Cloud.Name)
		sizing := pn.Sizing
		args := map[string]hclwrite.Tokens{
			"name": valueTokens(cty.StringVal(qualifiedName(b.Image.Module, b.Image.Name))),
		}
		if b.Parent != nil {
			args["parent_image_id"] = hclwrite.TokensForTraversal(traversal(b.Parent.Connector.ImageResource, b.Parent.resourceName(), "image_id"))
		} else {
			t, d := e.exprTokens(pn.exprModule(b.ParentID), b.ParentID)
			e.diags = append(e.diags, d...)
			args["parent_image_id"] = t
		}
		if pn.Platform != nil {
			t, d := e.exprTokens(pn.exprModule(pn.Platform), pn.Platform)
			e.diags = append(e.diags, d...)
			args["platform"] = t
		}
		for _, phase := range []string{"pre_install", "post_install"} {
			if scripts := pn.Scripts[phase]; len(scripts) > 0 {
				var elems []hclwrite.Tokens
				for _, s := range scripts {
					elems = append(elems, e.scriptTokens(s))
				}
				args[phase] = hclwrite.TokensForTuple(elems)
			}
		}
		if t := e.packagesTokens(pn); t != nil {
			args["packages"] = t
		}
		for name, expr := range map[string]hcl.Expression{"cpu": sizing.CPU, "disk": sizing.Disk, "ram": sizing.RAM} {
			if expr != nil {
				t, d := e.exprTokens(pn.exprModule(expr), expr)
				e.diags = append(e.diags, d...)
				args[name] = t
			}
		}
		// The cloud's per-machine settings (its network, say) reach the
		// builder as they reach the nodes' machines.
		for name, attr := range b.Cloud.Settings {
			if s, ok := b.Connector.Setting(name); ok && s.Scope == catalog.ScopeInstance {
				t, d := e.exprTokens(b.Cloud.Module, attr.Expr)
				e.diags = append(e.diags, d...)
				args[name] = t
			}
		}
		for _, name := range sortedKeys(args) {
			r.SetAttributeRaw(name, args[name])
		}
	}
}

// buildImageID is the image_id of a node's machines when they start from
// a build.
func buildImageID(b *ImageBuild) hclwrite.Tokens {
	return hclwrite.TokensForTraversal(traversal(b.Connector.ImageResource, b.resourceName(), "image_id"))
}

// emitBuildOutputs makes each built image's id an output, for a recipe
// without deployment.
func (e *emitter) emitBuildOutputs(body *tfFile) {
	for _, b := range e.plan.Builds {
		o := body.block("output", []string{b.resourceName() + "_image_id"})
		o.SetAttributeRaw("description", valueTokens(cty.StringVal(fmt.Sprintf("The id of image %q built on cloud %q.", qualifiedName(b.Image.Module, b.Image.Name), b.Cloud.Name))))
		o.SetAttributeRaw("value", buildImageID(b))
	}
}

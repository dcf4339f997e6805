// Package compiler turns SlipStream recipes into Terraform.
//
// The passes, one file each: load.go (parse *.slip.hcl with hcl/v2 and
// decode each block), resolve.go (imports, references, inheritance cycles),
// check.go (names, mappings, connector settings, multiplicities), waits.go
// (the wait-graph analysis of ss-get/ss-set in scripts) and emit.go
// (Terraform through hclwrite). Every pass keeps going after an error so one
// run reports everything it can.
package compiler

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// CompileOptions select what to compile and how.
type CompileOptions struct {
	Load Options
	Emit EmitOptions
	// Deployment names the deployment to emit; empty means the only one.
	Deployment string
}

// Compile loads, checks and emits the recipe at path. The Program is
// returned whenever loading got far enough, so callers can render
// diagnostics with their source.
func Compile(path string, opts CompileOptions) (*Output, *Program, hcl.Diagnostics) {
	out, p, diags := compile(path, opts)
	return out, p, fixRanges(diags)
}

func compile(path string, opts CompileOptions) (*Output, *Program, hcl.Diagnostics) {
	p, diags := Load(path, opts.Load)
	if p == nil {
		return nil, nil, diags
	}
	if opts.Deployment == "" && len(p.Deployments()) == 0 {
		// No deployment: the recipe's images are built, as Packer's
		// templates are, if it has any to build.
		plan, d := p.CheckImages()
		if len(plan.Builds) > 0 || d.HasErrors() {
			diags = append(diags, d...)
			if diags.HasErrors() {
				return nil, p, diags
			}
			out, d := Emit(plan, opts.Emit)
			return out, p, append(diags, d...)
		}
	}
	if opts.Deployment == "" && len(p.Deployments()) == 0 && diags.HasErrors() {
		// The recipe did not load (a syntax error, a file that is not
		// text): "no deployment" would only be a consequence.
		return nil, p, diags
	}
	name, d := p.SelectDeployment(opts.Deployment, path)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, p, diags
	}
	plan, d := p.Check(name)
	diags = append(diags, d...)
	if diags.HasErrors() || plan == nil {
		return nil, p, diags
	}
	out, d := Emit(plan, opts.Emit)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, p, diags
	}
	return out, p, diags
}

// SelectDeployment picks the deployment to emit: the one named, or the
// only one the recipe (at path, for messages) declares.
func (p *Program) SelectDeployment(name, path string) (string, hcl.Diagnostics) {
	if name != "" {
		return name, nil
	}
	switch deps := p.Deployments(); len(deps) {
	case 0:
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "No deployment to compile",
			Detail: fmt.Sprintf("The recipe at %s declares no deployment block, and no image with build steps on a cloud that builds images, so there is nothing to start or build. Add a deployment:\n\n  deployment \"main\" {\n    node \"app\" {\n      component = component.<name>\n      cloud     = cloud.<name>\n    }\n  }", path),
		}}
	case 1:
		return deps[0], nil
	default:
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Several deployments",
			Detail: fmt.Sprintf("The recipe declares deployments %v; choose one with -deployment NAME.", deps),
		}}
	}
}

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// How slipstream_deployment plans a change (ModifyPlan). A deployment is
// replaced only when what its machines run or read changes: the
// coordinator's registration less what can change in place (the
// multiplicities, which scale the nodes; keep_running and
// max_provisioning_failures, which are settings; and the provider's own
// description kept for imports: parameter descriptions, the image's
// chain, platform and login user, the nodes' cloud and connector). It is
// also replaced when an abort has ended its run: nothing can go on in it.

// planDecision is what a change of a deployment's configuration does.
type planDecision struct {
	// replace lists the attributes whose change needs a new deployment.
	replace path.Paths
	// scale: a multiplicity changes (or is not known yet).
	scale bool
	// settings: keep_running, max_provisioning_failures or the
	// description change in place.
	settings bool
	// ended: the run was ended by an abort (its message); the deployment
	// is replaced to run again.
	ended string
}

// unknowns says which parts of the planned configuration are not known
// yet (they come from other resources' results).
type unknowns struct {
	components bool            // anything under components
	nodes      map[string]bool // anything of a node other than its multiplicity
	nodesMap   bool            // the nodes map itself
	// multiplicity: a node's multiplicity is not known yet.
	multiplicity bool
}

// decide compares the state with the plan.
func decide(state, plan *deploymentModel, unk unknowns) planDecision {
	var d planDecision
	if unk.components {
		d.replace = append(d.replace, path.Root("components"))
	}
	if unk.nodesMap {
		d.replace = append(d.replace, path.Root("nodes"))
	}
	for name := range unk.nodes {
		d.replace = append(d.replace, path.Root("nodes").AtMapKey(name))
	}
	if len(d.replace) > 0 {
		return d
	}
	if runtimeSpec(state) != runtimeSpec(plan) {
		// Name the attributes that differ, so the plan marks them.
		if componentsRuntime(state) != componentsRuntime(plan) {
			d.replace = append(d.replace, path.Root("components"))
		}
		if nodesRuntime(state) != nodesRuntime(plan) {
			d.replace = append(d.replace, path.Root("nodes"))
		}
		if len(d.replace) == 0 {
			d.replace = append(d.replace, path.Root("nodes"))
		}
		return d
	}
	for name, p := range plan.Nodes {
		if !p.Multiplicity.Equal(state.Nodes[name].Multiplicity) {
			d.scale = true
		}
	}
	a, _ := json.Marshal(withoutMultiplicities(state.meta()))
	b, _ := json.Marshal(withoutMultiplicities(plan.meta()))
	d.settings = string(a) != string(b)
	if ended := state.State.ValueString(); (ended == coordinator.Finalizing || ended == coordinator.Done) && state.Abort.ValueString() != "" {
		d.ended = state.Abort.ValueString()
	}
	return d
}

// runtimeSpec is the coordinator registration of m that a change forces
// a new deployment for: without multiplicities, settings or description.
func runtimeSpec(m *deploymentModel) string {
	return componentsRuntime(m) + "\n" + nodesRuntime(m)
}

func nodesRuntime(m *deploymentModel) string {
	spec, err := m.spec("x")
	if err != nil {
		return "invalid: " + err.Error()
	}
	type node struct {
		Component string
		Inputs    map[string]string
		Mappings  map[string]string
	}
	out := map[string]node{}
	for name, n := range spec.Nodes {
		out[name] = node{m.Nodes[name].Component.ValueString(), n.Inputs, n.Mappings}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func componentsRuntime(m *deploymentModel) string {
	type comp struct {
		Params   map[string]coordinator.Param
		Packages []string
		Scripts  map[string][]string
	}
	out := map[string]comp{}
	for name, c := range m.Components {
		cc := comp{Params: map[string]coordinator.Param{}, Scripts: map[string][]string{}}
		for p, pm := range c.Parameters {
			cc.Params[p] = coordinator.Param{Output: pm.Output.ValueBool(), Sensitive: pm.Sensitive.ValueBool()}
		}
		if c.Image != nil {
			cc.Packages = strs(c.Image.Packages)
		}
		for phase, bodies := range c.Scripts {
			cc.Scripts[phase] = strs(bodies)
		}
		out[name] = cc
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func withoutMultiplicities(m deploymentMeta) deploymentMeta {
	nodes := make(map[string]nodeMeta, len(m.Nodes))
	for name, n := range m.Nodes {
		n.Multiplicity = 0
		nodes[name] = n
	}
	m.Nodes = nodes
	return m
}

// ModifyPlan decides between replacing, scaling and updating in place
// (decide), and plans the computed attributes accordingly: the
// multiplicities are the nodes', and the run's state and abort are known
// unless the apply acts on the run.
func (r *deploymentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var state, plan deploymentModel
	if req.State.Get(ctx, &state).HasError() {
		return
	}
	unk, diags := plannedUnknowns(ctx, req)
	resp.Diagnostics.Append(diags...)
	if unk.components || unk.nodesMap {
		// The whole map is not known: the model cannot hold it.
		resp.RequiresReplace = append(resp.RequiresReplace, decide(&state, &state, unk).replace...)
		return
	}
	if d := req.Plan.Get(ctx, &plan); d.HasError() {
		resp.Diagnostics.Append(d...)
		return
	}
	dec := decide(&state, &plan, unk)
	if len(dec.replace) > 0 {
		// Terraform plans the replacement as a create, with this
		// resource's computed attributes unknown.
		resp.RequiresReplace = append(resp.RequiresReplace, dec.replace...)
		return
	}
	if dec.ended != "" {
		resp.Diagnostics.AddWarning("The deployment's run was ended by an abort: it is replaced",
			fmt.Sprintf("Deployment %s was aborted and finalized (keep_running = %q):\n\n  %s\n\nNothing can go on in it, so this plan replaces it: its machines start again with the new one.",
				state.ID.ValueString(), state.KeepRunning.ValueString(), dec.ended))
		plan.State = types.StringUnknown()
		plan.Abort = types.StringUnknown()
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("state"))
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	// The multiplicities are the nodes' (unknown while one is).
	plan.Multiplicities = types.MapUnknown(types.Int64Type)
	if !unk.multiplicity {
		plan.setMultiplicities()
	}
	if dec.scale || dec.settings {
		plan.State, plan.Abort = types.StringUnknown(), types.StringUnknown()
	} else {
		plan.State, plan.Abort = state.State, state.Abort
	}
	if state.Abort.ValueString() != "" && dec.scale {
		resp.Diagnostics.AddWarning("The deployment is aborted",
			fmt.Sprintf("Deployment %s is aborted (%s); the coordinator refuses to scale an aborted run. Replace it: terraform apply -replace=slipstream_deployment.%s",
				state.ID.ValueString(), state.Abort.ValueString(), tfIdent(state.Name.ValueString())))
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// plannedUnknowns finds what of components and nodes is not known yet.
// A node's multiplicity may be unknown without anything else being so.
func plannedUnknowns(ctx context.Context, req resource.ModifyPlanRequest) (unknowns, diag.Diagnostics) {
	var unk unknowns
	var diags diag.Diagnostics
	var comps, nodes types.Map
	diags.Append(req.Plan.GetAttribute(ctx, path.Root("components"), &comps)...)
	diags.Append(req.Plan.GetAttribute(ctx, path.Root("nodes"), &nodes)...)
	unk.components = !fullyKnown(ctx, comps)
	if nodes.IsUnknown() {
		unk.nodesMap = true
		return unk, diags
	}
	for name, v := range nodes.Elements() {
		obj, ok := v.(types.Object)
		if !ok || obj.IsUnknown() {
			unk.nodesMap = true
			continue
		}
		for attrName, a := range obj.Attributes() {
			if attrName == "multiplicity" && a.IsUnknown() {
				unk.multiplicity = true
			}
			if attrName != "multiplicity" && !fullyKnown(ctx, a) {
				if unk.nodes == nil {
					unk.nodes = map[string]bool{}
				}
				unk.nodes[name] = true
			}
		}
	}
	return unk, diags
}

func fullyKnown(ctx context.Context, v attr.Value) bool {
	tv, err := v.ToTerraformValue(ctx)
	return err == nil && tv.IsFullyKnown()
}

// tfIdent is the Terraform name slipc gives a recipe's deployment
// resource (compiler's ident).
func tfIdent(name string) string {
	var b strings.Builder
	for _, c := range name {
		if c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteRune('_')
		}
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' || s[0] == '-' {
		s = "n_" + s
	}
	return s
}

package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

var (
	_ resource.Resource                 = (*deploymentReadyResource)(nil)
	_ resource.ResourceWithConfigure    = (*deploymentReadyResource)(nil)
	_ resource.ResourceWithImportState  = (*deploymentReadyResource)(nil)
	_ resource.ResourceWithUpgradeState = (*deploymentReadyResource)(nil)
)

// NewDeploymentReadyResource is slipstream_deployment_ready: it waits
// until a deployment's machines are ready and exposes what they published.
func NewDeploymentReadyResource() resource.Resource { return &deploymentReadyResource{} }

type deploymentReadyResource struct{ cfg *Config }

type deploymentReadyModel struct {
	ID                   types.String   `tfsdk:"id"`
	DeploymentID         types.String   `tfsdk:"deployment_id"`
	WaitFor              types.List     `tfsdk:"wait_for"`
	Instances            types.List     `tfsdk:"instances"`
	Multiplicities       types.Map      `tfsdk:"multiplicities"`
	Compact              types.Bool     `tfsdk:"compact"`
	StoreSensitive       types.Bool     `tfsdk:"store_sensitive"`
	State                types.String   `tfsdk:"state"`
	Parameters           types.Map      `tfsdk:"parameters"`
	SensitiveParameters  types.Map      `tfsdk:"sensitive_parameters"`
	Outputs              types.Map      `tfsdk:"outputs"`
	SensitiveOutputs     types.Map      `tfsdk:"sensitive_outputs"`
	OutputsJSON          types.Map      `tfsdk:"outputs_json"`
	SensitiveOutputsJSON types.Map      `tfsdk:"sensitive_outputs_json"`
	Timeouts             timeouts.Value `tfsdk:"timeouts"`
}

// outputsType is node → parameter → one value per instance.
var outputsType = types.MapType{ElemType: types.MapType{ElemType: types.ListType{ElemType: types.StringType}}}

func (r *deploymentReadyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment_ready"
}

func (r *deploymentReadyResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Version: 1,
		MarkdownDescription: "Waits until every instance of a deployment is Ready (or until named runtime parameters are set) and exposes every runtime parameter the machines published, so outputs and other resources can use them. " +
			"If any machine aborts the run (a failing script, `ss-abort`), creation fails at once with the instance, its message and the state the run was in. " +
			"While it waits it logs, every 15 s at INFO (`TF_LOG=INFO`), the run's state and who is blocked in `ss-get` on what; a timeout names the instances that have not completed the state and the blocked ones.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The deployment id.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"deployment_id": schema.StringAttribute{
				Required: true, MarkdownDescription: "The `id` of the `slipstream_deployment` to wait for.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"wait_for": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Runtime parameters to wait for (`\"db.1:password\"`, `\"web:url\"`) instead of the whole run reaching Ready.",
				PlanModifiers:       []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"multiplicities": schema.MapAttribute{
				Optional: true, ElementType: types.Int64Type,
				MarkdownDescription: "`slipstream_deployment.<name>.multiplicities`: when a node is scaled they change, and the wait starts again for the new machines (`slipc` sets it). A node with no instances counts as absent.",
				PlanModifiers:       []planmodifier.Map{sameMultiplicities{}},
			},
			"instances": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				DeprecationMessage:  "Use multiplicities = slipstream_deployment.<name>.multiplicities (recompile the recipe with slipc): slipstream_deployment no longer lists its instances.",
				MarkdownDescription: "Deprecated: the instances to wait for again when they change. Use `multiplicities`.",
				PlanModifiers:       []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"store_sensitive": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Whether the sensitive runtime parameters go into the state (`sensitive_parameters`, `sensitive_outputs`, `sensitive_outputs_json`); default `true`. " +
					"With `false` those attributes are null and no sensitive value is ever written to the state or the plan: read each one where it is needed with the ephemeral resource " +
					"`slipstream_parameter` (Terraform 1.10 or later, OpenTofu 1.11 or later), which cannot be a root module's output. " +
					"The non-sensitive parameters and outputs are kept either way.",
			},
			"compact": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Keep the state small for large deployments: `parameters` and `sensitive_parameters` then hold only the deployment's own `ss:` keys, " +
					"and the outputs (only the components' output parameters and `hostname`) are in `outputs_json` and `sensitive_outputs_json`, one JSON list per node and parameter, " +
					"rather than in `outputs` and `sensitive_outputs`. Without it, `parameters` holds every runtime parameter of every instance " +
					"(a dozen per instance, over a megabyte at 10,000 instances), and Terraform works through every element of every list on each plan. " +
					"`slipc` sets it for deployments with a pooled node. Changes in place.",
			},
			"state": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The run's state when the wait ended (`Ready`, or the state it was in when the named parameters were set).",
			},
			"parameters": schema.MapAttribute{
				Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Every runtime parameter that has a value and is not sensitive, by key (`\"web.1:url\"`, `\"ss:state\"`); with `compact`, only the `ss:` keys.",
			},
			"sensitive_parameters": schema.MapAttribute{
				Computed: true, Sensitive: true, ElementType: types.StringType,
				MarkdownDescription: "The sensitive runtime parameters, by key.",
			},
			"outputs": schema.MapAttribute{
				Computed: true, ElementType: outputsType.ElemType,
				MarkdownDescription: "Non-sensitive instance parameters by node, then parameter, as lists with one value per instance (`outputs[\"web\"][\"hostname\"][0]` is `web.1`'s).",
			},
			"sensitive_outputs": schema.MapAttribute{
				Computed: true, Sensitive: true, ElementType: outputsType.ElemType,
				MarkdownDescription: "The same for sensitive parameters.",
			},
			"outputs_json": schema.MapAttribute{
				Computed: true, ElementType: outputsJSONType.ElemType,
				MarkdownDescription: "With `compact`, the outputs instead of `outputs`: by node, then parameter, a JSON list with one value per instance (`jsondecode(outputs_json[\"web\"][\"hostname\"])[0]` is `web.1`'s). " +
					"One string per parameter rather than a list: Terraform and the plugin framework spend seconds per plan on every 10,000-element list. Null without `compact`.",
			},
			"sensitive_outputs_json": schema.MapAttribute{
				Computed: true, Sensitive: true, ElementType: outputsJSONType.ElemType,
				MarkdownDescription: "The same for sensitive parameters.",
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true}),
		},
	}
}

// outputsJSONType is node → parameter → a JSON list of values.
var outputsJSONType = types.MapType{ElemType: types.MapType{ElemType: types.StringType}}

// jsonOutputs turns node → parameter → values into node → parameter →
// the values as a JSON list.
func jsonOutputs(in map[string]map[string][]string) map[string]map[string]string {
	out := make(map[string]map[string]string, len(in))
	for node, params := range in {
		out[node] = make(map[string]string, len(params))
		for p, values := range params {
			b, _ := json.Marshal(values)
			out[node][p] = string(b)
		}
	}
	return out
}

func (r *deploymentReadyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

// AbortedError is a run aborted while the provider waited.
type AbortedError struct {
	Deployment, Message, State string
}

func (e *AbortedError) Error() string {
	return fmt.Sprintf("deployment %s was aborted while %s: %s", e.Deployment, e.State, e.Message)
}

func (r *deploymentReadyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m deploymentReadyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Create(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	cl := r.cfg.coordinator(m.DeploymentID.ValueString(), &resp.Diagnostics)
	if cl == nil || resp.Diagnostics.HasError() {
		return
	}
	var waitFor []string
	resp.Diagnostics.Append(m.WaitFor.ElementsAs(ctx, &waitFor, false)...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	var outages outageLog
	cl.Recovered = outages.add
	stopProgress := logProgress(ctx, cl, 15*time.Second)
	state, err := wait(ctx, cl, waitFor)
	stopProgress()
	if w := outages.warning(cl.BaseURL); w != "" {
		// A coordinator restart or a network blip while the apply waits is
		// ridden out by the retries: worth knowing, not a failure.
		resp.Diagnostics.AddWarning("The coordinator was unavailable during the wait", w)
	}
	if err != nil {
		var ab *AbortedError
		switch {
		case errors.As(err, &ab):
			// An abort ends the run at once unless it is kept up, so the
			// state seen with it is often already the end.
			when := "while it was " + ab.State
			if ab.State == coordinator.Finalizing || ab.State == coordinator.Done {
				when = "(the run is now " + ab.State + ")"
			}
			resp.Diagnostics.AddError("Deployment aborted",
				fmt.Sprintf("Deployment %s was aborted %s:\n\n  %s\n\nThe instance's reports are at the coordinator (GET /v1/deployments/%s/reports).\n\n%s",
					ab.Deployment, when, ab.Message, ab.Deployment, wayOut(context.Background(), cl)))
		case ctx.Err() != nil:
			resp.Diagnostics.AddError("Deployment not ready in time",
				fmt.Sprintf("Deployment %s was still %s after %s (the create timeout). Instances that have not completed it: %s.%s", m.DeploymentID.ValueString(), state, limit, r.lagging(context.Background(), cl, state),
					blockedSuffix(context.Background(), cl)))
		default:
			resp.Diagnostics.AddError("Cannot wait for the deployment", err.Error())
		}
		return
	}
	tflog.Info(ctx, "deployment ready", map[string]any{"id": m.DeploymentID.ValueString(), "state": state, "waited": time.Since(start).String()})
	m.ID, m.State = m.DeploymentID, types.StringValue(state)
	resp.Diagnostics.Append(r.fill(ctx, cl, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// wait follows the run with long-polls until it is Ready (or the keys in
// waitFor are all set), failing at once on an abort. It returns the run's
// state when it stopped.
func wait(ctx context.Context, cl *client.Client, waitFor []string) (string, error) {
	run, err := cl.Run(ctx)
	if err != nil {
		return "", err
	}
	state := run.State
	if run.Abort != "" {
		return state, &AbortedError{cl.Deployment, run.Abort, state}
	}
	if len(waitFor) > 0 {
		for _, key := range waitFor {
			if _, err := cl.Get(ctx, key, 100*365*24*time.Hour, false, nil); err != nil {
				return currentState(cl, state), abortOr(cl, err, state)
			}
		}
		return currentState(cl, state), nil
	}
	for state != coordinator.Ready && state != coordinator.Done {
		if state == coordinator.Finalizing {
			// A run whose keep-running policy ends it once it is Ready
			// (never, on-error) passes through Ready to Finalizing: it
			// got there, and its agents are finishing.
			if run.Deployment.KeepRunning == coordinator.KeepNever || run.Deployment.KeepRunning == coordinator.KeepOnError {
				return state, nil
			}
			return state, fmt.Errorf("deployment %s is being finalized; it will not become Ready", cl.Deployment)
		}
		tflog.Info(ctx, "waiting for the run to leave "+state, map[string]any{"deployment": cl.Deployment})
		next, err := cl.WaitChange(ctx, "ss:state", state, 0, false)
		if err != nil {
			return state, abortOr(cl, err, state)
		}
		state = next
	}
	return state, nil
}

func currentState(cl *client.Client, fallback string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if run, err := cl.Run(ctx); err == nil {
		return run.State
	}
	return fallback
}

// abortOr turns an "aborted" answer into an AbortedError with the run's
// first abort message (which names the instance).
func abortOr(cl *client.Client, err error, state string) error {
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "aborted" {
		return err
	}
	return &AbortedError{cl.Deployment, e.Message, state}
}

// lagging names the instances that have not completed state, for a
// timeout's message.
func (r *deploymentReadyResource) lagging(ctx context.Context, cl *client.Client, state string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	run, err := cl.Run(ctx)
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	values, _, err := cl.Parameters(ctx)
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	var late []string
	for name, n := range run.Deployment.Nodes {
		for i := 1; i <= n.Multiplicity; i++ {
			inst := name + "." + strconv.Itoa(i)
			if values[inst+":complete"] != run.State {
				late = append(late, inst)
			}
		}
	}
	sort.Strings(late)
	if len(late) > 20 {
		late = append(late[:20], fmt.Sprintf("and %d more", len(late)-20))
	}
	if len(late) == 0 {
		return "none"
	}
	return strings.Join(late, ", ")
}

// fill reads every runtime parameter into the computed attributes.
func (r *deploymentReadyResource) fill(ctx context.Context, cl *client.Client, m *deploymentReadyModel) (diags diag.Diagnostics) {
	run, err := cl.Run(ctx)
	if err != nil {
		diags.AddError("Cannot read the deployment", err.Error())
		return diags
	}
	values, sensitive, err := cl.Parameters(ctx)
	if err != nil {
		diags.AddError("Cannot read the runtime parameters", err.Error())
		return diags
	}
	plain, secret := map[string]string{}, map[string]string{}
	outs, souts := map[string]map[string][]string{}, map[string]map[string][]string{}
	for name, n := range run.Deployment.Nodes {
		outs[name], souts[name] = map[string][]string{}, map[string][]string{}
		for p, prm := range n.Params {
			if m.Compact.ValueBool() && !prm.Output {
				continue // compact: the outputs only
			}
			// Sensitive as the coordinator lists it: declared so, or an
			// input mapped from a sensitive output.
			if run.Deployment.ParamSensitive(name, p) {
				souts[name][p] = make([]string, n.Multiplicity)
			} else {
				outs[name][p] = make([]string, n.Multiplicity)
			}
		}
		builtins := []string{"hostname", "instanceid", "addresses", "url.ssh", "url.service", "statecustom"}
		if m.Compact.ValueBool() {
			builtins = builtins[:1]
		}
		for _, b := range builtins {
			if _, declared := n.Params[b]; !declared {
				outs[name][b] = make([]string, n.Multiplicity)
			}
		}
	}
	for key, v := range values {
		scope, param, _ := strings.Cut(key, ":")
		switch {
		case m.Compact.ValueBool() && scope != "ss":
		case sensitive[key]:
			secret[key] = v
		default:
			plain[key] = v
		}
		node, idx, ok := strings.Cut(scope, ".")
		i := atoi(idx)
		if !ok || i < 1 {
			continue
		}
		target := outs
		if sensitive[key] {
			target = souts
		}
		if list, ok := target[node][param]; ok && i <= len(list) {
			list[i-1] = v
		}
	}
	var d diag.Diagnostics
	m.Parameters, d = types.MapValueFrom(ctx, types.StringType, plain)
	diags.Append(d...)
	m.SensitiveParameters, d = types.MapValueFrom(ctx, types.StringType, secret)
	diags.Append(d...)
	if m.Compact.ValueBool() {
		m.Outputs, m.SensitiveOutputs = types.MapNull(outputsType.ElemType), types.MapNull(outputsType.ElemType)
		m.OutputsJSON, d = types.MapValueFrom(ctx, outputsJSONType.ElemType, jsonOutputs(outs))
		diags.Append(d...)
		m.SensitiveOutputsJSON, d = types.MapValueFrom(ctx, outputsJSONType.ElemType, jsonOutputs(souts))
		diags.Append(d...)
	} else {
		m.OutputsJSON, m.SensitiveOutputsJSON = types.MapNull(outputsJSONType.ElemType), types.MapNull(outputsJSONType.ElemType)
		m.Outputs, d = types.MapValueFrom(ctx, outputsType.ElemType, outs)
		diags.Append(d...)
		m.SensitiveOutputs, d = types.MapValueFrom(ctx, outputsType.ElemType, souts)
		diags.Append(d...)
	}
	if !storesSensitive(m.StoreSensitive) {
		// Read, and dropped here: the state never holds them.
		m.SensitiveParameters = types.MapNull(types.StringType)
		m.SensitiveOutputs, m.SensitiveOutputsJSON = types.MapNull(outputsType.ElemType), types.MapNull(outputsJSONType.ElemType)
	}
	return diags
}

// storesSensitive is store_sensitive with its default: unset is true.
func storesSensitive(v types.Bool) bool { return v.IsNull() || v.IsUnknown() || v.ValueBool() }

func (r *deploymentReadyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m deploymentReadyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.DeploymentID.IsNull() { // an import
		m.DeploymentID = m.ID
		m.WaitFor = types.ListNull(types.StringType)
		m.Instances = types.ListNull(types.StringType)
		m.Multiplicities = types.MapNull(types.Int64Type)
		m.Compact = types.BoolValue(false)
		m.Timeouts = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType})}
	}
	cl := r.cfg.coordinator(m.DeploymentID.ValueString(), &resp.Diagnostics)
	if cl == nil {
		return
	}
	run, err := cl.Run(ctx)
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the deployment", err.Error())
		return
	}
	// The wait is over only while the run is still where it ended: an
	// aborted run, or one gone back to work (a scale that an interrupted
	// apply left unwaited for), is waited for again by the next apply,
	// which then fails at once with the abort or waits for the machines.
	if run.Abort != "" {
		resp.Diagnostics.AddWarning("Deployment aborted",
			fmt.Sprintf("Deployment %s was aborted after the wait ended:\n\n  %s\n\nThe next apply waits again (and reports the abort).", m.DeploymentID.ValueString(), run.Abort))
		resp.State.RemoveResource(ctx)
		return
	}
	if m.WaitFor.IsNull() || len(m.WaitFor.Elements()) == 0 {
		switch run.State {
		case coordinator.Ready, coordinator.Finalizing, coordinator.Done:
		default:
			tflog.Info(ctx, "the run is working again; the ready resource will wait again", map[string]any{"deployment": m.DeploymentID.ValueString(), "state": run.State})
			resp.State.RemoveResource(ctx)
			return
		}
	}
	m.State = types.StringValue(run.State)
	resp.Diagnostics.Append(r.fill(ctx, cl, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update reads the parameters again when compact or store_sensitive
// changed; every other argument forces a replacement, except the timeouts.
func (r *deploymentReadyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m deploymentReadyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	var state deploymentReadyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.ID, m.State = state.ID, state.State
	m.Parameters, m.SensitiveParameters, m.Outputs, m.SensitiveOutputs = state.Parameters, state.SensitiveParameters, state.Outputs, state.SensitiveOutputs
	m.OutputsJSON, m.SensitiveOutputsJSON = state.OutputsJSON, state.SensitiveOutputsJSON
	if !m.Compact.Equal(state.Compact) || storesSensitive(m.StoreSensitive) != storesSensitive(state.StoreSensitive) {
		cl := r.cfg.coordinator(m.DeploymentID.ValueString(), &resp.Diagnostics)
		if cl == nil {
			return
		}
		resp.Diagnostics.Append(r.fill(ctx, cl, &m)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Delete forgets the wait; the deployment itself is slipstream_deployment's.
func (r *deploymentReadyResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func (r *deploymentReadyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// wayOut says how to go on after an abort, by whether the run's
// keep-running policy finalized it.
func wayOut(ctx context.Context, cl *client.Client) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	run, err := cl.Run(ctx)
	if err != nil {
		return "Fix the cause and apply again."
	}
	name := registeredName(&run.Deployment)
	policy := run.Deployment.KeepRunning
	if policy == "" {
		policy = coordinator.KeepOnSuccess
	}
	if run.State == coordinator.Finalizing || run.State == coordinator.Done {
		return fmt.Sprintf("The run was finalized (keep_running = %q): fix the cause and apply again; the plan replaces the deployment and starts its machines again.", policy)
	}
	return fmt.Sprintf("The run stays up for debugging (keep_running = %q). To retry what failed in place, cancel the abort from a machine (ss-abort --cancel); "+
		"to start over, fix the cause and run: terraform apply -replace=slipstream_deployment.%s", policy, tfIdent(name))
}

// UpgradeState upgrades state from schema version 0, which waited for a
// list of instances (see state_upgrade.go).
func (r *deploymentReadyResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return jsonStateUpgrade(upgradeReadyV0)
}

// sameMultiplicities replaces the wait when the multiplicities change, and
// takes a node with no instances as the same as an absent one (state
// upgraded from a list of instances knows no empty nodes).
type sameMultiplicities struct{}

func (sameMultiplicities) Description(context.Context) string {
	return "Replaces the resource when a node's number of instances changes."
}

func (m sameMultiplicities) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (sameMultiplicities) PlanModifyMap(ctx context.Context, req planmodifier.MapRequest, resp *planmodifier.MapResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.PlanValue.IsUnknown() {
		// Created or destroyed; or not known yet: a scale under way, and
		// known only once the deployment is updated.
		if req.PlanValue.IsUnknown() && !req.State.Raw.IsNull() {
			resp.RequiresReplace = true
		}
		return
	}
	if positiveCounts(req.StateValue) == positiveCounts(req.PlanValue) {
		resp.PlanValue = req.StateValue
		return
	}
	resp.RequiresReplace = true
}

// positiveCounts is the nodes with instances and their counts, as text.
func positiveCounts(m types.Map) string {
	var parts []string
	for node, v := range m.Elements() {
		if n, ok := v.(types.Int64); ok && !n.IsUnknown() && n.ValueInt64() > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", node, n.ValueInt64()))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// logProgress logs, every period until it is stopped, where the run is
// and who is waiting for whom, so that a long wait in `terraform apply`
// (TF_LOG=INFO) says what it waits for.
func logProgress(ctx context.Context, cl *client.Client, period time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			run, err := cl.Run(ctx)
			if err != nil {
				continue
			}
			fields := map[string]any{"deployment": cl.Deployment, "state": run.State}
			if b := blocked(ctx, cl); b != "" {
				fields["blocked"] = b
			}
			tflog.Info(ctx, "waiting for the run to be Ready", fields)
		}
	}()
	return func() { cancel(); <-done }
}

// blockedSuffix is blocked as a sentence for a diagnostic, or "".
func blockedSuffix(ctx context.Context, cl *client.Client) string {
	if b := blocked(ctx, cl); b != "" {
		return "\n\nBlocked in ss-get right now: " + b + "."
	}
	return ""
}

// blocked says who is blocked in ss-get on what, by the value they wait
// for: an input mapped from another node's output is named by that
// output ("db.1:password ← web.1, web.2 (the longest for 2m10s)"). Empty
// when nobody waits or the coordinator cannot say.
func blocked(ctx context.Context, cl *client.Client) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waits, err := cl.Waits(ctx)
	if err != nil || len(waits) == 0 {
		return ""
	}
	type group struct {
		who     []string
		longest time.Duration
	}
	groups := map[string]*group{}
	var order []string
	for _, w := range waits {
		source := w.For // the output an input is mapped from (coordinator.Wait)
		if source == "" {
			source = w.Key
		}
		g := groups[source]
		if g == nil {
			g = &group{}
			groups[source] = g
			order = append(order, source)
		}
		g.who = append(g.who, w.Instance)
		g.longest = max(g.longest, time.Since(w.Since))
	}
	sort.Strings(order)
	var parts []string
	for _, source := range order {
		g := groups[source]
		who := g.who
		if len(who) > 5 {
			who = append(who[:5:5], fmt.Sprintf("%d more", len(g.who)-5))
		}
		parts = append(parts, fmt.Sprintf("%s ← %s (the longest for %s)", source, strings.Join(who, ", "), g.longest.Round(time.Second)))
	}
	return strings.Join(parts, "; ")
}

// outageLog counts the coordinator outages a wait rode out (client.Client's
// Recovered), for a warning.
type outageLog struct {
	mu      sync.Mutex
	n       int
	longest time.Duration
	last    error
}

func (o *outageLog) add(outage time.Duration, last error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	o.longest = max(o.longest, outage)
	if last != nil {
		o.last = last
	}
}

// warning describes the outages, or is empty when there were none.
func (o *outageLog) warning(url string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == 0 {
		return ""
	}
	calls := "a call"
	if o.n > 1 {
		calls = fmt.Sprintf("%d calls", o.n)
	}
	why := ""
	if o.last != nil {
		why = fmt.Sprintf(" The last error was: %v.", o.last)
	}
	return fmt.Sprintf("While this apply waited for the run, the coordinator at %s did not answer %s for up to %s (a restart, or the network).%s "+
		"The calls were retried and the wait went on: nothing was lost. If it happens often, look at the coordinator's log and at the network between here and it.",
		url, calls, o.longest.Round(100*time.Millisecond), why)
}

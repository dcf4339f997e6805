package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/ephemeral/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

var _ ephemeral.EphemeralResourceWithConfigure = (*parameterEphemeralResource)(nil)

// defaultParameterWait is how long the ephemeral parameter waits for its
// value when its timeouts block does not say.
const defaultParameterWait = 10 * time.Minute

// NewParameterEphemeralResource is slipstream_parameter: one runtime
// parameter, read as ss-get reads it (waiting until it is set), whose value
// Terraform never writes to its plan or state.
func NewParameterEphemeralResource() ephemeral.EphemeralResource {
	return &parameterEphemeralResource{}
}

type parameterEphemeralResource struct{ cfg *Config }

type parameterEphemeralModel struct {
	DeploymentID types.String   `tfsdk:"deployment_id"`
	Key          types.String   `tfsdk:"key"`
	Value        types.String   `tfsdk:"value"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
}

func (r *parameterEphemeralResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_parameter"
}

func (r *parameterEphemeralResource) Schema(ctx context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "One runtime parameter of a deployment (the generated database password, say), read as `ss-get` reads it: " +
			"if it is not set yet, Terraform waits until a machine sets it (at most the `open` timeout, 10 minutes by default), " +
			"and an aborted run ends the wait with the abort's message. Its value is never written to the plan or the state: " +
			"use it in another provider's configuration, an ephemeral resource or a write-only argument. " +
			"Needs Terraform 1.10 or later, or OpenTofu 1.11 or later. " +
			"With `store_sensitive = false` on `slipstream_deployment_ready`, this is how sensitive values are read.",
		Attributes: map[string]schema.Attribute{
			"deployment_id": schema.StringAttribute{
				Required: true, MarkdownDescription: "The `id` of the `slipstream_deployment`.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"key": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The parameter's key, an instance and a name as machines write them: `\"db.1:password\"`. " +
					"A parameter of the deployment's own (`\"ss:state\"`) works too.",
				Validators: []validator.String{parameterKeyValidator{}},
			},
			"value": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "The parameter's value.",
			},
			"timeouts": timeouts.Attributes(ctx),
		},
	}
}

func (r *parameterEphemeralResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	r.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

func (r *parameterEphemeralResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m parameterEphemeralModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Open(ctx, defaultParameterWait)
	resp.Diagnostics.Append(d...)
	cl := r.cfg.coordinator(m.DeploymentID.ValueString(), &resp.Diagnostics)
	if cl == nil || resp.Diagnostics.HasError() {
		return
	}
	key := m.Key.ValueString()
	var outages outageLog
	cl.Recovered = outages.add
	waited := false
	start := time.Now()
	value, err := cl.Get(ctx, key, limit, false, func() {
		waited = true
		tflog.Info(ctx, "waiting for the runtime parameter to be set", map[string]any{"deployment": cl.Deployment, "key": key})
	})
	if w := outages.warning(cl.BaseURL); w != "" {
		resp.Diagnostics.AddWarning("The coordinator was unavailable during the wait", w)
	}
	if err != nil {
		if isNotFound(err) && deploymentExists(cl) {
			resp.Diagnostics.AddAttributeError(path.Root("key"), "Unknown runtime parameter",
				fmt.Sprintf("Deployment %s has no runtime parameter %s: %v. The components' inputs and outputs and the built-in parameters (hostname, url.service, …) are its parameters.", cl.Deployment, key, err))
			return
		}
		resp.Diagnostics.Append(coordinatorReadError(ctx, coordinatorRead{Coordinator: cl.BaseURL, Deployment: cl.Deployment, Key: key, Limit: limit, Timeout: "open"}, err))
		return
	}
	if waited {
		tflog.Info(ctx, "runtime parameter set", map[string]any{"deployment": cl.Deployment, "key": key, "waited": time.Since(start).String()})
	}
	m.Value = types.StringValue(value)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

// deploymentExists tells a missing deployment from a missing parameter of
// an existing one (the coordinator answers not_found for both).
func deploymentExists(cl *client.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cl.Run(ctx)
	return err == nil
}

// parameterKeyValidator accepts "<scope>:<name>" with both parts given.
type parameterKeyValidator struct{}

func (parameterKeyValidator) Description(context.Context) string {
	return `a key such as "db.1:password": an instance (or "ss"), a colon and a parameter name`
}

func (v parameterKeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v parameterKeyValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	scope, name, ok := strings.Cut(req.ConfigValue.ValueString(), ":")
	if !ok || scope == "" || name == "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid runtime parameter key",
			fmt.Sprintf("%q is not a runtime parameter key: expected %s.", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

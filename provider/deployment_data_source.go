package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/datasource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

var _ datasource.DataSourceWithConfigure = (*deploymentDataSource)(nil)

// defaultDataSourceRead is how long a data source may take to read a
// deployment when its timeouts do not say, as slipstream_deployment's
// read: each call within it retries an unreachable coordinator for the
// provider's retry_timeout.
const defaultDataSourceRead = 5 * time.Minute

// NewDeploymentDataSource is the slipstream_deployment data source: a
// deployment as the coordinator holds it, for configurations that do not
// manage it.
func NewDeploymentDataSource() datasource.DataSource { return &deploymentDataSource{} }

type deploymentDataSource struct{ cfg *Config }

type deploymentDataSourceModel struct {
	ID             types.String              `tfsdk:"id"`
	Name           types.String              `tfsdk:"name"`
	State          types.String              `tfsdk:"state"`
	Aborted        types.Bool                `tfsdk:"aborted"`
	Abort          types.String              `tfsdk:"abort"`
	Multiplicities map[string]int64          `tfsdk:"multiplicities"`
	Instances      []deploymentInstanceModel `tfsdk:"instances"`
	Parameters     map[string]string         `tfsdk:"parameters"`
	Timeouts       timeouts.Value            `tfsdk:"timeouts"`
}

type deploymentInstanceModel struct {
	Name      types.String `tfsdk:"name"`
	Node      types.String `tfsdk:"node"`
	Index     types.Int64  `tfsdk:"index"`
	State     types.String `tfsdk:"state"`
	Hostname  types.String `tfsdk:"hostname"`
	Addresses []string     `tfsdk:"addresses"`
}

func (d *deploymentDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (d *deploymentDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A deployment as the coordinator holds it: its run's state and abort, its nodes and instances, and its runtime parameters. " +
			"It lets a configuration that does not manage the deployment (another root module, another team's) depend on it by `id`, " +
			"without `terraform_remote_state` and without access to the state of the configuration that does.\n\n" +
			"Sensitive runtime parameters (declared `sensitive`, or inputs mapped from sensitive outputs) are never read into it: " +
			"a data source is kept in the state. Read them where they are needed with the ephemeral resource `slipstream_parameter`, " +
			"whose value is never stored. For one parameter across a node's instances, in index order, use the `slipstream_parameters` data source.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The deployment's id at the coordinator: the `id` of the `slipstream_deployment` resource that registered it (`lamp-1a2b3c4d`). `slipc status` lists them.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"name": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The recipe's deployment name (the `name` of its `slipstream_deployment`); the id for a deployment this provider did not register.",
			},
			"state": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The run's state, as the coordinator reports it (`slipc status`, the web view): `Initializing`, `Provisioning`, `Executing`, " +
					"`SendingReports`, `Ready`, `Finalizing` or `Done`.",
			},
			"aborted": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether the run is aborted (a failing script, `ss-abort`); `false` again once the abort is cancelled.",
			},
			"abort": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The run's abort message, which names the instance that raised it (`\"web.2: deploy exited with status 1: …\"`); empty when it is not aborted.",
			},
			"multiplicities": schema.MapAttribute{
				Computed: true, ElementType: types.Int64Type,
				MarkdownDescription: "Each node's number of instances, by node, as `slipstream_deployment.multiplicities`.",
			},
			"instances": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "Every instance, by node name and then by index (`web.2` before `web.10`). " +
					"For a node of thousands of instances, prefer `slipstream_parameters`: all of them are kept in the state.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":  schema.StringAttribute{Computed: true, MarkdownDescription: "The instance's name, node and index: `web.1`."},
					"node":  schema.StringAttribute{Computed: true, MarkdownDescription: "Its node."},
					"index": schema.Int64Attribute{Computed: true, MarkdownDescription: "Its index in the node, from 1."},
					"state": schema.StringAttribute{
						Computed: true,
						MarkdownDescription: "Where the instance is in the run, as the web view shows it: `" + strings.Join(coordinator.InstanceStates, "`, `") + "`. " +
							"`Booting`: its agent has not called in yet; `Completed`: it completed the run's current state and waits for the others.",
					},
					"hostname": schema.StringAttribute{
						Computed:            true,
						MarkdownDescription: "The machine's address on the route to the coordinator (its `hostname` parameter); null until its agent publishes it.",
					},
					"addresses": schema.ListAttribute{
						Computed: true, ElementType: types.StringType,
						MarkdownDescription: "Every global address of the machine (its `addresses` parameter); empty until its agent publishes them.",
					},
				}},
			},
			"parameters": schema.MapAttribute{
				Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Every runtime parameter that has a value and is not sensitive, by key: `\"web.1:url.service\"`, `\"db.1:hostname\"`, `\"ss:state\"`. " +
					"Sensitive ones are left out (see above).",
			},
			"timeouts": timeouts.Attributes(ctx),
		},
	}
}

func (d *deploymentDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *deploymentDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m deploymentDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, diags := m.Timeouts.Read(ctx, defaultDataSourceRead)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	id := m.ID.ValueString()
	cl := d.cfg.coordinator(id, &resp.Diagnostics)
	if cl == nil {
		return
	}
	run := readRun(ctx, d.cfg, cl, path.Root("id"), limit, &resp.Diagnostics)
	if run == nil {
		return
	}
	spec := &run.Deployment
	instances, err := cl.Instances(ctx, "")
	if err != nil {
		readError(ctx, d.cfg, id, path.Root("id"), limit, fmt.Errorf("listing its instances: %w", err), &resp.Diagnostics)
		return
	}
	params, err := publicParameters(ctx, cl, spec)
	if err != nil {
		readError(ctx, d.cfg, id, path.Root("id"), limit, fmt.Errorf("reading its runtime parameters: %w", err), &resp.Diagnostics)
		return
	}

	m.Name = types.StringValue(registeredName(spec))
	if m.Name.ValueString() == "" {
		m.Name = m.ID
	}
	m.State = types.StringValue(run.State)
	m.Aborted, m.Abort = types.BoolValue(run.Abort != ""), types.StringValue(run.Abort)
	m.Multiplicities = make(map[string]int64, len(spec.Nodes))
	for name, n := range spec.Nodes {
		m.Multiplicities[name] = int64(n.Multiplicity)
	}
	m.Instances = make([]deploymentInstanceModel, 0, len(instances))
	for _, iv := range instances {
		m.Instances = append(m.Instances, instanceModel(spec, iv))
	}
	m.Parameters = params
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// instanceModel is an instance as the data source shows it. What the
// coordinator's instance list carries comes from the instance's
// parameters; one its node declares sensitive is left out.
func instanceModel(spec *coordinator.Deployment, iv coordinator.InstanceView) deploymentInstanceModel {
	out := deploymentInstanceModel{
		Name: types.StringValue(iv.Name), Node: types.StringValue(iv.Node), Index: types.Int64Value(int64(iv.Index)),
		State: types.StringValue(iv.State), Hostname: types.StringNull(), Addresses: []string{},
	}
	if iv.Hostname != "" && !spec.ParamSensitive(iv.Node, "hostname") {
		out.Hostname = types.StringValue(iv.Hostname)
	}
	if !spec.ParamSensitive(iv.Node, "addresses") {
		out.Addresses = append(out.Addresses, strings.Fields(iv.Addresses)...)
	}
	return out
}

// readRun reads a deployment's spec, state and abort for a data source; nil
// with a diagnostic when it cannot (at the attribute holding the id, for a
// deployment that does not exist).
func readRun(ctx context.Context, cfg *Config, cl *client.Client, at path.Path, limit time.Duration, diags *diag.Diagnostics) *client.Run {
	run, err := cl.Run(ctx)
	if err != nil {
		readError(ctx, cfg, cl.Deployment, at, limit, err, diags)
		return nil
	}
	return run
}

// readError is a data source's diagnostic for a failed read of deployment
// id; see coordinatorReadError.
func readError(ctx context.Context, cfg *Config, id string, at path.Path, limit time.Duration, err error, diags *diag.Diagnostics) {
	diags.Append(coordinatorReadError(ctx, coordinatorRead{Coordinator: cfg.CoordinatorURL, Deployment: id, At: at, Limit: limit, Timeout: "read"}, err))
}

// coordinatorRead says what a data source or ephemeral resource was
// reading from the coordinator, for coordinatorReadError.
type coordinatorRead struct {
	Coordinator string
	Deployment  string
	// Key is the runtime parameter waited for; empty when the whole
	// deployment was being read.
	Key string
	// At is the attribute that named the deployment, for a deployment
	// that does not exist; empty for a diagnostic of the whole block.
	At path.Path
	// Limit is the timeout that bounded the read, and Timeout its name
	// in the timeouts block ("read", "open").
	Limit   time.Duration
	Timeout string
}

// coordinatorReadError is the one classifier of failed coordinator reads
// for every data source and ephemeral resource: a deployment that does
// not exist, a run aborted while a parameter was awaited, a read or wait
// that outlasted its timeout, a key the coordinator refused, or a
// coordinator that failed or could not be reached for the provider's
// retry_timeout (the error says which, and for how long).
func coordinatorReadError(ctx context.Context, r coordinatorRead, err error) diag.Diagnostic {
	var e *client.Error
	what := "deployment " + r.Deployment
	if r.Key != "" {
		what = r.Key + " of deployment " + r.Deployment
	}
	switch {
	case isNotFound(err):
		detail := fmt.Sprintf("There is no deployment %q at the coordinator %s", r.Deployment, r.Coordinator)
		if r.Key != "" {
			detail += ", so " + r.Key + " cannot be read"
		}
		detail += ". The id is the `id` of the slipstream_deployment resource that registered it " +
			"(`terraform output` or `terraform state show` in the configuration that manages it); `slipc status` lists the coordinator's deployments."
		if r.At.Equal(path.Empty()) {
			return diag.NewErrorDiagnostic("Deployment not found", detail)
		}
		return diag.NewAttributeErrorDiagnostic(r.At, "Deployment not found", detail)
	case errors.As(err, &e) && e.Code == "aborted":
		return diag.NewErrorDiagnostic("Deployment aborted", fmt.Sprintf("Deployment %s was aborted before %s was set:\n\n  %s", r.Deployment, r.Key, e.Message))
	case r.Key != "" && (errors.As(err, &e) && e.Code == "timeout" || errors.Is(err, context.DeadlineExceeded)):
		return diag.NewErrorDiagnostic("Runtime parameter not set in time", fmt.Sprintf("%s was not set within %s (the %s timeout). "+
			"Is the machine that sets it running, and blocked on nothing? `slipc status %s` shows who waits on what.", what, r.Limit, r.Timeout, r.Deployment))
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return diag.NewErrorDiagnostic("Deployment not read in time",
			fmt.Sprintf("Reading %s from %s took longer than %s (the %s timeout): %v", what, r.Coordinator, r.Limit, r.Timeout, err))
	case errors.As(err, &e) && e.Code == "bad_request":
		return diag.NewErrorDiagnostic("Invalid runtime parameter key", fmt.Sprintf("The coordinator refused key %q of deployment %s: %s", r.Key, r.Deployment, e.Message))
	default:
		summary := "Cannot read the deployment"
		if r.Key != "" {
			summary = "Cannot read the runtime parameter"
		}
		return diag.NewErrorDiagnostic(summary, fmt.Sprintf("Reading %s from %s: %v", what, r.Coordinator, err))
	}
}

// publicParameters reads every runtime parameter of the deployment that
// has a value and keeps those that are not sensitive, as the coordinator
// marks them or as spec declares them (an input mapped from a sensitive
// output is sensitive too). The admin token is sent the sensitive values
// as well: they are dropped here, before anything can store or log them.
func publicParameters(ctx context.Context, cl *client.Client, spec *coordinator.Deployment) (map[string]string, error) {
	values, sensitive, err := cl.Parameters(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(values))
	for key, v := range values {
		if sensitive[key] {
			continue
		}
		if k, err := coordinator.Qualify(key, nil); err == nil {
			if inst, ok := k.Instance(); ok && spec.ParamSensitive(inst.Node, k.Name) {
				continue
			}
		}
		out[key] = v
	}
	return out, nil
}

package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

var (
	_ resource.Resource                   = (*deploymentResource)(nil)
	_ resource.ResourceWithConfigure      = (*deploymentResource)(nil)
	_ resource.ResourceWithImportState    = (*deploymentResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*deploymentResource)(nil)
	_ resource.ResourceWithValidateConfig = (*deploymentResource)(nil)
	_ resource.ResourceWithUpgradeState   = (*deploymentResource)(nil)
)

// agentUploadPath is where slipstream_fixed_host uploads the agent before
// running the SSH bootstrap, which checks and installs it from there. It
// names the deployment and instance, so adoptions of one host by two
// deployments (or of hosts sharing /var/tmp) never take each other's file.
func agentUploadPath(deployment, instance string) string {
	return "/var/tmp/slipstream-agent-" + deployment + "-" + instance + ".upload"
}

// NewDeploymentResource is slipstream_deployment: a deployment registered
// with the coordinator.
func NewDeploymentResource() resource.Resource { return &deploymentResource{} }

type deploymentResource struct{ cfg *Config }

type deploymentModel struct {
	ID             types.String              `tfsdk:"id"`
	Name           types.String              `tfsdk:"name"`
	KeepRunning    types.String              `tfsdk:"keep_running"`
	Components     map[string]componentModel `tfsdk:"components"`
	Nodes          map[string]nodeModel      `tfsdk:"nodes"`
	Multiplicities types.Map                 `tfsdk:"multiplicities"`
	State          types.String              `tfsdk:"state"`
	Abort          types.String              `tfsdk:"abort"`
	Timeouts       timeouts.Value            `tfsdk:"timeouts"`
}

type componentModel struct {
	Image      *imageModel               `tfsdk:"image"`
	Parameters map[string]parameterModel `tfsdk:"parameters"`
	Scripts    map[string][]types.String `tfsdk:"scripts"`
}

type imageModel struct {
	Chain     []types.String `tfsdk:"chain"`
	LoginUser types.String   `tfsdk:"login_user"`
	Packages  []types.String `tfsdk:"packages"`
	Platform  types.String   `tfsdk:"platform"`
}

type parameterModel struct {
	Description types.String `tfsdk:"description"`
	Output      types.Bool   `tfsdk:"output"`
	Sensitive   types.Bool   `tfsdk:"sensitive"`
}

type nodeModel struct {
	Cloud                   types.String            `tfsdk:"cloud"`
	Component               types.String            `tfsdk:"component"`
	Connector               types.String            `tfsdk:"connector"`
	Multiplicity            types.Int64             `tfsdk:"multiplicity"`
	MaxProvisioningFailures types.Int64             `tfsdk:"max_provisioning_failures"`
	Inputs                  map[string]types.String `tfsdk:"inputs"`
	Mappings                map[string]types.String `tfsdk:"mappings"`
}

func (r *deploymentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_deployment"
}

func (r *deploymentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A deployment registered with the SlipStream coordinator: its nodes, their scripts, parameters and mappings. " +
			"The machine resources (`slipstream_fixed_host`, `slipstream_ec2_instance`, the pools, …) name it by `id`: each asks the coordinator for its " +
			"machine's one-time bootstrap token when it starts the machine and renders the machine's bootstrap itself, so this resource's state holds " +
			"what is per node, never per instance, and no token. `slipc compile` writes this resource from a recipe.\n\n" +
			"Changing a node's `multiplicity` scales the running deployment (new instances run their whole workflow, the others their " +
			"`on_vm_add`/`on_vm_remove` hooks). `keep_running`, `max_provisioning_failures`, `cloud`, `connector` and what only describes a component " +
			"(parameter descriptions, the image's `chain`, `platform` and `login_user`) change in place. Anything the machines run or read " +
			"(scripts, packages, parameters, inputs, mappings, a node's component) replaces the deployment, as does a run that an abort has ended " +
			"(`state` is `Finalizing` or `Done` and `abort` is set): the next apply starts it again. Destroying it finalizes the run and deletes it.",
		Version: 1,
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The deployment's id at the coordinator: `name` followed by a random suffix.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The recipe's deployment name (letters, digits and `_`, `.`, `-`).",
				Validators:          []validator.String{stringvalidator.RegexMatches(nameRE, "must start with a letter, digit or _ and hold only letters, digits, _, . and -")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"keep_running": schema.StringAttribute{
				Optional: true, Computed: true,
				Default: stringdefault.StaticString("on-success"),
				MarkdownDescription: "SlipStream's keep-running policy: whether the run stays up (its agents waiting for scale actions) once it is Ready, and once it is aborted. " +
					"`always`: both. `on-success` (the default): stays up when Ready; an aborted run is finalized (its machines send their reports, then their agents stop). " +
					"`on-error`: a Ready run is finalized (`Done`: a run that certifies something and ends), an aborted one stays up for debugging (and `ss-abort --cancel` retries what failed). " +
					"`never`: both are finalized. Changes apply in place, at once.",
				Validators: []validator.String{stringvalidator.OneOf("always", "on-success", "on-error", "never")},
			},
			"components": schema.MapNestedAttribute{
				Required:            true,
				MarkdownDescription: "The components the nodes run, by name. A change to what a machine runs (scripts, packages, a parameter's `output` or `sensitive`) replaces the deployment; descriptions and the image's `chain`, `platform` and `login_user` change in place.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"image": schema.SingleNestedAttribute{
						Optional:            true,
						MarkdownDescription: "The component's image, its chain flattened by the compiler.",
						Attributes: map[string]schema.Attribute{
							"chain":      schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "The image's ancestry, root first."},
							"login_user": str("The user to log in as."),
							"packages":   schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Packages installed between `pre_install` and `post_install`, with the machine's package manager."},
							"platform":   str("The image's platform (`debian`, `ubuntu`, …)."),
						},
					},
					"parameters": schema.MapNestedAttribute{
						Optional:            true,
						MarkdownDescription: "The component's input and output parameters, by name.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"description": str("What the parameter means."),
							"output":      schema.BoolAttribute{Optional: true, MarkdownDescription: "An output, published by the machine; otherwise an input."},
							"sensitive":   schema.BoolAttribute{Optional: true, MarkdownDescription: "A secret: exported only through sensitive attributes and never shown in event streams."},
						}},
					},
					"scripts": schema.MapAttribute{
						Optional:            true,
						ElementType:         types.ListType{ElemType: types.StringType},
						MarkdownDescription: "Scripts by phase (`pre_install`, `post_install`, `deploy`, `report`, `on_vm_add`, `on_vm_remove`), each phase's in the order they run.",
					},
				}},
			},
			"nodes": schema.MapNestedAttribute{
				Required:            true,
				MarkdownDescription: "The deployment's nodes, by name. `multiplicity` scales the node in place; `cloud`, `connector` and `max_provisioning_failures` change in place; any other change replaces the deployment.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"cloud":     str("The recipe cloud the node runs on."),
					"component": schema.StringAttribute{Required: true, MarkdownDescription: "The component the node runs (a key of `components`)."},
					"connector": str("The cloud's connector."),
					"multiplicity": schema.Int64Attribute{
						Required: true, MarkdownDescription: "How many instances the node has (0 or more).",
					},
					"max_provisioning_failures": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "How many of the node's instances may fail to start (their machine resource could not create them) without aborting the run: the run's barriers then go on without them, as in SlipStream. Default 0.",
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"inputs":   schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Starting values of the node's inputs."},
					"mappings": schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Inputs fed from other nodes' outputs: `input = \"node:output\"` (from the node's instance 1)."},
				}},
			},
			"multiplicities": schema.MapAttribute{
				Computed: true, ElementType: types.Int64Type,
				MarkdownDescription: "Each node's number of instances, by node. It changes when a node is scaled: give it to `slipstream_deployment_ready.multiplicities` so the wait starts again for the new machines (`slipc` does).",
			},
			"state": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The run's state when last read: `Initializing`, `Provisioning`, `Executing`, `SendingReports`, `Ready`, `Finalizing` or `Done`.",
			},
			"abort": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The run's abort message (`\"web.2: deploy exited with status 1: …\"`), empty when it is not aborted. A run ended by an abort is replaced by the next apply.",
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

func (r *deploymentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks what refers to what, so mistakes show at plan
// with the attribute they are in.
func (r *deploymentResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m deploymentModel
	if diags := req.Config.Get(ctx, &m); diags.HasError() {
		return // unknown values (from other resources): checked at apply
	}
	for name, n := range m.Nodes {
		at := path.Root("nodes").AtMapKey(name)
		if !n.Component.IsUnknown() {
			if _, ok := m.Components[n.Component.ValueString()]; !ok {
				resp.Diagnostics.AddAttributeError(at.AtName("component"), "Unknown component",
					fmt.Sprintf("Node %q runs component %q, which is not a key of components.", name, n.Component.ValueString()))
			}
		}
		if !n.Multiplicity.IsUnknown() && n.Multiplicity.ValueInt64() < 0 {
			resp.Diagnostics.AddAttributeError(at.AtName("multiplicity"), "Negative multiplicity",
				fmt.Sprintf("Node %q has multiplicity %d; it must be 0 or more.", name, n.Multiplicity.ValueInt64()))
		}
		for in, from := range n.Mappings {
			if from.IsUnknown() {
				continue
			}
			src, _, ok := strings.Cut(from.ValueString(), ":")
			if _, exists := m.Nodes[src]; !ok || !exists {
				resp.Diagnostics.AddAttributeError(at.AtName("mappings").AtMapKey(in), "Invalid mapping",
					fmt.Sprintf("Input %q of node %q is mapped from %q; a mapping is \"node:output\" naming a node of this deployment.", in, name, from.ValueString()))
			}
		}
	}
}

// spec turns the model into what the coordinator registers.
func (m *deploymentModel) spec(id string) (*coordinator.Deployment, error) {
	d := &coordinator.Deployment{ID: id, Nodes: map[string]*coordinator.Node{}, KeepRunning: m.KeepRunning.ValueString()}
	for name, n := range m.Nodes {
		comp, ok := m.Components[n.Component.ValueString()]
		if !ok {
			return nil, fmt.Errorf("node %q runs component %q, which is not a key of components", name, n.Component.ValueString())
		}
		node := &coordinator.Node{
			Multiplicity: int(n.Multiplicity.ValueInt64()),
			Params:       map[string]coordinator.Param{},
			Inputs:       map[string]string{},
			Mappings:     map[string]string{},
			Cloud:        n.Cloud.ValueString(),
			Scripts:      map[string][]string{},

			MaxProvisioningFailures: int(n.MaxProvisioningFailures.ValueInt64()),
		}
		for p, pm := range comp.Parameters {
			node.Params[p] = coordinator.Param{Output: pm.Output.ValueBool(), Sensitive: pm.Sensitive.ValueBool()}
		}
		for k, v := range n.Inputs {
			if !v.IsNull() {
				node.Inputs[k] = v.ValueString()
			}
		}
		for k, v := range n.Mappings {
			node.Mappings[k] = v.ValueString()
		}
		if comp.Image != nil {
			for _, p := range comp.Image.Packages {
				node.Packages = append(node.Packages, p.ValueString())
			}
		}
		for phase, bodies := range comp.Scripts {
			for _, b := range bodies {
				node.Scripts[phase] = append(node.Scripts[phase], b.ValueString())
			}
		}
		d.Nodes[name] = node
	}
	meta, err := json.Marshal(m.meta())
	if err != nil {
		return nil, err
	}
	d.Meta = meta
	return d, nil
}

// deploymentMeta is what the provider keeps with the deployment at the
// coordinator, so an import rebuilds the resource as it was configured.
// Null values are kept as JSON nulls.
type deploymentMeta struct {
	Name        string                   `json:"name"`
	KeepRunning string                   `json:"keep_running"`
	Components  map[string]componentMeta `json:"components"`
	Nodes       map[string]nodeMeta      `json:"nodes"`
}

type componentMeta struct {
	Image      *imageMeta               `json:"image,omitempty"`
	Parameters map[string]parameterMeta `json:"parameters,omitempty"`
	Scripts    map[string][]string      `json:"scripts,omitempty"`
}

type imageMeta struct {
	Chain     []string `json:"chain"`
	LoginUser *string  `json:"login_user"`
	Packages  []string `json:"packages"`
	Platform  *string  `json:"platform"`
}

type parameterMeta struct {
	Description *string `json:"description"`
	Output      *bool   `json:"output"`
	Sensitive   *bool   `json:"sensitive"`
}

type nodeMeta struct {
	Cloud                   *string           `json:"cloud"`
	Component               string            `json:"component"`
	Connector               *string           `json:"connector"`
	Multiplicity            int64             `json:"multiplicity"`
	MaxProvisioningFailures *int64            `json:"max_provisioning_failures"`
	Inputs                  map[string]string `json:"inputs"`
	Mappings                map[string]string `json:"mappings"`
}

func strs(in []types.String) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = v.ValueString()
	}
	return out
}

func tstrs(in []string) []types.String {
	if in == nil {
		return nil
	}
	out := make([]types.String, len(in))
	for i, v := range in {
		out[i] = types.StringValue(v)
	}
	return out
}

func smap(in map[string]types.String) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v.ValueString()
	}
	return out
}

func tsmap(in map[string]string) map[string]types.String {
	if in == nil {
		return nil
	}
	out := make(map[string]types.String, len(in))
	for k, v := range in {
		out[k] = types.StringValue(v)
	}
	return out
}

func (n nodeModel) meta() nodeMeta {
	return nodeMeta{
		Cloud: n.Cloud.ValueStringPointer(), Component: n.Component.ValueString(), Connector: n.Connector.ValueStringPointer(),
		Multiplicity: n.Multiplicity.ValueInt64(), MaxProvisioningFailures: n.MaxProvisioningFailures.ValueInt64Pointer(),
		Inputs: smap(n.Inputs), Mappings: smap(n.Mappings),
	}
}

func (n nodeMeta) model() nodeModel {
	return nodeModel{
		Cloud: types.StringPointerValue(n.Cloud), Component: types.StringValue(n.Component), Connector: types.StringPointerValue(n.Connector),
		Multiplicity: types.Int64Value(n.Multiplicity), MaxProvisioningFailures: types.Int64PointerValue(n.MaxProvisioningFailures),
		Inputs: tsmap(n.Inputs), Mappings: tsmap(n.Mappings),
	}
}

func (m *deploymentModel) meta() deploymentMeta {
	out := deploymentMeta{Name: m.Name.ValueString(), KeepRunning: m.KeepRunning.ValueString(),
		Components: map[string]componentMeta{}, Nodes: map[string]nodeMeta{}}
	for name, c := range m.Components {
		cm := componentMeta{}
		if c.Image != nil {
			cm.Image = &imageMeta{Chain: strs(c.Image.Chain), LoginUser: c.Image.LoginUser.ValueStringPointer(),
				Packages: strs(c.Image.Packages), Platform: c.Image.Platform.ValueStringPointer()}
		}
		if c.Parameters != nil {
			cm.Parameters = map[string]parameterMeta{}
			for p, pm := range c.Parameters {
				cm.Parameters[p] = parameterMeta{pm.Description.ValueStringPointer(), pm.Output.ValueBoolPointer(), pm.Sensitive.ValueBoolPointer()}
			}
		}
		if c.Scripts != nil {
			cm.Scripts = map[string][]string{}
			for phase, bodies := range c.Scripts {
				cm.Scripts[phase] = strs(bodies)
			}
		}
		out.Components[name] = cm
	}
	for name, n := range m.Nodes {
		out.Nodes[name] = n.meta()
	}
	return out
}

// registeredName is a deployment's name as its slipstream_deployment
// registered it (kept in its meta), or its id when it carries none.
func registeredName(d *coordinator.Deployment) string {
	var meta deploymentMeta
	if json.Unmarshal(d.Meta, &meta) == nil && meta.Name != "" {
		return meta.Name
	}
	return d.ID
}

// fromMeta fills the configured attributes from an import description.
func (m *deploymentModel) fromMeta(meta deploymentMeta) {
	m.Name, m.KeepRunning = types.StringValue(meta.Name), types.StringValue(meta.KeepRunning)
	m.Components, m.Nodes = map[string]componentModel{}, map[string]nodeModel{}
	for name, cm := range meta.Components {
		c := componentModel{}
		if cm.Image != nil {
			c.Image = &imageModel{Chain: tstrs(cm.Image.Chain), LoginUser: types.StringPointerValue(cm.Image.LoginUser),
				Packages: tstrs(cm.Image.Packages), Platform: types.StringPointerValue(cm.Image.Platform)}
		}
		if cm.Parameters != nil {
			c.Parameters = map[string]parameterModel{}
			for p, pm := range cm.Parameters {
				c.Parameters[p] = parameterModel{types.StringPointerValue(pm.Description), types.BoolPointerValue(pm.Output), types.BoolPointerValue(pm.Sensitive)}
			}
		}
		if cm.Scripts != nil {
			c.Scripts = map[string][]types.String{}
			for phase, bodies := range cm.Scripts {
				c.Scripts[phase] = tstrs(bodies)
			}
		}
		m.Components[name] = c
	}
	for name, n := range meta.Nodes {
		m.Nodes[name] = n.model()
	}
}

// timeoutAttrTypes is the shape of the timeouts attribute, for imports.
var timeoutAttrTypes = map[string]attr.Type{"create": types.StringType, "read": types.StringType, "update": types.StringType, "delete": types.StringType}

// nameRE is the coordinator's rule for ids (the name plus a suffix).
var nameRE = regexp.MustCompile(`^\w[\w.-]*$`)

func newDeploymentID(name string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

// setMultiplicities fills multiplicities from the nodes.
func (m *deploymentModel) setMultiplicities() {
	counts := make(map[string]attr.Value, len(m.Nodes))
	for name, n := range m.Nodes {
		counts[name] = n.Multiplicity
	}
	m.Multiplicities = types.MapValueMust(types.Int64Type, counts)
}

// instanceNames lists every instance of the nodes, sorted by node and
// index.
func instanceNames(nodes map[string]nodeModel) []string {
	names := make([]string, 0, len(nodes))
	for name := range nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	out := []string{}
	for _, name := range names {
		for i := 1; i <= int(nodes[name].Multiplicity.ValueInt64()); i++ {
			out = append(out, fmt.Sprintf("%s.%d", name, i))
		}
	}
	return out
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func (r *deploymentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

func (r *deploymentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m deploymentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Create(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	id := newDeploymentID(m.Name.ValueString())
	cl := r.cfg.coordinator(id, &resp.Diagnostics)
	if cl == nil {
		return
	}
	spec, err := m.spec(id)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("nodes"), "Invalid deployment", err.Error())
		return
	}
	// No token is issued here: each machine resource asks for its
	// machine's when it starts it. A create whose answer is lost is sent
	// again and taken as the same registration.
	if err := cl.RegisterDeployment(ctx, spec); err != nil {
		resp.Diagnostics.AddError("Cannot register the deployment", fmt.Sprintf("The coordinator at %s refused deployment %s: %v", r.cfg.CoordinatorURL, id, err))
		return
	}
	tflog.Info(ctx, "registered deployment", map[string]any{"id": id, "instances": len(instanceNames(m.Nodes))})
	r.cfg.added(id, instanceNames(m.Nodes))
	m.ID = types.StringValue(id)
	m.State, m.Abort = types.StringValue(coordinator.Initializing), types.StringValue("")
	if run, err := cl.Run(ctx); err == nil {
		m.State, m.Abort = types.StringValue(run.State), types.StringValue(run.Abort)
	} else {
		resp.Diagnostics.AddWarning("Cannot read the new deployment's state", fmt.Sprintf("Deployment %s is registered, but reading its state failed: %v. The next refresh reads it.", id, err))
	}
	m.setMultiplicities()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *deploymentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m deploymentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Read(ctx, 5*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cl := r.cfg.coordinator(m.ID.ValueString(), &resp.Diagnostics)
	if cl == nil {
		return
	}
	run, err := cl.Run(ctx)
	if isNotFound(err) {
		tflog.Warn(ctx, "deployment no longer exists at the coordinator; removing it from the state", map[string]any{"id": m.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the deployment", fmt.Sprintf("Reading deployment %s from %s: %v", m.ID.ValueString(), r.cfg.CoordinatorURL, err))
		return
	}
	if m.Nodes == nil { // an import: rebuild from what was kept at creation
		var meta deploymentMeta
		if err := json.Unmarshal(run.Deployment.Meta, &meta); err != nil || meta.Name == "" {
			resp.Diagnostics.AddError("Cannot import the deployment", fmt.Sprintf("Deployment %s was not registered by this provider (it carries no description to import from).", m.ID.ValueString()))
			return
		}
		m.fromMeta(meta)
		m.Timeouts = timeouts.Value{Object: types.ObjectNull(timeoutAttrTypes)}
	}
	// The coordinator is the truth for what changes there: the
	// multiplicities (a scale shows as drift), the settings, the run.
	for name, n := range m.Nodes {
		if spec, ok := run.Deployment.Nodes[name]; ok {
			n.Multiplicity = types.Int64Value(int64(spec.Multiplicity))
			if spec.MaxProvisioningFailures != 0 || !n.MaxProvisioningFailures.IsNull() {
				n.MaxProvisioningFailures = types.Int64Value(int64(spec.MaxProvisioningFailures))
			}
			m.Nodes[name] = n
		}
	}
	if k := run.Deployment.KeepRunning; k != "" {
		m.KeepRunning = types.StringValue(k)
	}
	m.State, m.Abort = types.StringValue(run.State), types.StringValue(run.Abort)
	m.setMultiplicities()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *deploymentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state deploymentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := plan.Timeouts.Update(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	plan.ID = state.ID
	id := state.ID.ValueString()
	cl := r.cfg.coordinator(id, &resp.Diagnostics)
	if cl == nil {
		return
	}
	names := make([]string, 0, len(plan.Nodes))
	for name := range plan.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, had := plan.Nodes[name].Multiplicity.ValueInt64(), state.Nodes[name].Multiplicity.ValueInt64()
		if want == had {
			continue
		}
		now, err := cl.Resize(ctx, name, int(want))
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("nodes").AtMapKey(name).AtName("multiplicity"), "Cannot scale the node",
				fmt.Sprintf("Scaling node %s of deployment %s from %d to %d: %v", name, id, had, want, err))
			// What did change is kept, so the state matches the coordinator.
			n := plan.Nodes[name]
			n.Multiplicity = state.Nodes[name].Multiplicity
			plan.Nodes[name] = n
			continue
		}
		tflog.Info(ctx, "scaled node", map[string]any{"node": name, "from": had, "to": want, "state": now})
		r.cfg.added(id, nodeInstances(name, had, want))
	}
	// The settings and the description last: a new keep-running policy
	// may end a Ready run, which could not be scaled afterwards.
	spec, err := plan.spec(id)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("nodes"), "Invalid deployment", err.Error())
	} else {
		settings := coordinator.Settings{KeepRunning: &spec.KeepRunning, MaxProvisioningFailures: map[string]int{}, Meta: spec.Meta}
		for name, n := range spec.Nodes {
			settings.MaxProvisioningFailures[name] = n.MaxProvisioningFailures
		}
		if _, err := cl.UpdateSettings(ctx, settings); err != nil {
			resp.Diagnostics.AddError("Cannot update the deployment's settings", fmt.Sprintf("Updating keep_running and max_provisioning_failures of deployment %s: %v", id, err))
			plan.KeepRunning = state.KeepRunning
			for name, n := range plan.Nodes {
				n.MaxProvisioningFailures = state.Nodes[name].MaxProvisioningFailures
				plan.Nodes[name] = n
			}
		}
	}
	plan.State, plan.Abort = state.State, state.Abort
	if run, err := cl.Run(ctx); err == nil {
		plan.State, plan.Abort = types.StringValue(run.State), types.StringValue(run.Abort)
	}
	plan.setMultiplicities()
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *deploymentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m deploymentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Delete(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cl := r.cfg.coordinator(m.ID.ValueString(), &resp.Diagnostics)
	if cl == nil {
		return
	}
	// Finalize first, so agents still running stop their scripts and
	// exit; then delete. The machines themselves are Terraform resources
	// that depend on this one, so they are gone (or going) already.
	if _, err := cl.Finalize(ctx); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot finalize the deployment", fmt.Sprintf("Finalizing deployment %s: %v", m.ID.ValueString(), err))
		return
	}
	if err := cl.Delete(ctx); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete the deployment", fmt.Sprintf("Deleting deployment %s: %v", m.ID.ValueString(), err))
	}
}

// UpgradeState upgrades state from schema version 0, which held every
// instance's token and bootstraps (see state_upgrade.go).
func (r *deploymentResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return jsonStateUpgrade(upgradeDeploymentV0)
}

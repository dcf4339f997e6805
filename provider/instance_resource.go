package provider

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/numberplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

var (
	_ resource.Resource                 = (*instanceResource)(nil)
	_ resource.ResourceWithConfigure    = (*instanceResource)(nil)
	_ resource.ResourceWithImportState  = (*instanceResource)(nil)
	_ resource.ResourceWithUpgradeState = (*instanceResource)(nil)
)

// instanceResource is every cloud's machine resource
// (slipstream_ec2_instance, slipstream_openstack_instance,
// slipstream_cloudsigma_server, …): one implementation over the
// connectors.Connector interface, its schema built from the connector's
// catalog entry. Nothing in it is specific to a cloud.
//
// Create returns as soon as the cloud has accepted the machine: the
// machine's agent reports to the coordinator when it has booted, and
// slipstream_deployment_ready does the waiting, so Terraform's parallelism
// slots are not held through boots.
type instanceResource struct {
	conn    *catalog.Connector
	factory connectors.Factory
	cfg     *Config
	// backoff spaces retries of transient cloud errors.
	backoff connectors.Backoff
}

func newInstanceResource(conn *catalog.Connector, factory connectors.Factory) resource.Resource {
	return &instanceResource{conn: conn, factory: factory, backoff: connectors.DefaultBackoff}
}

// Attribute names every machine resource has. The connector's
// per-machine settings come beside them, by their catalog names.
const (
	attrID           = "id"
	attrDeploymentID = "deployment_id"
	attrNode         = "node"
	attrIndex        = "index"
	attrImageID      = "image_id"
	attrCPU          = "cpu"
	attrRAM          = "ram"
	attrDisk         = "disk"
	attrName         = "name"
	attrState        = "state"
	attrPrivateIP    = "private_ip"
	attrPublicIP     = "public_ip"
	attrWaitRunning  = "wait_until_running"
	attrTimeouts     = "timeouts"
)

// privateImported marks, in the resource's private state, a machine that
// was imported: its sizing and settings are unknown until the first apply
// records the configuration's, which must not replace it.
const privateImported = "imported"

// Default timeouts. Create covers the retries of a throttled or busy API
// (and, for clouds whose create takes several calls, those calls); the
// boot is awaited by slipstream_deployment_ready.
const (
	defaultCreateTimeout = 10 * time.Minute
	defaultReadTimeout   = 5 * time.Minute
	defaultDeleteTimeout = 20 * time.Minute
	// createCallTimeout bounds the one call that starts a machine. It is
	// not cut short by an interrupt (Ctrl-C): once the request is sent,
	// its answer, with the new machine's id, is waited for and recorded,
	// so that an interrupted apply leaves no machine that Terraform does
	// not know.
	createCallTimeout = 2 * time.Minute
)

func (r *instanceResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = r.conn.Resource
}

func (r *instanceResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

func (r *instanceResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	name := r.conn.Name
	replaceString := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	attrs := map[string]schema.Attribute{
		attrID: schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			MarkdownDescription: "The machine's id at the cloud; the import id.",
		},
		attrDeploymentID: schema.StringAttribute{
			Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, "Replaces the machine, unless it was imported and this records its value for the first time.", "")},
			MarkdownDescription: "The `id` of the `slipstream_deployment`.",
		},
		attrNode: schema.StringAttribute{
			Required: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, "Replaces the machine, unless it was imported and this records its value for the first time.", "")},
			MarkdownDescription: "The node this machine is an instance of.",
		},
		attrIndex: schema.Int64Attribute{
			Required: true, MarkdownDescription: "The instance number, from 1 (`count.index + 1`).",
			Validators:    []validator.Int64{int64validator.AtLeast(1)},
			PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplaceIf(replaceUnlessImportedInt64, "Replaces the machine, unless it was imported.", "")},
		},
		attrImageID: schema.StringAttribute{
			Required: true, PlanModifiers: replaceString,
			MarkdownDescription: "The image the machine starts from (" + r.conn.ImageHint + "), from the recipe's image `ids`.",
		},
		attrCPU: schema.Int64Attribute{
			Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)},
			PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplaceIf(replaceUnlessImportedInt64, "Replaces the machine, unless it was imported.", "")},
			MarkdownDescription: "Cores the machine needs (the recipe's generic sizing). " + sizingWord(r.conn),
		},
		attrRAM: schema.Float64Attribute{
			Optional: true, Validators: []validator.Float64{float64validator.AtLeast(0.125)},
			PlanModifiers:       []planmodifier.Float64{float64planmodifier.RequiresReplaceIf(replaceUnlessImportedFloat64, "Replaces the machine, unless it was imported.", "")},
			MarkdownDescription: "Memory the machine needs, in GB (GiB). " + sizingWord(r.conn),
		},
		attrDisk: schema.Int64Attribute{
			Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)},
			PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplaceIf(replaceUnlessImportedInt64, "Replaces the machine, unless it was imported.", "")},
			MarkdownDescription: "Root disk size in GB; by default the image's.",
		},
		attrName: schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			MarkdownDescription: "The machine's name at the cloud, and its hostname: `<deployment_id>-<node>-<index>`.",
		},
		attrState: schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			MarkdownDescription: "The machine's state when last read: `pending`, `running`, `stopping`, `stopped`. A machine found terminated, gone or failed is removed from the state, so the next plan starts a new one.",
		},
		attrPrivateIP: schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			MarkdownDescription: "The machine's private address, once the cloud has given it one (refreshed on every read).",
		},
		attrPublicIP: schema.StringAttribute{
			Computed: true, PlanModifiers: keep,
			MarkdownDescription: "The machine's public address, if it has one (refreshed on every read).",
		},
		attrWaitRunning: schema.BoolAttribute{
			Optional: true,
			MarkdownDescription: "Wait in create until the cloud reports the machine running, with its addresses, as most cloud providers do. " +
				"Off by default: each machine waiting holds one of Terraform's parallelism slots (`-parallelism`, 10) through its boot, so a " +
				"deployment of many machines boots ten at a time; without it every machine boots at once and `slipstream_deployment_ready` " +
				"waits. Set it when another resource needs the machine's address as soon as this one is created.",
		},
		attrTimeouts: timeouts.Attributes(ctx, timeouts.Opts{Create: true, Read: true, Delete: true}),
	}
	r.addInstanceSettings(attrs)
	resp.Schema = schema.Schema{
		Version: 1,
		MarkdownDescription: fmt.Sprintf("A machine on %s started as one instance of a deployment's node: it boots from `image_id` with the instance's "+
			"cloud-init user-data, which installs the SlipStream agent; the agent then runs the node's scripts and coordinates with the other machines. "+
			"The provider renders the user-data when it starts the machine, with a one-time bootstrap token the coordinator issues for it; neither is kept in the state. "+
			"Large nodes are better started as a pool (one resource, one batched cloud call): see the pool resources.\n\n"+
			"Creating it returns as soon as the cloud has accepted the machine; `slipstream_deployment_ready` waits for the boot. "+
			"Throttling and the cloud's transient errors are retried with jittered backoff within the create timeout; permanent errors (quota, capacity, "+
			"an unknown image) fail at once with the cloud's own message. A machine left by an interrupted create is found by its labels and adopted (or removed "+
			"when it was made from another configuration), so no machine runs that Terraform does not know.\n\n"+
			"Reading it refreshes the addresses; a machine deleted, terminated or failed outside Terraform is removed from the state and started again by the next apply. "+
			"Deleting it terminates the machine and waits until it is gone. Import it by its cloud id: its deployment, node and index come from its labels.\n\n"+
			"Cloud-wide settings (region, credentials) come from the provider's `%s` block; the attributes below take the cloud block's defaults and a node's overrides from the recipe.",
			r.conn.Title, name),
		Attributes: attrs,
	}
}

// settingAttribute is a per-machine setting as a resource attribute. Every
// one replaces the machine when it changes (a machine's network or type is
// fixed at its start), except on the first apply after an import, which
// records the configuration's value. The explicit type setting is also
// computed: it shows the type chosen from the generic sizing.
func (r *instanceResource) settingAttribute(s catalog.Setting) schema.Attribute {
	desc := s.Description
	if s.Name == r.conn.TypeSetting {
		return schema.StringAttribute{
			Optional: true, Computed: true, Sensitive: s.Sensitive, MarkdownDescription: desc + " Shows the type chosen when not set.",
			PlanModifiers: []planmodifier.String{
				stringplanmodifier.UseStateForUnknown(),
				stringplanmodifier.RequiresReplaceIf(replaceIfConfiguredUnlessImported, "Replaces the machine when set to another type.", ""),
			},
		}
	}
	const why = "Replaces the machine, unless it was imported and this records its value for the first time."
	switch s.Type {
	case catalog.Number:
		return schema.NumberAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: desc,
			PlanModifiers: []planmodifier.Number{numberplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.NumberRequest, resp *numberplanmodifier.RequiresReplaceIfFuncResponse) {
				resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
			}, why, "")}}
	case catalog.Bool:
		return schema.BoolAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: desc,
			PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.BoolRequest, resp *boolplanmodifier.RequiresReplaceIfFuncResponse) {
				resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
			}, why, "")}}
	case catalog.ListString:
		return schema.ListAttribute{Optional: true, Sensitive: s.Sensitive, ElementType: types.StringType, MarkdownDescription: desc,
			PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
				resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
			}, why, "")}}
	case catalog.MapString:
		return schema.MapAttribute{Optional: true, Sensitive: s.Sensitive, ElementType: types.StringType, MarkdownDescription: desc,
			PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.MapRequest, resp *mapplanmodifier.RequiresReplaceIfFuncResponse) {
				resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
			}, why, "")}}
	}
	return schema.StringAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: desc,
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, why, "")}}
}

// privateGetter is the part of the framework's private state a plan
// modifier sees.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// imported reports whether a changed attribute is only being recorded for
// the first time after an import (the prior value null, the machine
// imported), which must not replace the machine.
func imported(ctx context.Context, private privateGetter, priorNull bool) bool {
	if !priorNull || private == nil {
		return false
	}
	b, _ := private.GetKey(ctx, privateImported)
	return len(b) > 0
}

func replaceUnlessImported(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
}

func replaceIfConfiguredUnlessImported(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !req.ConfigValue.IsNull() && !imported(ctx, req.Private, false)
}

func replaceUnlessImportedInt64(ctx context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
}

func replaceUnlessImportedFloat64(ctx context.Context, req planmodifier.Float64Request, resp *float64planmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !imported(ctx, req.Private, req.StateValue.IsNull())
}

func sizingWord(c *catalog.Connector) string {
	if c.TypeSetting == "" {
		return "The machine is made this size."
	}
	return fmt.Sprintf("The smallest of the cloud's sizes that fits cpu, ram and disk is chosen unless `%s` is set.", c.TypeSetting)
}

// ---- reading and writing the resource's values ----

// values is the resource's object (plan or state) as a map, since the
// schema's attributes depend on the connector.
type values map[string]attr.Value

func (v values) str(name string) string {
	if s, ok := v[name].(types.String); ok {
		return s.ValueString()
	}
	return ""
}

func (v values) int64(name string) int64 {
	if i, ok := v[name].(types.Int64); ok {
		return i.ValueInt64()
	}
	return 0
}

func (v values) float64(name string) float64 {
	if f, ok := v[name].(types.Float64); ok {
		return f.ValueFloat64()
	}
	return 0
}

func (v values) timeouts() timeouts.Value {
	obj, _ := v[attrTimeouts].(types.Object)
	return timeouts.Value{Object: obj}
}

func (v values) instance() string {
	return fmt.Sprintf("%s.%d", v.str(attrNode), v.int64(attrIndex))
}

type getter interface {
	Get(ctx context.Context, target any) diag.Diagnostics
}

func readValues(ctx context.Context, from getter, diags *diag.Diagnostics) values {
	var obj types.Object
	diags.Append(from.Get(ctx, &obj)...)
	if diags.HasError() {
		return nil
	}
	return values(obj.Attributes())
}

type setter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// writeValues stores v, with every attribute of the schema (an attribute
// missing from v is null).
func (r *instanceResource) writeValues(ctx context.Context, to setter, v values, diags *diag.Diagnostics) {
	writeObject(ctx, r.objectType(ctx), to, v, diags)
}

// writeObject stores v as an object of type typ (an attribute missing
// from v is null).
func writeObject(ctx context.Context, typ types.ObjectType, to setter, v values, diags *diag.Diagnostics) {
	out := map[string]attr.Value{}
	for name, t := range typ.AttrTypes {
		if val, ok := v[name]; ok && val != nil {
			out[name] = val
		} else {
			out[name] = nullOf(t)
		}
	}
	obj, d := types.ObjectValue(typ.AttrTypes, out)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	diags.Append(to.Set(ctx, obj)...)
}

// objectType is the type of the resource's whole object, from its schema.
func (r *instanceResource) objectType(ctx context.Context) types.ObjectType {
	var s resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &s)
	return s.Schema.Type().(types.ObjectType)
}

func nullOf(t attr.Type) attr.Value {
	switch t := t.(type) {
	case types.ObjectType:
		return types.ObjectNull(t.AttrTypes)
	case types.ListType:
		return types.ListNull(t.ElemType)
	case types.MapType:
		return types.MapNull(t.ElemType)
	}
	switch t {
	case types.Int64Type:
		return types.Int64Null()
	case types.Float64Type:
		return types.Float64Null()
	case types.BoolType:
		return types.BoolNull()
	case types.NumberType:
		return types.NumberNull()
	}
	return types.StringNull()
}

// setMachine records what the cloud said of the machine.
func (r *instanceResource) setMachine(v values, m *connectors.Machine) {
	v[attrID] = types.StringValue(m.ID)
	if m.Name != "" {
		v[attrName] = types.StringValue(m.Name)
	}
	v[attrState] = types.StringValue(string(m.State))
	v[attrPrivateIP] = types.StringValue(m.PrivateIP)
	v[attrPublicIP] = types.StringValue(m.PublicIP)
	if r.conn.TypeSetting != "" && m.Type != "" {
		v[r.conn.TypeSetting] = types.StringValue(m.Type)
	}
}

// ---- life cycle ----

// connector returns the provider configuration's connector, or a
// diagnostic: no provider configuration, another cloud's, or credentials
// the connector cannot find.
func (r *instanceResource) connector(ctx context.Context, diags *diag.Diagnostics) connectors.Connector {
	if r.cfg == nil {
		diags.AddError("Provider not configured", "The slipstream provider was not configured before this resource was used. This is a bug in the provider; please report it.")
		return nil
	}
	if r.cfg.Connector != r.conn.Name {
		have := "no cloud"
		if r.cfg.Connector != "" {
			have = fmt.Sprintf("the %q cloud", r.cfg.Connector)
		}
		diags.AddError("Wrong provider configuration",
			fmt.Sprintf("%s needs a provider configuration with a `%s` block; this one configures %s. Set `provider = slipstream.<alias>` to the alias of the %s cloud (slipc emits one alias per recipe cloud).",
				r.conn.Resource, r.conn.Name, have, r.conn.Title))
		return nil
	}
	c, err := r.cfg.machineConnector(ctx, r.conn.Name, r.factory)
	if err != nil {
		diags.AddError(fmt.Sprintf("Cannot use %s", r.conn.Title), fmt.Sprintf("Setting up the %s connector from the provider's `%s` block: %v", r.conn.Name, r.conn.Name, err))
		return nil
	}
	return c
}

// An operation of the resource, for its timeout.
type operation int

const (
	opCreate operation = iota
	opRead
	opUpdate
	opDelete
)

// begin starts an operation: the resource's values (from the plan or the
// state), the context bounded by the operation's timeout (dflt unless the
// resource's timeouts say otherwise), and the connector. conn is nil, with
// a diagnostic, when the operation cannot go on; cancel is always to be
// called. The pool and image resources begin theirs with it too.
func (r *instanceResource) begin(ctx context.Context, from getter, op operation, dflt time.Duration, diags *diag.Diagnostics) (_ context.Context, cancel context.CancelFunc, v values, conn connectors.Connector) {
	v = readValues(ctx, from, diags)
	if v == nil {
		return ctx, func() {}, nil, nil
	}
	var limit time.Duration
	var d diag.Diagnostics
	switch op {
	case opCreate:
		limit, d = v.timeouts().Create(ctx, dflt)
	case opRead:
		limit, d = v.timeouts().Read(ctx, dflt)
	case opUpdate:
		limit, d = v.timeouts().Update(ctx, dflt)
	default:
		limit, d = v.timeouts().Delete(ctx, dflt)
	}
	diags.Append(d...)
	ctx, cancel = context.WithTimeout(ctx, limit)
	return ctx, cancel, v, r.connector(ctx, diags)
}

// retry runs op through connectors.Retry, logging each retry.
func (r *instanceResource) retry(ctx context.Context, what string, op func(context.Context) error) error {
	return connectors.Retry(ctx, r.backoff, func(attempt int, wait time.Duration, err error) {
		tflog.Warn(ctx, "the cloud refused for now; retrying", map[string]any{"cloud": r.conn.Name, "what": what, "attempt": attempt, "wait": wait.String(), "error": err.Error()})
	}, op)
}

// cloudDiag adds an error naming the cloud, the instance and the cloud's
// own message, with what to do about it.
func (r *instanceResource) cloudDiag(diags *diag.Diagnostics, attr path.Path, summary, instance string, err error) {
	detail := fmt.Sprintf("%s: %v", instance, err)
	var gave *connectors.GaveUpError
	var ce *connectors.Error
	switch {
	case errors.Is(err, context.Canceled):
		// Terraform was interrupted (Ctrl-C): say so rather than blame the
		// cloud. A machine the cloud had accepted is in the state already.
		summary = "Interrupted: " + strings.ToLower(summary[:1]) + summary[1:]
		detail = fmt.Sprintf("%s: Terraform was interrupted before %s answered. Nothing was left half-done: apply again to carry on.", instance, r.conn.Title)
	case errors.As(err, &gave):
		detail += "\n\nThe cloud kept refusing with a transient error until the timeout. Try again later, or raise `timeouts.create`."
	case errors.Is(err, context.DeadlineExceeded):
		detail += "\n\nThe operation did not finish within its timeout; raise the resource's `timeouts`."
	case errors.As(err, &ce) && ce.Code == "NoFittingOffer":
		detail += fmt.Sprintf("\n\nLower the component's cpu, ram or disk, or name a size with `%s`.", r.conn.TypeSetting)
	case errors.As(err, &ce) && (ce.Status == 401 || ce.Status == 403 || strings.Contains(strings.ToLower(ce.Code), "auth")):
		detail += fmt.Sprintf("\n\nCheck the credentials of the provider's `%s` block (or their environment variables) and what they may do.", r.conn.Name)
	}
	if attr.Equal(path.Empty()) {
		diags.AddError(summary, detail)
	} else {
		diags.AddAttributeError(attr, summary, detail)
	}
}

func (r *instanceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, cancel, v, conn := r.begin(ctx, req.Plan, opCreate, defaultCreateTimeout, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	instance := v.instance()
	deployment := v.str(attrDeploymentID)
	cl := r.cfg.coordinator(deployment, &resp.Diagnostics)
	if cl == nil {
		return
	}
	userData, err := r.cfg.machineBootstrap(ctx, cl, userDataBootstrap, v.str(attrNode), instance)
	if err != nil {
		resp.Diagnostics.AddError("Cannot render the machine's user-data", fmt.Sprintf("%s of deployment %s: %v", instance, deployment, err))
		return
	}
	spec, ok := r.machineSpec(ctx, conn, v, instance, userData, &resp.Diagnostics)
	if !ok {
		return
	}

	// A machine with this instance's labels that Terraform does not know
	// was left by an interrupted create: adopted when it is what this
	// create would make, removed otherwise.
	var m *connectors.Machine
	err = r.retry(ctx, "look for a machine left by an earlier create", func(ctx context.Context) error {
		var err error
		m, err = r.adoptOrClear(ctx, conn, spec)
		return err
	})
	if err != nil {
		r.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot list the machines of deployment %s on %s", deployment, r.conn.Title), instance, err)
		return
	}
	if m != nil {
		tflog.Info(ctx, "adopted the machine an interrupted create left", map[string]any{"instance": instance, "machine": m.ID, "cloud": r.conn.Name})
	} else {
		// The machine is started with a token of its own (the spec was
		// hashed with the placeholder, the same on every attempt).
		if spec.UserData, err = r.cfg.issueToken(ctx, cl, instance, spec.UserData); err != nil {
			resp.Diagnostics.AddError("Cannot issue the machine's bootstrap token", fmt.Sprintf("%s of deployment %s: %v", instance, deployment, err))
			return
		}
		start := time.Now()
		err = r.retry(ctx, "create the machine", func(ctx context.Context) error {
			// Not cancelled by an interrupt once sent: see createCallTimeout.
			callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createCallTimeout)
			defer cancel()
			var err error
			m, err = conn.Create(callCtx, spec)
			if err != nil && m == nil && connectors.IsTransient(err) {
				// The answer may have been lost after the cloud took the
				// machine: look before asking again.
				if found, ferr := r.adoptOrClear(callCtx, conn, spec); ferr == nil && found != nil {
					m, err = found, nil
				}
			}
			return err
		})
		if m != nil && m.ID != "" && err != nil {
			// Accepted, then something failed: keep it in the state
			// (Terraform marks it tainted and replaces it next time), so
			// that no machine is left that Terraform does not know.
			r.setMachine(v, m)
			v[attrName] = types.StringValue(spec.Name)
			r.writeValues(ctx, &resp.State, v, &resp.Diagnostics)
			r.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Machine %s was started on %s, but its create failed", m.ID, r.conn.Title), instance,
				fmt.Errorf("%w\n\nThe machine is kept in the state, marked tainted: the next apply replaces it, and destroy removes it", err))
			return
		}
		if err != nil {
			r.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot start a machine on %s", r.conn.Title), instance, err)
			return
		}
		tflog.Info(ctx, "machine accepted", map[string]any{"instance": instance, "machine": m.ID, "cloud": r.conn.Name, "type": spec.Type, "ms": time.Since(start).Milliseconds()})
	}
	r.setMachine(v, m)
	v[attrName] = types.StringValue(spec.Name)
	if r.conn.TypeSetting != "" && spec.Type != "" {
		v[r.conn.TypeSetting] = types.StringValue(spec.Type)
	}
	if w, ok := v[attrWaitRunning].(types.Bool); ok && w.ValueBool() {
		got, err := r.waitRunning(ctx, conn, m.ID)
		if err != nil {
			r.writeValues(ctx, &resp.State, v, &resp.Diagnostics)
			r.cloudDiag(&resp.Diagnostics, path.Root(attrWaitRunning), fmt.Sprintf("Machine %s did not come up on %s", m.ID, r.conn.Title), instance,
				fmt.Errorf("%w\n\nThe machine is kept in the state, marked tainted: the next apply replaces it, and destroy removes it", err))
			return
		}
		r.setMachine(v, got)
	}
	r.writeValues(ctx, &resp.State, v, &resp.Diagnostics)
}

// machineSpec makes a machine's spec from the resource's values: its name
// and labels, the image and user-data, and a type chosen from the generic
// sizing unless one is set. instance is the machine's instance, or empty
// for the machines of a pool (named by the cloud, labelled with the pool's
// node).
func (r *instanceResource) machineSpec(ctx context.Context, conn connectors.Connector, v values, instance, userData string, diags *diag.Diagnostics) (connectors.MachineSpec, bool) {
	deployment := v.str(attrDeploymentID)
	settings, err := settingsOf(r.conn, catalog.ScopeInstance, v)
	if err != nil {
		diags.AddError("Invalid setting", err.Error())
		return connectors.MachineSpec{}, false
	}
	size := connectors.Size{CPU: int(v.int64(attrCPU)), RAMGB: v.float64(attrRAM), DiskGB: int(v.int64(attrDisk))}
	spec := connectors.MachineSpec{
		Deployment: deployment, Instance: instance, Name: connectors.MachineName(deployment, instance),
		ImageID: v.str(attrImageID), UserData: userData, SSHPublicKey: settings.String("ssh_public_key"),
		Size: size, Settings: settings,
		Labels: map[string]string{connectors.LabelDeployment: deployment, connectors.LabelInstance: instance},
	}
	if instance == "" {
		node := v.str(attrNode)
		spec.Name = connectors.MachineName(deployment, node)
		spec.Labels = map[string]string{connectors.LabelDeployment: deployment, connectors.LabelPool: node}
	}
	what := instance
	if what == "" {
		what = "the machines of " + v.str(attrNode)
	}
	if len(spec.UserData) > bootstrap.MaxUserData {
		diags.AddError("User-data too large",
			fmt.Sprintf("The user-data of %s is %d bytes; clouds take at most %d.", what, len(spec.UserData), bootstrap.MaxUserData))
		return spec, false
	}
	if r.conn.TypeSetting != "" {
		spec.Type = settings.String(r.conn.TypeSetting)
		delete(spec.Settings, r.conn.TypeSetting)
	}
	if spec.Type == "" {
		var offers []connectors.Offer
		err := r.retry(ctx, "list the machine sizes", func(ctx context.Context) error {
			var err error
			offers, err = conn.Offers(ctx)
			return err
		})
		var offer connectors.Offer
		if err == nil {
			offer, err = connectors.PickOffer(r.conn.Name, offers, size)
		}
		if err != nil {
			r.cloudDiag(diags, path.Root(attrCPU), fmt.Sprintf("No machine size for %s on %s", what, r.conn.Title), what, err)
			return spec, false
		}
		if !offer.Free {
			spec.Type = offer.Name
		}
	}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	return spec, true
}

// adoptOrClear looks for machines with the spec's deployment and instance
// labels. One that is alive and was made from the same spec is returned
// (adopted); the others are deleted: they were left by creates whose
// answer never reached a state, and no state will ever delete them.
func (r *instanceResource) adoptOrClear(ctx context.Context, conn connectors.Connector, spec connectors.MachineSpec) (*connectors.Machine, error) {
	list, err := conn.List(ctx, spec.Deployment)
	if err != nil {
		return nil, err
	}
	var adopt *connectors.Machine
	for _, m := range list {
		if m.Labels[connectors.LabelInstance] != spec.Instance {
			continue
		}
		if adopt == nil && m.Labels[connectors.LabelSpec] == spec.Labels[connectors.LabelSpec] && m.State.Alive() {
			adopt = m
			continue
		}
		tflog.Warn(ctx, "removing a machine an earlier create left", map[string]any{"instance": spec.Instance, "machine": m.ID, "state": string(m.State)})
		if err := conn.Delete(ctx, m.ID); err != nil && !connectors.IsNotFound(err) {
			return nil, err
		}
	}
	return adopt, nil
}

// waitRunning describes the machine until it runs; a machine that fails
// or goes away meanwhile is an error at once.
func (r *instanceResource) waitRunning(ctx context.Context, conn connectors.Connector, id string) (*connectors.Machine, error) {
	var m *connectors.Machine
	err := connectors.WaitFor(ctx, connectors.PollBackoff, "machine "+id+" to run", func(ctx context.Context) (bool, string, error) {
		var err error
		m, err = conn.Describe(ctx, id)
		switch {
		case err != nil:
			return false, "", err
		case m.State == connectors.StateError || m.State == connectors.StateTerminated:
			return false, "", fmt.Errorf("the machine is %s: %s", m.State, m.Reason)
		}
		return m.State == connectors.StateRunning, string(m.State), nil
	})
	return m, err
}

func (r *instanceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx, cancel, v, conn := r.begin(ctx, req.State, opRead, defaultReadTimeout, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	id := v.str(attrID)
	var m *connectors.Machine
	err := r.retry(ctx, "describe the machine", func(ctx context.Context) error {
		var err error
		m, err = conn.Describe(ctx, id)
		return err
	})
	who := id
	if v.str(attrNode) != "" {
		who = fmt.Sprintf("%s (%s of deployment %s)", id, v.instance(), v.str(attrDeploymentID))
	}
	switch {
	case connectors.IsNotFound(err) || err == nil && m.State == connectors.StateTerminated:
		if v.str(attrNode) == "" {
			resp.Diagnostics.AddError("Cannot import machine", fmt.Sprintf("%s has no machine %s.", r.conn.Title, id))
			return
		}
		resp.Diagnostics.AddWarning("Machine gone",
			fmt.Sprintf("Machine %s no longer exists on %s; it is removed from the state and the next apply starts a new one.", who, r.conn.Title))
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		r.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot read machine %s on %s", id, r.conn.Title), who, err)
		return
	case m.State == connectors.StateError && v.str(attrNode) != "":
		reason := m.Reason
		if reason == "" {
			reason = "the cloud gives no reason"
		}
		resp.Diagnostics.AddWarning("Machine failed",
			fmt.Sprintf("Machine %s failed on %s (%s). It is removed from the state: the next apply deletes it and starts a new one.", who, r.conn.Title, reason))
		resp.State.RemoveResource(ctx)
		return
	}
	if v.str(attrNode) == "" {
		// Imported: where the machine belongs comes from its labels.
		if !r.fromLabels(v, m, &resp.Diagnostics) {
			return
		}
	}
	r.setMachine(v, m)
	r.writeValues(ctx, &resp.State, v, &resp.Diagnostics)
}

// fromLabels fills an imported machine's deployment, node, index and
// image.
func (r *instanceResource) fromLabels(v values, m *connectors.Machine, diags *diag.Diagnostics) bool {
	dep, inst := m.Labels[connectors.LabelDeployment], m.Labels[connectors.LabelInstance]
	node, idx, ok := strings.Cut(inst, ".")
	index, err := strconv.ParseInt(idx, 10, 64)
	if dep == "" || !ok || err != nil || index < 1 || index > math.MaxInt32 {
		diags.AddError("Not a SlipStream machine",
			fmt.Sprintf("Machine %s on %s has no SlipStream labels (%s = %q, %s = %q), so it cannot be imported as an instance of a deployment. "+
				"Import only machines that this provider started.", m.ID, r.conn.Title, connectors.LabelDeployment, dep, connectors.LabelInstance, inst))
		return false
	}
	v[attrDeploymentID] = types.StringValue(dep)
	v[attrNode] = types.StringValue(node)
	v[attrIndex] = types.Int64Value(index)
	v[attrImageID] = types.StringValue(m.ImageID)
	// The per-machine settings stay null: a null setting means "the
	// cloud's default", which is not what the cloud reports back, and the
	// first apply records the configuration's without replacing the
	// machine (see imported).
	return true
}

// Update records a new configuration: nothing of a running machine
// changes in place (every attribute that would needs a new machine), so
// this is a changed bootstrap (run once, at the first boot) or the first
// apply after an import.
func (r *instanceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan := readValues(ctx, req.Plan, &resp.Diagnostics)
	state := readValues(ctx, req.State, &resp.Diagnostics)
	if plan == nil || state == nil {
		return
	}
	for _, name := range []string{attrID, attrName, attrState, attrPrivateIP, attrPublicIP} {
		plan[name] = state[name]
	}
	// wait_until_running only matters to a create: changing it changes
	// nothing of a machine that is there.
	if t := r.conn.TypeSetting; t != "" && (plan[t] == nil || plan[t].IsUnknown()) {
		plan[t] = state[t]
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, nil)...)
	r.writeValues(ctx, &resp.State, plan, &resp.Diagnostics)
}

func (r *instanceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx, cancel, v, conn := r.begin(ctx, req.State, opDelete, defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	id := v.str(attrID)
	err := r.retry(ctx, "delete the machine", func(ctx context.Context) error { return conn.Delete(ctx, id) })
	if err != nil && !connectors.IsNotFound(err) {
		r.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot delete machine %s on %s", id, r.conn.Title),
			fmt.Sprintf("%s (%s of deployment %s)", id, v.instance(), v.str(attrDeploymentID)),
			fmt.Errorf("%w\n\nThe machine stays in the state; destroy again once the cloud lets it go", err))
	}
}

// ImportState takes the machine's cloud id; Read fills the rest from the
// machine's labels.
func (r *instanceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if strings.TrimSpace(req.ID) == "" || strings.ContainsAny(req.ID, " \t\n") {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("Import a %s machine by its cloud id (%s); got %q.", r.conn.Title, r.conn.IDExample, req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attrID), req.ID)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, []byte("true"))...)
}

// UpgradeState upgrades state from schema version 0, which held the
// user-data the machine was started with (see state_upgrade.go).
func (r *instanceResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return jsonStateUpgrade(upgradeMachineV0)
}

// addInstanceSettings adds the cloud's per-machine settings to a machine
// resource's attributes (instance, pool, image).
// A setting named like one of the resource's own attributes would replace
// it in the schema (Azure's public_ip once shadowed the machine's public
// address): a programming error, caught by every test that builds a
// schema (TestMachineResources_settingsShadowNothing).
func (r *instanceResource) addInstanceSettings(attrs map[string]schema.Attribute) {
	for _, s := range r.conn.Settings {
		if s.Scope != catalog.ScopeInstance {
			continue
		}
		if _, taken := attrs[s.Name]; taken {
			panic(fmt.Sprintf("provider: connector %s's setting %q has the name of one of %s's own attributes; rename the setting in connectors/catalog", r.conn.Name, s.Name, r.conn.Resource))
		}
		attrs[s.Name] = r.settingAttribute(s)
	}
}

// replacedSizing is the generic sizing of the pool and image resources,
// whose machines a change of size replaces: cpu, ram and disk with these
// descriptions.
func replacedSizing(attrs map[string]schema.Attribute, cpu, ram, disk string) {
	attrs[attrCPU] = schema.Int64Attribute{
		Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)},
		PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
		MarkdownDescription: cpu,
	}
	attrs[attrRAM] = schema.Float64Attribute{
		Optional: true, PlanModifiers: []planmodifier.Float64{float64planmodifier.RequiresReplace()},
		MarkdownDescription: ram,
	}
	attrs[attrDisk] = schema.Int64Attribute{
		Optional: true, Validators: []validator.Int64{int64validator.AtLeast(1)},
		PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
		MarkdownDescription: disk,
	}
}

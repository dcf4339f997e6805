package provider

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

var (
	_ resource.Resource                = (*poolResource)(nil)
	_ resource.ResourceWithConfigure   = (*poolResource)(nil)
	_ resource.ResourceWithImportState = (*poolResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*poolResource)(nil)
)

// poolResource is slipstream_<cloud>_pool: all the machines of one node on
// one cloud, as one resource. It is the shape for large nodes: machines are
// started in batches (Connector.CreateBatch: one cloud call for hundreds
// of machines), and the state holds one line per machine (index, id,
// addresses) in one string attribute, where per-instance resources cost
// Terraform a resource each on every plan.
//
// All the machines of a batch get the same user-data, holding a pool token
// instead of an instance's token: once the cloud has named the machines,
// the pool tells the coordinator which machine id is which instance, and
// each machine's agent exchanges the pool token and its machine id (from
// cloud-init) for its own token, learning its instance from the answer.
// The token is made here, sent to the coordinator as a hash, and kept in
// neither state.
//
// It shares the per-instance resource's settings, sizing, retries and
// diagnostics (instance_resource.go), through m.
type poolResource struct {
	m *instanceResource
}

func newPoolResource(conn *catalog.Connector, factory connectors.Factory) resource.Resource {
	return &poolResource{m: &instanceResource{conn: conn, factory: factory, backoff: connectors.DefaultBackoff}}
}

// Attributes of the pool besides those it shares with the instance
// resources (attrDeploymentID, attrNode, attrImageID, sizing, settings).
const (
	attrMultiplicity = "multiplicity"
	attrBatchSize    = "batch_size"
	attrMachines     = "machines"
)

// defaultBatchSize is how many machines one cloud call starts at most.
const defaultBatchSize = 500

// deleteParallelism bounds the machines being deleted at once.
const deleteParallelism = 32

// poolMachine is one machine of the pool, as the state lists it:
// instance Index's entry of machine_ids, private_ips and public_ips.
type poolMachine struct {
	Index     int64
	ID        string
	PrivateIP string
	PublicIP  string
}

func (p *poolMachine) instance(node string) string {
	return node + "." + strconv.FormatInt(p.Index, 10)
}

func (r *poolResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = r.m.conn.PoolResource
}

func (r *poolResource) Configure(ctx context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.m.Configure(ctx, req, resp)
}

func (r *poolResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	conn := r.m.conn
	replaceString := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	attrs := map[string]schema.Attribute{
		attrID: schema.StringAttribute{
			Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "`<deployment_id>/<node>`, the import id.",
		},
		attrDeploymentID: schema.StringAttribute{Required: true, PlanModifiers: replaceString, MarkdownDescription: "The `id` of the `slipstream_deployment`."},
		attrNode:         schema.StringAttribute{Required: true, PlanModifiers: replaceString, MarkdownDescription: "The node whose instances the pool's machines are."},
		attrMultiplicity: schema.Int64Attribute{
			Required: true, Validators: []validator.Int64{int64validator.AtLeast(0)},
			MarkdownDescription: "How many machines the pool runs: instances `<node>.1` … `<node>.<multiplicity>`. Give it the node's multiplicity " +
				"(`slipstream_deployment.<name>.multiplicities[\"<node>\"]`, as slipc does), so the deployment scales first. A change scales the pool in place: " +
				"new machines start for the new instances (the others run their `on_vm_add` hooks), the highest instances' machines are deleted when it shrinks.",
		},
		attrBatchSize: schema.Int64Attribute{
			Optional: true, Computed: true, Default: int64default.StaticInt64(defaultBatchSize),
			Validators:          []validator.Int64{int64validator.Between(1, 10000)},
			MarkdownDescription: fmt.Sprintf("How many machines one call to the cloud starts at most (default %d). Lower it when the account's limits refuse large batches.", defaultBatchSize),
		},
		attrImageID: schema.StringAttribute{
			Required: true, PlanModifiers: replaceString,
			MarkdownDescription: "The image the machines start from (" + conn.ImageHint + "), from the recipe's image `ids`.",
		},
		attrMachines: schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "The pool's machines, one line per instance in instance order: `<index> <machine id> <private address> <public address>`, " +
				"`-` for an address the machine does not have (yet). All the state holds of each machine, as one string: a list of 10,000 objects costs Terraform " +
				"and the plugin framework a few seconds per plan in per-element work, a string nothing. The machines' addresses as the recipe sees them are in " +
				"`slipstream_deployment_ready`'s `outputs` (`hostname`). A machine found terminated, gone or failed is dropped when the pool is read, and the next " +
				"apply starts a new one for its instance.",
		},
		attrTimeouts: timeouts.Attributes(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
	}
	replacedSizing(attrs, "Cores each machine needs (the recipe's generic sizing). "+sizingWord(conn), "Memory each machine needs, in GB.", "Root disk size in GB; by default the image's.")
	r.m.addInstanceSettings(attrs)
	resp.Schema = schema.Schema{
		MarkdownDescription: fmt.Sprintf("All the machines of one node on %s, started as a pool: in batches of up to `batch_size` machines per call to the cloud, "+
			"each machine one instance of the node. For large nodes (slipc chooses it above 20 instances, or with `pool = true` in the node): the state holds one "+
			"line per machine, and a plan costs Terraform one resource, however many machines the node has.\n\n"+
			"All the machines of a batch boot with the same cloud-init user-data, which holds a pool token rather than an instance's: once the cloud has named the machines, "+
			"the pool tells the coordinator which machine is which instance, and each machine's agent trades the pool token and its machine id "+
			"(`%s`, from cloud-init) for a token of its own. The pool token can claim only the machines of its batch, each once; neither it nor the user-data is kept in the state.\n\n"+
			"Changing `multiplicity` scales the pool in place. Reading it refreshes the machines with one listing call; machines found gone are started again by the next apply. "+
			"Machines of the pool that no state knows (left by an interrupted apply) are deleted when the pool next changes, and with it. Changing the image, sizing or settings replaces the pool. "+
			"Import it by `<deployment_id>/<node>`.\n\n"+
			"Cloud-wide settings come from the provider's `%s` block, as for `%s`.",
			conn.Title, bootstrap.MachineIDFile, conn.Name, conn.Resource),
		Attributes: attrs,
	}
}

// objectType is the type of the pool's whole object.
func (r *poolResource) objectType(ctx context.Context) types.ObjectType {
	var s resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &s)
	return s.Schema.Type().(types.ObjectType)
}

func (r *poolResource) write(ctx context.Context, to setter, v values, diags *diag.Diagnostics) {
	writeObject(ctx, r.objectType(ctx), to, v, diags)
}

// machinesOf reads the machines the state lists (see the machines
// attribute: one line per machine).
func machinesOf(_ context.Context, v values, diags *diag.Diagnostics) []poolMachine {
	text, ok := v[attrMachines].(types.String)
	if !ok || text.IsNull() || text.IsUnknown() {
		return nil
	}
	var out []poolMachine
	for _, line := range strings.Split(text.ValueString(), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		index, err := strconv.ParseInt(f[0], 10, 64)
		if len(f) != 4 || err != nil || index < 1 {
			diags.AddError("Invalid pool state", fmt.Sprintf("The pool's machines attribute has the line %q, which is not `<index> <machine id> <private address> <public address>`. This is a bug in the provider or a hand-edited state.", line))
			return nil
		}
		dash := func(s string) string {
			if s == "-" {
				return ""
			}
			return s
		}
		out = append(out, poolMachine{Index: index, ID: f[1], PrivateIP: dash(f[2]), PublicIP: dash(f[3])})
	}
	return out
}

// setMachines records the machines, one line each by instance index.
func setMachines(v values, ms []poolMachine, _ *diag.Diagnostics) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Index < ms[j].Index })
	var b strings.Builder
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %s %s %s\n", m.Index, m.ID, dash(m.PrivateIP), dash(m.PublicIP))
	}
	v[attrMachines] = types.StringValue(b.String())
}

func machineRecord(index int64, m *connectors.Machine) poolMachine {
	return poolMachine{Index: index, ID: m.ID, PrivateIP: m.PrivateIP, PublicIP: m.PublicIP}
}

// ModifyPlan plans an update when the pool lacks machines (some were
// found gone) or has too many, which the configuration alone does not show.
func (r *poolResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var diags diag.Diagnostics
	state := readValues(ctx, req.State, &diags)
	var want types.Int64
	diags.Append(req.Plan.GetAttribute(ctx, path.Root(attrMultiplicity), &want)...)
	if diags.HasError() || state == nil {
		resp.Diagnostics.Append(diags...)
		return
	}
	have := machinesOf(ctx, state, &diags)
	complete := !want.IsUnknown() && int64(len(have)) == want.ValueInt64()
	for _, m := range have {
		complete = complete && m.Index <= want.ValueInt64()
	}
	if !complete {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attrMachines), types.StringUnknown())...)
	}
}

func (r *poolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, cancel, v, conn := r.m.begin(ctx, req.Plan, opCreate, 30*time.Minute, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	deployment, node := v.str(attrDeploymentID), v.str(attrNode)
	v[attrID] = types.StringValue(deployment + "/" + node)
	machines := r.converge(ctx, conn, v, nil, &resp.Diagnostics)
	setMachines(v, machines, &resp.Diagnostics)
	if resp.Diagnostics.HasError() && len(machines) == 0 {
		return
	}
	// Machines the cloud accepted are kept even when the create failed
	// (Terraform then marks the pool tainted), so none is left unknown.
	r.write(ctx, &resp.State, v, &resp.Diagnostics)
}

func (r *poolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx, cancel, v, conn := r.m.begin(ctx, req.Plan, opUpdate, 30*time.Minute, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	state := readValues(ctx, req.State, &resp.Diagnostics)
	if state == nil {
		return
	}
	v[attrID] = state[attrID]
	if r.m.conn.TypeSetting != "" {
		v[r.m.conn.TypeSetting] = state[r.m.conn.TypeSetting]
	}
	machines := r.converge(ctx, conn, v, machinesOf(ctx, state, &resp.Diagnostics), &resp.Diagnostics)
	setMachines(v, machines, &resp.Diagnostics)
	r.write(ctx, &resp.State, v, &resp.Diagnostics)
}

// converge makes the pool's machines instances 1 … multiplicity, from
// have: it deletes the machines of instances above it (and any second
// machine of an instance) and of no state (left by an interrupted
// apply), and starts machines for the instances that have none, in
// batches. It returns the machines the pool has when it stops, which on
// an error may be fewer than asked.
func (r *poolResource) converge(ctx context.Context, conn connectors.Connector, v values, have []poolMachine, diags *diag.Diagnostics) []poolMachine {
	deployment, node, want := v.str(attrDeploymentID), v.str(attrNode), v.int64(attrMultiplicity)
	cl := r.m.cfg.coordinator(deployment, diags)
	if cl == nil {
		return have
	}
	keep := map[int64]poolMachine{}
	var drop []string
	for _, m := range have {
		i := m.Index
		if _, dup := keep[i]; dup || i < 1 || i > want {
			drop = append(drop, m.ID)
			continue
		}
		keep[i] = m
	}
	known := map[string]bool{}
	for _, m := range have {
		known[m.ID] = true
	}
	// Machines of this pool that no state holds.
	list, err := r.listPool(ctx, conn, deployment, node)
	for _, m := range list {
		if !known[m.ID] {
			tflog.Warn(ctx, "deleting a machine of the pool that no state knows (left by an interrupted apply)", map[string]any{"node": node, "machine": m.ID})
			drop = append(drop, m.ID)
		}
	}
	if err != nil {
		r.m.cloudDiag(diags, path.Empty(), fmt.Sprintf("Cannot list the machines of deployment %s on %s", deployment, r.m.conn.Title), node, err)
		return have
	}
	if len(drop) > 0 {
		gone := r.deleteMachines(ctx, conn, drop, diags)
		if len(gone) > 0 {
			if err := cl.RemovePoolMembers(ctx, claimIDs(gone, list)); err != nil && !isNotFound(err) {
				diags.AddWarning("Cannot unregister deleted machines", fmt.Sprintf("Telling the coordinator that %d machines of %s left the pool: %v", len(gone), node, err))
			}
		}
		if diags.HasError() {
			return mapValues(keep)
		}
	}
	if len(missingIndexes(keep, want)) == 0 {
		return mapValues(keep)
	}
	template, ok := r.batchSpec(ctx, conn, cl, v, diags)
	if !ok {
		return mapValues(keep)
	}
	batch := v.int64(attrBatchSize)
	if batch < 1 {
		batch = defaultBatchSize
	}
	started := 0
	for {
		missing := missingIndexes(keep, want)
		if len(missing) == 0 {
			return mapValues(keep)
		}
		indexes := missing[:min(int64(len(missing)), batch)]
		// Each batch has a pool token of its own: it can claim only the
		// machines of its batch.
		spec, token, ok := r.withPoolToken(ctx, cl, template, v, diags)
		if !ok {
			return mapValues(keep)
		}
		begun := time.Now()
		var ms []*connectors.Machine
		err := r.m.retry(ctx, "start a batch of machines", func(ctx context.Context) error {
			// Not cancelled by an interrupt once sent (createCallTimeout):
			// the machines the cloud accepts are recorded.
			callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createCallTimeout)
			defer cancel()
			got, err := conn.CreateBatch(callCtx, spec, len(indexes))
			ms = got
			if len(got) > 0 {
				// Accepted, at least in part: what is missing is asked
				// for by the next batch, not by a retry of this call.
				return nil
			}
			return err
		})
		members := map[string]string{}
		for i, m := range ms {
			if i < len(indexes) && m != nil && m.ID != "" {
				keep[indexes[i]] = machineRecord(indexes[i], m)
				// Keyed by what the machine's cloud-init knows it by,
				// which its agent claims the instance with (Azure: the
				// vmId, not the resource id).
				members[claimID(m)] = fmt.Sprintf("%s.%d", node, indexes[i])
			}
		}
		started += len(members)
		if len(members) > 0 {
			// Not cut short by an interrupt either: machines the cloud
			// accepted are registered, so their agents can claim them.
			regCtx, regCancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			err := cl.SetPoolMembers(regCtx, token, members)
			regCancel()
			if err != nil {
				diags.AddError("Cannot register the pool's machines", fmt.Sprintf("Telling the coordinator which of the %d new machines of %s is which instance: %v. "+
					"They are kept in the state, and their agents wait for the registration; apply again.", len(members), node, err))
				return mapValues(keep)
			}
			tflog.Info(ctx, "machines accepted", map[string]any{"node": node, "machines": len(members), "cloud": r.m.conn.Name, "ms": time.Since(begun).Milliseconds()})
		}
		if err == nil && len(members) == 0 {
			err = fmt.Errorf("the cloud accepted the call but started none of the %d machines", len(indexes))
		}
		if err != nil {
			r.m.cloudDiag(diags, path.Empty(), fmt.Sprintf("Cannot start the machines of %s on %s", node, r.m.conn.Title), node,
				fmt.Errorf("%w\n\n%d machines were started before this and are kept in the state; the next apply starts the other %d", err, started, len(missingIndexes(keep, want))))
			return mapValues(keep)
		}
	}
}

// missingIndexes lists the instances 1 … want that have no machine.
func missingIndexes(keep map[int64]poolMachine, want int64) []int64 {
	var out []int64
	for i := int64(1); i <= want; i++ {
		if _, ok := keep[i]; !ok {
			out = append(out, i)
		}
	}
	return out
}

// batchSpec is what every machine of the pool is started from: the
// pool's bootstrap with the placeholder token (the spec hashed with it),
// and labels that say whose pool the machine is.
func (r *poolResource) batchSpec(ctx context.Context, conn connectors.Connector, cl *client.Client, v values, diags *diag.Diagnostics) (connectors.MachineSpec, bool) {
	deployment, node := v.str(attrDeploymentID), v.str(attrNode)
	userData, err := r.m.cfg.machineBootstrap(ctx, cl, userDataBootstrap, node, "")
	if err != nil {
		diags.AddError("Cannot render the pool's user-data", fmt.Sprintf("Node %s of deployment %s: %v", node, deployment, err))
		return connectors.MachineSpec{}, false
	}
	spec, ok := r.m.machineSpec(ctx, conn, v, "", userData, diags)
	if ok && r.m.conn.TypeSetting != "" && spec.Type != "" {
		v[r.m.conn.TypeSetting] = types.StringValue(spec.Type)
	}
	return spec, ok
}

// withPoolToken registers a new pool token for a batch and returns the
// spec with it in the user-data, and the token's hash.
func (r *poolResource) withPoolToken(ctx context.Context, cl *client.Client, template connectors.MachineSpec, v values, diags *diag.Diagnostics) (connectors.MachineSpec, string, bool) {
	deployment, node := v.str(attrDeploymentID), v.str(attrNode)
	spec := template
	token, hash := client.NewToken()
	if err := cl.RegisterPool(ctx, node, hash); err != nil {
		diags.AddError("Cannot register the pool token", fmt.Sprintf("Node %s of deployment %s: %v", node, deployment, err))
		return spec, "", false
	}
	var err error
	if spec.UserData, err = bootstrap.WithToken(template.UserData, token); err != nil {
		diags.AddError("Cannot render the pool's user-data", err.Error())
		return spec, "", false
	}
	return spec, hash, true
}

// claimID is what a pool machine's agent claims its instance with, and so
// the coordinator knows it by: cloud-init's instance-id, which is the
// machine's id except where the cloud says otherwise (Azure's vmId).
func claimID(m *connectors.Machine) string { return cmp.Or(m.InstanceID, m.ID) }

// claimIDs are the claim ids of the machines with these ids, as listed
// (a machine not in the listing by its id, the claim id of most clouds).
func claimIDs(ids []string, listed []*connectors.Machine) []string {
	byID := make(map[string]string, len(listed))
	for _, m := range listed {
		byID[m.ID] = claimID(m)
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = cmp.Or(byID[id], id)
	}
	return out
}

// listPool lists the live machines of the pool of node, with the cloud's
// transient refusals retried: one listing of the deployment's machines.
func (r *poolResource) listPool(ctx context.Context, conn connectors.Connector, deployment, node string) ([]*connectors.Machine, error) {
	var out []*connectors.Machine
	err := r.m.retry(ctx, "list the pool's machines", func(ctx context.Context) error {
		list, err := conn.List(ctx, deployment)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, m := range list {
			if m.Labels[connectors.LabelPool] == node {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// deleteMachines deletes machines, deleteParallelism at a time, and
// returns those it deleted.
func (r *poolResource) deleteMachines(ctx context.Context, conn connectors.Connector, ids []string, diags *diag.Diagnostics) []string {
	var mu sync.Mutex
	var gone, failed []string
	var firstErr error
	sem := make(chan struct{}, deleteParallelism)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := r.m.retry(ctx, "delete a machine", func(ctx context.Context) error { return conn.Delete(ctx, id) })
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !connectors.IsNotFound(err) {
				failed = append(failed, id)
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			gone = append(gone, id)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		sort.Strings(failed)
		r.m.cloudDiag(diags, path.Empty(), fmt.Sprintf("Cannot delete %d machines on %s", len(failed), r.m.conn.Title), strings.Join(failed, ", "), firstErr)
	}
	return gone
}

func mapValues(m map[int64]poolMachine) []poolMachine {
	out := make([]poolMachine, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Read refreshes the machines with one listing of the deployment's
// machines: those found gone, terminated or failed are dropped (the next
// plan starts new ones). An import finds the pool's machines by their
// label, and which instance each is from the coordinator.
func (r *poolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx, cancel, v, conn := r.m.begin(ctx, req.State, opRead, defaultReadTimeout, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	deployment, node := v.str(attrDeploymentID), v.str(attrNode)
	list, err := r.listPool(ctx, conn, deployment, node)
	if err != nil {
		r.m.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot read the machines of %s on %s", node, r.m.conn.Title), node, err)
		return
	}
	byID := map[string]*connectors.Machine{}
	for _, m := range list {
		byID[m.ID] = m
	}
	var have []poolMachine
	if isImport(v) {
		have = r.imported(ctx, v, byID, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	} else {
		have = machinesOf(ctx, v, &resp.Diagnostics)
	}
	var kept []poolMachine
	for _, pm := range have {
		m, ok := byID[pm.ID]
		if !ok || !m.State.Alive() {
			tflog.Warn(ctx, "a machine of the pool is gone; the next apply starts a new one", map[string]any{"instance": pm.instance(node), "machine": pm.ID})
			continue
		}
		kept = append(kept, machineRecord(pm.Index, m))
		if r.m.conn.TypeSetting != "" && m.Type != "" {
			v[r.m.conn.TypeSetting] = types.StringValue(m.Type)
		}
	}
	setMachines(v, kept, &resp.Diagnostics)
	r.write(ctx, &resp.State, v, &resp.Diagnostics)
}

// isImport tells the state an import left: its id, deployment and node,
// and no multiplicity yet.
func isImport(v values) bool {
	n, ok := v[attrMultiplicity].(types.Int64)
	return !ok || n.IsNull()
}

// ImportState takes `<deployment_id>/<node>`.
func (r *poolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	deployment, node, ok := strings.Cut(req.ID, "/")
	if !ok || deployment == "" || node == "" || strings.Contains(node, "/") {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("Import a pool by `<deployment_id>/<node>` (e.g. `shop-1a2b3c4d/web`); got %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attrID), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attrDeploymentID), deployment)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attrNode), node)...)
}

// imported rebuilds an imported pool: its machines, which instance each
// is (the coordinator's members), its multiplicity and batch size.
func (r *poolResource) imported(ctx context.Context, v values, byID map[string]*connectors.Machine, diags *diag.Diagnostics) []poolMachine {
	id := v.str(attrID)
	deployment, node, _ := strings.Cut(id, "/")
	v[attrDeploymentID], v[attrNode] = types.StringValue(deployment), types.StringValue(node)
	v[attrBatchSize] = types.Int64Value(defaultBatchSize)
	cl := r.m.cfg.coordinator(deployment, diags)
	if cl == nil {
		return nil
	}
	members, err := cl.PoolMembers(ctx, node)
	if err != nil {
		diags.AddError("Cannot import the pool", fmt.Sprintf("Reading which machine is which instance of %s from the coordinator: %v", node, err))
		return nil
	}
	byClaim := make(map[string]*connectors.Machine, len(byID))
	for _, m := range byID {
		byClaim[claimID(m)] = m
	}
	var out []poolMachine
	for machine, inst := range members {
		_, idx, _ := strings.Cut(inst, ".")
		i, err := strconv.ParseInt(idx, 10, 64)
		if m, ok := byClaim[machine]; ok && err == nil {
			out = append(out, machineRecord(i, m))
			if v.str(attrImageID) == "" && m.ImageID != "" {
				v[attrImageID] = types.StringValue(m.ImageID)
			}
		}
	}
	v[attrMultiplicity] = types.Int64Value(int64(len(out)))
	return out
}

func (r *poolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx, cancel, v, conn := r.m.begin(ctx, req.State, opDelete, defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	deployment, node := v.str(attrDeploymentID), v.str(attrNode)
	ids := map[string]bool{}
	for _, m := range machinesOf(ctx, v, &resp.Diagnostics) {
		ids[m.ID] = true
	}
	// And any machine of the pool an interrupted apply left.
	found, err := r.listPool(ctx, conn, deployment, node)
	for _, m := range found {
		ids[m.ID] = true
	}
	if err != nil {
		r.m.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot list the machines of %s on %s", node, r.m.conn.Title), node, err)
		return
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	gone := r.deleteMachines(ctx, conn, list, &resp.Diagnostics)
	if cl := r.m.cfg.coordinator(deployment, &diag.Diagnostics{}); cl != nil && len(gone) > 0 {
		if err := cl.RemovePoolMembers(ctx, claimIDs(gone, found)); err != nil && !isNotFound(err) {
			tflog.Warn(ctx, "cannot unregister the pool's deleted machines", map[string]any{"node": node, "error": err.Error()})
		}
	}
	if resp.Diagnostics.HasError() {
		// What was deleted leaves the state; the rest is tried again.
		left := []poolMachine{}
		goneSet := map[string]bool{}
		for _, id := range gone {
			goneSet[id] = true
		}
		for _, m := range machinesOf(ctx, v, &resp.Diagnostics) {
			if !goneSet[m.ID] {
				left = append(left, m)
			}
		}
		setMachines(v, left, &resp.Diagnostics)
		r.write(ctx, &resp.State, v, &resp.Diagnostics)
	}
}

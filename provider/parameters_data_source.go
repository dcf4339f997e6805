package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/datasource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

var _ datasource.DataSourceWithConfigure = (*parametersDataSource)(nil)

// NewParametersDataSource is the slipstream_parameters data source: one
// runtime parameter of a deployment's instances, by instance and in index
// order.
func NewParametersDataSource() datasource.DataSource { return &parametersDataSource{} }

type parametersDataSource struct{ cfg *Config }

type parametersDataSourceModel struct {
	DeploymentID types.String      `tfsdk:"deployment_id"`
	Name         types.String      `tfsdk:"name"`
	Node         types.String      `tfsdk:"node"`
	Values       map[string]string `tfsdk:"values"`
	List         []string          `tfsdk:"list"`
	Timeouts     timeouts.Value    `tfsdk:"timeouts"`
}

// As the coordinator names parameters and nodes (coordination/coordinator).
var (
	paramNameRE = regexp.MustCompile(`^\w[\w.-]*$`)
	nodeNameRE  = regexp.MustCompile(`^\w+$`)
)

func (d *parametersDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_parameters"
}

func (d *parametersDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "One runtime parameter of a deployment's instances (every `url.service` of node `web`, say): by instance in `values`, " +
			"and in node and index order in `list`, so `join(\",\", data.slipstream_parameters.web_urls.list)` is the web servers' URLs in order. " +
			"Only instances that have set it are there.\n\n" +
			"Sensitive parameters are never read into it (a data source is kept in the state): when `name` is sensitive on a node, that node's " +
			"instances are left out, with a warning. Read such a value with the ephemeral resource `slipstream_parameter`, whose value is never stored.",
		Attributes: map[string]schema.Attribute{
			"deployment_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The deployment's id at the coordinator: the `id` of its `slipstream_deployment` (or of the `slipstream_deployment` data source).",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The parameter's name, without instance: `url.service`, `hostname`, or an output the node's component declares. " +
					"A name no node (of `node`, when given) declares, and that is not one every instance has (`hostname`, `addresses`, `url.service`, …), is an error.",
				Validators: []validator.String{stringvalidator.RegexMatches(paramNameRE,
					"must be a parameter name such as url.service (letters, digits, _, . and -), without the instance: choose the node with node")},
			},
			"node": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Only this node's instances (`web`). Without it, every node's, node by node in name order. A node the deployment does not have is an error.",
				Validators:          []validator.String{stringvalidator.RegexMatches(nodeNameRE, "must be a node name (letters, digits and _)")},
			},
			"values": schema.MapAttribute{
				Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The parameter's value by instance (`values[\"web.1\"]`), for the instances that have set it.",
			},
			"list": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The same values in node order (by name), then in index order (`web.2` before `web.10`). " +
					"An instance that has not set it yet has no element: with `node` and every instance set, `list[0]` is instance 1's.",
			},
			"timeouts": timeouts.Attributes(ctx),
		},
	}
}

func (d *parametersDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

func (d *parametersDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m parametersDataSourceModel
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
	id, name := m.DeploymentID.ValueString(), m.Name.ValueString()
	cl := d.cfg.coordinator(id, &resp.Diagnostics)
	if cl == nil {
		return
	}
	run := readRun(ctx, d.cfg, cl, path.Root("deployment_id"), limit, &resp.Diagnostics)
	if run == nil {
		return
	}
	spec := &run.Deployment

	// The nodes asked for, in name order, and which of them have the
	// parameter, and have it sensitive.
	all := sortedNodeNames(spec)
	nodes := all
	if node := m.Node.ValueString(); node != "" {
		if spec.Nodes[node] == nil {
			resp.Diagnostics.AddAttributeError(path.Root("node"), "Unknown node",
				fmt.Sprintf("Deployment %s has no node %q; its nodes are: %s.", id, node, orNone(all)))
			return
		}
		nodes = []string{node}
	}
	var public, sensitive []string
	for _, node := range nodes {
		if _, declared := spec.Nodes[node].Params[name]; !declared && !coordinator.Builtin(name) {
			continue
		}
		if spec.ParamSensitive(node, name) {
			sensitive = append(sensitive, node)
		} else {
			public = append(public, node)
		}
	}
	if len(public)+len(sensitive) == 0 {
		declares := "its component does not declare it"
		if len(nodes) != 1 {
			declares = "none of their components declares it"
		}
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Unknown parameter",
			fmt.Sprintf("The instances of %s of deployment %s have no parameter %q: %s, and it is not one every instance has "+
				"(hostname, addresses, url.service, url.ssh, instanceid, …). Deployment-wide and node-wide keys (ss:state, web:ids) are in the "+
				"slipstream_deployment data source's parameters.", nodesPhrase(nodes), id, name, declares))
		return
	}
	if len(sensitive) > 0 {
		left := "values and list are empty"
		if len(public) > 0 {
			left = "values and list hold the instances of " + nodesPhrase(public) + " only"
		}
		resp.Diagnostics.AddAttributeWarning(path.Root("name"), "Sensitive parameter left out",
			fmt.Sprintf("%s is sensitive on %s of deployment %s, so this data source does not read it there (%s): a data source is kept in the state. "+
				"Read it where it is needed with the ephemeral resource slipstream_parameter, whose value is never stored:\n\n"+
				"  ephemeral \"slipstream_parameter\" %q {\n    deployment_id = %q\n    key           = \"%s.1:%s\"\n  }",
				name, nodesPhrase(sensitive), id, left, tfIdent(sensitive[0]+"_"+name), id, sensitive[0], name))
	}

	m.Values, m.List = map[string]string{}, []string{}
	if len(public) > 0 {
		params, err := publicParameters(ctx, cl, spec)
		if err != nil {
			readError(ctx, d.cfg, id, path.Root("deployment_id"), limit, fmt.Errorf("reading its runtime parameters: %w", err), &resp.Diagnostics)
			return
		}
		for _, node := range public {
			for i := 1; i <= spec.Nodes[node].Multiplicity; i++ {
				inst := node + "." + strconv.Itoa(i)
				if v, ok := params[inst+":"+name]; ok {
					m.Values[inst] = v
					m.List = append(m.List, v)
				}
			}
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// sortedNodeNames is the deployment's nodes, sorted by name.
func sortedNodeNames(spec *coordinator.Deployment) []string {
	names := make([]string, 0, len(spec.Nodes))
	for name := range spec.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// nodesPhrase names nodes for a diagnostic: "node web", "nodes db, web".
func nodesPhrase(nodes []string) string {
	if len(nodes) == 1 {
		return "node " + nodes[0]
	}
	return "nodes " + orNone(nodes)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

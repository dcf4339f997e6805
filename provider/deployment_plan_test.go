package provider

import (
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// planModel is a two-node deployment as a plan or state holds it.
func planModel() *deploymentModel {
	str := types.StringValue
	return &deploymentModel{
		ID: str("lamp-1"), Name: str("lamp"), KeepRunning: str("on-success"),
		Components: map[string]componentModel{
			"db": {
				Image:      &imageModel{Chain: []types.String{str("debian"), str("db")}, LoginUser: str("root"), Platform: str("debian"), Packages: []types.String{str("mariadb-server")}},
				Parameters: map[string]parameterModel{"password": {Description: str("generated"), Output: types.BoolValue(true), Sensitive: types.BoolValue(true)}},
				Scripts:    map[string][]types.String{"deploy": {str("ss-random password")}},
			},
			"web_v1": {Scripts: map[string][]types.String{"deploy": {str("echo v1")}}, Parameters: map[string]parameterModel{"db_password": {Sensitive: types.BoolValue(true)}}},
			"web_v2": {Scripts: map[string][]types.String{"deploy": {str("echo v2")}}, Parameters: map[string]parameterModel{"db_password": {Sensitive: types.BoolValue(true)}}},
		},
		Nodes: map[string]nodeModel{
			"db":  {Component: str("db"), Cloud: str("lab"), Connector: str("fixed"), Multiplicity: types.Int64Value(1)},
			"web": {Component: str("web_v1"), Cloud: str("lab"), Connector: str("fixed"), Multiplicity: types.Int64Value(2), Mappings: map[string]types.String{"db_password": str("db:password")}},
		},
		State: str("Ready"), Abort: str(""),
	}
}

// TestDecide: which configuration changes replace the deployment, which
// scale it, and which change it in place.
func TestDecide(t *testing.T) {
	node := func(m *deploymentModel, name string, f func(*nodeModel)) {
		n := m.Nodes[name]
		f(&n)
		m.Nodes[name] = n
	}
	comp := func(m *deploymentModel, name string, f func(*componentModel)) {
		c := m.Components[name]
		f(&c)
		m.Components[name] = c
	}
	for _, tc := range []struct {
		name     string
		state    func(*deploymentModel)
		plan     func(*deploymentModel)
		unknowns unknowns
		replace  path.Paths
		scale    bool
		settings bool
		ended    bool
	}{
		{name: "nothing changes"},
		{name: "multiplicity", plan: func(m *deploymentModel) { node(m, "web", func(n *nodeModel) { n.Multiplicity = types.Int64Value(5) }) }, scale: true, settings: false},
		{name: "unknown multiplicity scales", plan: func(m *deploymentModel) { node(m, "web", func(n *nodeModel) { n.Multiplicity = types.Int64Unknown() }) }, scale: true},
		{name: "component change with an unknown multiplicity replaces",
			plan: func(m *deploymentModel) {
				node(m, "web", func(n *nodeModel) { n.Multiplicity = types.Int64Unknown(); n.Component = types.StringValue("web_v2") })
			},
			replace: path.Paths{path.Root("nodes")}},
		{name: "component change replaces", plan: func(m *deploymentModel) {
			node(m, "web", func(n *nodeModel) { n.Component = types.StringValue("web_v2") })
		}, replace: path.Paths{path.Root("nodes")}},
		{name: "script change replaces", plan: func(m *deploymentModel) {
			comp(m, "db", func(c *componentModel) { c.Scripts = map[string][]types.String{"deploy": {types.StringValue("true")}} })
		}, replace: path.Paths{path.Root("components")}},
		{name: "package change replaces", plan: func(m *deploymentModel) {
			comp(m, "db", func(c *componentModel) { img := *c.Image; img.Packages = nil; c.Image = &img })
		}, replace: path.Paths{path.Root("components")}},
		{name: "sensitivity change replaces", plan: func(m *deploymentModel) {
			comp(m, "db", func(c *componentModel) {
				c.Parameters = map[string]parameterModel{"password": {Output: types.BoolValue(true), Sensitive: types.BoolValue(false)}}
			})
		}, replace: path.Paths{path.Root("components")}},
		{name: "mapping change replaces", plan: func(m *deploymentModel) { node(m, "web", func(n *nodeModel) { n.Mappings = nil }) }, replace: path.Paths{path.Root("nodes")}},
		{name: "input change replaces", plan: func(m *deploymentModel) {
			node(m, "db", func(n *nodeModel) { n.Inputs = map[string]types.String{"port": types.StringValue("1")} })
		}, replace: path.Paths{path.Root("nodes")}},
		{name: "description, chain, platform and login user change in place", plan: func(m *deploymentModel) {
			comp(m, "db", func(c *componentModel) {
				img := *c.Image
				img.Chain, img.Platform, img.LoginUser = []types.String{types.StringValue("ubuntu"), types.StringValue("db")}, types.StringValue("ubuntu"), types.StringValue("admin")
				c.Image = &img
				c.Parameters = map[string]parameterModel{"password": {Description: types.StringValue("new words"), Output: types.BoolValue(true), Sensitive: types.BoolValue(true)}}
			})
		}, settings: true},
		{name: "keep_running changes in place", plan: func(m *deploymentModel) { m.KeepRunning = types.StringValue("never") }, settings: true},
		{name: "max_provisioning_failures changes in place", plan: func(m *deploymentModel) {
			node(m, "web", func(n *nodeModel) { n.MaxProvisioningFailures = types.Int64Value(1) })
		}, settings: true},
		{name: "cloud and connector change in place", plan: func(m *deploymentModel) {
			node(m, "web", func(n *nodeModel) { n.Cloud = types.StringValue("lab2") })
		}, settings: true},
		{name: "a node added replaces", plan: func(m *deploymentModel) {
			m.Nodes["lb"] = nodeModel{Component: types.StringValue("web_v1"), Multiplicity: types.Int64Value(1)}
		}, replace: path.Paths{path.Root("nodes")}},
		{name: "unknown component scripts replace", unknowns: unknowns{components: true}, replace: path.Paths{path.Root("components")}},
		{name: "unknown node attribute replaces", unknowns: unknowns{nodes: map[string]bool{"web": true}}, replace: path.Paths{path.Root("nodes").AtMapKey("web")}},
		{name: "a scale read back after an interrupted apply is no change",
			state: func(m *deploymentModel) {
				node(m, "web", func(n *nodeModel) { n.Multiplicity = types.Int64Value(4) })
			},
			plan: func(m *deploymentModel) { node(m, "web", func(n *nodeModel) { n.Multiplicity = types.Int64Value(4) }) }},
		{name: "a run ended by an abort is replaced",
			state: func(m *deploymentModel) {
				m.State, m.Abort = types.StringValue("Done"), types.StringValue("web.1: boom")
			},
			ended: true},
		{name: "an aborted run kept up is not replaced",
			state: func(m *deploymentModel) {
				m.KeepRunning, m.State, m.Abort = types.StringValue("always"), types.StringValue("Executing"), types.StringValue("web.1: boom")
			},
			plan: func(m *deploymentModel) { m.KeepRunning = types.StringValue("always") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, plan := planModel(), planModel()
			if tc.state != nil {
				tc.state(state)
			}
			if tc.plan != nil {
				tc.plan(plan)
			}
			d := decide(state, plan, tc.unknowns)
			if !slices.EqualFunc(d.replace, tc.replace, func(a, b path.Path) bool { return a.Equal(b) }) {
				t.Errorf("replace %v, want %v", d.replace, tc.replace)
			}
			if len(tc.replace) > 0 {
				return
			}
			if d.scale != tc.scale || d.settings != tc.settings || (d.ended != "") != tc.ended {
				t.Errorf("decision %+v, want scale %v settings %v ended %v", d, tc.scale, tc.settings, tc.ended)
			}
		})
	}
}

func TestTFIdent(t *testing.T) {
	for in, want := range map[string]string{"lamp": "lamp", "my.app-2": "my_app-2", "9lives": "n_9lives"} {
		if got := tfIdent(in); got != want {
			t.Errorf("tfIdent(%q) = %q, want %q", in, got, want)
		}
	}
}

package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

// TestDataSourceSchemas: every data source's schema is valid for the
// framework and documents every attribute, nested ones included
// (tfplugindocs renders these descriptions into docs/).
func TestDataSourceSchemas(t *testing.T) {
	ctx := context.Background()
	names := map[string]bool{}
	for _, newDataSource := range New("test")().DataSources(ctx) {
		d := newDataSource()
		var meta datasource.MetadataResponse
		d.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "slipstream"}, &meta)
		names[meta.TypeName] = true
		var resp datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &resp)
		if resp.Diagnostics.HasError() {
			t.Fatalf("%s: %v", meta.TypeName, resp.Diagnostics)
		}
		if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Errorf("%s: %v", meta.TypeName, diags)
		}
		if resp.Schema.MarkdownDescription == "" {
			t.Errorf("%s has no description", meta.TypeName)
		}
		checkDataSourceDescribed(t, meta.TypeName, resp.Schema.Attributes)
	}
	for _, want := range []string{"slipstream_deployment", "slipstream_parameters"} {
		if !names[want] {
			t.Errorf("the provider serves no %s data source (it has %v)", want, names)
		}
	}
}

func checkDataSourceDescribed(t *testing.T, where string, attrs map[string]dschema.Attribute) {
	for name, a := range attrs {
		if name == "timeouts" {
			continue // described by terraform-plugin-framework-timeouts
		}
		if a.GetMarkdownDescription() == "" {
			t.Errorf("%s.%s has no description", where, name)
		}
		if n, ok := a.(dschema.ListNestedAttribute); ok {
			checkDataSourceDescribed(t, where+"."+name, n.NestedObject.Attributes)
		}
	}
}

// TestAccDeploymentDataSource_readsRun: the lamp deployment, run to Ready
// by its agents, read by id as another configuration would: its name,
// state, nodes, instances (in node and index order, with the address each
// agent published) and its parameters, without the database password or
// the web servers' copies of it.
func TestAccDeploymentDataSource_readsRun(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	urlRE := regexp.MustCompile(`^http://[0-9a-f.:]+/\?len=20$`)
	host := knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f.:]+$`))
	instance := func(name, node string, index int64) knownvalue.Check {
		return knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"name": knownvalue.StringExact(name), "node": knownvalue.StringExact(node), "index": knownvalue.Int64Exact(index),
			"state": knownvalue.StringExact(coordinator.InstanceReady), "hostname": host,
		})
	}
	config := lampConfig(coord.URL, 2, webDeploy) + `
data "slipstream_deployment" "lamp" {
  id         = slipstream_deployment.lamp.id
  depends_on = [slipstream_deployment_ready.lamp]
}
`
	const ds = "data.slipstream_deployment.lamp"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.CompareValuePairs(ds, tfjsonpath.New("id"), "slipstream_deployment.lamp", tfjsonpath.New("id"), compare.ValuesSame()),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("name"), knownvalue.StringExact("lamp")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("aborted"), knownvalue.Bool(false)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("abort"), knownvalue.StringExact("")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("multiplicities"),
					knownvalue.MapExact(map[string]knownvalue.Check{"db": knownvalue.Int64Exact(1), "web": knownvalue.Int64Exact(2)})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("instances"),
					knownvalue.ListExact([]knownvalue.Check{instance("db.1", "db", 1), instance("web.1", "web", 1), instance("web.2", "web", 2)})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("parameters"), knownvalue.MapPartial(map[string]knownvalue.Check{
					"web.1:url": knownvalue.StringRegexp(urlRE), "web.2:url": knownvalue.StringRegexp(urlRE),
					"db.1:hostname": host, "ss:state": knownvalue.StringExact("Ready"),
				})),
				expectNoKeys(ds, "parameters", "db.1:password", "web.1:db_password", "web.2:db_password"),
			},
		}},
	})
}

// TestAccDeploymentDataSource_unknownDeployment: an id the coordinator
// does not know is an error that names it.
func TestAccDeploymentDataSource_unknownDeployment(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{{
			Config:      providerBlock(coord.URL) + `data "slipstream_deployment" "x" { id = "nowhere-0badc0de" }`,
			ExpectError: regexp.MustCompile(`(?s)Deployment not found.*"nowhere-0badc0de"`),
		}},
	})
}

// TestAccDeploymentDataSource_sensitiveExcluded: a deployment another
// configuration registered, whose agents published a password (sensitive)
// beside plain values: the plain values and the instances' addresses are
// read, and the password is nowhere in the state, not even as the copy
// its mapping gave the web servers.
func TestAccDeploymentDataSource_sensitiveExcluded(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	shop := seedShop(t, coord.URL)
	const ds = "data.slipstream_deployment.shop"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{{
			Config: providerBlock(coord.URL) + fmt.Sprintf("data \"slipstream_deployment\" \"shop\" {\n  id = %q\n}\n", shop.id),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("name"), knownvalue.StringExact("shop")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("state"), knownvalue.StringExact(coordinator.Initializing)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("multiplicities"),
					knownvalue.MapExact(map[string]knownvalue.Check{"db": knownvalue.Int64Exact(1), "web": knownvalue.Int64Exact(shopWebs)})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("instances").AtSliceIndex(0), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"name": knownvalue.StringExact("db.1"), "node": knownvalue.StringExact("db"), "index": knownvalue.Int64Exact(1),
					"state": knownvalue.StringExact(coordinator.InstanceWorking), "hostname": knownvalue.StringExact("10.0.1.1"),
					"addresses": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("10.0.1.1"), knownvalue.StringExact("fd00::1:1")}),
				})),
				// web.10 after web.9; web.7 has no address yet.
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("instances").AtSliceIndex(10).AtMapKey("name"), knownvalue.StringExact("web.10")),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("instances").AtSliceIndex(7).AtMapKey("hostname"), knownvalue.Null()),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("instances").AtSliceIndex(7).AtMapKey("addresses"), knownvalue.ListExact([]knownvalue.Check{})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("parameters"), knownvalue.MapPartial(map[string]knownvalue.Check{
					"db.1:port": knownvalue.StringExact("5432"), "web.1:url.service": knownvalue.StringExact("http://10.0.2.1:8080/"),
				})),
				expectNoKeys(ds, "parameters", "db.1:password", "web.1:db_password"),
				notInState{shop.secret},
			},
		}},
	})
}

// TestAccDeploymentDataSource_aborted: a run an instance aborted reads as
// aborted, with the message naming the instance.
func TestAccDeploymentDataSource_aborted(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	shop := seedShop(t, coord.URL)
	config := providerBlock(coord.URL) + fmt.Sprintf("data \"slipstream_deployment\" \"shop\" {\n  id = %q\n}\n", shop.id)
	const ds = "data.slipstream_deployment.shop"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(ds, tfjsonpath.New("aborted"), knownvalue.Bool(false))},
			},
			{
				PreConfig: func() {
					if err := shop.agents["web.3"].Abort(context.Background(), "cannot reach the package mirror", false); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("aborted"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("abort"), knownvalue.StringExact("web.3: cannot reach the package mirror")),
					statecheck.ExpectKnownValue(ds, tfjsonpath.New("instances").AtSliceIndex(3).AtMapKey("state"), knownvalue.StringExact(coordinator.InstanceAborted)),
				},
			},
		},
	})
}

// TestAccDeploymentDataSource_coordinatorDown: a coordinator nobody
// answers at fails the read once the provider's retry_timeout has passed,
// with an error naming the coordinator.
func TestAccDeploymentDataSource_coordinatorDown(t *testing.T) {
	accPreCheck(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more
	config := strings.Replace(providerBlock(url), "}\n", "  retry_timeout = \"2s\"\n}\n", 1) +
		`data "slipstream_deployment" "x" { id = "shop-0badc0de" }`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Cannot read the deployment.*shop-0badc0de.*unreachable`),
		}},
	})
}

// startBareCoordinator is startTestCoordinator without the agent binaries
// (so without building the agent): for tests whose agents are played by
// the test itself (seedShop), or that have none.
func startBareCoordinator(t *testing.T) *testCoordinator {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "coordinator.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	h, err := api.New(c, api.Options{AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	return &testCoordinator{URL: srv.URL, coord: c, srv: srv, h: h}
}

// shopWebs is how many web servers the shop has: more than 9, so that
// index order (web.9, web.10) differs from the order of the names.
const shopWebs = 11

// shop is a deployment registered as another configuration's
// slipstream_deployment registers it, with its agents' clients.
type shop struct {
	id     string
	secret string // the database password: sensitive
	agents map[string]*client.Client
}

// seedShop registers the shop deployment, a database and shopWebs web
// servers whose db_password is mapped from the database's password, and
// plays its agents: each exchanges its bootstrap token and publishes what
// a machine does (hostname, addresses, url.service; the database its
// port and a random password). web.7 has published nothing yet.
func seedShop(t *testing.T, url string) *shop {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := make([]byte, 12)
	rand.Read(b)
	s := &shop{id: "shop-" + hex.EncodeToString(b[:4]), secret: "pw-" + hex.EncodeToString(b[4:]), agents: map[string]*client.Client{}}
	meta, err := json.Marshal(deploymentMeta{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	spec := &coordinator.Deployment{ID: s.id, Meta: meta, Nodes: map[string]*coordinator.Node{
		"db": {Multiplicity: 1, Params: map[string]coordinator.Param{
			"password": {Output: true, Sensitive: true}, "port": {Output: true},
		}},
		"web": {Multiplicity: shopWebs, Params: map[string]coordinator.Param{
			"db_password": {}, // sensitive through its mapping
		}, Mappings: map[string]string{"db_password": "db:password"}},
	}}
	admin := &client.Client{BaseURL: url, Deployment: s.id, Token: testAdminToken}
	if err := admin.RegisterDeployment(ctx, spec); err != nil {
		t.Fatal(err)
	}
	instances := []string{"db.1"}
	for i := 1; i <= shopWebs; i++ {
		instances = append(instances, fmt.Sprintf("web.%d", i))
	}
	tokens, err := admin.ReissueTokens(ctx, instances)
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range instances {
		own, hash := client.NewToken()
		c := &client.Client{BaseURL: url, Deployment: s.id, Token: tokens[inst]}
		if _, err := c.Exchange(ctx, hash); err != nil {
			t.Fatalf("%s: exchanging its token: %v", inst, err)
		}
		c.Token = own
		s.agents[inst] = c
	}
	set := func(inst string, kv ...string) {
		for i := 0; i < len(kv); i += 2 {
			if err := s.agents[inst].Set(ctx, kv[i], kv[i+1], false); err != nil {
				t.Fatalf("%s: setting %s: %v", inst, kv[i], err)
			}
		}
	}
	set("db.1", "hostname", "10.0.1.1", "addresses", "10.0.1.1 fd00::1:1", "port", "5432", "password", s.secret)
	for i := 1; i <= shopWebs; i++ {
		if i == 7 {
			continue
		}
		ip := fmt.Sprintf("10.0.2.%d", i)
		set(fmt.Sprintf("web.%d", i), "hostname", ip, "addresses", ip, "url.service", "http://"+ip+":8080/")
	}
	return s
}

// expectNoKeys checks that a map attribute of a resource or data source
// lacks the given keys.
func expectNoKeys(address, attribute string, keys ...string) statecheck.StateCheck {
	return noKeys{address, attribute, keys}
}

type noKeys struct {
	address, attribute string
	keys               []string
}

func (c noKeys) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != c.address {
			continue
		}
		m, ok := r.AttributeValues[c.attribute].(map[string]any)
		if !ok {
			resp.Error = fmt.Errorf("%s.%s is %T, not a map", c.address, c.attribute, r.AttributeValues[c.attribute])
			return
		}
		for _, k := range c.keys {
			if _, has := m[k]; has {
				resp.Error = fmt.Errorf("%s.%s has key %q", c.address, c.attribute, k)
				return
			}
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the state", c.address)
}

// notInState fails when a value appears anywhere in the state, as
// `terraform show -json` prints it (with sensitive values in clear).
type notInState struct{ value string }

func (c notInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	b, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	if strings.Contains(string(b), c.value) {
		resp.Error = fmt.Errorf("the state holds the sensitive value %q", c.value)
	}
}

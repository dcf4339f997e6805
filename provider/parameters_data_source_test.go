package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// shopData is the provider block and a slipstream_deployment data source
// for the shop, followed by more configuration.
func shopData(url string, s *shop, more string) string {
	return providerBlock(url) + fmt.Sprintf("data \"slipstream_deployment\" \"shop\" {\n  id = %q\n}\n", s.id) + more
}

// TestAccParametersDataSource_filtersByNode: one parameter of one node's
// instances, by instance and in index order (web.10 after web.9), as a
// join() uses it; web.7, which has not published it, is left out. Without
// a node, every node's, node by node.
func TestAccParametersDataSource_filtersByNode(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	s := seedShop(t, coord.URL)
	config := shopData(coord.URL, s, `
data "slipstream_parameters" "web_urls" {
  deployment_id = data.slipstream_deployment.shop.id
  node          = "web"
  name          = "url.service"
}

data "slipstream_parameters" "hosts" {
  deployment_id = data.slipstream_deployment.shop.id
  name          = "hostname"
}

output "web_urls" {
  value = join(",", data.slipstream_parameters.web_urls.list)
}
`)
	var urls []string
	values := map[string]knownvalue.Check{}
	var urlChecks, hostChecks []knownvalue.Check
	hostChecks = append(hostChecks, knownvalue.StringExact("10.0.1.1"))
	for i := 1; i <= shopWebs; i++ {
		if i == 7 {
			continue
		}
		ip := fmt.Sprintf("10.0.2.%d", i)
		url := "http://" + ip + ":8080/"
		urls = append(urls, url)
		values[fmt.Sprintf("web.%d", i)] = knownvalue.StringExact(url)
		urlChecks, hostChecks = append(urlChecks, knownvalue.StringExact(url)), append(hostChecks, knownvalue.StringExact(ip))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.slipstream_parameters.web_urls", tfjsonpath.New("values"), knownvalue.MapExact(values)),
				statecheck.ExpectKnownValue("data.slipstream_parameters.web_urls", tfjsonpath.New("list"), knownvalue.ListExact(urlChecks)),
				statecheck.ExpectKnownOutputValue("web_urls", knownvalue.StringExact(strings.Join(urls, ","))),
				statecheck.ExpectKnownValue("data.slipstream_parameters.hosts", tfjsonpath.New("list"), knownvalue.ListExact(hostChecks)),
				statecheck.ExpectKnownValue("data.slipstream_parameters.hosts", tfjsonpath.New("values").AtMapKey("db.1"), knownvalue.StringExact("10.0.1.1")),
			},
		}},
	})
}

// TestAccParametersDataSource_sensitiveExcluded: the database password,
// and the web servers' copies of it (mapped inputs), are never read into
// the state: values and list stay empty.
func TestAccParametersDataSource_sensitiveExcluded(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	s := seedShop(t, coord.URL)
	config := shopData(coord.URL, s, `
data "slipstream_parameters" "password" {
  deployment_id = data.slipstream_deployment.shop.id
  node          = "db"
  name          = "password"
}

data "slipstream_parameters" "copies" {
  deployment_id = data.slipstream_deployment.shop.id
  name          = "db_password"
}
`)
	empty := []statecheck.StateCheck{notInState{s.secret}}
	for _, ds := range []string{"data.slipstream_parameters.password", "data.slipstream_parameters.copies"} {
		empty = append(empty,
			statecheck.ExpectKnownValue(ds, tfjsonpath.New("values"), knownvalue.MapExact(map[string]knownvalue.Check{})),
			statecheck.ExpectKnownValue(ds, tfjsonpath.New("list"), knownvalue.ListExact([]knownvalue.Check{})))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps:                    []resource.TestStep{{Config: config, ConfigStateChecks: empty}},
	})
}

// TestAccParametersDataSource_unknownDeployment: an id the coordinator
// does not know is an error that names it.
func TestAccParametersDataSource_unknownDeployment(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{{
			Config: providerBlock(coord.URL) + `
data "slipstream_parameters" "x" {
  deployment_id = "nowhere-0badc0de"
  name          = "url.service"
}
`,
			ExpectError: regexp.MustCompile(`(?s)Deployment not found.*"nowhere-0badc0de"`),
		}},
	})
}

// TestAccParametersDataSource_badFilters: a node the deployment does not
// have, a parameter no instance can have (a typo) and a key given as a
// name are errors that say so, rather than empty lists.
func TestAccParametersDataSource_badFilters(t *testing.T) {
	accPreCheck(t)
	coord := startBareCoordinator(t)
	s := seedShop(t, coord.URL)
	filter := func(node, name string) string {
		return shopData(coord.URL, s, fmt.Sprintf(`
data "slipstream_parameters" "x" {
  deployment_id = data.slipstream_deployment.shop.id
  node          = %q
  name          = %q
}
`, node, name))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		Steps: []resource.TestStep{
			{Config: filter("cache", "url.service"), ExpectError: regexp.MustCompile(`(?s)Unknown node.*no node "cache".*db, web`)},
			{Config: filter("web", "url.servce"), ExpectError: regexp.MustCompile(`(?s)Unknown parameter.*"url.servce"`)},
			{Config: filter("db", "db_password"), ExpectError: regexp.MustCompile(`(?s)Unknown parameter.*"db_password"`)},
			{Config: filter("web", "web.1:url.service"), ExpectError: regexp.MustCompile(`(?s)must be a parameter name`)},
		},
	})
}

// TestParametersDataSource_sensitiveWarning: naming a sensitive parameter
// is a warning that points at the ephemeral slipstream_parameter, and
// nothing of the value is in what the data source returns. A name that is
// sensitive on one node only keeps the other nodes' values.
func TestParametersDataSource_sensitiveWarning(t *testing.T) {
	coord := startBareCoordinator(t)
	s := seedShop(t, coord.URL)
	cfg := &Config{CoordinatorURL: coord.URL, Token: testAdminToken, RetryFor: 10 * time.Second}
	for _, tc := range []struct {
		node, name string
		warning    *regexp.Regexp
		values     int
	}{
		{"db", "password", regexp.MustCompile(`(?s)password is sensitive on node db .*values and list are empty.*ephemeral "slipstream_parameter" "db_password".*key += "db\.1:password"`), 0},
		{"", "db_password", regexp.MustCompile(`(?s)db_password is sensitive on node web .*values and list are empty.*"web\.1:db_password"`), 0},
		{"", "url.service", nil, shopWebs - 1}, // every web server's but web.7's
	} {
		args := map[string]tftypes.Value{
			"deployment_id": tftypes.NewValue(tftypes.String, s.id),
			"name":          tftypes.NewValue(tftypes.String, tc.name),
		}
		if tc.node != "" {
			args["node"] = tftypes.NewValue(tftypes.String, tc.node)
		}
		state, diags := readDataSource(t, NewParametersDataSource(), cfg, args)
		if diags.HasError() {
			t.Fatalf("%s: %v", tc.name, diags)
		}
		switch w := diags.Warnings(); {
		case tc.warning == nil && len(w) > 0:
			t.Errorf("%s: unexpected warnings %v", tc.name, w)
		case tc.warning != nil && (len(w) != 1 || w[0].Summary() != "Sensitive parameter left out" || !tc.warning.MatchString(w[0].Detail())):
			t.Errorf("%s: warnings %v, want one matching %s", tc.name, w, tc.warning)
		}
		var m parametersDataSourceModel
		if d := state.Get(context.Background(), &m); d.HasError() {
			t.Fatal(d)
		}
		if len(m.Values) != tc.values || len(m.List) != tc.values {
			t.Errorf("%s: %d values, %d in the list; want %d", tc.name, len(m.Values), len(m.List), tc.values)
		}
		if strings.Contains(state.Raw.String(), s.secret) {
			t.Errorf("%s: the result holds the password", tc.name)
		}
	}
}

// readDataSource reads a data source as Terraform would, without
// Terraform: args are the arguments given, the other attributes null.
func readDataSource(t *testing.T, d datasource.DataSource, cfg *Config, args map[string]tftypes.Value) (tfsdk.State, diag.Diagnostics) {
	t.Helper()
	ctx := context.Background()
	var sr datasource.SchemaResponse
	d.Schema(ctx, datasource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
		if v, ok := args[name]; ok {
			vals[name] = v
		}
	}
	var cr datasource.ConfigureResponse
	d.(datasource.DataSourceWithConfigure).Configure(ctx, datasource.ConfigureRequest{ProviderData: cfg}, &cr)
	if cr.Diagnostics.HasError() {
		t.Fatal(cr.Diagnostics)
	}
	resp := datasource.ReadResponse{State: tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(typ, nil)}}
	d.Read(ctx, datasource.ReadRequest{Config: tfsdk.Config{Schema: sr.Schema, Raw: tftypes.NewValue(typ, vals)}}, &resp)
	return resp.State, resp.Diagnostics
}

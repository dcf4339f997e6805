package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// ephemeralFactories are the provider with local agents, and the echo
// provider of terraform-plugin-testing, which hands on what its
// configuration got (an ephemeral value) to its echo resource.
func ephemeralFactories(agents *localAgents) map[string]func() (tfprotov6.ProviderServer, error) {
	f := factories(agents)
	f["echo"] = echoprovider.NewProviderServer()
	return f
}

// unstoredLamp is the lamp deployment with store_sensitive = false, the
// database's password read by the ephemeral resource and given to the
// echo provider; with echo, an echo resource records it.
func unstoredLamp(url string, echo bool) string {
	return ephemeralLamp(url, false, echo)
}

// ephemeralLamp is unstoredLamp with the ready resource's store_sensitive
// as given.
func ephemeralLamp(url string, store, echo bool) string {
	config := strings.Replace(lampConfig(url, 1, webDeploy),
		"  multiplicities = slipstream_deployment.lamp.multiplicities\n",
		fmt.Sprintf("  multiplicities = slipstream_deployment.lamp.multiplicities\n  store_sensitive = %v\n", store), 1)
	config += `
ephemeral "slipstream_parameter" "db_password" {
  deployment_id = slipstream_deployment_ready.lamp.id
  key           = "db.1:password"
}

provider "echo" {
  data = ephemeral.slipstream_parameter.db_password.value
}
`
	if echo {
		config += "\nresource \"echo\" \"password\" {}\n"
	}
	return config
}

// passwordAt reads db.1:password from the coordinator, as the machines see
// it, for the checks.
func passwordAt(t *testing.T, url string) func() string {
	return func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl := &client.Client{BaseURL: url, Token: testAdminToken}
		list, err := cl.Deployments(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("the deployments at the coordinator: %v %v", list, err)
		}
		cl.Deployment = list[0].ID
		v, err := cl.Get(ctx, "db.1:password", 0, true, nil)
		if err != nil || v == "" {
			t.Fatalf("reading db.1:password: %q %v", v, err)
		}
		return v
	}
}

// TestAccParameterEphemeral_readsWithoutStoring: store_sensitive = false
// (set on a ready resource that stored them, in place) leaves the
// database's password in neither the state nor the plan, yet
// the ephemeral resource reads it (the run has set it) and another
// provider gets it: the echo resource then holds exactly the value the
// machines share.
func TestAccParameterEphemeral_readsWithoutStoring(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	password := passwordAt(t, coord.URL)
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		ProtoV6ProviderFactories: ephemeralFactories(agents),
		Steps: []resource.TestStep{
			{
				// Stored, as by default.
				Config: ephemeralLamp(coord.URL, true, false),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_outputs").AtMapKey("db").AtMapKey("password"),
						knownvalue.ListExact([]knownvalue.Check{valueOf{"the database password", password}})),
				},
			},
			{
				// store_sensitive = false drops them from the state in place.
				Config: unstoredLamp(coord.URL, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment_ready.lamp", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_outputs"), knownvalue.Null()),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_parameters"), knownvalue.Null()),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("outputs").AtMapKey("db").AtMapKey("hostname"),
						knownvalue.ListSizeExact(1)),
					stateLacks{"the database password", password},
				},
			},
			{
				// The plan reads the parameter again (the provider's
				// configuration needs it) and holds it nowhere.
				Config: unstoredLamp(coord.URL, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(), planLacks{"the database password", password},
				}},
			},
			{
				Config: unstoredLamp(coord.URL, true),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("echo.password", tfjsonpath.New("data"), valueOf{"the database password", password}),
				},
			},
		},
	})
}

// TestAccParameterEphemeral_errors: a key not set in time ends the wait at
// the open timeout, naming the key; a malformed key, a deployment that does
// not exist and a parameter it does not have are said so.
func TestAccParameterEphemeral_errors(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	config := func(deployment, key, timeout string) string {
		// The web server takes its time: its url is not set for a while.
		return lampConfig(coord.URL, 1, "sleep 20\n"+webDeploy) + fmt.Sprintf(`
ephemeral "slipstream_parameter" "x" {
  deployment_id = %s
  key           = %q
  timeouts      = { open = %q }
}

provider "echo" {
  data = ephemeral.slipstream_parameter.x.value
}

resource "echo" "x" {}
`, deployment, key, timeout)
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		ProtoV6ProviderFactories: ephemeralFactories(agents),
		Steps: []resource.TestStep{
			{
				Config:      config("slipstream_deployment_ready.lamp.id", "db", "5s"),
				ExpectError: regexp.MustCompile(`(?s)Invalid runtime parameter key.*"db" is not a runtime parameter key`),
			},
			{
				Config:      config(`"lamp-00000000"`, "db.1:password", "5s"),
				ExpectError: regexp.MustCompile(`(?s)Deployment not found.*There is no deployment "lamp-00000000"`),
			},
			{
				Config:      config("slipstream_deployment.lamp.id", "web.1:url", "2s"),
				ExpectError: regexp.MustCompile(`(?s)Runtime parameter not set in time.*web\.1:url of deployment\s+lamp-[0-9a-f]{8}\s+was\s+not\s+set\s+within\s+2s`),
			},
			{
				Config:      config("slipstream_deployment.lamp.id", "db.1:nope", "2s"),
				ExpectError: regexp.MustCompile(`(?s)Unknown runtime parameter.*Deployment\s+lamp-[0-9a-f]{8}\s+has\s+no\s+runtime\s+parameter\s+db\.1:nope`),
			},
		},
	})
}

// stateLacks fails when a value appears anywhere in the state.
type stateLacks struct{ what, value any }

func (c stateLacks) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	b, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	if v := resolve(c.value); v != "" && strings.Contains(string(b), v) {
		resp.Error = fmt.Errorf("%s is in the state", c.what)
	}
}

// planLacks fails when a value appears anywhere in the plan.
type planLacks struct{ what, value any }

func (c planLacks) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	if v := resolve(c.value); v != "" && strings.Contains(string(b), v) {
		resp.Error = fmt.Errorf("%s is in the plan", c.what)
	}
}

// valueOf checks a value against one read when the check runs.
type valueOf struct {
	what  string
	value func() string
}

func (c valueOf) CheckValue(v any) error {
	if s, ok := v.(string); !ok || s != c.value() {
		return fmt.Errorf("got %v, want %s", v, c.what)
	}
	return nil
}

func (c valueOf) String() string { return c.what }

// resolve is a value given as is or read when needed.
func resolve(v any) string {
	switch v := v.(type) {
	case func() string:
		return v()
	case string:
		return v
	}
	return ""
}

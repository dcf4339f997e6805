package provider

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// lampConfig is a database and web servers whose scripts coordinate: the
// database generates its password, the web servers block on it (through
// the mapping) and publish their URLs with it.
func lampConfig(url string, webs int, webDeploy string) string {
	return providerBlock(url) + fmt.Sprintf(`
resource "slipstream_deployment" "lamp" {
  name = "lamp"
  components = {
    db = {
      parameters = {
        password = { output = true, sensitive = true }
      }
      scripts = {
        deploy = ["ss-random -s 20 password >/dev/null"]
      }
    }
    web = {
      parameters = {
        db_password = { sensitive = true }
        url         = { output = true }
      }
      scripts = {
        deploy    = [%s]
        on_vm_add = ["echo \"$SLIPSTREAM_SCALING_ACTION $SLIPSTREAM_SCALING_VMS\" > \"$SLIPSTREAM_REPORT_DIR/../scaled\""]
      }
    }
  }
  nodes = {
    db  = { component = "db", multiplicity = 1 }
    web = { component = "web", multiplicity = %d, mappings = { db_password = "db:password" } }
  }
}

resource "slipstream_deployment_ready" "lamp" {
  deployment_id = slipstream_deployment.lamp.id
  multiplicities = slipstream_deployment.lamp.multiplicities
}
`, hclString(webDeploy), webs)
}

// hclString quotes s for HCL: Go quoting, with template sequences escaped.
func hclString(s string) string {
	q := strconv.Quote(s)
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(q)
}

const webDeploy = `set -e
pw=$(ss-get db_password)
ss-set url "http://$(ss-get hostname)/?len=${#pw}"`

// TestAccDeployment_lamp: apply registers the deployment, the agents run
// the scripts, and the ready resource exposes what they published; a
// second plan is empty; both resources import; scaling a node adds an
// instance in place.
func TestAccDeployment_lamp(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	urlRE := regexp.MustCompile(`^http://[0-9a-f.:]+/\?len=20$`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{
				Config: lampConfig(coord.URL, 2, webDeploy),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^lamp-[0-9a-f]{8}$`))),
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("multiplicities"),
						knownvalue.MapExact(map[string]knownvalue.Check{"db": knownvalue.Int64Exact(1), "web": knownvalue.Int64Exact(2)})),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("outputs").AtMapKey("web").AtMapKey("url"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringRegexp(urlRE), knownvalue.StringRegexp(urlRE)})),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_outputs").AtMapKey("db").AtMapKey("password"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringRegexp(regexp.MustCompile(`^[A-Za-z0-9]{20}$`))})),
				},
			},
			{
				Config:             lampConfig(coord.URL, 2, webDeploy),
				ConfigPlanChecks:   resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ExpectNonEmptyPlan: false,
			},
			{
				ResourceName:      "slipstream_deployment.lamp",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:            "slipstream_deployment_ready.lamp",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"multiplicities"},
			},
			{
				Config: lampConfig(coord.URL, 3, webDeploy),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("slipstream_deployment_ready.lamp", plancheck.ResourceActionReplace),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("multiplicities"),
						knownvalue.MapExact(map[string]knownvalue.Check{"db": knownvalue.Int64Exact(1), "web": knownvalue.Int64Exact(3)})),
					// The ready resource waited again: the new web server's URL is there.
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("outputs").AtMapKey("web").AtMapKey("url"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringRegexp(urlRE), knownvalue.StringRegexp(urlRE), knownvalue.StringRegexp(urlRE)})),
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("nodes").AtMapKey("web").AtMapKey("multiplicity"), knownvalue.Int64Exact(3)),
				},
			},
		},
	})
}

// TestAccDeploymentReady_abortFailsFast: a failing script aborts the run,
// and apply fails naming the instance, the script's message and the state.
func TestAccDeploymentReady_abortFailsFast(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	failing := "echo 'cannot reach the package mirror' >&2\nexit 4"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{{
			Config:      lampConfig(coord.URL, 2, failing),
			ExpectError: regexp.MustCompile(`(?s)Deployment aborted.*was aborted\s+(while it was Executing|\(the run is now (Finalizing|Done)\)).*web\.[12]: deploy exited with\s+status 4: cannot reach the package mirror`),
		}},
	})
}

// ringConfig is n nodes in a ring: each publishes its value, then waits
// for its neighbour's. Plain Terraform cannot express this (a cycle);
// here the machines exchange the values at run time.
func ringConfig(url string, n int) string {
	var nodes []string
	for i := 1; i <= n; i++ {
		next := i%n + 1
		nodes = append(nodes, fmt.Sprintf(`    n%d = { component = "peer", multiplicity = 1, mappings = { neighbour = "n%d:value" } }`, i, next))
	}
	return providerBlock(url) + fmt.Sprintf(`
resource "slipstream_deployment" "ring" {
  name = "ring"
  components = {
    peer = {
      parameters = {
        value     = { output = true }
        neighbour = {}
        seen      = { output = true }
      }
      scripts = {
        deploy = ["set -e\nss-set value \"v-$SLIPSTREAM_NODE_NAME\"\nss-set seen \"$(ss-get neighbour)\""]
      }
    }
  }
  nodes = {
%s
  }
}

resource "slipstream_deployment_ready" "ring" {
  deployment_id = slipstream_deployment.ring.id
}
`, strings.Join(nodes, "\n"))
}

// TestAccDeployment_ring: five nodes, each waiting on its neighbour's value
// after publishing its own, complete.
func TestAccDeployment_ring(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	var checks []statecheck.StateCheck
	for i := 1; i <= 5; i++ {
		checks = append(checks, statecheck.ExpectKnownValue("slipstream_deployment_ready.ring",
			tfjsonpath.New("outputs").AtMapKey(fmt.Sprintf("n%d", i)).AtMapKey("seen"),
			knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(fmt.Sprintf("v-n%d", i%5+1))})))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps:                    []resource.TestStep{{Config: ringConfig(coord.URL, 5), ConfigStateChecks: checks}},
	})
}

// TestAccDeployment_invalidConfig: mistakes are reported at plan, on the
// attribute they are in.
func TestAccDeployment_invalidConfig(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	bad := providerBlock(coord.URL) + `
resource "slipstream_deployment" "x" {
  name = "x"
  components = { a = {} }
  nodes = {
    n = { component = "b", multiplicity = 1, mappings = { in = "nowhere" } }
  }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{Config: bad, ExpectError: regexp.MustCompile(`(?s)Unknown component.*Node "n" runs component "b"`)},
			{Config: bad, ExpectError: regexp.MustCompile(`(?s)Invalid mapping.*"nowhere"`)},
		},
	})
}

// TestAccDeploymentReady_waitFor: with wait_for, the wait ends when the
// named parameters are set, although the run is still working (the web
// servers here never finish); destroy then finalizes the run and the
// agents' scripts are stopped.
func TestAccDeploymentReady_waitFor(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	forever := "ss-get db_password >/dev/null\nsleep 3600"
	config := strings.Replace(lampConfig(coord.URL, 2, forever),
		"deployment_id = slipstream_deployment.lamp.id\n", "deployment_id = slipstream_deployment.lamp.id\n  wait_for      = [\"db.1:password\"]\n", 1)
	if !strings.Contains(config, "wait_for") {
		t.Fatal("the configuration has no wait_for")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Executing")),
				statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_parameters").AtMapKey("db.1:password"),
					knownvalue.StringRegexp(regexp.MustCompile(`^[A-Za-z0-9]{20}$`))),
			},
		}},
	})
}

// TestAccDeploymentReady_timeoutNamesWhoIsBlocked: the database never
// publishes its password; the wait times out, and its diagnostic says
// who is blocked in ss-get on what: the web servers, on db.1:password
// (their mapped db_password).
func TestAccDeploymentReady_timeoutNamesWhoIsBlocked(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	config := strings.Replace(lampConfig(coord.URL, 2, webDeploy), `ss-random -s 20 password >/dev/null`, `sleep 600`, 1)
	if config == lampConfig(coord.URL, 2, webDeploy) {
		t.Fatal("the lamp configuration's database script changed: this test no longer stops it")
	}
	config = strings.Replace(config, "multiplicities = slipstream_deployment.lamp.multiplicities", "multiplicities = slipstream_deployment.lamp.multiplicities\n  timeouts       = { create = \"6s\" }", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Deployment not ready in time.*Blocked in ss-get right now:\s+db\.1:password\s+←\s+web\.1,\s+web\.2\s+\(the\s+longest\s+for\s+\d+s\)`),
		}},
	})
}

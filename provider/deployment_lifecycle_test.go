package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// lifecycleConfig is a two-node deployment whose pieces the tests below
// change: the web node's component and multiplicity (an HCL expression),
// the keep-running policy, the web script, a description, and whether the
// ready resource waits for it.
type lifecycleConfig struct {
	url, extraProvider string
	webComponent       string // web_v1 or web_v2
	webMultiplicity    string // an HCL expression
	keepRunning        string
	webDeploy          string
	description        string
	maxFailures        int
	ready              bool
	extra              string // more HCL
}

func (c lifecycleConfig) String() string {
	if c.webComponent == "" {
		c.webComponent = "web_v1"
	}
	if c.webMultiplicity == "" {
		c.webMultiplicity = "2"
	}
	if c.keepRunning == "" {
		c.keepRunning = "on-success"
	}
	if c.webDeploy == "" {
		c.webDeploy = "ss-set url \"http://$(ss-get hostname)/\""
	}
	if c.description == "" {
		c.description = "the database's password"
	}
	out := fmt.Sprintf("provider \"slipstream\" {\n  coordinator_url = %q\n  token = %q\n%s}\n", c.url, testAdminToken, c.extraProvider) + fmt.Sprintf(`
resource "slipstream_deployment" "lamp" {
  name         = "lamp"
  keep_running = %q
  components = {
    db = {
      parameters = { password = { output = true, sensitive = true, description = %q } }
      scripts    = { deploy = ["ss-random -s 20 password >/dev/null"] }
    }
    web_v1 = {
      parameters = { db_password = { sensitive = true }, url = { output = true } }
      scripts    = { deploy = [%s] }
    }
    web_v2 = {
      parameters = { db_password = { sensitive = true }, url = { output = true } }
      scripts    = { deploy = ["ss-set url v2"] }
    }
  }
  nodes = {
    db  = { component = "db", multiplicity = 1 }
    web = { component = %q, multiplicity = %s, max_provisioning_failures = %d, mappings = { db_password = "db:password" } }
  }
}
`, c.keepRunning, c.description, hclString(c.webDeploy), c.webComponent, c.webMultiplicity, c.maxFailures)
	if c.ready {
		out += `
resource "slipstream_deployment_ready" "lamp" {
  deployment_id = slipstream_deployment.lamp.id
  multiplicities = slipstream_deployment.lamp.multiplicities
}
`
	}
	return out + c.extra
}

// TestAccDeployment_unknownMultiplicityStillReplaces: a component change
// whose node's multiplicity is not known at plan time (it comes from
// another resource) replaces the deployment. It used to plan an in-place
// scale: the coordinator kept the old scripts while the state recorded
// the new.
func TestAccDeployment_unknownMultiplicityStillReplaces(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	counter := func(rev string) string {
		return fmt.Sprintf(`
resource "terraform_data" "web_count" {
  input            = 2
  triggers_replace = [%q]
}
`, rev)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{Config: lifecycleConfig{url: coord.URL, webMultiplicity: "terraform_data.web_count.output", extra: counter("a")}.String()},
			{
				Config: lifecycleConfig{url: coord.URL, webComponent: "web_v2", webMultiplicity: "terraform_data.web_count.output", extra: counter("b")}.String(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectUnknownValue("slipstream_deployment.lamp", tfjsonpath.New("nodes").AtMapKey("web").AtMapKey("multiplicity")),
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionReplace),
				}},
				Check: func(s *terraform.State) error {
					id := s.RootModule().Resources["slipstream_deployment.lamp"].Primary.ID
					d, _, err := coord.coord.Spec(context.Background(), id)
					if err != nil {
						return err
					}
					if got := d.Nodes["web"].Scripts["deploy"]; len(got) != 1 || got[0] != "ss-set url v2" {
						return fmt.Errorf("the coordinator runs %q on web, want web_v2's script", got)
					}
					return nil
				},
			},
		},
	})
}

// TestAccDeployment_settingsChangeInPlace: keep_running,
// max_provisioning_failures and a parameter's description change the
// deployment in place (its machines stay), and the coordinator acts on
// them.
func TestAccDeployment_settingsChangeInPlace(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{
				Config: lifecycleConfig{url: coord.URL, ready: true}.String(),
				Check: func(s *terraform.State) error {
					id = s.RootModule().Resources["slipstream_deployment.lamp"].Primary.ID
					return nil
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("abort"), knownvalue.StringExact("")),
				},
			},
			{
				Config: lifecycleConfig{url: coord.URL, ready: true, keepRunning: "never", maxFailures: 1, description: "new words"}.String(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("slipstream_deployment_ready.lamp", plancheck.ResourceActionNoop),
				}},
				Check: func(s *terraform.State) error {
					if got := s.RootModule().Resources["slipstream_deployment.lamp"].Primary.ID; got != id {
						return fmt.Errorf("deployment %s replaced by %s", id, got)
					}
					d, _, err := coord.coord.Spec(context.Background(), id)
					if err != nil {
						return err
					}
					if d.KeepRunning != "never" || d.Nodes["web"].MaxProvisioningFailures != 1 {
						return fmt.Errorf("coordinator has keep_running %q, web tolerates %d", d.KeepRunning, d.Nodes["web"].MaxProvisioningFailures)
					}
					// never: a Ready run is finalized, and its agents stop.
					return waitState(coord, id, coordinator.Done)
				},
			},
			{
				// The finished run is what the configuration asks for: no
				// perpetual diff.
				Config:   lifecycleConfig{url: coord.URL, ready: true, keepRunning: "never", maxFailures: 1, description: "new words"}.String(),
				PlanOnly: true,
			},
		},
	})
}

func waitState(coord *testCoordinator, id, want string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := coord.coord.Status(context.Background(), id)
		if err == nil && r.State == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment %s is %+v (%v), want %s", id, r, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAccDeployment_abortThenFixReappliesToReady: a failing script aborts
// the run and fails the apply, saying the run was finalized and that the
// next apply replaces it; the plan that follows does replace it; fixing
// the script and applying reaches Ready.
func TestAccDeployment_abortThenFixReappliesToReady(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	failing := lifecycleConfig{url: coord.URL, ready: true, webDeploy: "echo 'no mirror' >&2\nexit 4"}
	fixed := failing
	fixed.webDeploy = ""
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{
				Config:      failing.String(),
				ExpectError: regexp.MustCompile(`(?s)Deployment aborted.*no mirror.*The run was finalized \(keep_running\s+=\s+"on-success"\).*plan\s+replaces\s+the\s+deployment`),
			},
			{
				// The same again: the ended run is replaced, and runs (and
				// fails) again.
				Config: failing.String(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionReplace),
				}},
				ExpectError: regexp.MustCompile(`(?s)Deployment aborted.*no mirror`),
			},
			{
				Config: fixed.String(),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("abort"), knownvalue.StringExact("")),
				},
			},
			{Config: fixed.String(), PlanOnly: true},
		},
	})
}

// TestAccDeployment_abortKeptUpNamesTheWayOut: with keep_running =
// "always" the aborted run stays up (for debugging); the error says how
// to retry in place or replace it, with the resource's address.
func TestAccDeployment_abortKeptUpNamesTheWayOut(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	cfg := lifecycleConfig{url: coord.URL, ready: true, keepRunning: "always", webDeploy: "exit 3"}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{
				Config:      cfg.String(),
				ExpectError: regexp.MustCompile(`(?s)The run stays up for debugging.*ss-abort --cancel.*terraform apply\s+-replace=slipstream_deployment\.lamp`),
			},
			{
				// Kept up: not replaced by itself; the ready resource is
				// planned again (and would report the abort again).
				Config: cfg.String(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction("slipstream_deployment_ready.lamp", plancheck.ResourceActionCreate),
				}},
				ExpectError: regexp.MustCompile(`(?s)Deployment aborted.*exited with status 3`),
			},
		},
	})
}

// TestAccDeployment_interruptedScaleIsReadBack: a scale that committed at
// the coordinator without reaching the state (an apply interrupted after
// it) is read back: the deployment's plan is then empty, and the wait is
// planned again for the new instance, whose machine (here a local agent,
// started as its machine resource would start it, with a token issued for
// it) joins the run.
func TestAccDeployment_interruptedScaleIsReadBack(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	var id string
	cfg3 := lifecycleConfig{url: coord.URL, webMultiplicity: "3", ready: true}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{
				Config: lifecycleConfig{url: coord.URL, ready: true}.String(),
				Check: func(s *terraform.State) error {
					id = s.RootModule().Resources["slipstream_deployment.lamp"].Primary.ID
					return nil
				},
			},
			{
				PreConfig: func() {
					// The scale an interrupted apply sent: committed, and
					// web.3's machine started.
					cl := &client.Client{BaseURL: coord.URL, Deployment: id, Token: testAdminToken}
					if _, err := cl.Resize(context.Background(), "web", 3); err != nil {
						t.Fatal(err)
					}
					agents.added(id, []string{"web.3"})
				},
				Config: cfg3.String(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction("slipstream_deployment_ready.lamp", plancheck.ResourceActionReplace),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment.lamp", tfjsonpath.New("multiplicities"),
						knownvalue.MapExact(map[string]knownvalue.Check{"db": knownvalue.Int64Exact(1), "web": knownvalue.Int64Exact(3)})),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("outputs").AtMapKey("web").AtMapKey("url").AtSliceIndex(2),
						knownvalue.StringRegexp(regexp.MustCompile(`^http://`))),
				},
			},
			{Config: cfg3.String(), PlanOnly: true},
		},
	})
}

// TestAccDeployment_coordinatorDownPlanFails: with the coordinator down,
// a plan's refresh gives up after retry_timeout with an error naming the
// coordinator, instead of hanging.
func TestAccDeployment_coordinatorDownPlanFails(t *testing.T) {
	accPreCheck(t)
	coord := startTestCoordinator(t)
	agents := newLocalAgents(t, coord.URL)
	cfg := lifecycleConfig{url: coord.URL, extraProvider: "  retry_timeout = \"3s\"\n"}
	var start time.Time
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories(agents),
		Steps: []resource.TestStep{
			{Config: cfg.String()},
			{
				PreConfig: func() {
					coord.srv.Close()
					start = time.Now()
				},
				Config: cfg.String(), PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Cannot read the deployment.*coordinator at\s+` + regexp.QuoteMeta(coord.URL) + `\s+unreachable\s+for\s+3s.*connection\s+refused`),
			},
			{
				PreConfig: func() {
					if took := time.Since(start); took > 2*time.Minute {
						t.Errorf("the plan took %s to fail", took)
					}
					coord.restart(t)
				},
				// Back up: nothing was lost, nothing to change.
				Config: cfg.String(), PlanOnly: true,
			},
		},
	})
}

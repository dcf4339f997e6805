package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	tfconfig "github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// oneNodeDeployment is a deployment of one instance, n.1, whose deploy
// script publishes the deployment's name.
func oneNodeDeployment(name string) string {
	return fmt.Sprintf(`
resource "slipstream_deployment" %[1]q {
  name       = %[1]q
  components = { c = { parameters = { who = { output = true } }, scripts = { deploy = ["ss-set who %[1]s"] } } }
  nodes      = { n = { component = "c", multiplicity = 1 } }
}
`, name)
}

// fixedHost adopts host as n.1 of deployment dep.
func fixedHost(res, dep string, h *nshost.Host) string {
	return fmt.Sprintf(`
resource "slipstream_fixed_host" %[1]q {
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.%[2]s.id
  node          = "n"
  index         = 1
  host          = %[3]q
}
`, res, dep, h.IP)
}

// readyOf waits for deployment dep, after its host res.
func readyOf(dep, res string) string {
	return fmt.Sprintf(`
resource "slipstream_deployment_ready" %[1]q {
  deployment_id = slipstream_deployment.%[1]s.id
  depends_on    = [slipstream_fixed_host.%[2]s]
}
`, dep, res)
}

// agentOn describes the agent installed on h: the deployment and instance
// its agent.json names, the owner file, agent.json's checksum and the
// supervisor's pid when it is alive.
func agentOn(h *nshost.Host) (string, error) {
	out, err := h.Run(context.Background(), `f=/etc/slipstream/agent.json
echo "config: $(sed -n 's/.*"deployment":"\([^"]*\)".*"instance":"\([^"]*\)".*/\1 \2/p' $f 2>/dev/null)"
echo "owner: $(cat /etc/slipstream/owner 2>/dev/null)"
echo "sum: $(sha256sum <$f 2>/dev/null | cut -d' ' -f1)"
p=$(cat /run/slipstream-agent.pid 2>/dev/null)
if [ -n "$p" ] && grep -q slipstream-supervisor /proc/$p/cmdline 2>/dev/null; then echo "supervisor: $p"; else echo "supervisor: none"; fi`)
	return strings.TrimSpace(out), err
}

// agentUnchanged records the agent on h, then checks it is the same one.
type agentUnchanged struct {
	h    *nshost.Host
	seen string
}

func (a *agentUnchanged) record(deployment string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id := s.RootModule().Resources["slipstream_deployment."+deployment].Primary.ID
		got, err := agentOn(a.h)
		if err != nil {
			return err
		}
		if !strings.Contains(got, "config: "+id+" n.1\n") || strings.Contains(got, "supervisor: none") {
			return fmt.Errorf("the agent of %s (%s) is not running on %s:\n%s", deployment, id, a.h.IP, got)
		}
		a.seen = got
		return nil
	}
}

func (a *agentUnchanged) check() error {
	got, err := agentOn(a.h)
	if err != nil {
		return err
	}
	if got != a.seen {
		return fmt.Errorf("the first deployment's agent on %s changed:\n%s\nwas\n%s", a.h.IP, got, a.seen)
	}
	return nil
}

// TestAccFixedHost_refusesHostOfAnotherDeployment: a second deployment
// adopting a host the first one runs on fails with a diagnostic naming the
// host, the owning deployment and instance, and the way out; the first
// deployment's agent keeps running untouched (same configuration, same
// supervisor) and its next plan is empty. After `slipstream-agent
// uninstall` on the host (the way out), the second deployment adopts it.
func TestAccFixedHost_refusesHostOfAnotherDeployment(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 1)
	tlsCoordinator(t, pool)
	h := pool.Hosts[0]
	first := oneNodeDeployment("first") + fixedHost("first", "first", h) + readyOf("first", "first")
	second := oneNodeDeployment("second") + fixedHost("second", "second", h)
	lab := labProvider(t, pool)
	agent := &agentUnchanged{h: h}
	var firstID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				Config: lab + first,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.first", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
				},
				Check: resource.ComposeTestCheckFunc(agent.record("first"), func(s *terraform.State) error {
					firstID = s.RootModule().Resources["slipstream_deployment.first"].Primary.ID
					return nil
				}),
			},
			{
				Config: lab + first + second,
				ExpectError: regexp.MustCompile(`(?s)Host belongs to another deployment.*` + wrapped(h.IP+" already runs the SlipStream agent of instance n.1 of deployment first-") +
					`.*` + wrapped("cannot be adopted as instance n.1 of deployment second-") + `.*` + wrapped("destroy deployment first-") + `.*` + wrapped("`slipstream-agent uninstall`. Nothing was changed on the host.")),
			},
			{
				// The first deployment is as it was: its host and
				// readiness read back unchanged, its agent untouched.
				PreConfig:        func() { mustNil(t, agent.check()) },
				Config:           lab + first + oneNodeDeployment("second"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.first", tfjsonpath.New("outputs").AtMapKey("n").AtMapKey("who"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("first")})),
				},
				Check: func(*terraform.State) error { return agent.check() },
			},
			{
				// The way out the diagnostic names: the first deployment's
				// agent removed by hand (its Terraform is gone, say); its
				// host resource notices, and the second deployment adopts
				// the host.
				PreConfig: func() {
					if out, err := h.Run(context.Background(), "slipstream-agent uninstall"); err != nil {
						t.Fatalf("slipstream-agent uninstall: %v\n%s", err, out)
					}
				},
				Config: lab + second + readyOf("second", "second"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.second", tfjsonpath.New("outputs").AtMapKey("n").AtMapKey("who"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("second")})),
				},
				Check: func(s *terraform.State) error {
					id := s.RootModule().Resources["slipstream_deployment.second"].Primary.ID
					got, err := agentOn(h)
					if err == nil && (!strings.Contains(got, "owner: "+id+" n.1") || id == firstID) {
						err = fmt.Errorf("the host is not the second deployment's (%s):\n%s", id, got)
					}
					return err
				},
			},
		},
	})
}

// wrapped matches s literally in a diagnostic, which Terraform wraps at
// spaces.
func wrapped(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), " ", `\s+`)
}

// staysOn checks that a host resource is planned neither replaced nor
// moved: no create or delete, and its host the same before and after.
type staysOn struct{ address, host string }

func (s staysOn) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != s.address {
			continue
		}
		if slices.Contains(rc.Change.Actions, tfjson.ActionDelete) || slices.Contains(rc.Change.Actions, tfjson.ActionCreate) {
			resp.Error = fmt.Errorf("%s is planned %v: it would move or be re-adopted", s.address, rc.Change.Actions)
			return
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		if before["host"] != s.host || after["host"] != s.host {
			resp.Error = fmt.Errorf("%s moves from %v to %v, want it to stay on %s", s.address, before["host"], after["host"], s.host)
		}
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", s.address)
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestAccFixedHost_failedBootstrapLeavesOtherAgent: a create whose
// bootstrap fails removes only what it installed itself:
//   - on a host of another deployment it is refused before anything runs,
//     and that deployment's agent survives (the old code ran the
//     uninstall and removed it);
//   - on a host that another party claimed while the bootstrap ran, that
//     party's claim survives;
//   - on a free host everything it installed is removed again.
func TestAccFixedHost_failedBootstrapLeavesOtherAgent(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 2)
	tlsCoordinator(t, pool)
	h, free := pool.Hosts[0], pool.Hosts[1]
	lab := labProvider(t, pool)
	first := oneNodeDeployment("first") + fixedHost("first", "first", h) + readyOf("first", "first")
	agent := &agentUnchanged{h: h}
	// second's bootstrap, as each step changes it.
	broken := func(string) string { return "echo broken >&2; exit 1" }
	// A bootstrap that claims the host for a third party, as a racing
	// bootstrap would, and then fails.
	racing := func(string) string {
		return "mkdir -p /etc/slipstream && echo 'third-party x.1' >/etc/slipstream/owner && echo broken >&2 && exit 1"
	}
	// The real bootstrap, failing at its very end.
	lateFailure := func(script string) string { return script + "\nfalse" }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{Config: lab + first, Check: agent.record("first")},
			{
				PreConfig:   func() { overrideBootstrap(t, "second", "n.1", broken) },
				Config:      lab + first + oneNodeDeployment("second") + fixedHost("second", "second", h),
				ExpectError: regexp.MustCompile(`(?s)Host belongs to another deployment.*` + wrapped("instance n.1 of deployment first-")),
			},
			{
				PreConfig:        func() { mustNil(t, agent.check()) },
				Config:           lab + first + oneNodeDeployment("second"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            func(*terraform.State) error { return agent.check() },
			},
			{
				PreConfig:   func() { overrideBootstrap(t, "second", "n.1", racing) },
				Config:      lab + first + oneNodeDeployment("second") + fixedHost("second", "second", free),
				ExpectError: regexp.MustCompile(`(?s)Bootstrap failed.*broken.*` + wrapped("belongs to instance x.1 of deployment third-party")),
			},
			{
				PreConfig: func() {
					out, err := free.Run(context.Background(), "cat /etc/slipstream/owner")
					if err != nil || strings.TrimSpace(out) != "third-party x.1" {
						t.Fatalf("the third party's claim on %s is gone: %q %v", free.IP, out, err)
					}
					free.Run(context.Background(), "rm -rf /etc/slipstream")
					overrideBootstrap(t, "second", "n.1", lateFailure)
				},
				Config:      lab + first + oneNodeDeployment("second") + fixedHost("second", "second", free),
				ExpectError: regexp.MustCompile(`(?s)Bootstrap failed.*` + wrapped("What this bootstrap installed was removed again")),
			},
			{
				// Nothing of the failed create is left on the free host.
				Config: lab + first + oneNodeDeployment("second"),
				Check: func(*terraform.State) error {
					if err := hostsClean(&nshost.Pool{Hosts: []*nshost.Host{free}})(nil); err != nil {
						return err
					}
					return agent.check()
				},
			},
		},
	})
}

// TestAccFixedHost_scalingOneNodeKeepsOthersHosts: the lamp example, its
// database with two hosts of its own and the web servers with three, one
// web server running. Scaling
// the database from one instance to two adopts the database's second host
// and leaves the web server where it is: the plan has no change for it (it
// used to take the host after the database's, and moved). Scaling the web
// server beyond its hosts fails the plan, naming the cloud and the node.
func TestAccFixedHost_scalingOneNodeKeepsOthersHosts(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 5)
	tlsCoordinator(t, pool)
	config := compiledLampOn(t, pool, 2)
	vars := func(db, web int) tfconfig.Variables {
		return tfconfig.Variables{"db_multiplicity": tfconfig.IntegerVariable(db), "web_multiplicity": tfconfig.IntegerVariable(web)}
	}
	webHost := statecheck.ExpectKnownValue("slipstream_fixed_host.web[0]", tfjsonpath.New("host"), knownvalue.StringExact(pool.Hosts[2].IP))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				Config: config, ConfigVariables: vars(1, 1),
				ConfigStateChecks: []statecheck.StateCheck{
					webHost,
					statecheck.ExpectKnownValue("slipstream_fixed_host.db[0]", tfjsonpath.New("host"), knownvalue.StringExact(pool.Hosts[0].IP)),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
				},
			},
			{
				Config: config, ConfigVariables: vars(2, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					staysOn{"slipstream_fixed_host.web[0]", pool.Hosts[2].IP},
					staysOn{"slipstream_fixed_host.db[0]", pool.Hosts[0].IP},
					plancheck.ExpectResourceAction("slipstream_fixed_host.db[1]", plancheck.ResourceActionCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					webHost,
					statecheck.ExpectKnownValue("slipstream_fixed_host.db[1]", tfjsonpath.New("host"), knownvalue.StringExact(pool.Hosts[1].IP)),
					statecheck.ExpectKnownOutputValue("db_hostname", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(pool.Hosts[0].IP), knownvalue.StringExact(pool.Hosts[1].IP),
					})),
				},
			},
			{
				// And back: the database's second host is released, the
				// web server stays.
				Config: config, ConfigVariables: vars(1, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					staysOn{"slipstream_fixed_host.web[0]", pool.Hosts[2].IP},
					plancheck.ExpectResourceAction("slipstream_fixed_host.db[1]", plancheck.ResourceActionDestroy),
				}},
				ConfigStateChecks: []statecheck.StateCheck{webHost},
			},
			{
				Config: config, ConfigVariables: vars(1, 4),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)` + wrapped(`Cloud "lab" has too few hosts for node "web": its multiplicity is more than the length of the cloud's hosts["web"].`)),
			},
		},
	})
}

// toleranceConfig is deployment "tol": node n of two instances that
// tolerates one failed machine, on the pool's two hosts, with the given
// the ready resource after both.
func toleranceConfig(pool *nshost.Pool) string {
	return fmt.Sprintf(`
resource "slipstream_deployment" "tol" {
  name       = "tol"
  components = { c = { parameters = { who = { output = true } }, scripts = { deploy = ["ss-set who $SLIPSTREAM_NODE_INSTANCE_NAME"] } } }
  nodes      = { n = { component = "c", multiplicity = 2, max_provisioning_failures = 1 } }
}

resource "slipstream_fixed_host" "n" {
  count         = 2
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.tol.id
  node          = "n"
  index         = count.index + 1
  host          = [%[1]q, %[2]q][count.index]
}

resource "slipstream_deployment_ready" "tol" {
  deployment_id = slipstream_deployment.tol.id
  depends_on    = [slipstream_fixed_host.n]
}
`, pool.Hosts[0].IP, pool.Hosts[1].IP)
}

// TestAccFixedHost_toleratedFailureLeavesInstanceOut: a node that
// tolerates one failed machine (max_provisioning_failures = 1) whose
// second host fails its bootstrap: the apply succeeds with a warning, the
// failed host is in the state marked with why (and cleaned), and the run
// reaches Ready without it, as SlipStream's did. The next plan is empty,
// and a destroy releases both.
func TestAccFixedHost_toleratedFailureLeavesInstanceOut(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 2)
	tlsCoordinator(t, pool)
	lab := labProvider(t, pool)
	overrideBootstrap(t, "tol", "n.2", func(script string) string { return script + "\necho 'disk full' >&2; false" })
	cfg := lab + toleranceConfig(pool)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_fixed_host.n[0]", tfjsonpath.New("provisioning_failure"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue("slipstream_fixed_host.n[1]", tfjsonpath.New("provisioning_failure"), knownvalue.StringRegexp(regexp.MustCompile(`(?s)exited with status 1.*disk full`))),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.tol", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.tol", tfjsonpath.New("parameters").AtMapKey("n.1:who"), knownvalue.StringExact("n.1")),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.tol", tfjsonpath.New("parameters").AtMapKey("n.2:vmstate"), knownvalue.StringExact("failed")),
				},
				Check: func(*terraform.State) error {
					// The failed create removed what it installed.
					return hostsClean(&nshost.Pool{Hosts: []*nshost.Host{pool.Hosts[1]}})(nil)
				},
			},
			{Config: cfg, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
	})
}

// TestAccFixedHost_failuresBeyondToleranceAbort: both hosts of a node
// that tolerates one failed machine fail: the second failure aborts the
// run, and the apply fails saying so.
func TestAccFixedHost_failuresBeyondToleranceAbort(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 2)
	tlsCoordinator(t, pool)
	lab := labProvider(t, pool)
	for _, inst := range []string{"n.1", "n.2"} {
		overrideBootstrap(t, "tol", inst, func(string) string { return "echo 'disk full' >&2; exit 1" })
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{{
			Config:      lab + toleranceConfig(pool),
			ExpectError: regexp.MustCompile(`(?s)Too many failed machines: the run is aborted.*Node n tolerates 1`),
		}},
	})
}

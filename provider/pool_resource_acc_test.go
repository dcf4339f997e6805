package provider

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/registry"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// The pool resources' acceptance tests: the same steps on each cloud's
// fake (Instant runtime: machines change state but run nothing), as for
// the instance resources. The agents' side of a pool (the exchange of the
// pool token and a machine id) is played here with the coordinator's
// client, as the agent makes it; the end-to-end test boots real guests.

// poolConfig is node web of n instances started as one pool.
func (c *cloudTest) poolConfig(n int) string {
	return c.providers() + fmt.Sprintf(`
resource "slipstream_deployment" "shop" {
  name       = "shop"
  components = { web = { scripts = { deploy = ["true"] } } }
  nodes      = { web = { component = "web", connector = %[1]q, cloud = "cloud", multiplicity = %[2]d } }
}

resource %[3]q "web" {
  provider      = slipstream.cloud
  deployment_id = slipstream_deployment.shop.id
  node          = "web"
  multiplicity  = slipstream_deployment.shop.multiplicities["web"]
  batch_size    = 10
  image_id      = %[4]q
  cpu           = 1
  ram           = 1
}
`, c.conn.Name, n, c.conn.PoolResource, c.image)
}

// poolMachinesMatch checks that the fake holds exactly the pool's
// machines as the state lists them, labelled with the pool, and that each
// machine can claim its instance, and only its own, at the coordinator
// with the pool token of its user-data and its id, as its agent does.
func (c *cloudTest) poolMachinesMatch(n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		dep := s.RootModule().Resources["slipstream_deployment.shop"].Primary.ID
		attrs := s.RootModule().Resources[c.conn.PoolResource+".web"].Primary.Attributes
		lines := strings.Split(strings.TrimSuffix(attrs["machines"], "\n"), "\n")
		if len(lines) != n {
			return fmt.Errorf("the pool lists %d machines, want %d:\n%s", len(lines), n, attrs["machines"])
		}
		live := map[string]fakecloud.Machine{}
		for _, m := range c.live() {
			live[m.ID] = m
		}
		if len(live) != n {
			return fmt.Errorf("the fake holds %d live machines, want %d", len(live), n)
		}
		for i := range n {
			f := strings.Fields(lines[i])
			if len(f) != 4 || f[0] != strconv.Itoa(i+1) {
				return fmt.Errorf("line %d of the pool's machines is %q, want index %d, an id and two addresses (or -)", i+1, lines[i], i+1)
			}
			id, index := f[1], f[0]
			m, ok := live[id]
			if !ok {
				return fmt.Errorf("the pool lists machine %s, which the fake does not hold live", id)
			}
			if m.Labels[connectors.LabelDeployment] != dep || m.Labels[connectors.LabelPool] != "web" {
				return fmt.Errorf("machine %s has labels %v", id, m.Labels)
			}
			tok, ok := bootstrap.TokenOf(string(m.UserData))
			if !ok || tok == placeholderToken {
				return fmt.Errorf("machine %s has no pool token of its own in its user-data", id)
			}
			if i == 0 {
				// Another machine's id with this token is refused or
				// names the other machine's instance: never this one's.
				continue
			}
			// The agent claims with what cloud-init knows the machine by
			// (Azure: its vmId), else its id.
			claim := cmp.Or(m.InstanceID, id)
			agent := &client.Client{BaseURL: c.coord.URL, Deployment: dep, Token: tok}
			inst, err := agent.ExchangeMachine(context.Background(), client.TokenHash("agent-of-"+id), claim)
			if err != nil {
				return fmt.Errorf("machine %s exchanging its pool token: %v", id, err)
			}
			if want := "web." + index; inst != want {
				return fmt.Errorf("machine %s claimed instance %s, want %s", id, inst, want)
			}
		}
		return nil
	}
}

func testAccPoolLifecycle(t *testing.T, connector string) {
	c := newCloudTest(t, connector, fakecloud.Options{BootDelay: 200 * time.Millisecond})
	addr := c.conn.PoolResource + ".web"
	var firstID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{
			{
				// 25 machines in batches of 10.
				Config: c.poolConfig(25),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^shop-[0-9a-f]{8}/web$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("machines"), knownvalue.StringRegexp(regexp.MustCompile(`^1 \S+ \S+ \S+\n(?:\d+ \S+ \S+ \S+\n){24}$`))),
				},
				Check: resource.ComposeTestCheckFunc(c.poolMachinesMatch(25), func(s *terraform.State) error {
					firstID = strings.Fields(s.RootModule().Resources[addr].Primary.Attributes["machines"])[1]
					return nil
				}),
			},
			{Config: c.poolConfig(25), PlanOnly: true},
			{
				// A machine terminated behind Terraform's back: the pool
				// is updated in place and starts a new one for web.1.
				PreConfig: func() {
					if _, err := c.fake.Cloud.Terminate(firstID); err != nil {
						t.Fatal(err)
					}
				},
				Config: c.poolConfig(25),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(c.poolMachinesMatch(25), func(s *terraform.State) error {
					if id := strings.Fields(s.RootModule().Resources[addr].Primary.Attributes["machines"])[1]; id == firstID {
						return fmt.Errorf("web.1 still has machine %q, terminated", id)
					}
					return nil
				}),
			},
			{
				// Scaled out and in, in place.
				Config: c.poolConfig(32),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: c.poolMachinesMatch(32),
			},
			{Config: c.poolConfig(12), Check: c.poolMachinesMatch(12)},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"cpu", "ram", "disk", "timeouts", "batch_size", c.conn.TypeSetting},
			},
			{Config: c.poolConfig(12), PlanOnly: true},
		},
	})
}

func TestAccEC2Pool_lifecycle(t *testing.T)        { testAccPoolLifecycle(t, "ec2") }
func TestAccOpenStackPool_lifecycle(t *testing.T)  { testAccPoolLifecycle(t, "openstack") }
func TestAccCloudSigmaPool_lifecycle(t *testing.T) { testAccPoolLifecycle(t, "cloudsigma") }
func TestAccCloudStackPool_lifecycle(t *testing.T) { testAccPoolLifecycle(t, "cloudstack") }
func TestAccAzurePool_lifecycle(t *testing.T)      { testAccPoolLifecycle(t, "azure") }
func TestAccOpenNebulaPool_lifecycle(t *testing.T) { testAccPoolLifecycle(t, "opennebula") }
func TestAccStratusLabPool_lifecycle(t *testing.T) { testAccPoolLifecycle(t, "stratuslab") }

// TestPoolResources_matchCatalog: every registered cloud has its pool
// resource registered under the catalog's name.
func TestPoolResources_matchCatalog(t *testing.T) {
	ctx := context.Background()
	have := map[string]bool{}
	for _, f := range machineResources() {
		var meta fwresource.MetadataResponse
		f().Metadata(ctx, fwresource.MetadataRequest{ProviderTypeName: "slipstream"}, &meta)
		have[meta.TypeName] = true
	}
	for _, name := range registry.Names() { // sorted
		conn, _ := catalog.Lookup(name)
		if conn.PoolResource == "" || !have[conn.PoolResource] {
			t.Errorf("connector %s: pool resource %q is not registered", name, conn.PoolResource)
		}
	}
}

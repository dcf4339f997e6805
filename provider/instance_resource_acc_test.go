package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
	"github.com/slipstream/terraform-provider-slipstream/connectors/registry"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

// The acceptance tests of the cloud machine resources. The resource is
// one implementation for every cloud, so each test runs the same steps
// on each cloud's fake (the real SDK on the wire, the Instant runtime:
// machines change state but run nothing; the end-to-end tests boot real
// guests). Each cloud's tests are named after its resource.

// cloudTest is one cloud's fake, a coordinator, and configurations of a
// one-node deployment whose machines are that cloud's.
type cloudTest struct {
	t     *testing.T
	conn  *catalog.Connector
	fake  *fakeclouds.Fake
	coord *testCoordinator
	image string
}

func newCloudTest(t *testing.T, connector string, opts fakecloud.Options) *cloudTest {
	t.Helper()
	accPreCheck(t)
	conn, _ := catalog.Lookup(connector)
	if opts.TerminatedRetention == 0 {
		opts.TerminatedRetention = time.Hour // as EC2 shows them
	}
	opts.Log = t.Logf
	fake, err := fakeclouds.Start(connector, fakeclouds.Options{Cloud: opts, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	image := fake.ExampleImage
	if err := fake.AddImage(image, "debian-12", nil); err != nil {
		t.Fatal(err)
	}
	return &cloudTest{t: t, conn: conn, fake: fake, coord: startTestCoordinator(t), image: image}
}

// resource is the address of instance i (from 0) of node web.
func (c *cloudTest) resource(i int) string { return fmt.Sprintf("%s.web[%d]", c.conn.Resource, i) }

// stateKey is the key of instance i in terraform.State's resources.
func (c *cloudTest) stateKey(i int) string { return fmt.Sprintf("%s.web.%d", c.conn.Resource, i) }

// config is n machines of node web, with extra attributes on the
// resource (sizing by default: 1 core, 1 GB).
func (c *cloudTest) config(n int, extra string) string {
	if extra == "" {
		extra = "cpu = 1\n  ram = 1"
	}
	return c.providers() + fmt.Sprintf(`
resource "slipstream_deployment" "shop" {
  name       = "shop"
  components = { web = { scripts = { deploy = ["true"] } } }
  nodes      = { web = { component = "web", connector = %[1]q, cloud = "cloud", multiplicity = %[2]d } }
}

resource %[3]q "web" {
  count    = %[2]d
  provider = slipstream.cloud

  deployment_id = slipstream_deployment.shop.id
  node          = "web"
  index         = count.index + 1
  image_id      = %[4]q
  %[5]s
}
`, c.conn.Name, n, c.conn.Resource, c.image, extra)
}

// providers are the default provider configuration and the cloud's
// alias, both with the coordinator and the cloud's settings: the test
// harness serves every configuration from one in-process provider, where
// the last one configured wins (see sharedServerWorkaround).
func (c *cloudTest) providers() string {
	block := c.fake.ProviderBlock("cloud")
	coord := fmt.Sprintf("  coordinator_url = %q\n  token = %q\n", c.coord.URL, testAdminToken)
	alias := strings.Replace(block, "  alias = \"cloud\"\n", "  alias = \"cloud\"\n"+coord, 1)
	def := strings.Replace(block, "  alias = \"cloud\"\n", coord, 1)
	return def + alias
}

// live lists the fake's machines that are not terminated.
func (c *cloudTest) live() []fakecloud.Machine { return c.fake.Cloud.Machines(fakecloud.Live) }

// noneLeft checks that the fake holds no machine that is not terminated.
func (c *cloudTest) noneLeft() resource.TestCheckFunc {
	return func(*terraform.State) error {
		if live := c.live(); len(live) > 0 {
			var ids []string
			for _, m := range live {
				ids = append(ids, m.ID+" ("+string(m.State)+")")
			}
			return fmt.Errorf("%s still holds machines: %s", c.conn.Name, strings.Join(ids, ", "))
		}
		return nil
	}
}

// machinesMatchState checks that the fake holds exactly the machines the
// state records, each labelled with its deployment and instance and
// started with the instance's user-data.
func (c *cloudTest) machinesMatchState(n int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		dep := s.RootModule().Resources["slipstream_deployment.shop"]
		live := c.live()
		if len(live) != n {
			return fmt.Errorf("the fake holds %d live machines, want %d", len(live), n)
		}
		byID := map[string]fakecloud.Machine{}
		for _, m := range live {
			byID[m.ID] = m
		}
		for i := range n {
			rs, ok := s.RootModule().Resources[c.stateKey(i)]
			if !ok {
				return fmt.Errorf("no %s in the state", c.resource(i))
			}
			m, ok := byID[rs.Primary.ID]
			if !ok {
				return fmt.Errorf("%s records machine %s, which the fake does not hold", c.resource(i), rs.Primary.ID)
			}
			inst := fmt.Sprintf("web.%d", i+1)
			if m.Labels[connectors.LabelDeployment] != dep.Primary.ID || m.Labels[connectors.LabelInstance] != inst {
				return fmt.Errorf("machine %s has labels %v, want deployment %s, instance %s", m.ID, m.Labels, dep.Primary.ID, inst)
			}
			// The user-data the provider rendered for the instance, with a
			// token of its own (not the placeholder the spec was hashed with).
			ud := string(m.UserData)
			if tok, ok := bootstrap.TokenOf(ud); !ok || tok == placeholderToken || !strings.Contains(ud, `"instance":"`+inst+`"`) || !strings.Contains(ud, `"deployment":"`+dep.Primary.ID+`"`) {
				return fmt.Errorf("machine %s got user-data that is not %s's bootstrap with a token of its own:\n%.300s", m.ID, inst, ud)
			}
		}
		return nil
	}
}

// chosenSize is the attribute that shows the chosen size, and the size
// the cloud's fake offers as the smallest fit for 1 core and 1 GB; none
// for clouds sized freely.
func (c *cloudTest) chosenSize() (string, knownvalue.Check) {
	want, ok := map[string]string{
		"azure":      "Standard_B1s",
		"ec2":        "t3.micro",
		"openstack":  "ds1G",
		"cloudstack": "Medium Instance",
		"stratuslab": "m1.small",
	}[c.conn.Name]
	if !ok || c.conn.TypeSetting == "" {
		return "", nil
	}
	return c.conn.TypeSetting, knownvalue.StringExact(want)
}

func testAccInstanceLifecycle(t *testing.T, connector string) {
	c := newCloudTest(t, connector, fakecloud.Options{BootDelay: 200 * time.Millisecond})
	checks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(c.resource(0), tfjsonpath.New("id"), knownvalue.NotNull()),
		statecheck.ExpectKnownValue(c.resource(1), tfjsonpath.New("name"), knownvalue.StringRegexp(regexp.MustCompile(`^shop-[0-9a-f]+-web-2$`))),
		statecheck.ExpectKnownValue(c.resource(0), tfjsonpath.New("state"), knownvalue.StringRegexp(regexp.MustCompile(`^(pending|running)$`))),
	}
	if attr, want := c.chosenSize(); attr != "" {
		checks = append(checks, statecheck.ExpectKnownValue(c.resource(0), tfjsonpath.New(attr), want))
	}
	var firstID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{
			{
				Config:            c.config(2, ""),
				ConfigStateChecks: checks,
				Check: resource.ComposeTestCheckFunc(c.machinesMatchState(2), func(s *terraform.State) error {
					firstID = s.RootModule().Resources[c.stateKey(0)].Primary.ID
					return nil
				}),
			},
			{
				// Once booted, a refresh records the address.
				PreConfig: func() { c.waitRunning(firstID) },
				Config:    c.config(2, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(c.resource(0), tfjsonpath.New("state"), knownvalue.StringExact("running")),
					statecheck.ExpectKnownValue(c.resource(0), tfjsonpath.New("private_ip"), knownvalue.StringRegexp(regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`))),
				},
			},
			{
				// Deleted behind Terraform's back: the plan starts it again.
				PreConfig: func() {
					if _, err := c.fake.Cloud.Terminate(firstID); err != nil {
						t.Fatal(err)
					}
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				RefreshPlanChecks: resource.RefreshPlanChecks{PostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(c.resource(0), plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction(c.resource(1), plancheck.ResourceActionNoop),
				}},
			},
			{
				Config: c.config(2, ""),
				Check: resource.ComposeTestCheckFunc(c.machinesMatchState(2), func(s *terraform.State) error {
					if id := s.RootModule().Resources[c.stateKey(0)].Primary.ID; id == firstID {
						return fmt.Errorf("web.1 still records the terminated machine %s", id)
					}
					return nil
				}),
			},
			{Config: c.config(2, ""), PlanOnly: true},
			{
				// Scaled down: the machine of web.2 is deleted, and waited for.
				Config: c.config(1, ""),
				Check:  c.machinesMatchState(1),
			},
		},
	})
}

// testAccInstanceImport: a machine this provider started, imported by
// its cloud id, reads back as it was created (its deployment, node, index,
// image and type come from the cloud); and a machine whose state was lost
// is taken back under Terraform by import, the next apply recording the
// configuration without replacing it.
func testAccInstanceImport(t *testing.T, connector string) {
	c := newCloudTest(t, connector, fakecloud.Options{})
	single := strings.NewReplacer("count    = 1\n", "", "count.index + 1", "1").Replace(c.config(1, ""))
	addr := c.conn.Resource + ".web"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{
			{Config: single},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"cpu", "ram", "disk", "timeouts", "state", "private_ip", "public_ip"},
			},
			{
				ResourceName: addr, ImportState: true, ImportStateId: "no such/machine",
				ExpectError: regexp.MustCompile(`Invalid import id`),
			},
		},
	})

	// A machine whose state was lost: started by an earlier run, found
	// by its labels' deployment and instance.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	factory, _ := registry.Factory(connector)
	conn, err := factory(ctx, settingsFromStrings(c.fake.Recipe, c.fake.Settings))
	if err != nil {
		t.Fatal(err)
	}
	const dep = "shop-0a1b2c3d"
	spec := connectors.MachineSpec{Deployment: dep, Instance: "web.1", Name: connectors.MachineName(dep, "web.1"), ImageID: c.image,
		UserData: "#!/bin/sh\necho lost\n", Size: connectors.Size{CPU: 1, RAMGB: 1},
		Labels: map[string]string{connectors.LabelDeployment: dep, connectors.LabelInstance: "web.1"}}
	if attr, _ := c.chosenSize(); attr != "" {
		offers, err := conn.Offers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		o, err := connectors.PickOffer(connector, offers, spec.Size)
		if err != nil {
			t.Fatal(err)
		}
		spec.Type = o.Name
	}
	m, err := conn.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	lost := c.providers() + fmt.Sprintf(`
resource %q "web" {
  provider      = slipstream.cloud
  deployment_id = %q
  node          = "web"
  index         = 1
  image_id      = %q
  cpu           = 1
  ram           = 1
}
`, c.conn.Resource, dep, c.image)
	checks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact(m.ID)),
		statecheck.ExpectKnownValue(addr, tfjsonpath.New("cpu"), knownvalue.Int64Exact(1)),
	}
	if attr, want := c.chosenSize(); attr != "" {
		checks = append(checks, statecheck.ExpectKnownValue(addr, tfjsonpath.New(attr), want))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{
			{
				Config: lost, ResourceName: addr, ImportState: true, ImportStateId: m.ID, ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d resources", len(states))
					}
					a := states[0].Attributes
					if a["deployment_id"] != dep || a["node"] != "web" || a["index"] != "1" || a["image_id"] != c.image {
						return fmt.Errorf("imported attributes %v", a)
					}
					return nil
				},
			},
			{
				Config: lost,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: checks,
			},
			{Config: lost, PlanOnly: true},
		},
	})
}

// settingsFromStrings merges string settings into connectors.Settings.
func settingsFromStrings(maps ...map[string]string) connectors.Settings {
	out := connectors.Settings{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func (c *cloudTest) waitRunning(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.fake.Cloud.WaitMachine(ctx, id, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		c.t.Fatal(err)
	}
}

func TestAccEC2Instance_lifecycle(t *testing.T)        { testAccInstanceLifecycle(t, "ec2") }
func TestAccOpenStackInstance_lifecycle(t *testing.T)  { testAccInstanceLifecycle(t, "openstack") }
func TestAccCloudSigmaServer_lifecycle(t *testing.T)   { testAccInstanceLifecycle(t, "cloudsigma") }
func TestAccEC2Instance_import(t *testing.T)           { testAccInstanceImport(t, "ec2") }
func TestAccOpenStackInstance_import(t *testing.T)     { testAccInstanceImport(t, "openstack") }
func TestAccCloudSigmaServer_import(t *testing.T)      { testAccInstanceImport(t, "cloudsigma") }
func TestAccEC2Instance_throttledAndSlow(t *testing.T) { testAccInstanceThrottled(t, "ec2") }
func TestAccOpenStackInstance_throttledAndSlow(t *testing.T) {
	testAccInstanceThrottled(t, "openstack")
}
func TestAccCloudSigmaServer_throttledAndSlow(t *testing.T) {
	testAccInstanceThrottled(t, "cloudsigma")
}
func TestAccEC2Instance_permanentErrors(t *testing.T) { testAccInstancePermanentErrors(t, "ec2") }
func TestAccOpenStackInstance_permanentErrors(t *testing.T) {
	testAccInstancePermanentErrors(t, "openstack")
}
func TestAccCloudSigmaServer_permanentErrors(t *testing.T) {
	testAccInstancePermanentErrors(t, "cloudsigma")
}
func TestAccEC2Instance_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "ec2")
}
func TestAccOpenStackInstance_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "openstack")
}
func TestAccCloudSigmaServer_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "cloudsigma")
}

func TestAccCloudStackInstance_lifecycle(t *testing.T) { testAccInstanceLifecycle(t, "cloudstack") }
func TestAccCloudStackInstance_import(t *testing.T)    { testAccInstanceImport(t, "cloudstack") }
func TestAccCloudStackInstance_throttledAndSlow(t *testing.T) {
	testAccInstanceThrottled(t, "cloudstack")
}
func TestAccCloudStackInstance_permanentErrors(t *testing.T) {
	testAccInstancePermanentErrors(t, "cloudstack")
}
func TestAccCloudStackInstance_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "cloudstack")
}

func TestAccAzureVM_lifecycle(t *testing.T) { testAccInstanceLifecycle(t, "azure") }
func TestAccAzureVM_import(t *testing.T)    { testAccInstanceImport(t, "azure") }
func TestAccAzureVM_throttledAndSlow(t *testing.T) {
	testAccInstanceThrottled(t, "azure")
}
func TestAccAzureVM_permanentErrors(t *testing.T) {
	testAccInstancePermanentErrors(t, "azure")
}
func TestAccAzureVM_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "azure")
}

func TestAccOpenNebulaVM_lifecycle(t *testing.T) { testAccInstanceLifecycle(t, "opennebula") }
func TestAccOpenNebulaVM_import(t *testing.T)    { testAccInstanceImport(t, "opennebula") }
func TestAccOpenNebulaVM_throttledAndSlow(t *testing.T) {
	testAccInstanceThrottled(t, "opennebula")
}
func TestAccOpenNebulaVM_permanentErrors(t *testing.T) {
	testAccInstancePermanentErrors(t, "opennebula")
}
func TestAccOpenNebulaVM_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "opennebula")
}

func TestAccStratusLabVM_lifecycle(t *testing.T) { testAccInstanceLifecycle(t, "stratuslab") }
func TestAccStratusLabVM_import(t *testing.T)    { testAccInstanceImport(t, "stratuslab") }
func TestAccStratusLabVM_throttledAndSlow(t *testing.T) {
	testAccInstanceThrottled(t, "stratuslab")
}
func TestAccStratusLabVM_permanentErrors(t *testing.T) {
	testAccInstancePermanentErrors(t, "stratuslab")
}
func TestAccStratusLabVM_failedMachineIsReplaced(t *testing.T) {
	testAccInstanceFailedMachine(t, "stratuslab")
}

// testAccInstanceThrottled: a throttling, slow API is waited out within
// the timeout, and each machine is started once.
func testAccInstanceThrottled(t *testing.T, connector string) {
	c := newCloudTest(t, connector, fakecloud.Options{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				c.fake.Cloud.Faults.Throttle(5)
				c.fake.Cloud.Faults.Latency(200 * time.Millisecond)
			},
			Config: c.config(3, ""),
			Check: resource.ComposeTestCheckFunc(c.machinesMatchState(3), func(*terraform.State) error {
				c.fake.Cloud.Faults.Reset()
				return nil
			}),
		}},
	})
}

// testAccInstancePermanentErrors: capacity, quota and an unknown image
// fail the apply at once with the cloud's own words, naming the cloud and
// the instance, and leave no machine; sizing that nothing fits names the
// largest size.
func testAccInstancePermanentErrors(t *testing.T, connector string) {
	c := newCloudTest(t, connector, fakecloud.Options{})
	title := regexp.QuoteMeta(c.conn.Title)
	fault := func(set func(*fakecloud.Faults)) func() {
		return func() { c.fake.Cloud.Faults.Reset(); set(&c.fake.Cloud.Faults) }
	}
	var started time.Time
	timed := func(f func()) func() {
		return func() { f(); started = time.Now() }
	}
	quick := func(*terraform.State) error {
		if d := time.Since(started); d > 2*time.Minute {
			return fmt.Errorf("a permanent error took %v: it was retried", d)
		}
		return nil
	}
	unknownImage := strings.Replace(c.config(1, ""), fmt.Sprintf("image_id      = %q", c.image), fmt.Sprintf("image_id      = %q", fakeclouds.MissingImage(connector)), 1)
	if unknownImage == c.config(1, "") {
		t.Fatal("the configuration has no image_id to replace")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{
			{
				PreConfig:   timed(fault(func(f *fakecloud.Faults) { f.NoCapacity(100) })),
				Config:      c.config(1, ""),
				ExpectError: regexp.MustCompile(`(?s)Cannot start a machine on ` + title + `.*web\.1: ` + connector + ` `),
			},
			{
				PreConfig:   timed(fault(func(f *fakecloud.Faults) { f.OverQuota(100) })),
				Config:      c.config(1, ""),
				ExpectError: regexp.MustCompile(`(?is)Cannot start a machine on ` + title + `.*web\.1: .*(quota|limit)`),
			},
			{
				PreConfig:   timed(fault(func(f *fakecloud.Faults) {})),
				Config:      unknownImage,
				ExpectError: regexp.MustCompile(`(?is)Cannot start a machine on ` + title + `.*web\.1: .*image`),
			},
			{
				Config:      c.config(1, "cpu = 4096\n  ram = 65536"),
				ExpectError: regexp.MustCompile(`(?s)No machine size for web\.1 on ` + title + `.*largest`),
			},
			{
				// Nothing was left by the failures, and the apply works
				// once the cloud has room again.
				PreConfig: func() {
					if err := quick(nil); err != nil {
						t.Error(err)
					}
					if err := c.noneLeft()(nil); err != nil {
						t.Errorf("after the failed applies: %v", err)
					}
				},
				Config: c.config(1, ""),
				Check:  c.machinesMatchState(1),
			},
		},
	})
}

// testAccInstanceFailedMachine: a machine that dies after booting is
// reported by the next refresh and replaced by the next apply, its failed
// machine deleted.
func testAccInstanceFailedMachine(t *testing.T, connector string) {
	c := newCloudTest(t, connector, fakecloud.Options{})
	var failed string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             c.noneLeft(),
		Steps: []resource.TestStep{
			{
				// It dies after the create returned (OpenStack's create waits
				// until the server is scheduled), before the refresh that
				// follows the apply, which then finds it failed.
				PreConfig:          func() { c.fake.Cloud.Faults.DieAfterBoot(1, 2*time.Second) },
				Config:             c.config(1, ""),
				ExpectNonEmptyPlan: true,
				Check: func(s *terraform.State) error {
					failed = s.RootModule().Resources[c.stateKey(0)].Primary.ID
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					_, err := c.fake.Cloud.WaitMachine(ctx, failed, func(m fakecloud.Machine) bool { return m.State == fakecloud.Failed })
					return err
				},
			},
			{
				Config: c.config(1, ""),
				Check: resource.ComposeTestCheckFunc(c.machinesMatchState(1), func(s *terraform.State) error {
					if s.RootModule().Resources[c.stateKey(0)].Primary.ID == failed {
						return fmt.Errorf("the failed machine %s is still in the state", failed)
					}
					return nil
				}),
			},
		},
	})
}

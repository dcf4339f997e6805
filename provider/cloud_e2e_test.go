package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud/guest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
)

// The end-to-end tests of cloud machines: the fakes of several clouds,
// whose machines are guests (real Debian systems booted by the real
// cloud-init, or in the light mode by their user-data alone), a
// coordinator on the guests' bridge, and a recipe compiled by slipc and
// applied by the Terraform CLI with the built provider. They run the CLI
// directly rather than through the test harness: a deployment on three
// clouds has three provider configurations, which Terraform serves from
// three provider processes and the harness from one.

// guestRuntime is a guest runtime and the base image's root folder,
// built first if needed (minutes, once per machine). Without root the test
// is skipped, except on CI, where make deps provides everything.
func guestRuntime(t *testing.T, light bool) (*guest.Runtime, string) {
	t.Helper()
	if err := guest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("guests unavailable on CI: %v", err)
		}
		t.Skipf("guests unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	image, err := guest.BaseImage(ctx, guest.ImageOptions{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := guest.New(ctx, guest.Options{Prefix: "tfg", UserDataOnly: light})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("closing the guests: %v", err)
		}
	})
	return rt, image
}

// startFakes starts the fakes of the named clouds on the runtime, each
// serving the base image under its example id (fakeclouds.ExampleImage).
func startFakes(t *testing.T, rt fakecloud.Runtime, image string, opts fakecloud.Options, names ...string) map[string]*fakeclouds.Fake {
	t.Helper()
	dir := t.TempDir()
	opts.Runtime = rt
	opts.Log = t.Logf
	if opts.TerminatedRetention == 0 {
		opts.TerminatedRetention = time.Hour
	}
	out := map[string]*fakeclouds.Fake{}
	for _, name := range names {
		region := ""
		if name == "ec2" {
			region = "eu-west-1"
		}
		f, err := fakeclouds.Start(name, fakeclouds.Options{Cloud: opts, Dir: dir, Region: region})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		var layers []string
		if image != "" {
			layers = []string{image}
		}
		if err := f.AddImage(fakeclouds.ExampleImage(name), "debian-12", layers); err != nil {
			t.Fatal(err)
		}
		out[name] = f
	}
	return out
}

var providerBuild struct {
	once sync.Once
	dir  string
	err  error
}

// tfCLI runs the Terraform CLI in a folder of compiled configuration,
// with the provider built from this tree (dev_overrides) and the fakes'
// environment, as a user's shell would have it.
type tfCLI struct {
	t   *testing.T
	dir string
	env []string
}

func newTFCLI(t *testing.T, dir string, fakes map[string]*fakeclouds.Fake) *tfCLI {
	t.Helper()
	providerBuild.once.Do(func() {
		d, err := os.MkdirTemp("", "slipstream-provider-")
		if err != nil {
			providerBuild.err = err
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(d, "terraform-provider-slipstream"), "github.com/slipstream/terraform-provider-slipstream").CombinedOutput()
		if err != nil {
			providerBuild.err = fmt.Errorf("building the provider: %v\n%s", err, out)
		}
		providerBuild.dir = d
	})
	if providerBuild.err != nil {
		t.Fatal(providerBuild.err)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"slipstream/slipstream\" = %q\n  }\n  direct {}\n}\n", providerBuild.dir)), 0o644)
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	for _, f := range fakes {
		for k, v := range f.Env {
			env = append(env, k+"="+v)
		}
	}
	return &tfCLI{t: t, dir: dir, env: env}
}

// run runs terraform with args and returns its output and exit status.
func (c *tfCLI) run(ctx context.Context, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), code
}

// must runs terraform and fails the test unless it exits 0.
func (c *tfCLI) must(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	out, code := c.run(ctx, args...)
	c.t.Logf("terraform %s: exit %d after %v", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		c.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// state is `terraform show -json`'s resources, by address.
func (c *tfCLI) state() map[string]map[string]any {
	c.t.Helper()
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(c.must("show", "-json", "-no-color")), &doc); err != nil {
		c.t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, r := range doc.Values.RootModule.Resources {
		out[r.Address] = r.Values
	}
	return out
}

// compileRecipe compiles the recipe folder into a new folder and returns
// it.
func compileRecipe(t *testing.T, dir string) string {
	t.Helper()
	out, _, diags := compiler.Compile(dir, compiler.CompileOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	tf := t.TempDir()
	for rel, content := range out.Files {
		p := filepath.Join(tf, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tf
}

// lampOnClouds is examples/recipes/lamp with its one cloud of hosts
// replaced by several clouds: the database on EC2, the web servers on
// OpenStack, and on each other cloud of fakes a monitor node (named after
// its cloud) that waits for every web server. The monitors' cloud blocks
// are the fakes' own recipe settings; nothing else of the recipe changes.
func lampOnClouds(t *testing.T, fakes map[string]*fakeclouds.Fake) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../examples/recipes/lamp")); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "lamp.slip.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	recipe := string(src)
	// replace replaces what re matches with with, in which $1 is re's
	// first group and $$ a dollar sign.
	replace := func(re, with string) {
		t.Helper()
		r := regexp.MustCompile(re)
		if !r.MatchString(recipe) {
			t.Fatalf("the lamp recipe has nothing matching %s", re)
		}
		recipe = r.ReplaceAllString(recipe, with)
	}
	clouds := `cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}

cloud "private" {
  connector = "openstack"
  cloud     = "shop"
  network   = "shop-net"
}
`
	ids := "    aws     = \"" + fakeclouds.ExampleImage("ec2") + "\"\n    private = \"" + fakeclouds.ExampleImage("openstack") + "\"\n"
	var monitors []string
	for _, name := range slices.Sorted(maps.Keys(fakes)) {
		if name == "ec2" || name == "openstack" {
			continue
		}
		monitors = append(monitors, name)
		clouds += fmt.Sprintf("\ncloud %q {\n  connector = %q\n", name, name)
		for _, k := range slices.Sorted(maps.Keys(fakes[name].Recipe)) {
			clouds += fmt.Sprintf("  %s = %q\n", k, fakes[name].Recipe[k])
		}
		clouds += "}\n"
		ids += fmt.Sprintf("    %s = %q\n", name, fakeclouds.ExampleImage(name))
	}
	replace(`(?ms)^cloud "lab" \{$.*?^\}$`, strings.ReplaceAll(clouds, "$", "$$")+`
component "monitor" {
  image = image.lamp_base
  cpu   = 1
  ram   = 1

  output "watched" {
    description = "How many web servers the monitor saw."
  }

  deploy = <<-EOT
    #!/bin/sh
    set -e
    n=$$(ss-get-all --timeout 600 web url.service | grep -c 'http://')
    ss-set watched "$$n"
  EOT
}`)
	replace(`(?m)^image "debian" \{$`, "image \"debian\" {\n  ids = {\n"+ids+"  }")
	replace(`(  node "db" \{\n    component = component\.db\n    cloud     = )cloud\.lab`, "${1}cloud.aws")
	replace(`(  node "web" \{\n    component    = component\.web\n    cloud        = )cloud\.lab`, "${1}cloud.private")
	nodes := ""
	for _, name := range monitors {
		nodes += fmt.Sprintf("\n  node %q {\n    component = component.monitor\n    cloud     = cloud.%s\n  }\n", name, name)
	}
	replace(`(?m)^\}\s*\z`, nodes+"}\n")
	if strings.Contains(recipe, "cloud.lab") {
		t.Fatalf("the recipe still names the lab cloud:\n%s", recipe)
	}
	if err := os.WriteFile(filepath.Join(dir, "lamp.slip.hcl"), []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// liveByCloud lists each fake's machines of the deployment that are not
// terminated.
func liveByCloud(fakes map[string]*fakeclouds.Fake, deployment string) map[string][]fakecloud.Machine {
	out := map[string][]fakecloud.Machine{}
	for name, f := range fakes {
		out[name] = f.Cloud.Machines(func(m *fakecloud.Machine) bool {
			return m.State != fakecloud.Terminated && (deployment == "" || m.Labels[connectors.LabelDeployment] == deployment)
		})
	}
	return out
}

// TestAccMultiCloud_lamp: the lamp example compiled by slipc and applied
// by the Terraform CLI across the fakes of every cloud, whose machines are
// real Debian systems booted by cloud-init: the database on EC2, three web
// servers on OpenStack, and a monitor on each other cloud (CloudSigma,
// CloudStack, …: every registered connector) that waits for every web
// server. The database's generated password reaches the web servers on
// the other cloud, every monitor sees the three web servers, the outputs
// are right, a second plan is empty, and destroy leaves no machine in any
// fake and no guest on this machine.
func TestAccMultiCloud_lamp(t *testing.T) {
	accPreCheck(t)
	rt, image := guestRuntime(t, false)
	fakes := startFakes(t, rt, image, fakecloud.Options{BootDelay: time.Second}, fakeclouds.Names()...)
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	tf := newTFCLI(t, compileRecipe(t, lampOnClouds(t, fakes)), fakes)
	t.Cleanup(func() {
		if t.Failed() {
			for _, g := range rt.Instances() {
				t.Logf("console of %s:\n%s", g.Name(), g.Console())
			}
		}
	})

	tf.must("apply", "-auto-approve", "-no-color")
	st := tf.state()
	dep, _ := st["slipstream_deployment.lamp"]["id"].(string)
	ready := st["slipstream_deployment_ready.lamp"]
	if ready["state"] != "Ready" {
		t.Errorf("the run is %v, want Ready", ready["state"])
	}
	sens, _ := ready["sensitive_outputs"].(map[string]any)
	password := firstString(sens, "db", "password")
	if !regexp.MustCompile(`^[A-Za-z0-9]{24}$`).MatchString(password) {
		t.Errorf("the database's password is %q", password)
	}
	webPasswords, _ := sens["web"].(map[string]any)["db_password"].([]any)
	if len(webPasswords) != 3 {
		t.Errorf("the web servers' db_password: %v", webPasswords)
	}
	for i, p := range webPasswords {
		if p != password {
			t.Errorf("web.%d (OpenStack) got another password than the database's (EC2)", i+1)
		}
	}
	outs, _ := ready["outputs"].(map[string]any)
	want := map[string]int{"ec2": 1, "openstack": 3}
	for name := range fakes {
		if name == "ec2" || name == "openstack" {
			continue
		}
		want[name] = 1
		if got := firstString(outs, name, "watched"); got != "3" {
			t.Errorf("the monitor on %s saw %q web servers, want 3 (outputs %v)", name, got, outs)
		}
	}
	live := liveByCloud(fakes, dep)
	for name, n := range want {
		if len(live[name]) != n {
			t.Errorf("%s holds %d machines of the deployment, want %d", name, len(live[name]), n)
		}
	}
	var webIPs []string
	for _, m := range live["openstack"] {
		webIPs = append(webIPs, "http://"+m.PrivateIP+"/")
	}
	sort.Strings(webIPs)
	var urls []string
	json.Unmarshal([]byte(tf.must("output", "-json", "web_url_service")), &urls)
	sort.Strings(urls)
	if strings.Join(urls, " ") != strings.Join(webIPs, " ") {
		t.Errorf("output web_url_service = %v, want the OpenStack machines' %v", urls, webIPs)
	}
	var dbHost []string
	json.Unmarshal([]byte(tf.must("output", "-json", "db_hostname")), &dbHost)
	if len(dbHost) != 1 || len(live["ec2"]) != 1 || dbHost[0] != live["ec2"][0].PrivateIP {
		t.Errorf("output db_hostname = %v, want the EC2 machine's address", dbHost)
	}
	// The machines ran the real cloud-init.
	for _, g := range rt.Instances() {
		if !strings.Contains(g.Console(), "Cloud-init") && !strings.Contains(g.Console(), "cloud-init") {
			t.Errorf("guest %s's console shows no cloud-init:\n%s", g.Name(), g.Console())
		}
	}

	if out, code := tf.run(context.Background(), "plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Errorf("a second plan is not empty (exit %d):\n%s", code, out)
	}

	tf.must("destroy", "-auto-approve", "-no-color")
	for name, ms := range liveByCloud(fakes, "") {
		if len(ms) > 0 {
			t.Errorf("destroy left %d machines on %s: %+v", len(ms), name, ms)
		}
	}
	if n := len(rt.Instances()); n != 0 {
		t.Errorf("destroy left %d guests on this machine", n)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), rt.ID()+"-") {
		t.Errorf("destroy left network namespaces of the guests:\n%s", out)
	}
}

// ec2Deployment is a configuration of one deployment, "m", of one node,
// "n", on the EC2 fake (the provider alias "aws"; the coordinator and the
// cloud's credentials come from the environment), for the tests and
// measurements that count machines rather than clouds.
type ec2Deployment struct {
	// Instances is the node's multiplicity, Machines the number of machine
	// resources (default Instances).
	Instances, Machines int
	// Script is the node's deploy script (default "true").
	Script string
	// Extra are more attributes of the machines (default 1 core, 1 GB).
	Extra string
	// ReadyTimeout, when set, adds the ready resource with this create
	// timeout.
	ReadyTimeout string
}

func (d ec2Deployment) String() string {
	if d.Machines == 0 {
		d.Machines = d.Instances
	}
	if d.Script == "" {
		d.Script = "true"
	}
	if d.Extra == "" {
		d.Extra = "cpu = 1\n  ram = 1"
	}
	config := fmt.Sprintf(`
terraform {
  required_providers {
    slipstream = { source = "slipstream/slipstream" }
  }
}

provider "slipstream" {}

provider "slipstream" {
  alias = "aws"
  ec2   = { region = "eu-west-1" }
}

resource "slipstream_deployment" "m" {
  name       = "m"
  components = { c = { scripts = { deploy = [%q] } } }
  nodes      = { n = { component = "c", connector = "ec2", cloud = "aws", multiplicity = %d } }
}

resource "slipstream_ec2_instance" "n" {
  count         = %d
  provider      = slipstream.aws
  deployment_id = slipstream_deployment.m.id
  node          = "n"
  index         = count.index + 1
  image_id      = %q
  %s
}
`, d.Script, d.Instances, d.Machines, fakeclouds.ExampleImage("ec2"), d.Extra)
	if d.ReadyTimeout != "" {
		config += fmt.Sprintf(`
resource "slipstream_deployment_ready" "m" {
  deployment_id = slipstream_deployment.m.id
  multiplicities = slipstream_deployment.m.multiplicities
  depends_on     = [slipstream_ec2_instance.n]
  timeouts      = { create = %q }
}
`, d.ReadyTimeout)
	}
	return config
}

// writeConfig writes config as main.tf of a new folder and returns it.
func writeConfig(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// firstString is m[node][param][0] of an outputs map.
func firstString(m map[string]any, node, param string) string {
	n, _ := m[node].(map[string]any)
	l, _ := n[param].([]any)
	if len(l) == 0 {
		return ""
	}
	s, _ := l[0].(string)
	return s
}

// TestAccMultiCloud_interruptedApply: Ctrl-C (SIGINT) to `terraform
// apply` while machines are being created on three clouds, whose APIs
// answer slowly so that creates are in flight; then `terraform apply`
// again. It converges: every instance has exactly one machine, the one its
// state records, no fake holds a machine that Terraform does not know,
// the run reaches Ready, and destroy leaves nothing.
func TestAccMultiCloud_interruptedApply(t *testing.T) {
	accPreCheck(t)
	rt, image := guestRuntime(t, true)
	fakes := startFakes(t, rt, image, fakecloud.Options{}, "ec2", "openstack", "cloudsigma")
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	tf := newTFCLI(t, compileRecipe(t, "../examples/recipes/multicloud"), fakes)
	for _, f := range fakes {
		f.Cloud.Faults.Latency(time.Second)
	}

	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "apply", "-auto-approve", "-no-color", "-var", "web_multiplicity=4")
	cmd.Dir, cmd.Env = tf.dir, tf.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	accepted := func() int {
		n := 0
		for _, ms := range liveByCloud(fakes, "") {
			n += len(ms)
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Minute)
	for accepted() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if accepted() == 0 {
		cmd.Process.Kill()
		t.Fatalf("no machine was created:\n%s", out.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("the interrupted apply exited (%v) with %d machines accepted:\n%s", err, accepted(), out.String())
		if err == nil {
			t.Errorf("the interrupted apply succeeded: it was interrupted too late to test anything")
		}
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("terraform did not stop after SIGINT:\n%s", out.String())
	}

	for _, f := range fakes {
		f.Cloud.Faults.Reset()
	}
	tf.must("apply", "-auto-approve", "-no-color", "-var", "web_multiplicity=4")
	st := tf.state()
	if st["slipstream_deployment_ready.shop"]["state"] != "Ready" {
		t.Errorf("the run is %v after the second apply", st["slipstream_deployment_ready.shop"]["state"])
	}
	dep, _ := st["slipstream_deployment.shop"]["id"].(string)
	recorded := map[string]string{} // machine id → address in the state
	for addr, v := range st {
		if strings.HasPrefix(addr, "slipstream_ec2_instance.") || strings.HasPrefix(addr, "slipstream_openstack_instance.") || strings.HasPrefix(addr, "slipstream_cloudsigma_server.") {
			recorded[v["id"].(string)] = addr
		}
	}
	if len(recorded) != 6 {
		t.Errorf("the state records %d machines, want 6 (db, 4 web, probe): %v", len(recorded), recorded)
	}
	perInstance := map[string]int{}
	for name, ms := range liveByCloud(fakes, "") {
		for _, m := range ms {
			if _, ok := recorded[m.ID]; !ok {
				t.Errorf("orphan: %s machine %s (%s, %s) is in no state", name, m.ID, m.Labels[connectors.LabelInstance], m.State)
			}
			if m.Labels[connectors.LabelDeployment] != dep {
				t.Errorf("%s machine %s belongs to deployment %q, not %s", name, m.ID, m.Labels[connectors.LabelDeployment], dep)
			}
			perInstance[m.Labels[connectors.LabelInstance]]++
		}
	}
	for inst, n := range perInstance {
		if n != 1 {
			t.Errorf("instance %s has %d machines", inst, n)
		}
	}
	if out, code := tf.run(context.Background(), "plan", "-detailed-exitcode", "-no-color", "-var", "web_multiplicity=4"); code != 0 {
		t.Errorf("a plan after the second apply is not empty (exit %d):\n%s", code, out)
	}
	tf.must("destroy", "-auto-approve", "-no-color", "-var", "web_multiplicity=4")
	for name, ms := range liveByCloud(fakes, "") {
		if len(ms) > 0 {
			t.Errorf("destroy left %d machines on %s", len(ms), name)
		}
	}
}

// TestAccEC2Instance_stuckPendingFailsReadyInTime: a machine the cloud
// accepts but never boots leaves the run short of one agent; the ready
// resource's wait ends at its timeout with an error naming the instance
// that never reported, and destroy removes the stuck machine too.
func TestAccEC2Instance_stuckPendingFailsReadyInTime(t *testing.T) {
	accPreCheck(t)
	rt, image := guestRuntime(t, true)
	fakes := startFakes(t, rt, image, fakecloud.Options{}, "ec2")
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	dir := writeConfig(t, ec2Deployment{Instances: 2, ReadyTimeout: "30s"}.String())
	tf := newTFCLI(t, dir, fakes)
	fakes["ec2"].Cloud.Faults.StuckPending(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, code := tf.run(ctx, "apply", "-auto-approve", "-no-color")
	if code == 0 {
		t.Fatalf("the apply succeeded with a machine that never booted:\n%s", out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	if !regexp.MustCompile(`Deployment not ready in time .*Instances that have not completed it: n\.[12]`).MatchString(flat) {
		t.Errorf("the apply's error does not name the instance whose machine never booted:\n%s", out)
	}
	if st := tf.state(); st["slipstream_ec2_instance.n[0]"] == nil || st["slipstream_ec2_instance.n[1]"] == nil {
		t.Errorf("the state lacks a machine: %v", st)
	}
	if live := liveByCloud(fakes, ""); len(live["ec2"]) != 2 {
		t.Errorf("the fake holds %d machines, want both in the state", len(live["ec2"]))
	}
	tf.must("destroy", "-auto-approve", "-no-color")
	if live := liveByCloud(fakes, ""); len(live["ec2"]) != 0 {
		t.Errorf("destroy left %d machines, the stuck one among them?", len(live["ec2"]))
	}
}

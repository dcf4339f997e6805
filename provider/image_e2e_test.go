package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
)

// imageConfig is an image built on a cloud's fake from the base image
// with the given post_install, and a deployment of two machines started
// from it whose node has the same build steps and a deploy script that
// publishes which build steps ran on the machine (the file the steps
// append to).
func imageConfig(fake *fakeclouds.Fake, postInstall string) string {
	conn, _ := catalog.Lookup(fake.Connector)
	pre := "mkdir -p /opt/app && echo pre >> /opt/app/steps"
	return fmt.Sprintf(`
terraform {
  required_providers {
    slipstream = { source = "slipstream/slipstream" }
  }
}

provider "slipstream" {}

%[4]s
locals {
  pre_install  = [%[1]q]
  post_install = [%[2]q]
}

resource %[5]q "web_base" {
  provider        = slipstream.cloud
  name            = "web_base"
  parent_image_id = %[3]q
  platform        = "debian"
  pre_install     = local.pre_install
  post_install    = local.post_install
  cpu             = 1
  ram             = 1
}

resource "slipstream_deployment" "m" {
  name = "m"
  components = {
    web = {
      image      = { chain = ["web_base"], platform = "debian" }
      parameters = { steps = { output = true } }
      scripts = {
        pre_install  = local.pre_install
        post_install = local.post_install
        deploy       = ["ss-set steps \"$(tr '\\n' ' ' < /opt/app/steps)\""]
      }
    }
  }
  nodes = { web = { component = "web", connector = %[7]q, cloud = "cloud", multiplicity = 2 } }
}

resource %[6]q "web" {
  count         = 2
  provider      = slipstream.cloud
  deployment_id = slipstream_deployment.m.id
  node          = "web"
  index         = count.index + 1
  image_id      = %[5]s.web_base.image_id
  cpu           = 1
  ram           = 1
}

resource "slipstream_deployment_ready" "m" {
  deployment_id  = slipstream_deployment.m.id
  multiplicities = slipstream_deployment.m.multiplicities
  depends_on     = [%[6]s.web]
}

output "steps" {
  value = slipstream_deployment_ready.m.outputs["web"]["steps"]
}

output "image_id" {
  value = %[5]s.web_base.image_id
}
`, pre, postInstall, fakeclouds.ExampleImage(fake.Connector), fake.ProviderBlock("cloud"), conn.ImageResource, conn.Resource, fake.Connector)
}

// testAccImageBuildAndDeploy: an image built on a cloud's fake, whose
// machines are Debian guests booted by the real cloud-init: the
// builder runs the build steps and is snapshotted and terminated; two
// machines started from the image skip those steps (they ran once, in the
// build) and run their deploy script. A changed post_install replaces the
// image and the machines, and nothing else; the same configuration plans
// nothing. A failing step fails the build with its name and message and
// leaves no builder, and so does an apply interrupted (SIGINT) during a
// build. Destroy removes the images.
func testAccImageBuildAndDeploy(t *testing.T, connector string) {
	accPreCheck(t)
	rt, image := guestRuntime(t, false)
	fakes := startFakes(t, rt, image, fakecloud.Options{BootDelay: time.Second}, connector)
	fake := fakes[connector]
	cloud := fake.Cloud
	conn, _ := catalog.Lookup(connector)
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	dir := t.TempDir()
	write := func(config string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tf := newTFCLI(t, dir, fakes)
	t.Cleanup(func() {
		if t.Failed() {
			for _, g := range rt.Instances() {
				t.Logf("console of %s:\n%s", g.Name(), g.Console())
			}
		}
	})
	ctx := context.Background()
	builtImages := func() []string {
		var ids []string
		for _, img := range cloud.Images() {
			if img.ID != fakeclouds.ExampleImage(connector) {
				ids = append(ids, img.ID)
			}
		}
		return ids
	}
	check := func(steps string) string {
		t.Helper()
		var got []string
		if err := jsonOutput(tf, "steps", &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || strings.TrimSpace(got[0]) != steps || strings.TrimSpace(got[1]) != steps {
			t.Errorf("the machines started from the image ran the steps %q, want %q on each (the build steps only in the build)", got, steps)
		}
		if live := cloud.Machines(fakecloud.Live); len(live) != 2 {
			t.Errorf("the fake runs %d machines, want the 2 of the deployment (the builder terminated)", len(live))
		}
		var id string
		jsonOutput(tf, "image_id", &id)
		return id
	}

	write(imageConfig(fake, "echo post >> /opt/app/steps"))
	start := time.Now()
	tf.must("apply", "-auto-approve", "-no-color")
	t.Logf("build and deploy from the image: %.1f s", time.Since(start).Seconds())
	first := check("pre post")
	if imgs := builtImages(); len(imgs) != 1 || imgs[0] != first {
		t.Errorf("the fake holds the built images %v, want %s", imgs, first)
	}
	if out, code := tf.run(ctx, "plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Errorf("a second plan is not empty (exit %d):\n%s", code, out)
	}

	// One line of post_install changes: the image is built again, and the
	// machines start from the new one; the deployment is replaced too (its
	// scripts changed), nothing else is.
	write(imageConfig(fake, "echo post2 >> /opt/app/steps"))
	out := tf.must("plan", "-no-color")
	for _, want := range []string{conn.ImageResource + ".web_base must be replaced", conn.Resource + ".web[0] must be replaced"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan after a changed post_install does not say %q:\n%s", want, out)
		}
	}
	tf.must("apply", "-auto-approve", "-no-color")
	second := check("pre post2")
	if second == first {
		t.Errorf("the image was not built again: %s", second)
	}
	if imgs := builtImages(); len(imgs) != 1 || imgs[0] != second {
		t.Errorf("after the rebuild the fake holds the images %v, want only %s", imgs, second)
	}

	// A failing step: the apply fails naming it, and no builder is left.
	write(imageConfig(fake, "echo 'no space left on device' >&2; exit 3"))
	res, code := tf.run(ctx, "apply", "-auto-approve", "-no-color")
	flat := strings.Join(strings.Fields(res), " ")
	if code == 0 || !regexp.MustCompile(`Image build failed.*post_install.*no space left on device`).MatchString(flat) {
		t.Errorf("a failing post_install: exit %d, want the build to fail naming the step and its message:\n%s", code, res)
	}
	for _, m := range cloud.Machines(fakecloud.Live) {
		if strings.HasPrefix(m.Labels["slipstream-deployment"], "image-") {
			t.Errorf("the failed build left its builder %s", m.ID)
		}
	}

	// Ctrl-C while the builder runs a long step: the interrupted apply
	// removes the builder before it exits.
	write(imageConfig(fake, "sleep 60; echo post3 >> /opt/app/steps"))
	builders := func() []fakecloud.Machine {
		return cloud.Machines(func(m *fakecloud.Machine) bool {
			return fakecloud.Live(m) && strings.HasPrefix(m.Labels["slipstream-deployment"], "image-")
		})
	}
	cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "apply", "-auto-approve", "-no-color")
	cmd.Dir, cmd.Env = tf.dir, tf.env
	var interrupted bytes.Buffer
	cmd.Stdout, cmd.Stderr = &interrupted, &interrupted
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); len(builders()) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	time.Sleep(3 * time.Second) // booted, in its long step
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Errorf("the interrupted apply succeeded:\n%s", interrupted.String())
	}
	if b := builders(); len(b) != 0 {
		t.Errorf("the interrupted build left %d builder machines:\n%s", len(b), interrupted.String())
	}

	write(imageConfig(fake, "echo post2 >> /opt/app/steps"))
	tf.must("destroy", "-auto-approve", "-no-color")
	if imgs := builtImages(); len(imgs) != 0 {
		t.Errorf("destroy left the images %v", imgs)
	}
	if live := cloud.Machines(fakecloud.Live); len(live) != 0 {
		t.Errorf("destroy left %d machines", len(live))
	}
}

func TestAccEC2Image_buildAndDeployFromIt(t *testing.T) { testAccImageBuildAndDeploy(t, "ec2") }
func TestAccOpenStackImage_buildAndDeployFromIt(t *testing.T) {
	testAccImageBuildAndDeploy(t, "openstack")
}
func TestAccCloudSigmaImage_buildAndDeployFromIt(t *testing.T) {
	testAccImageBuildAndDeploy(t, "cloudsigma")
}
func TestAccAzureImage_buildAndDeployFromIt(t *testing.T) {
	testAccImageBuildAndDeploy(t, "azure")
}
func TestAccCloudStackImage_buildAndDeployFromIt(t *testing.T) {
	testAccImageBuildAndDeploy(t, "cloudstack")
}
func TestAccOpenNebulaImage_buildAndDeployFromIt(t *testing.T) {
	testAccImageBuildAndDeploy(t, "opennebula")
}
func TestAccStratusLabImage_buildAndDeployFromIt(t *testing.T) {
	testAccImageBuildAndDeploy(t, "stratuslab")
}

// jsonOutput reads a Terraform output as JSON into v.
func jsonOutput(tf *tfCLI, name string, v any) error {
	out := tf.must("output", "-json", name)
	return json.Unmarshal([]byte(out), v)
}

// TestAccEC2Image_chainRebuildsOnlyWhatChanged: a three-level image chain
// compiled by slipc, built on the EC2 fake and deployed from. The same
// recipe again plans nothing; a changed line of the middle image's script
// replaces that image, the one built from it and the machines, and leaves
// the first level's image as it is.
func TestAccEC2Image_chainRebuildsOnlyWhatChanged(t *testing.T) {
	accPreCheck(t)
	rt, image := guestRuntime(t, false)
	fakes := startFakes(t, rt, image, fakecloud.Options{BootDelay: time.Second}, "ec2")
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	compile := func(appStep string) string {
		dir := t.TempDir()
		recipe := strings.Replace(imageChainRecipe(1, "echo site >> /opt/steps", true), `"sleep 1; echo app >> /opt/steps"`, fmt.Sprintf("%q", appStep), 1)
		if err := os.WriteFile(filepath.Join(dir, "shop.slip.hcl"), []byte(recipe), 0o644); err != nil {
			t.Fatal(err)
		}
		return compileRecipe(t, dir)
	}
	dir := compile("echo app >> /opt/steps")
	tf := newTFCLI(t, dir, fakes)
	tf.must("apply", "-auto-approve", "-no-color")
	var steps []string
	if err := jsonOutput(tf, "web_steps", &steps); err != nil || len(steps) != 2 || strings.TrimSpace(steps[0]) != "runtime app site" {
		t.Errorf("the machines hold the steps %q (%v), want each level's once, from the builds", steps, err)
	}
	if out, code := tf.run(context.Background(), "plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Errorf("the same recipe plans changes (exit %d):\n%s", code, out)
	}

	// The middle level changes: its compiled configuration replaces the
	// first, with the state.
	changed := compile("echo app2 >> /opt/steps")
	err := filepath.WalkDir(changed, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(changed, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755)
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	plan := tf.must("plan", "-no-color")
	for _, want := range []string{"slipstream_ec2_image.app_aws must be replaced", "slipstream_ec2_image.site_aws must be replaced", "slipstream_ec2_instance.web[0] must be replaced"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan after a change of app's script does not say %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "# slipstream_ec2_image.runtime_aws ") {
		t.Errorf("the plan after a change of app's script touches runtime's image:\n%s", plan)
	}
	tf.must("apply", "-auto-approve", "-no-color")
	if err := jsonOutput(tf, "web_steps", &steps); err != nil || len(steps) != 2 || strings.TrimSpace(steps[0]) != "runtime app2 site" {
		t.Errorf("after the rebuild the machines hold the steps %q (%v), want runtime app2 site", steps, err)
	}
	tf.must("destroy", "-auto-approve", "-no-color")
	for _, img := range fakes["ec2"].Cloud.Images() {
		if img.ID != fakeclouds.ExampleImage("ec2") {
			t.Errorf("destroy left image %s", img.ID)
		}
	}
}

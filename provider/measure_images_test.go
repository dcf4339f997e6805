package provider

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
)

// imageChainRecipe is a three-level image chain on the EC2 fake: the base
// image, then "runtime" (a package step of stepSeconds), "app" and "site"
// (short steps), and a node of two machines on "site". build is the
// images' build setting.
func imageChainRecipe(stepSeconds int, siteStep string, build bool) string {
	return fmt.Sprintf(`
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}

image "debian" {
  platform = "debian"
  ids      = { aws = %[1]q }
  cpu      = 1
  ram      = 1
}

image "runtime" {
  parent      = image.debian
  build       = %[4]t
  pre_install = "sleep %[2]d; echo runtime >> /opt/steps"
}

image "app" {
  parent       = image.runtime
  build        = %[4]t
  post_install = "sleep 1; echo app >> /opt/steps"
}

image "site" {
  parent       = image.app
  build        = %[4]t
  post_install = %[3]q
}

component "web" {
  image  = image.site
  deploy = "ss-set steps \"$(tr '\n' ' ' < /opt/steps)\""

  output "steps" {}
}

deployment "shop" {
  node "web" {
    component    = component.web
    cloud        = cloud.aws
    multiplicity = 2
  }
}
`, fakeclouds.ExampleImage("ec2"), stepSeconds, siteStep, build)
}

// TestAccMeasure_images measures the image factory (issue 12) on the EC2
// fake, its machines Debian guests booted by the real cloud-init (a 5 s
// boot delay stands for the cloud's scheduling): a three-level chain whose
// first level has a 10 s step. It logs the full build of the chain, a
// deployment of two machines from the built image against the same
// deployment running every step at deploy time, and the rebuild after a
// one-line change of the last level. A measurement, not a pass/fail on
// time: run it with SLIPSTREAM_MEASURE=1 (make bench).
func TestAccMeasure_images(t *testing.T) {
	accPreCheck(t)
	if os.Getenv("SLIPSTREAM_MEASURE") == "" {
		t.Skip("a measurement: set SLIPSTREAM_MEASURE=1 (make bench)")
	}
	const stepSeconds = 10
	rt, image := guestRuntime(t, false)
	fakes := startFakes(t, rt, image, fakecloud.Options{BootDelay: 5 * time.Second}, "ec2")
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	compile := func(recipe string) *tfCLI {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "shop.slip.hcl"), []byte(recipe), 0o644); err != nil {
			t.Fatal(err)
		}
		return newTFCLI(t, compileRecipe(t, dir), fakes)
	}
	timed := func(tf *tfCLI, args ...string) time.Duration {
		start := time.Now()
		tf.must(args...)
		return time.Since(start)
	}
	images := []string{"-target=slipstream_ec2_image.runtime_aws", "-target=slipstream_ec2_image.app_aws", "-target=slipstream_ec2_image.site_aws"}

	built := compile(imageChainRecipe(stepSeconds, "echo site >> /opt/steps", true))
	fullBuild := timed(built, append([]string{"apply", "-auto-approve", "-no-color"}, images...)...)
	fromImage := timed(built, "apply", "-auto-approve", "-no-color")
	var steps []string
	if err := jsonOutput(built, "web_steps", &steps); err != nil || len(steps) != 2 || strings.TrimSpace(steps[0]) != "runtime app site" {
		t.Errorf("the machines started from the built image hold the steps %q (%v), want each step once, from the builds", steps, err)
	}
	// One line of the last level changes: only its image is built again,
	// from the image before it. (The machines go first: the fake keeps an
	// image that running machines use.)
	built.must("destroy", "-auto-approve", "-no-color", "-target=slipstream_deployment.shop")
	rebuilt := compile(imageChainRecipe(stepSeconds, "echo site2 >> /opt/steps", true))
	os.Remove(filepath.Join(rebuilt.dir, "terraform.tfstate"))
	if b, err := os.ReadFile(filepath.Join(built.dir, "terraform.tfstate")); err == nil {
		os.WriteFile(filepath.Join(rebuilt.dir, "terraform.tfstate"), b, 0o600)
	}
	plan := rebuilt.must(append([]string{"plan", "-no-color"}, images...)...)
	if !strings.Contains(plan, "slipstream_ec2_image.site_aws must be replaced") || strings.Contains(plan, "slipstream_ec2_image.app_aws must be replaced") || strings.Contains(plan, "slipstream_ec2_image.runtime_aws must be replaced") {
		t.Errorf("a changed line of site's post_install does not replace exactly site's image:\n%s", plan)
	}
	rebuild := timed(rebuilt, append([]string{"apply", "-auto-approve", "-no-color"}, images...)...)
	rebuilt.must("destroy", "-auto-approve", "-no-color")

	atDeploy := compile(imageChainRecipe(stepSeconds, "echo site >> /opt/steps", false))
	deployTime := timed(atDeploy, "apply", "-auto-approve", "-no-color")
	atDeploy.must("destroy", "-auto-approve", "-no-color")

	t.Logf("measured: a three-level image chain on the EC2 fake (cloud-init guests, 5 s boot delay, a %d s step in the first level): full build %.1f s; rebuild after a one-line change of the last level %.1f s (%.1fx faster)",
		stepSeconds, fullBuild.Seconds(), rebuild.Seconds(), fullBuild.Seconds()/rebuild.Seconds())
	t.Logf("measured: two machines of the last image: deployed from the built image %.1f s; the same running every step at deploy time %.1f s (%.1fx)",
		fromImage.Seconds(), deployTime.Seconds(), deployTime.Seconds()/fromImage.Seconds())
}

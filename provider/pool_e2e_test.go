package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
)

// clusterOnEC2 is examples/recipes/cluster with its cloud of hosts
// replaced by the EC2 fake and its workers in a pool. Nothing else of the
// recipe changes.
func clusterOnEC2(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../examples/recipes/cluster")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cluster.slip.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recipe := string(src)
	for _, r := range []struct{ re, with string }{
		{`(?ms)^cloud "lab" \{$.*?^\}$`, "cloud \"aws\" {\n  connector = \"ec2\"\n  region    = \"eu-west-1\"\n}"},
		{`(?m)^image "debian" \{$`, "image \"debian\" {\n  ids = { aws = \"" + fakeclouds.ExampleImage("ec2") + "\" }\n  cpu = 1\n  ram = 1"},
		{`cloud\.lab`, "cloud.aws"},
		{`(multiplicity = var\.workers)`, "$1\n    pool         = true"},
	} {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(recipe) {
			t.Fatalf("the cluster recipe has nothing matching %s", r.re)
		}
		recipe = re.ReplaceAllString(recipe, r.with)
	}
	if err := os.WriteFile(path, []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAccEC2Pool_clusterBootsAndScales: the cluster example with its
// workers in a pool of 50 on the EC2 fake, every machine a Debian guest
// booted by the real cloud-init from the pool's one user-data: each agent
// claims its instance with the pool token and its machine id, the run
// reaches Ready with the master listing all 50 workers. Scaling the pool
// to 60 and then to 40 runs the master's on_vm_add and on_vm_remove hooks,
// which publish the members again; destroy leaves nothing.
func TestAccEC2Pool_clusterBootsAndScales(t *testing.T) {
	accPreCheck(t)
	rt, image := guestRuntime(t, false)
	fakes := startFakes(t, rt, image, fakecloud.Options{BootDelay: time.Second}, "ec2")
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { return h })
	tfDir := compileRecipe(t, clusterOnEC2(t))
	mainTF, _ := os.ReadFile(filepath.Join(tfDir, "main.tf"))
	if !strings.Contains(string(mainTF), `resource "slipstream_ec2_pool" "worker"`) || !strings.Contains(string(mainTF), "compact") {
		t.Fatalf("slipc did not emit a pool for the workers:\n%s", mainTF)
	}
	tf := newTFCLI(t, tfDir, fakes)
	t.Cleanup(func() {
		if t.Failed() {
			for i, g := range rt.Instances() {
				if i < 3 {
					t.Logf("console of %s:\n%s", g.Name(), g.Console())
				}
			}
		}
	})
	ctx := context.Background()

	// check applies the workers at n and checks the run, the pool, the
	// machines and what the master published.
	check := func(n int, scaling string) {
		t.Helper()
		start := time.Now()
		tf.must("apply", "-auto-approve", "-no-color", "-var", "workers="+strconv.Itoa(n))
		t.Logf("apply with %d workers: %.1f s", n, time.Since(start).Seconds())
		st := tf.state()
		dep, _ := st["slipstream_deployment.cluster"]["id"].(string)
		if st["slipstream_deployment_ready.cluster"]["state"] != "Ready" {
			t.Fatalf("the run is %v, want Ready", st["slipstream_deployment_ready.cluster"]["state"])
		}
		pool := st["slipstream_ec2_pool.worker"]
		machines := strings.Split(strings.TrimSuffix(pool["machines"].(string), "\n"), "\n")
		if len(machines) != n {
			t.Fatalf("the pool lists %d machines, want %d", len(machines), n)
		}
		live := fakes["ec2"].Cloud.Machines(func(m *fakecloud.Machine) bool {
			return fakecloud.Live(m) && m.Labels[connectors.LabelPool] == "worker" && m.Labels[connectors.LabelDeployment] == dep
		})
		if len(live) != n {
			t.Errorf("the fake runs %d machines of the pool, want %d", len(live), n)
		}
		var addrs []string
		for _, m := range live {
			addrs = append(addrs, m.PrivateIP)
		}
		sort.Strings(addrs)
		var registered, members []string
		// A pooled node's outputs are JSON lists, as text.
		var registeredJSON string
		json.Unmarshal([]byte(tf.must("output", "-json", "worker_registered")), &registeredJSON)
		if err := json.Unmarshal([]byte(registeredJSON), &registered); err != nil {
			t.Errorf("output worker_registered is not a JSON list: %v", err)
		}
		json.Unmarshal([]byte(tf.must("output", "-json", "master_members")), &members)
		sort.Strings(registered)
		if strings.Join(registered, " ") != strings.Join(addrs, " ") {
			t.Errorf("the workers registered %v, want the pool's machines %v", registered, addrs)
		}
		got := strings.Fields(strings.Join(members, " "))
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(addrs, " ") {
			t.Errorf("the master lists %d members %v, want the pool's %d machines", len(got), got, n)
		}
		if scaling != "" {
			var last []string
			json.Unmarshal([]byte(tf.must("output", "-json", "master_scaling")), &last)
			if len(last) != 1 || !strings.HasPrefix(last[0], scaling) {
				t.Errorf("the master's last scale was %q, want one starting %q", last, scaling)
			}
		}
		if out, code := tf.run(ctx, "plan", "-detailed-exitcode", "-no-color", "-var", "workers="+strconv.Itoa(n)); code != 0 {
			t.Errorf("a second plan with %d workers is not empty (exit %d):\n%s", n, code, out)
		}
	}
	check(50, "")
	check(60, "vm_add worker: ")
	check(40, "vm_remove worker: ")

	tf.must("destroy", "-auto-approve", "-no-color", "-var", "workers=40")
	if live := fakes["ec2"].Cloud.Machines(fakecloud.Live); len(live) != 0 {
		t.Errorf("destroy left %d machines", len(live))
	}
	if n := len(rt.Instances()); n != 0 {
		t.Errorf("destroy left %d guests on this machine", n)
	}
}

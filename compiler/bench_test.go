package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plannedOK compiles the large recipe although ec2 and openstack are not
// yet available: it measures the compiler on clouds that start machines
// (sizes, image ids, per-node settings), which fixed hosts do not have.
var plannedOK = Options{plannedConnectors: true}

// writeLargeRecipe generates a recipe with the given number of nodes spread
// over 100 components and 10 clouds (5 EC2 regions, 5 OpenStack clouds):
// each component derives from a 3-image chain, each node maps an input from
// the previous node's output, and each deploy script sets then gets values.
func writeLargeRecipe(tb testing.TB, nodes int) string {
	tb.Helper()
	var b strings.Builder
	const clouds, components = 10, 100
	for c := 0; c < clouds; c++ {
		if c%2 == 0 {
			fmt.Fprintf(&b, "cloud \"c%d\" {\n  connector = \"ec2\"\n  region = \"r%d\"\n  instance_type = \"t3.small\"\n}\n", c, c)
		} else {
			fmt.Fprintf(&b, "cloud \"c%d\" {\n  connector = \"openstack\"\n  auth_url = \"https://k%d.test/v3\"\n  flavor = \"m1.small\"\n}\n", c, c)
		}
	}
	b.WriteString("image \"base\" {\n  platform = \"debian\"\n  packages = [\"curl\"]\n  pre_install = \"echo base\"\n  ids = {\n")
	for c := 0; c < clouds; c++ {
		fmt.Fprintf(&b, "    c%d = \"img-%d\"\n", c, c)
	}
	b.WriteString("  }\n}\n")
	b.WriteString("image \"mid\" {\n  parent = image.base\n  packages = [\"git\"]\n  post_install = \"echo mid\"\n}\n")
	for i := 0; i < components; i++ {
		fmt.Fprintf(&b, `component "comp%d" {
  image = image.mid
  cpu   = 2
  ram   = 4
  input "upstream" {
    default = "none"
  }
  input "version" {
    default = "1.0"
  }
  output "endpoint" {}
  deploy = <<-EOT
    #!/bin/sh
    set -e
    ss-set endpoint "$(ss-get hostname):80"
    up=$(ss-get upstream)
    ss-display "ready"
  EOT
}
`, i)
	}
	b.WriteString("deployment \"big\" {\n")
	for n := 0; n < nodes; n++ {
		fmt.Fprintf(&b, "  node \"n%d\" {\n    component = component.comp%d\n    cloud = cloud.c%d\n    multiplicity = %d\n", n, n%components, n%clouds, 1+n%3)
		if n > 0 {
			fmt.Fprintf(&b, "    inputs = {\n      upstream = node.n%d.endpoint\n    }\n", n-1)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.slip.hcl"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BenchmarkCompile measures a whole compile (load, resolve, check with the
// wait-graph analysis, emit). Targets: under 200 ms at 1,000 nodes, and
// 10x the nodes in at most 12x the time (make bench prints the ratio).
func BenchmarkCompile(b *testing.B) {
	for _, nodes := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			dir := writeLargeRecipe(b, nodes)
			b.ReportAllocs()
			for b.Loop() {
				out, _, diags := Compile(dir, CompileOptions{Emit: EmitOptions{Source: "big"}, Load: plannedOK})
				if diags.HasErrors() || out == nil {
					b.Fatalf("compile failed: %s", diags.Error())
				}
			}
		})
	}
}

// TestLargeRecipeCompiles keeps the benchmark's recipe valid, so a change
// that breaks it fails in the ordinary test run rather than in make bench.
func TestLargeRecipeCompiles(t *testing.T) {
	dir := writeLargeRecipe(t, 50)
	out, _, diags := Compile(dir, CompileOptions{Emit: EmitOptions{Source: "big"}, Load: plannedOK})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if !strings.Contains(string(out.Files["main.tf"]), `resource "slipstream_openstack_instance" "n49"`) {
		t.Error("the last node's instance resource is missing")
	}
	// Formatting shared between blocks of one shape must give exactly what
	// formatting every block gives.
	plain, _, diags := Compile(dir, CompileOptions{Emit: EmitOptions{Source: "big", formatEveryBlock: true}, Load: plannedOK})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	sameOutput(t, out, plain)
}

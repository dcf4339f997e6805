package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/slipstream/terraform-provider-slipstream/migrate/slipstream"
)

// TestAccImportedSlipStream_clusterOnSSHHosts: a SlipStream deployment
// (a master and two workers, migrate/slipstream/testdata/cluster_e2e) is
// imported by slipc import slipstream, its cloud to fill in becomes three
// SSH hosts, and it is compiled and applied unchanged otherwise: the
// scripts, written for SlipStream (ss-random --size, ss-get --ignore-abort,
// node:ids, SLIPSTREAM_REPORT_DIR), run under the agent; the master's token
// crosses to the workers through the imported mappings, the literal
// mapping 'worker' reaches them, and the run is Ready.
func TestAccImportedSlipStream_clusterOnSSHHosts(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 3)
	tlsCoordinator(t, pool)

	inputs, err := slipstream.ReadInputs([]string{"../migrate/slipstream/testdata/cluster_e2e/input"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := slipstream.Import(inputs)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	if err := res.Write(dir, false); err != nil {
		t.Fatal(err)
	}
	// Fill in the cloud, as the import's report asks: everything else is
	// the import's output as it is.
	clouds := filepath.Join(dir, "clouds.slip.hcl")
	src, err := os.ReadFile(clouds)
	if err != nil {
		t.Fatal(err)
	}
	known, _ := os.ReadFile(pool.KnownHostsPath)
	todo := regexp.MustCompile(`(?m)^  todo = .*$`)
	if !todo.Match(src) {
		t.Fatalf("the imported cloud has no todo to replace:\n%s", src)
	}
	filled := todo.ReplaceAllLiteralString(string(src), fmt.Sprintf("  connector = \"fixed\"\n  hosts = {\n    master = [%q]\n    worker = [%q, %q]\n  }\n  private_key_file = %q\n  known_hosts = %s",
		pool.Hosts[0].IP, pool.Hosts[1].IP, pool.Hosts[2].IP, pool.PrivateKeyPath, hclString(string(known))))
	if err := os.WriteFile(clouds, []byte(filled), 0o644); err != nil {
		t.Fatal(err)
	}
	config := compiledForHarness(t, dir, "slipstream-import/cluster", "default")

	master := pool.Hosts[0].IP
	var token passwordsMatch
	joined := knownvalue.StringRegexp(regexp.MustCompile(`^worker@` + regexp.QuoteMeta(master) + `:[A-Za-z0-9]{16}$`))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("slipstream_deployment_ready.cluster", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
				statecheck.ExpectKnownValue("slipstream_deployment_ready.cluster", tfjsonpath.New("sensitive_outputs").AtMapKey("master").AtMapKey("token"),
					knownvalue.ListExact([]knownvalue.Check{token.record(knownvalue.StringRegexp(regexp.MustCompile(`^[A-Za-z0-9]{16}$`)))})),
				statecheck.ExpectKnownValue("slipstream_deployment_ready.cluster", tfjsonpath.New("outputs").AtMapKey("worker").AtMapKey("joined"),
					knownvalue.ListExact([]knownvalue.Check{joinedWith{joined, &token}, joinedWith{joined, &token}})),
				statecheck.ExpectKnownValue("slipstream_deployment_ready.cluster", tfjsonpath.New("outputs").AtMapKey("master").AtMapKey("workers"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("2")})),
			},
		}},
	})
}

// joinedWith checks a worker's joined output: its form, and that it ends
// with the master's token as recorded.
type joinedWith struct {
	form  knownvalue.Check
	token *passwordsMatch
}

func (j joinedWith) CheckValue(v any) error {
	if err := j.form.CheckValue(v); err != nil {
		return err
	}
	s, _ := v.(string)
	if j.token.value == nil || !strings.HasSuffix(s, ":"+*j.token.value) {
		return fmt.Errorf("joined %q does not end with the master's token", s)
	}
	return nil
}

func (j joinedWith) String() string { return j.form.String() + " ending with the master's token" }

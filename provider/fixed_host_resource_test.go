package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	tfconfig "github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// hostPool makes n real hosts (network namespaces running sshd) for the
// test. Without the means (root, sshd) the test is skipped, except on CI,
// where make deps installs them and a skip would hide a broken set-up.
func hostPool(t *testing.T, n int) *nshost.Pool {
	t.Helper()
	if err := nshost.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("namespace hosts unavailable on CI: %v", err)
		}
		t.Skipf("namespace hosts unavailable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := nshost.NewPool(ctx, n, nshost.Options{Prefix: "tfa"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

// tlsCoordinator is a real coordinator serving TLS from a private CA on
// the pool's gateway address, where the hosts' agents reach it. The
// provider is pointed at it through the environment, as in CI set-ups.
func tlsCoordinator(t *testing.T, pool *nshost.Pool) (url, fingerprint string) {
	t.Helper()
	return tlsCoordinatorWith(t, pool, func(h http.Handler) http.Handler { return h })
}

// tlsCoordinatorWith is tlsCoordinator with the API wrapped by wrap.
func tlsCoordinatorWith(t *testing.T, pool *nshost.Pool, wrap func(http.Handler) http.Handler) (url, fingerprint string) {
	t.Helper()
	return tlsCoordinatorOn(t, pool.GatewayIP, wrap)
}

// tlsCoordinatorOn is tlsCoordinatorWith listening on ip (a bridge's
// gateway address, where machines reach it).
func tlsCoordinatorOn(t *testing.T, ip string, wrap func(http.Handler) http.Handler) (url, fingerprint string) {
	t.Helper()
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, "coordinator.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	h, err := api.New(c, api.Options{AdminToken: testAdminToken, AgentDir: agentDir(t), ReportDir: filepath.Join(dir, "reports")})
	if err != nil {
		t.Fatal(err)
	}
	cert, fp, err := tlsutil.SelfSigned(dir, []string{ip})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: wrap(h), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { c.Close(); srv.Close(); st.Close() })
	url = "https://" + ln.Addr().String()
	t.Setenv(EnvCoordinatorURL, url)
	t.Setenv(EnvToken, testAdminToken)
	t.Setenv(EnvCAFingerprint, fp)
	return url, fp
}

func plainFactories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"slipstream": providerserver.NewProtocol6WithError(&slipstreamProvider{version: "test", hooks: &hooks{bootstrapScript: overriddenScript}}),
	}
}

// scriptOverrides holds, by "<deployment name>/<instance>", how a test
// changes the bootstrap a host runs (to make it fail).
var scriptOverrides sync.Map

// overrideBootstrap makes instance inst of the deployment named name run
// change(script) instead of its bootstrap, until the test ends (or nil
// is given).
func overrideBootstrap(t *testing.T, name, inst string, change func(script string) string) {
	key := name + "/" + inst
	if change == nil {
		scriptOverrides.Delete(key)
		return
	}
	scriptOverrides.Store(key, change)
	t.Cleanup(func() { scriptOverrides.Delete(key) })
}

// overriddenScript is the provider's bootstrapScript hook: deployment ids
// are the name and a dash and 8 hex digits.
func overriddenScript(deployment, instance, script string) string {
	name := deployment
	if i := strings.LastIndexByte(deployment, '-'); i > 0 {
		name = deployment[:i]
	}
	if f, ok := scriptOverrides.Load(name + "/" + instance); ok {
		return f.(func(string) string)(script)
	}
	return script
}

// labProvider is the provider alias of a fixed cloud made of the pool. The
// host keys are read from the pool's known_hosts file when Terraform runs,
// so a reinstalled host's new key is picked up.
func labProvider(t *testing.T, pool *nshost.Pool) string {
	fixed := fmt.Sprintf(`
  fixed = {
    user             = "root"
    private_key_file = %q
    known_hosts      = file(%q)
  }`, pool.PrivateKeyPath, pool.KnownHostsPath)
	return sharedServerWorkaround(fixed) + "\nprovider \"slipstream\" {\n  alias = \"lab\"" + fixed + "\n}\n"
}

// sharedServerWorkaround is the default provider block for tests. The
// test harness serves every provider configuration from one in-process
// server, so the last one configured wins for all resources (a real
// Terraform run starts one plugin per configuration). Giving the default
// configuration the lab's settings too makes the order irrelevant.
func sharedServerWorkaround(fixed string) string {
	return "provider \"slipstream\" {" + fixed + "\n}\n"
}

// compiledLamp compiles examples/recipes/lamp with its lab cloud moved onto
// the pool (the first host the database's, the others the web servers'),
// and returns the Terraform as one configuration. Only the recipe's host
// lists and SSH settings change; the compiled Terraform is used as slipc
// wrote it, except the required_providers block (the test serves the
// provider in-process) and script paths made absolute.
func compiledLamp(t *testing.T, pool *nshost.Pool) string {
	t.Helper()
	return compiledLampOn(t, pool, 1)
}

// compiledLampOn is compiledLamp with the pool's first dbHosts hosts the
// database's.
func compiledLampOn(t *testing.T, pool *nshost.Pool, dbHosts int) string {
	t.Helper()
	src, err := os.ReadFile("../examples/recipes/lamp/lamp.slip.hcl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../examples/recipes/lamp")); err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, h := range pool.Hosts {
		ips = append(ips, fmt.Sprintf("%q", h.IP))
	}
	known, _ := os.ReadFile(pool.KnownHostsPath)
	hostsRE := regexp.MustCompile(`(?ms)^  hosts = \{$.*?^  \}$`)
	recipe := hostsRE.ReplaceAllLiteralString(string(src), fmt.Sprintf("  hosts = {\n    db  = [%s]\n    web = [%s]\n  }\n  private_key_file = %q\n  known_hosts = %s",
		strings.Join(ips[:dbHosts], ", "), strings.Join(ips[dbHosts:], ", "), pool.PrivateKeyPath, hclString(string(known))))
	if recipe == string(src) {
		t.Fatal("the lamp recipe has no hosts block to point at the pool")
	}
	os.WriteFile(filepath.Join(dir, "lamp.slip.hcl"), []byte(recipe), 0o644)
	return compiledForHarness(t, dir, "examples/recipes/lamp", "lab")
}

// compiledForHarness compiles the recipe in dir (source names it in the
// output) into one configuration the test harness can apply: the files
// joined, without their terraform block, with the provider alias of the
// recipe's cloud named alias also configured as the default provider
// (sharedServerWorkaround) and ${path.module} made absolute.
func compiledForHarness(t *testing.T, dir, source, alias string) string {
	t.Helper()
	out, _, diags := compiler.Compile(dir, compiler.CompileOptions{Emit: compiler.EmitOptions{Source: source}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	outDir := t.TempDir()
	var config strings.Builder
	for rel, content := range out.Files {
		p := filepath.Join(outDir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, content, 0o644)
	}
	for _, name := range []string{"main.tf", "variables.tf", "outputs.tf"} {
		f, diags := hclwrite.ParseConfig(out.Files[name], name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		for _, b := range f.Body().Blocks() {
			if b.Type() == "terraform" {
				f.Body().RemoveBlock(b)
			}
		}
		config.Write(f.Bytes())
	}
	cloud := regexp.MustCompile(`(?s)provider "slipstream" \{\s*alias\s*= "` + regexp.QuoteMeta(alias) + `"(\s*fixed = \{.*?\n  \})`).FindStringSubmatch(config.String())
	if cloud == nil {
		t.Fatalf("no %s provider alias in the compiled recipe:\n%s", alias, config.String())
	}
	text := strings.Replace(config.String(), "provider \"slipstream\" {\n}\n", sharedServerWorkaround(cloud[1]), 1)
	return strings.ReplaceAll(text, "${path.module}", outDir)
}

// hostsClean checks that destroy left every host as it was.
func hostsClean(pool *nshost.Pool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, h := range pool.Hosts {
			out, err := h.Run(context.Background(), "ls -d /usr/local/bin/slipstream-agent /usr/local/bin/ss-get /etc/slipstream /var/lib/slipstream /run/slipstream-agent.pid /var/tmp/slipstream-agent-* 2>/dev/null; true")
			if err != nil {
				return fmt.Errorf("%s: %v", h.Name, err)
			}
			if strings.TrimSpace(out) != "" {
				return fmt.Errorf("destroy left on %s (%s):\n%s", h.Name, h.IP, out)
			}
		}
		return nil
	}
}

// TestAccFixedHost_lamp: the lamp example, compiled by slipc, applies
// unchanged onto four real SSH hosts: the database's generated password
// reaches the three web servers and the Terraform outputs; a second plan
// is empty; destroy leaves the hosts as they were.
func TestAccFixedHost_lamp(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 4)
	tlsCoordinator(t, pool)
	config := compiledLamp(t, pool)
	password := knownvalue.StringRegexp(regexp.MustCompile(`^[A-Za-z0-9]{24}$`))
	var urls []knownvalue.Check
	for _, h := range pool.Hosts[1:] {
		urls = append(urls, knownvalue.StringExact("http://"+h.IP+"/"))
	}
	var same passwordsMatch
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("state"), knownvalue.StringExact("Ready")),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_outputs").AtMapKey("db").AtMapKey("password"),
						knownvalue.ListExact([]knownvalue.Check{same.record(password)})),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("sensitive_outputs").AtMapKey("web").AtMapKey("db_password"),
						knownvalue.ListExact([]knownvalue.Check{same.check(), same.check(), same.check()})),
					statecheck.ExpectKnownValue("slipstream_deployment_ready.lamp", tfjsonpath.New("outputs").AtMapKey("web").AtMapKey("url.service"), knownvalue.ListExact(urls)),
					statecheck.ExpectKnownOutputValue("web_url_service", knownvalue.ListExact(urls)),
					statecheck.ExpectKnownOutputValue("db_hostname", knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(pool.Hosts[0].IP)})),
					statecheck.ExpectKnownValue("slipstream_fixed_host.web[2]", tfjsonpath.New("arch"), knownvalue.StringExact("amd64")),
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Scale the web servers down to two: the third host is
				// released, the run goes through its states again and the
				// outputs follow.
				Config:          config,
				ConfigVariables: tfconfig.Variables{"web_multiplicity": tfconfig.IntegerVariable(2)},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_deployment.lamp", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("slipstream_fixed_host.web[2]", plancheck.ResourceActionDestroy),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("web_url_service", knownvalue.ListExact(urls[:2])),
				},
				Check: func(*terraform.State) error {
					return hostsClean(&nshost.Pool{Hosts: pool.Hosts[3:]})(nil)
				},
			},
		},
	})
}

// passwordsMatch checks that several values equal the first one seen.
type passwordsMatch struct{ value *string }

func (p *passwordsMatch) record(inner knownvalue.Check) knownvalue.Check {
	p.value = new(string)
	return recordCheck{inner, p.value}
}

func (p *passwordsMatch) check() knownvalue.Check { return sameAs{p.value} }

type recordCheck struct {
	inner knownvalue.Check
	into  *string
}

func (r recordCheck) CheckValue(v any) error {
	if err := r.inner.CheckValue(v); err != nil {
		return err
	}
	*r.into, _ = v.(string)
	return nil
}

func (r recordCheck) String() string { return r.inner.String() }

type sameAs struct{ want *string }

func (s sameAs) CheckValue(v any) error {
	if got, _ := v.(string); got != *s.want || got == "" {
		return fmt.Errorf("value differs from the database's password")
	}
	return nil
}

func (s sameAs) String() string { return "the database's password" }

// ringHosts is ringConfig with each node on one of the pool's hosts.
func ringHosts(t *testing.T, pool *nshost.Pool, failing string) string {
	var b strings.Builder
	b.WriteString(labProvider(t, pool))
	var nodes []string
	for i := 1; i <= len(pool.Hosts); i++ {
		nodes = append(nodes, fmt.Sprintf(`    n%d = { component = "peer", multiplicity = 1, mappings = { neighbour = "n%d:value" } }`, i, i%len(pool.Hosts)+1))
	}
	deploy := "set -e\nss-set value \"v-$SLIPSTREAM_NODE_NAME\"\nss-set seen \"$(ss-get neighbour)\""
	if failing != "" {
		deploy = "set -e\nif [ \"$SLIPSTREAM_NODE_NAME\" = n3 ]; then echo " + failing + " >&2; exit 2; fi\n" + deploy
	}
	fmt.Fprintf(&b, `
resource "slipstream_deployment" "ring" {
  name = "ring"
  components = {
    peer = {
      parameters = {
        value     = { output = true }
        neighbour = {}
        seen      = { output = true }
      }
      scripts = { deploy = [%s] }
    }
  }
  nodes = {
%s
  }
}
`, hclString(deploy), strings.Join(nodes, "\n"))
	var deps []string
	for i, h := range pool.Hosts {
		fmt.Fprintf(&b, `
resource "slipstream_fixed_host" "n%d" {
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.ring.id
  node          = "n%d"
  index         = 1
  host          = %q
}
`, i+1, i+1, h.IP)
		deps = append(deps, fmt.Sprintf("slipstream_fixed_host.n%d", i+1))
	}
	fmt.Fprintf(&b, `
resource "slipstream_deployment_ready" "ring" {
  deployment_id = slipstream_deployment.ring.id
  depends_on    = [%s]
}
`, strings.Join(deps, ", "))
	return b.String()
}

// TestAccFixedHost_ring: five hosts in a ring, each waiting on its
// neighbour's value after publishing its own (a cycle plain Terraform
// cannot express), complete; a host imports; destroy leaves them clean.
func TestAccFixedHost_ring(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 5)
	tlsCoordinator(t, pool)
	var checks []statecheck.StateCheck
	for i := 1; i <= 5; i++ {
		checks = append(checks, statecheck.ExpectKnownValue("slipstream_deployment_ready.ring",
			tfjsonpath.New("outputs").AtMapKey(fmt.Sprintf("n%d", i)).AtMapKey("seen"),
			knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(fmt.Sprintf("v-n%d", i%5+1))})))
	}
	checks = append(checks, statecheck.ExpectKnownValue("slipstream_fixed_host.n2", tfjsonpath.New("host_key_fingerprint"),
		knownvalue.StringRegexp(regexp.MustCompile(`^SHA256:`))))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{Config: ringHosts(t, pool, ""), ConfigStateChecks: checks},
			{
				ResourceName: "slipstream_fixed_host.n2", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
		},
	})
}

// TestAccFixedHost_abort: one host's script fails; apply fails within
// seconds naming the node and the message, and destroy still cleans every
// host (no agent left blocked).
func TestAccFixedHost_abort(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 5)
	tlsCoordinator(t, pool)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{{
			Config:      ringHosts(t, pool, "'no space left on device'"),
			ExpectError: regexp.MustCompile(`(?s)Deployment aborted.*n3\.1: deploy exited with status 2: no space left\s+on device`),
		}},
	})
}

// TestAccFixedHost_sshErrors: an unreachable host, a wrong host key and a
// wrong SSH key each give a clear diagnostic, and leave nothing in the
// state or on the host.
func TestAccFixedHost_sshErrors(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 2)
	tlsCoordinator(t, pool)
	one := func(extra, hostKey string, h *nshost.Host) string {
		hk := ""
		if hostKey != "" {
			hk = fmt.Sprintf("  host_key = %q\n", hostKey)
		}
		return extra + fmt.Sprintf(`
resource "slipstream_deployment" "d" {
  name       = "d"
  components = { c = { scripts = { deploy = ["true"] } } }
  nodes      = { n = { component = "c", multiplicity = 1 } }
}

resource "slipstream_fixed_host" "n" {
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.d.id
  node          = "n"
  index         = 1
  host          = %q
%s}
`, h.IP, hk)
	}
	wrongKey := filepath.Join(t.TempDir(), "wrong")
	otherPool := pool.Hosts[1]
	lab := func(keyFile, known string) string {
		fixed := fmt.Sprintf(`
  fixed = {
    private_key_file = %q
%s  }`, keyFile, known)
		return sharedServerWorkaround(fixed) + "\nprovider \"slipstream\" {\n  alias = \"lab\"" + fixed + "\n}\n"
	}
	known, _ := os.ReadFile(pool.KnownHostsPath)
	knownLine := fmt.Sprintf("    known_hosts = %s\n", hclString(string(known)))
	// A key that is not authorized anywhere.
	if err := os.WriteFile(wrongKey, mustNewKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	noState := func(s *terraform.State) error {
		if _, ok := s.RootModule().Resources["slipstream_fixed_host.n"]; ok {
			return fmt.Errorf("a host that was not adopted is in the state")
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { pool.Hosts[0].Stop() },
				Config:      one(lab(pool.PrivateKeyPath, knownLine), "", pool.Hosts[0]),
				ExpectError: regexp.MustCompile(`(?s)Host unreachable.*` + regexp.QuoteMeta(pool.Hosts[0].IP)),
			},
			{
				PreConfig:   func() { pool.Hosts[0].Start() },
				Config:      one(lab(pool.PrivateKeyPath, ""), otherPool.HostKey, pool.Hosts[0]),
				ExpectError: regexp.MustCompile(`(?s)Host key mismatch`),
			},
			{
				Config:      one(lab(wrongKey, knownLine), "", pool.Hosts[0]),
				ExpectError: regexp.MustCompile(`(?s)SSH authentication failed`),
			},
			{
				Config:      one(lab(pool.PrivateKeyPath, ""), "", pool.Hosts[0]),
				ExpectError: regexp.MustCompile(`(?s)Host key not pinned.*ssh-ed25519`),
				Check:       noState,
			},
		},
	})
}

// mustNewKey is a fresh ed25519 private key in OpenSSH form.
func mustNewKey(t *testing.T) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// TestAccFixedHost_reinstalledHostIsAdoptedAgain: a host that comes back
// with a new host key (reinstalled) is dropped from the state by refresh,
// with a warning, and adopted again by the next apply.
func TestAccFixedHost_reinstalledHostIsAdoptedAgain(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 1)
	tlsCoordinator(t, pool)
	host := pool.Hosts[0]
	configFor := func() string {
		return labProvider(t, pool) + fmt.Sprintf(`
resource "slipstream_deployment" "d" {
  name       = "d"
  components = { c = { scripts = { deploy = ["ss-set statecustom adopted"] } } }
  nodes      = { n = { component = "c", multiplicity = 1 } }
}

resource "slipstream_fixed_host" "n" {
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.d.id
  node          = "n"
  index         = 1
  host          = %q
}
`, host.IP)
	}
	config := configFor()
	var firstFingerprint string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					firstFingerprint = s.RootModule().Resources["slipstream_fixed_host.n"].Primary.Attributes["host_key_fingerprint"]
					return nil
				},
			},
			{
				// The machine is reinstalled: new host key, nothing of ours on it.
				PreConfig: func() {
					if err := host.Reinstall(); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("slipstream_fixed_host.n", plancheck.ResourceActionCreate),
				}},
				Check: func(s *terraform.State) error {
					if fp := s.RootModule().Resources["slipstream_fixed_host.n"].Primary.Attributes["host_key_fingerprint"]; fp == firstFingerprint || fp == "" {
						return fmt.Errorf("host_key_fingerprint %q after the reinstall, %q before", fp, firstFingerprint)
					}
					if out, err := host.Run(context.Background(), "test -x /usr/local/bin/slipstream-agent && echo installed"); err != nil || !strings.Contains(out, "installed") {
						return fmt.Errorf("the agent is not installed on the reinstalled host: %q %v", out, err)
					}
					// The first machine exchanged the deployment's bootstrap
					// token: the new one joins the run with a renewed one.
					var out string
					for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
						out, _ = host.Run(context.Background(), "grep -c '\"exchanged\": true' /var/lib/slipstream/token.json")
						if strings.TrimSpace(out) == "1" {
							return nil
						}
					}
					log, _ := host.Run(context.Background(), "tail -5 /var/log/slipstream-agent.log; journalctl -u slipstream-agent -n 5 --no-pager 2>/dev/null")
					return fmt.Errorf("the reinstalled host's agent did not exchange its bootstrap token:\n%s", log)
				},
			},
		},
	})
}

// TestAccFixedHost_bastion: hosts reached through a jump host. The first
// apply adopts a host through another; the second proves the traffic goes
// through the jump host: with it stopped, the host is unreachable "via"
// it, although the host itself is up.
func TestAccFixedHost_bastion(t *testing.T) {
	accPreCheck(t)
	pool := hostPool(t, 2)
	tlsCoordinator(t, pool)
	jump, target := pool.Hosts[0], pool.Hosts[1]
	fixed := fmt.Sprintf(`
  fixed = {
    user             = "root"
    private_key_file = %q
    known_hosts      = file(%q)
    bastion_host     = %q
    bastion_user     = "root"
  }`, pool.PrivateKeyPath, pool.KnownHostsPath, jump.IP)
	config := func(name string) string {
		return sharedServerWorkaround(fixed) + "\nprovider \"slipstream\" {\n  alias = \"lab\"" + fixed + "\n}\n" + fmt.Sprintf(`
resource "slipstream_deployment" "%[1]s" {
  name       = %[1]q
  components = { c = { scripts = { deploy = ["ss-set statecustom \"via $SSH_CLIENT\""] } } }
  nodes      = { n = { component = "c", multiplicity = 1 } }
}

resource "slipstream_fixed_host" "%[1]s" {
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.%[1]s.id
  node          = "n"
  index         = 1
  host          = %[2]q
}
`, name, target.IP)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: plainFactories(),
		CheckDestroy:             hostsClean(pool),
		Steps: []resource.TestStep{
			{
				Config: config("first"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("slipstream_fixed_host.first", tfjsonpath.New("arch"), knownvalue.StringExact("amd64")),
				},
			},
			{
				PreConfig:   func() { jump.Stop() },
				Config:      config("first") + strings.Replace(config("second"), sharedServerWorkaround(fixed)+"\nprovider \"slipstream\" {\n  alias = \"lab\""+fixed+"\n}\n", "", 1),
				ExpectError: regexp.MustCompile(`(?s)Host unreachable.*` + regexp.QuoteMeta(jump.IP)),
			},
			{
				PreConfig: func() { jump.Start() },
				Config:    config("first"),
			},
		},
	})
}

func TestParseRemoteArch(t *testing.T) {
	for _, tc := range []struct {
		out      string
		exit     int
		arch     string
		gzip     bool
		errorHas string
	}{
		{out: "Linux x86_64\ngzip\n", arch: "amd64", gzip: true},
		{out: "Linux aarch64\n", arch: "arm64"},
		{out: "Linux arm64\ngzip\n", arch: "arm64", gzip: true},
		{out: "Darwin arm64\n", errorHas: "the host runs Darwin"},
		{out: "Linux riscv64\ngzip\n", errorHas: "a riscv64 machine"},
		{out: "Linux x86_64\nzstd\n", errorHas: "printed"},
		{out: "uname: not found\n", exit: 127, errorHas: "exit 127"},
		{out: "", errorHas: "printed"},
	} {
		arch, gz, err := parseRemoteArch([]byte(tc.out), tc.exit)
		if tc.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errorHas) {
				t.Errorf("%q: error %v, want one saying %q", tc.out, err, tc.errorHas)
			}
			continue
		}
		if err != nil || arch != tc.arch || gz != tc.gzip {
			t.Errorf("%q: %q, gzip %v, %v; want %q, gzip %v", tc.out, arch, gz, err, tc.arch, tc.gzip)
		}
	}
}

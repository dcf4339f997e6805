package provider

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readyClock wraps the coordinator's API and notes when the completion
// that made the run Ready was answered.
type readyClock struct {
	next http.Handler
	mu   sync.Mutex
	at   time.Time
}

func (c *readyClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" || !strings.HasSuffix(r.URL.Path, "/complete") {
		c.next.ServeHTTP(w, r)
		return
	}
	rec := &teeWriter{ResponseWriter: w}
	c.next.ServeHTTP(rec, r)
	if bytes.Contains(rec.body.Bytes(), []byte(`"Ready"`)) {
		c.mu.Lock()
		c.at = time.Now()
		c.mu.Unlock()
	}
}

type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.body.Write(p)
	return t.ResponseWriter.Write(p)
}

// TestAccMeasure_twentyNodes measures what the provider adds to a run: a
// 20-node deployment on 20 SSH hosts whose scripts take 2 s (the critical
// path), applied with the real Terraform CLI and the built provider. It
// logs the apply's wall time against the critical path, and the delay
// from the run becoming Ready to `terraform apply` exiting. A measurement,
// not a pass/fail on time: run it with SLIPSTREAM_MEASURE=1 (make bench).
func TestAccMeasure_twentyNodes(t *testing.T) {
	accPreCheck(t)
	if os.Getenv("SLIPSTREAM_MEASURE") == "" {
		t.Skip("a measurement: set SLIPSTREAM_MEASURE=1 (make bench)")
	}
	const nodes, scriptTime = 20, 2 * time.Second
	pool := hostPool(t, nodes)
	clock := &readyClock{}
	tlsCoordinatorWith(t, pool, func(h http.Handler) http.Handler { clock.next = h; return clock })

	pluginDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "terraform-provider-slipstream"), "github.com/slipstream/terraform-provider-slipstream")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	dir := t.TempDir()
	rc := filepath.Join(dir, "terraformrc")
	os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"slipstream/slipstream\" = %q\n  }\n  direct {}\n}\n", pluginDir)), 0o644)
	var hosts []string
	for _, h := range pool.Hosts {
		hosts = append(hosts, fmt.Sprintf("%q", h.IP))
	}
	config := fmt.Sprintf(`
terraform {
  required_providers {
    slipstream = { source = "slipstream/slipstream" }
  }
}

provider "slipstream" {}

provider "slipstream" {
  alias = "lab"
  fixed = {
    user             = "root"
    private_key_file = %q
    known_hosts      = file(%q)
  }
}

locals {
  hosts = [%s]
}

resource "slipstream_deployment" "m" {
  name       = "m"
  components = { c = { scripts = { deploy = ["sleep %d"] } } }
  nodes      = { n = { component = "c", multiplicity = %d } }
}

resource "slipstream_fixed_host" "n" {
  count         = %d
  provider      = slipstream.lab
  deployment_id = slipstream_deployment.m.id
  node          = "n"
  index         = count.index + 1
  host          = local.hosts[count.index]
}

resource "slipstream_deployment_ready" "m" {
  deployment_id = slipstream_deployment.m.id
  depends_on    = [slipstream_fixed_host.n]
}
`, pool.PrivateKeyPath, pool.KnownHostsPath, strings.Join(hosts, ", "), int(scriptTime.Seconds()), nodes, nodes)
	os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644)
	tf := func(args ...string) (time.Duration, error) {
		cmd := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		if err != nil {
			return 0, fmt.Errorf("terraform %s: %v\n%s", args[0], err, out.String())
		}
		io.Copy(io.Discard, &out)
		return time.Since(start), nil
	}
	applyTime, err := tf("apply", "-auto-approve", "-no-color")
	applyEnd := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tf("destroy", "-auto-approve", "-no-color") })
	clock.mu.Lock()
	ready := clock.at
	clock.mu.Unlock()
	if ready.IsZero() {
		t.Fatal("the run never became Ready")
	}
	t.Logf("measured: %d nodes on %d SSH hosts, scripts %s (the critical path): terraform apply took %.1f s, %.1f s over the critical path; "+
		"the run was Ready %.0f ms before terraform apply exited",
		nodes, nodes, scriptTime, applyTime.Seconds(), (applyTime - scriptTime).Seconds(), float64(applyEnd.Sub(ready).Milliseconds()))
}

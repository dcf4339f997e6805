package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// TestAccMeasure_scale measures what a deployment of N instances costs
// Terraform and the provider, at N = 100, 1,000 and 10,000 (issue 11): a
// two-node recipe (a master, and N - 1 workers, pooled; and for comparison
// at 100 and 1,000, one machine resource each) compiled by slipc
// and applied with the real Terraform CLI and the built provider to the
// EC2 fake in API-only mode (machines are recorded, never booted). The
// machines' agents are played in-process: for each machine the fake
// accepted, a client trades the token of its user-data (the pool token
// and the machine's id, or the master's own token) for an agent token, and
// completes each state of the run as an agent does, so the run reaches
// Ready and the ready resource returns. It logs the apply's wall time, the
// peak memory of Terraform and of the provider, the state's size, and a
// second plan's time. A measurement, not a pass/fail on time: run it with
// SLIPSTREAM_MEASURE=1 (make bench).
func TestAccMeasure_scale(t *testing.T) {
	accPreCheck(t)
	if os.Getenv("SLIPSTREAM_MEASURE") == "" {
		t.Skip("a measurement: set SLIPSTREAM_MEASURE=1 (make bench)")
	}
	sizes := []int{100, 1000, 10000}
	if s := os.Getenv("SLIPSTREAM_MEASURE_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("SLIPSTREAM_MEASURE_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	type result struct {
		n                    int
		pooled               bool
		apply, plan, destroy time.Duration
		tfMB, providerMB     float64
		stateBytes           int64
	}
	// The pools, at each size; then, for comparison, one resource per
	// machine at the sizes up to 1,000.
	type run struct {
		n      int
		pooled bool
	}
	var runs []run
	for _, n := range sizes {
		runs = append(runs, run{n, true})
	}
	for _, n := range sizes {
		if n <= 1000 {
			runs = append(runs, run{n, false})
		}
	}
	var results []result
	for _, rn := range runs {
		n := rn.n
		shape := "pool"
		if !rn.pooled {
			shape = "per-instance"
		}
		t.Run(shape+"/"+strconv.Itoa(n), func(t *testing.T) {
			fakes := startFakes(t, &fakecloud.Instant{}, "", fakecloud.Options{BootDelay: 24 * time.Hour}, "ec2")
			coord := startTestCoordinator(t)
			t.Setenv(EnvCoordinatorURL, coord.URL)
			t.Setenv(EnvToken, testAdminToken)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "grid.slip.hcl"), []byte(scaleRecipe(n, rn.pooled)), 0o644); err != nil {
				t.Fatal(err)
			}
			tfDir := compileRecipe(t, dir)
			if os.Getenv("SLIPSTREAM_MEASURE_NO_OUTPUTS") != "" {
				os.Remove(filepath.Join(tfDir, "outputs.tf"))
			}
			tf := newTFCLI(t, tfDir, fakes)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fleetDone := make(chan error, 1)
			go func() { fleetDone <- playAgents(ctx, coord.URL, fakes["ec2"], n) }()
			mem := watchMemory(ctx)

			start := time.Now()
			tf.must("apply", "-auto-approve", "-no-color")
			r := result{n: n, pooled: rn.pooled, apply: time.Since(start)}
			r.tfMB, r.providerMB = mem.peaks()
			if err := <-fleetDone; err != nil {
				t.Fatalf("the simulated agents: %v", err)
			}
			if fi, err := os.Stat(filepath.Join(tf.dir, "terraform.tfstate")); err == nil {
				r.stateBytes = fi.Size()
			}
			start = time.Now()
			if out, code := tf.run(context.Background(), "plan", "-detailed-exitcode", "-no-color"); code != 0 {
				t.Errorf("the second plan is not empty (exit %d):\n%s", code, out)
			}
			r.plan = time.Since(start)
			start = time.Now()
			tf.must("plan", "-refresh=false", "-no-color")
			t.Logf("measured: %d instances (%s): a plan without refresh %.1f s", n, shape, time.Since(start).Seconds())
			if os.Getenv("SLIPSTREAM_MEASURE_TRACE") != "" {
				tf.env = append(tf.env, "TF_LOG=trace", "TF_LOG_PATH="+filepath.Join(os.TempDir(), "scale-plan-trace.log"))
				tf.must("plan", "-no-color")
			}
			start = time.Now()
			tf.must("destroy", "-auto-approve", "-no-color")
			r.destroy = time.Since(start)
			if live := fakes["ec2"].Cloud.Machines(fakecloud.Live); len(live) != 0 {
				t.Errorf("destroy left %d machines", len(live))
			}
			results = append(results, r)
			workers := "in a pool"
			if !rn.pooled {
				workers = "one resource each"
			}
			t.Logf("measured: %d instances (1 master machine, %d workers %s): terraform apply %.1f s (the run Ready included), peak RSS Terraform %.0f MB, provider %.0f MB; state %.0f KB; a second plan %.1f s; destroy %.1f s",
				n, n-1, workers, r.apply.Seconds(), r.tfMB, r.providerMB, float64(r.stateBytes)/1024, r.plan.Seconds(), r.destroy.Seconds())
		})
	}
	for i := 1; i < len(results); i++ {
		a, b := results[i-1], results[i]
		if a.pooled != b.pooled || !a.pooled {
			continue
		}
		t.Logf("measured: from %d to %d instances (%.0fx): apply %.1fx, second plan %.1fx, state %.1fx, Terraform's memory %.1fx",
			a.n, b.n, float64(b.n)/float64(a.n), b.apply.Seconds()/a.apply.Seconds(), b.plan.Seconds()/a.plan.Seconds(),
			float64(b.stateBytes)/float64(a.stateBytes), b.tfMB/a.tfMB)
	}
}

// scaleRecipe is a master and n - 1 workers on EC2, pooled or one resource
// each; the workers take the master's address, as in the cluster example.
func scaleRecipe(n int, pooled bool) string {
	return fmt.Sprintf(`
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}

image "debian" {
  ids = { aws = %q }
  cpu = 1
  ram = 1
}

component "master" {
  image = image.debian
  output "url" {}
  deploy = "ss-set url http://$(ss-get hostname)/"
}

component "worker" {
  image = image.debian
  input "master_host" {}
  output "registered" {}
  deploy = "ss-set registered yes"
}

deployment "grid" {
  node "master" {
    component = component.master
    cloud     = cloud.aws
  }
  node "worker" {
    component    = component.worker
    cloud        = cloud.aws
    multiplicity = %d
    pool         = %t
    inputs       = { master_host = node.master.hostname }
  }
}
`, fakeclouds.ExampleImage("ec2"), n-1, pooled)
}

// playAgents acts as the agents of the n machines the fake will hold: it
// waits for them, exchanges each one's bootstrap token (the pool's with
// the machine id) for an agent token, and then completes each state of
// the run for every instance, as agents do, until the run is Ready.
func playAgents(ctx context.Context, url string, fake *fakeclouds.Fake, n int) error {
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var machines []fakecloud.Machine
	for {
		machines = fake.Cloud.Machines(fakecloud.Live)
		if len(machines) >= n {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the fake holds %d machines of %d", len(machines), n)
		case <-time.After(100 * time.Millisecond):
		}
	}
	deployment := machines[0].Labels[connectors.LabelDeployment]
	agents := make([]*client.Client, len(machines))
	err := parallel(ctx, len(machines), func(i int) error {
		m := machines[i]
		tok, ok := bootstrap.TokenOf(string(m.UserData))
		if !ok {
			return fmt.Errorf("machine %s has no token in its user-data", m.ID)
		}
		own, hash := client.NewToken()
		c := &client.Client{BaseURL: url, Deployment: deployment, Token: tok, HTTP: httpc, RetryFor: time.Minute}
		var err error
		if m.Labels[connectors.LabelPool] != "" {
			// The pool registers its machines right after the cloud's
			// answer: retry until it has.
			for {
				_, err = c.ExchangeMachine(ctx, hash, m.ID)
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Code != "not_registered" {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		} else {
			_, err = c.Exchange(ctx, hash)
		}
		if err != nil {
			return fmt.Errorf("machine %s: %w", m.ID, err)
		}
		c.Token = own
		agents[i] = c
		return nil
	})
	if err != nil {
		return err
	}
	admin := &client.Client{BaseURL: url, Deployment: deployment, Token: testAdminToken, HTTP: httpc}
	for _, state := range []string{coordinator.Initializing, coordinator.Provisioning, coordinator.Executing, coordinator.SendingReports} {
		for {
			run, err := admin.Run(ctx)
			if err != nil {
				return err
			}
			if run.State == state {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := parallel(ctx, len(agents), func(i int) error {
			_, err := agents[i].Complete(ctx, state)
			return err
		}); err != nil {
			return fmt.Errorf("completing %s: %w", state, err)
		}
	}
	return nil
}

// parallel runs f(0) … f(n-1), 32 at a time, and returns the first error.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// memoryWatch follows the peak resident memory (VmHWM) of the terraform
// and provider processes while it runs.
type memoryWatch struct {
	mu                  sync.Mutex
	terraform, provider int64 // KiB
}

func watchMemory(ctx context.Context) *memoryWatch {
	w := &memoryWatch{}
	go func() {
		for ctx.Err() == nil {
			w.sample()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return w
}

func (w *memoryWatch) sample() {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(comm))
		var peak *int64
		switch {
		case name == "terraform":
			peak = &w.terraform
		case strings.HasPrefix(name, "terraform-prov"):
			peak = &w.provider
		default:
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kib, _ := strconv.ParseInt(f[1], 10, 64)
				w.mu.Lock()
				*peak = max(*peak, kib)
				w.mu.Unlock()
			}
		}
	}
}

// peaks returns the peaks so far, in MB.
func (w *memoryWatch) peaks() (terraform, provider float64) {
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.terraform) / 1024, float64(w.provider) / 1024
}

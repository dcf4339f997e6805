package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud/guest"
)

// TestAccMeasure_cloudMachines measures what starting machines on a cloud
// costs a deployment: 100 machines on the EC2 fake, each taking 20 s to
// boot (the cloud's scheduling and boot) and then running a 2 s script,
// applied by the Terraform CLI with the built provider. The critical path
// is boot + script, 22 s; the apply's wall time is reported against it.
// Beside it, in the same run, the same deployment with wait_until_running,
// as most cloud providers behave: each create holds one of Terraform's 10
// parallelism slots until its machine runs, so the boots go ten at a time.
// It also reports what a booted machine costs the fake (its guest's
// processes and memory, in the light mode the test uses, and with
// cloud-init). A measurement, not a pass/fail on time: run it with
// SLIPSTREAM_MEASURE=1 (make bench). SLIPSTREAM_MEASURE_MACHINES and
// SLIPSTREAM_MEASURE_BOOT change the 100 machines and the 20 s boot.
func TestAccMeasure_cloudMachines(t *testing.T) {
	accPreCheck(t)
	if os.Getenv("SLIPSTREAM_MEASURE") == "" {
		t.Skip("a measurement: set SLIPSTREAM_MEASURE=1 (make bench)")
	}
	machines, boot, script := 100, 20*time.Second, 2*time.Second
	if n, err := strconv.Atoi(os.Getenv("SLIPSTREAM_MEASURE_MACHINES")); err == nil && n > 0 {
		machines = n
	}
	if d, err := time.ParseDuration(os.Getenv("SLIPSTREAM_MEASURE_BOOT")); err == nil && d > 0 {
		boot = d
	}
	critical := boot + script
	rt, image := guestRuntime(t, true)
	fakes := startFakes(t, rt, image, fakecloud.Options{BootDelay: boot}, "ec2")
	clock := &readyClock{}
	tlsCoordinatorOn(t, rt.GatewayIP(), func(h http.Handler) http.Handler { clock.next = h; return clock })

	config := func(wait bool) string {
		d := ec2Deployment{Instances: machines, Script: fmt.Sprintf("sleep %d", int(script.Seconds())), Extra: `instance_type = "t3.micro"`, ReadyTimeout: "60m"}
		if wait {
			d.Extra += "\n  wait_until_running = true"
		}
		return d.String()
	}
	measure := func(wait bool) (apply time.Duration, perGuest guestCost) {
		tf := newTFCLI(t, writeConfig(t, config(wait)), fakes)
		clock.mu.Lock()
		clock.at = time.Time{}
		clock.mu.Unlock()
		start := time.Now()
		tf.must("apply", "-auto-approve", "-no-color")
		apply = time.Since(start)
		end := time.Now()
		perGuest = measureGuests(t, rt)
		// Where the time went: from the machines' accepted and boot times
		// at the fake, and the run's Ready at the coordinator.
		var firstAccepted, lastAccepted, lastBooted time.Time
		for _, m := range fakes["ec2"].Cloud.Machines(fakecloud.Live) {
			if firstAccepted.IsZero() || m.Created.Before(firstAccepted) {
				firstAccepted = m.Created
			}
			if m.Created.After(lastAccepted) {
				lastAccepted = m.Created
			}
			if m.Launched.After(lastBooted) {
				lastBooted = m.Launched
			}
		}
		clock.mu.Lock()
		ready := clock.at
		clock.mu.Unlock()
		ms := func(a, b time.Time) string { return fmt.Sprintf("%.1f s", b.Sub(a).Seconds()) }
		t.Logf("measured:   wait_until_running=%v: to the first machine accepted %s (plan, deployment); all %d accepted %s later; "+
			"the last booted %s after it was accepted; Ready %s after the last boot (agents installed, scripts run, barriers); apply exited %s after Ready",
			wait, ms(start, firstAccepted), machines, ms(firstAccepted, lastAccepted), ms(lastAccepted, lastBooted), ms(lastBooted, ready), ms(ready, end))
		tf.must("destroy", "-auto-approve", "-no-color")
		return apply, perGuest
	}
	ours, cost := measure(false)
	t.Logf("measured: %d machines on the EC2 fake, boot %s + script %s = %s critical path: terraform apply took %.1f s, %.2fx the critical path (target <= 1.5x)",
		machines, boot, script, critical, ours.Seconds(), ours.Seconds()/critical.Seconds())
	t.Logf("measured: each booted machine costs the fake (light mode: the agent running, its script done): %s", cost)
	waiting, _ := measure(true)
	t.Logf("measured: the same with wait_until_running (a create holds a parallelism slot until its machine runs, as most cloud providers do): terraform apply took %.1f s, %.2fx the critical path",
		waiting.Seconds(), waiting.Seconds()/critical.Seconds())
	t.Logf("measured: starting machines without waiting made the apply %.1fx faster", waiting.Seconds()/ours.Seconds())

	// What Terraform itself spends per machine resource grows with the
	// deployment's state, which every machine's configuration refers to:
	// the same 100 creates, on machines that never boot.
	spread := createSpread(t, machines)
	t.Logf("measured: %d machine resources: their creates took %.1f s from the first to the last (Terraform's work, the provider's calls take milliseconds)",
		machines, spread.Seconds())

	// One machine with cloud-init, for its cost.
	crt, cimage := guestRuntime(t, false)
	if c := cloudInitCost(t, crt, cimage); c != "" {
		t.Logf("measured: a machine booted by cloud-init costs the fake: %s", c)
	}
}

// guestCost is the average of the guests' usage.
type guestCost struct {
	n         int
	processes float64
	pss, rss  float64 // MB
}

func (c guestCost) String() string {
	if c.n == 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.1f processes, %.1f MB PSS (%.1f MB RSS) per machine, over %d machines; the provider's guests share the image read-only (an overlay each)",
		c.processes, c.pss, c.rss, c.n)
}

func measureGuests(t *testing.T, rt *guest.Runtime) guestCost {
	var c guestCost
	for _, g := range rt.Instances() {
		u, err := g.Usage()
		if err != nil {
			t.Logf("usage of %s: %v", g.Name(), err)
			continue
		}
		c.n++
		c.processes += float64(u.Processes)
		c.pss += float64(u.PSS) / 1e6
		c.rss += float64(u.RSS) / 1e6
	}
	if c.n > 0 {
		c.processes /= float64(c.n)
		c.pss /= float64(c.n)
		c.rss /= float64(c.n)
	}
	return c
}

// cloudInitCost boots one guest with cloud-init running a user-data that
// leaves a process behind (as the agent's bootstrap does), and reports its
// boot time, CPU and memory.
func cloudInitCost(t *testing.T, rt *guest.Runtime, image string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	g, err := rt.Boot(ctx, fakecloud.BootSpec{ID: "i-cost", Hostname: "cost", Layers: []string{image},
		UserData: []byte("#!/bin/sh\nsetsid sleep 3600 </dev/null >/dev/null 2>&1 &\n")})
	if err != nil {
		t.Logf("booting a cloud-init guest: %v", err)
		return ""
	}
	defer g.Destroy(context.Background())
	inst, _ := rt.Instance("i-cost")
	if inst == nil {
		return ""
	}
	if _, err := inst.WaitBooted(ctx); err != nil {
		t.Logf("cloud-init guest: %v", err)
		return ""
	}
	took := time.Since(start)
	u, err := inst.Usage()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("boot to user-data done %.1f s (on %d cores), %d processes after, %.1f MB PSS (%s)",
		took.Seconds(), runtime.NumCPU(), u.Processes, float64(u.PSS)/1e6, strings.Join(u.Commands, " "))
}

// createSpread applies n machine resources on an EC2 fake whose machines
// never boot (with the coordinator of the environment), and returns the
// time from the first machine accepted to the last.
func createSpread(t *testing.T, n int) time.Duration {
	fakes := startFakes(t, &fakecloud.Instant{}, "", fakecloud.Options{BootDelay: time.Hour}, "ec2")
	d := ec2Deployment{Instances: n, Extra: `instance_type = "t3.micro"`}
	tf := newTFCLI(t, writeConfig(t, d.String()), fakes)
	tf.must("apply", "-auto-approve", "-no-color")
	var first, last time.Time
	for _, m := range fakes["ec2"].Cloud.Machines(nil) {
		if first.IsZero() || m.Created.Before(first) {
			first = m.Created
		}
		if m.Created.After(last) {
			last = m.Created
		}
	}
	tf.must("destroy", "-auto-approve", "-no-color")
	return last.Sub(first)
}

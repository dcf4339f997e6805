package faults

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFaults_soak applies and destroys the recipe in a loop against one
// coordinator for SLIPSTREAM_FAULTS_SOAK (a duration; not set: skipped, and
// not in CI), sampling the coordinator process after each cycle: its
// resident memory, goroutines and open files. It prints the samples and
// each one's slope, and fails when one keeps growing: the last third of
// the run above the first third by more than half (and by more than a
// small absolute margin: 16 MB, 20 goroutines, 10 files).
func TestFaults_soak(t *testing.T) {
	soak, err := time.ParseDuration(os.Getenv("SLIPSTREAM_FAULTS_SOAK"))
	if err != nil || soak <= 0 {
		t.Skip("set SLIPSTREAM_FAULTS_SOAK to a duration (e.g. 30m) to run the soak")
	}
	c := newCluster(t, 2)
	c.openGate(c.hosts()...) // the scripts go straight through
	type sample struct {
		at                    time.Duration
		rssMB                 float64
		goroutines, openFiles int
	}
	var samples []sample
	start := time.Now()
	for cycle := 1; time.Since(start) < soak; cycle++ {
		c.apply()
		if out, err := c.terraform("destroy", "-auto-approve"); err != nil {
			t.Fatalf("cycle %d: terraform destroy: %v\n%s", cycle, err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := c.coord.client("").Stats(ctx)
		cancel()
		if err != nil {
			t.Fatalf("cycle %d: stats: %v", cycle, err)
		}
		samples = append(samples, sample{at: time.Since(start), rssMB: c.coord.rssMB(), goroutines: st.Goroutines, openFiles: st.OpenFiles})
	}
	if len(samples) < 6 {
		t.Fatalf("only %d cycles in %s: soak longer", len(samples), soak)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d apply/destroy cycles in %s against one coordinator:\n  %-8s %8s %11s %11s\n", len(samples), soak, "after", "RSS MB", "goroutines", "open files")
	for _, s := range samples {
		fmt.Fprintf(&b, "  %-8s %8.1f %11d %11d\n", s.at.Round(time.Second), s.rssMB, s.goroutines, s.openFiles)
	}
	series := []struct {
		name   string
		margin float64
		value  func(sample) float64
	}{
		{"RSS MB", 16, func(s sample) float64 { return s.rssMB }},
		{"goroutines", 20, func(s sample) float64 { return float64(s.goroutines) }},
		{"open files", 10, func(s sample) float64 { return float64(s.openFiles) }},
	}
	third := len(samples) / 3
	for _, se := range series {
		var xs, ys []float64
		for _, s := range samples {
			xs, ys = append(xs, s.at.Hours()), append(ys, se.value(s))
		}
		first, last := mean(ys[:third]), mean(ys[len(ys)-third:])
		fmt.Fprintf(&b, "  %s: slope %+.1f per hour; first third %.1f, last third %.1f\n", se.name, slope(xs, ys), first, last)
		if last > first*1.5 && last-first > se.margin {
			t.Errorf("%s keeps growing: from %.1f to %.1f", se.name, first, last)
		}
	}
	t.Log(b.String())
	c.checkClean()
}

func mean(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// rssMB is the coordinator process's resident memory.
func (p *coordinatorProcess) rssMB() float64 {
	p.mu.Lock()
	pid := p.cmd.Process.Pid
	p.mu.Unlock()
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

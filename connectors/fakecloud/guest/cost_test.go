package guest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestCostPerInstance measures what a guest costs, in both modes, with 10
// guests (SLIPSTREAM_GUEST_COST_N to change): the time from Boot to "the
// user-data ran" (one guest alone, then the others booted at once), and
// once the boots are over and an idle daemon (sleep) runs in each: the
// processes per guest, their memory (RSS, PSS, anonymous), this machine's
// MemAvailable drop per guest, and the upper layer's size. It boots 20
// guests, so it runs only with SLIPSTREAM_GUEST_COST=1.
func TestCostPerInstance(t *testing.T) {
	if os.Getenv("SLIPSTREAM_GUEST_COST") == "" {
		t.Skip("skipping: set SLIPSTREAM_GUEST_COST=1 to measure the cost per guest")
	}
	image := baseImage(t)
	n := 10
	if v, err := strconv.Atoi(os.Getenv("SLIPSTREAM_GUEST_COST_N")); err == nil && v > 1 {
		n = v
	}
	for _, mode := range []struct {
		name  string
		light bool
	}{{"cloud-init", false}, {"user-data-only", true}} {
		t.Run(mode.name, func(t *testing.T) { measureCost(t, image, mode.light, n) })
	}
}

func measureCost(t *testing.T, image string, light bool, n int) {
	r := newRuntime(t, Options{UserDataOnly: light, Log: func(string, ...any) {}})
	srv := newGatewayServer(t, r)
	memBefore := memAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	insts := make([]*Instance, n)
	took := make([]time.Duration, n)
	bootOne := func(k int) error {
		host := fmt.Sprintf("cost-%d", k)
		start := time.Now()
		g, err := r.Boot(ctx, fakecloud.BootSpec{ID: "i-" + host, Hostname: host, Layers: []string{image},
			UserData: []byte("#!/bin/sh\ncurl -fsS " + srv.URL + "/ran-" + host + " >/dev/null\nsetsid sleep 1000000 </dev/null >/dev/null 2>&1 &\n")})
		if err != nil {
			return err
		}
		insts[k] = g.(*Instance)
		took[k] = srv.wait(t, "/ran-"+host, 3*time.Minute).Sub(start)
		return nil
	}
	if err := bootOne(0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	wallStart := time.Now()
	for k := 1; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = bootOne(k)
		}()
	}
	wg.Wait()
	wall := time.Since(wallStart)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, inst := range insts {
		waitBooted(t, inst)
	}
	time.Sleep(time.Second) // let the stages' last processes go

	var procs int
	var rss, pss, anon uint64
	var upper int64
	var cpu time.Duration
	for _, inst := range insts {
		u, err := inst.Usage()
		if err != nil {
			t.Fatal(err)
		}
		procs += u.Processes
		rss, pss, anon, cpu = rss+u.RSS, pss+u.PSS, anon+u.Anon, cpu+u.CPU
		upper += duBytes(t, inst.UpperDir())
	}
	memAfter := memAvailable(t)
	parallel := append([]time.Duration(nil), took[1:]...)
	sort.Slice(parallel, func(a, b int) bool { return parallel[a] < parallel[b] })
	mode := "cloud-init"
	if light {
		mode = "user-data only"
	}
	per := func(v uint64) string { return size(v / uint64(n)) }
	t.Logf("cost per guest, %s mode, %d guests on %d cores:", mode, n, runtimeCPUs())
	t.Logf("  boot to user-data ran: %v alone; %d booted at once: min %v, median %v, max %v (all in %v)", took[0].Round(time.Millisecond),
		n-1, parallel[0].Round(time.Millisecond), parallel[len(parallel)/2].Round(time.Millisecond), parallel[len(parallel)-1].Round(time.Millisecond), wall.Round(time.Millisecond))
	t.Logf("  CPU time of a boot: %v", (cpu / time.Duration(n)).Round(time.Millisecond))
	t.Logf("  idle (PID 1 + sleep): %.1f processes, RSS %s, PSS %s, anonymous %s; upper layer %s",
		float64(procs)/float64(n), per(rss), per(pss), per(anon), per(uint64(upper)))
	// Noisy on a shared machine: other processes come and go meanwhile.
	t.Logf("  this machine's MemAvailable dropped by %s per guest (page cache, tmpfs and kernel objects included)",
		per(uint64(max(memBefore-memAfter, 0))))
}

// memAvailable is /proc/meminfo's MemAvailable, in bytes.
func memAvailable(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	return int64(kbField(string(data), "MemAvailable:") * 1024)
}

func duBytes(t *testing.T, dir string) int64 {
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	return n
}

func runtimeCPUs() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func size(b uint64) string {
	if b < 1<<20 {
		return fmt.Sprintf("%d kB", b/1024)
	}
	return mb(b)
}

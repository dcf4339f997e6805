package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore/etcdtest"
)

// TestCrash_coordinatorKilledUnderLoad: 1,000 writers set their own
// parameters as fast as the coordinator acknowledges while real agents run
// a deployment; the coordinator is killed with SIGKILL mid-load and
// started again on the same data. Every acknowledged write is there
// afterwards, the writers and agents ride out the outage by retrying, and
// every agent completes its run. It runs on each store: the bbolt file
// (the data folder survives the kill), and etcd (a real etcd in the test
// process survives it; the replica's batched transactions are the ones
// cut short).
func TestCrash_coordinatorKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 1,000 writers and kills the coordinator")
	}
	t.Run("bbolt", func(t *testing.T) { crashUnderLoad(t) })
	t.Run("etcd", func(t *testing.T) {
		// Creating the 1,000-instance deployment is one transaction of
		// about 1,000 operations: raise etcd's limit of 128
		// (docs/coordinator.md).
		endpoint := etcdtest.StartConfig(t, func(c *embed.Config) { c.MaxTxnOps = 4096 })
		crashUnderLoad(t, "-etcd", "http://"+endpoint)
	})
}

// crashUnderLoad is TestCrash_coordinatorKilledUnderLoad with slipc serve
// started with args, the same each time.
func crashUnderLoad(t *testing.T, args ...string) {
	data := t.TempDir()
	coord := startCoordinator(t, data, "", args...)

	const writers = 1000
	load := coordinator.Deployment{ID: "load", Nodes: map[string]*coordinator.Node{
		"w": {Multiplicity: writers, Params: map[string]coordinator.Param{"n": {Output: true}}},
	}}
	loadTokens := coord.exchangeAll("load", coord.create(load))
	app := coordinator.Deployment{ID: "app", Nodes: map[string]*coordinator.Node{
		"app": {Multiplicity: 4, Params: map[string]coordinator.Param{"v": {Output: true}, "go": {}},
			Scripts: map[string][]string{
				"deploy": {"set -e\nss-set v \"$SLIPSTREAM_NODE_INSTANCE_NAME\"\nss-get --timeout 0 go >/dev/null\nfor i in 1 2 3 4; do ss-get app.$i:v >/dev/null; done\n"},
				"report": {"echo done > \"$SLIPSTREAM_REPORT_DIR/done\""},
			}},
	}}
	appTokens := coord.create(app)
	var agents []*agentProcess
	for i := 1; i <= 4; i++ {
		inst := "app." + strconv.Itoa(i)
		agents = append(agents, startAgent(t, coord, "app", inst, appTokens[inst], t.TempDir()))
	}

	transport := &http.Transport{MaxIdleConns: writers, MaxIdleConnsPerHost: writers, IdleConnTimeout: time.Minute}
	defer transport.CloseIdleConnections()
	acked := make([]atomic.Int64, writers+1)
	var sets atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for i := 1; i <= writers; i++ {
		inst := "w." + strconv.Itoa(i)
		c := &client.Client{BaseURL: coord.URL, Deployment: "load", Token: loadTokens[inst], HTTP: &http.Client{Transport: transport}, MaxBackoff: 500 * time.Millisecond}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := int64(1); ctx.Err() == nil; n++ {
				// Retried through the outage until acknowledged.
				if err := c.Set(ctx, "n", strconv.FormatInt(n, 10), false); err != nil {
					if ctx.Err() == nil {
						t.Errorf("w.%d: %v", i, err)
					}
					return
				}
				acked[i].Store(n)
				sets.Add(1)
			}
		}(i)
	}

	// Mid-load, with the agents' deploy scripts blocked on "go".
	waitFor(t, 60*time.Second, func() bool { return sets.Load() > 5*writers })
	waitFor(t, 60*time.Second, func() bool {
		p := coord.params("app")
		return p["app.1:v"] != "" && p["app.4:v"] != ""
	})
	coord.kill()
	killedAt := sets.Load()
	before := make([]int64, writers+1)
	for i := range before {
		before[i] = acked[i].Load()
	}
	time.Sleep(300 * time.Millisecond) // writers and agents see the outage
	coord = startCoordinator(t, data, coord.addr, args...)

	p := coord.params("load")
	lost := 0
	for i := 1; i <= writers; i++ {
		got, _ := strconv.ParseInt(p["w."+strconv.Itoa(i)+":n"], 10, 64)
		if got < before[i] {
			lost++
			if lost <= 5 {
				t.Errorf("w.%d:n = %d after the restart, but %d was acknowledged before the kill", i, got, before[i])
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d writers lost acknowledged writes", lost, writers)
	}

	// The writers carry on against the new process.
	waitFor(t, 60*time.Second, func() bool { return sets.Load() > killedAt+2*writers })
	stop()
	wg.Wait()
	p = coord.params("load")
	for i := 1; i <= writers; i++ {
		// The set in flight when the writers stopped may have committed
		// without its answer being read: the last acknowledged or one more.
		got, _ := strconv.ParseInt(p["w."+strconv.Itoa(i)+":n"], 10, 64)
		if last := acked[i].Load(); got != last && got != last+1 {
			t.Fatalf("w.%d:n = %d, last acknowledged %d", i, got, last)
		}
	}
	t.Logf("%d acknowledged sets, %d of them before the SIGKILL; none lost", sets.Load(), killedAt)

	// Release the agents: they finish the run on the restarted coordinator.
	for i := 1; i <= 4; i++ {
		if _, err := coord.admin("PUT", fmt.Sprintf("/v1/deployments/app/parameters/app.%d:go", i), map[string]string{"value": "1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	coord.waitState("app", coordinator.Ready, 60*time.Second)
	if _, err := coord.admin("POST", "/v1/deployments/app/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if code := a.wait(t, 60*time.Second); code != 0 {
			t.Errorf("agent exited %d:\n%s", code, a.out.String())
		}
	}
}

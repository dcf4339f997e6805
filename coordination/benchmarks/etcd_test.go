package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore/etcdtest"
)

// The sizes of coordination/coordinator/bench_test.go, so the figures
// compare.
const (
	waiters = 1000 // blocked watches (gets) woken by one put (set)
	writers = 1000 // concurrent writers
	// clients is how many etcd clients (each one gRPC connection) the
	// baselines' watchers and writers are spread over, round robin: a few
	// hosts' worth, rather than one connection multiplexing all 1,000
	// (which makes etcd's wake-up a little slower) or 1,000 connections.
	clients = 10
)

// newClients connects n clients to endpoint; they are closed when the
// benchmark ends.
func newClients(b *testing.B, endpoint string, n int) []*clientv3.Client {
	b.Helper()
	cs := make([]*clientv3.Client, n)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second})
		if err != nil {
			b.Fatalf("etcd client: %v", err)
		}
		b.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs
}

// reportLatency reports p50 and p99 exactly as BenchmarkWakeup does.
func reportLatency(b *testing.B, all []time.Duration) {
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkEtcdWatchWakeup is BenchmarkWakeup's etcd baseline: 1,000
// watches of one key, spread over the clients, and one put. It reports the
// p50 and p99 of the delay from the put being acknowledged to each watcher
// receiving the event. Each round starts new watches and waits until etcd
// has created every one (WithCreatedNotify), as each round of
// BenchmarkWakeup starts new gets.
func BenchmarkEtcdWatchWakeup(b *testing.B) {
	cs := newClients(b, etcdtest.Start(b), clients)
	const key = "/bench/v"
	var all []time.Duration
	for i := 0; b.Loop(); i++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan time.Time, waiters)
		var created sync.WaitGroup
		created.Add(waiters)
		for w := 0; w < waiters; w++ {
			go func(c *clientv3.Client) {
				notified := false
				defer func() {
					if !notified {
						created.Done()
					}
				}()
				for resp := range c.Watch(ctx, key, clientv3.WithCreatedNotify()) {
					if err := resp.Err(); err != nil {
						b.Error(err)
						break
					}
					if resp.Created && !notified {
						notified = true
						created.Done()
					}
					if len(resp.Events) > 0 {
						done <- time.Now()
						return
					}
				}
				if ctx.Err() == nil {
					b.Error("watch ended without an event")
				}
				done <- time.Time{}
			}(cs[w%len(cs)])
		}
		created.Wait()
		time.Sleep(200 * time.Millisecond) // as BenchmarkWakeup: let every watcher park
		if _, err := cs[0].Put(context.Background(), key, fmt.Sprint(i)); err != nil {
			b.Fatal(err)
		}
		put := time.Now()
		for w := 0; w < waiters; w++ {
			all = append(all, (<-done).Sub(put))
		}
		b.StopTimer()
		cancel()
		b.StartTimer()
	}
	reportLatency(b, all)
}

// BenchmarkEtcdPuts is the etcd baseline of BenchmarkDurableSetsHTTP
// (cmd/slipc) and BenchmarkDurableSets: acknowledged (fsynced) puts per
// second with 1,000 concurrent writers, each putting its own key, through
// etcd's network client (gRPC on loopback), the writers spread over 10
// client connections.
func BenchmarkEtcdPuts(b *testing.B) { etcdPuts(b, clients) }

// BenchmarkEtcdPutsOwnConnections is BenchmarkEtcdPuts with each of the
// 1,000 writers on a gRPC connection of its own, as each machine has its
// own HTTP connection in BenchmarkDurableSetsHTTP.
func BenchmarkEtcdPutsOwnConnections(b *testing.B) { etcdPuts(b, writers) }

func etcdPuts(b *testing.B, conns int) {
	cs := newClients(b, etcdtest.Start(b), conns)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := max(b.N/writers, 1)
	for w := 1; w <= writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, key := cs[w%len(cs)], fmt.Sprintf("/bench/w/%d", w)
			for i := 0; i < per; i++ {
				if _, err := c.Put(context.Background(), key, fmt.Sprint(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.ReportMetric(float64(per*writers)/time.Since(start).Seconds(), "puts/s")
}

// etcdCoordinator is a coordinator over the etcd store, as one slipc serve
// replica would run it: one client, one Store.
func etcdCoordinator(b *testing.B) *coordinator.Coordinator {
	b.Helper()
	st := etcdstore.New(newClients(b, etcdtest.Start(b), 1)[0], "/slipstream")
	c := coordinator.New(st, coordinator.Options{})
	b.Cleanup(func() { c.Close(); st.Close() })
	return c
}

func create(b *testing.B, c *coordinator.Coordinator, id string, srcs, sinks int) {
	b.Helper()
	d := coordinator.Deployment{ID: id, Nodes: map[string]*coordinator.Node{
		"src":  {Multiplicity: srcs, Params: map[string]coordinator.Param{"v": {Output: true}}},
		"sink": {Multiplicity: sinks, Params: map[string]coordinator.Param{"out": {Output: true}}},
	}}
	if err := c.CreateDeployment(context.Background(), d, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEtcdStoreWakeup is BenchmarkWakeup with the coordinator over the
// etcd store: the coordinator's overhead on top of an etcd watch. Round i
// waits for src.i:v, a key not set yet, so all rounds share one deployment
// and so one store watch, as BenchmarkWakeup's do; a get that times out
// starts that watch before the first round.
func BenchmarkEtcdStoreWakeup(b *testing.B) {
	const rounds = 1000
	c := etcdCoordinator(b)
	create(b, c, "bench", rounds, 1)
	if _, err := c.Get(context.Background(), "bench", nil, fmt.Sprintf("src.%d:v", rounds), time.Millisecond, false); !errors.Is(err, coordinator.ErrTimeout) {
		b.Fatalf("warm-up get: %v, want a timeout", err)
	}
	var all []time.Duration
	for i := 1; b.Loop(); i++ {
		if i >= rounds {
			b.Fatalf("more than %d rounds", rounds-1)
		}
		done := make(chan time.Time, waiters)
		var ready sync.WaitGroup
		for w := 0; w < waiters; w++ {
			ready.Add(1)
			go func() {
				ready.Done()
				if _, err := c.Get(context.Background(), "bench", nil, fmt.Sprintf("src.%d:v", i), time.Minute, false); err != nil {
					b.Error(err)
				}
				done <- time.Now()
			}()
		}
		ready.Wait()
		// Let every get block. Over etcd a get makes two etcd reads before
		// it parks, and the 200 ms BenchmarkWakeup allows is not always
		// enough for 1,000 of them here: the stragglers would then measure
		// their reads, not a wake-up.
		time.Sleep(time.Second)
		if err := c.Set(context.Background(), "bench", &coordinator.Instance{Node: "src", Index: i}, "v", fmt.Sprint(i), false); err != nil {
			b.Fatal(err)
		}
		set := time.Now()
		for w := 0; w < waiters; w++ {
			all = append(all, (<-done).Sub(set))
		}
	}
	reportLatency(b, all)
}

// BenchmarkEtcdStoreDurableSets is BenchmarkDurableSets with the
// coordinator over the etcd store.
func BenchmarkEtcdStoreDurableSets(b *testing.B) {
	c := etcdCoordinator(b)
	create(b, c, "bench", 1, writers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := max(b.N/writers, 1)
	for w := 1; w <= writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			inst := &coordinator.Instance{Node: "sink", Index: w}
			for i := 0; i < per; i++ {
				if err := c.Set(context.Background(), "bench", inst, "out", fmt.Sprint(i), false); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.ReportMetric(float64(per*writers)/time.Since(start).Seconds(), "sets/s")
}

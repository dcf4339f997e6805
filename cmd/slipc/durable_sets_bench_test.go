package main

import (
	"fmt"
	"net/http/httptrace"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDurableSetsHTTP measures durable sets as the machines make
// them: 1,000 writers, each with its own instance token, PUT their own
// parameter (/v1/deployments/{id}/parameters/out) as fast as a real
// `slipc serve` acknowledges, over loopback HTTP, as the crash test
// (cmd/slipstream-agent) drives it. The server is this package built and
// run as its own process with its defaults: the bbolt store fsynced on
// every commit, and at most -max-connections (1,024) connections worked
// on at once, answers closing their connection above half of them
// (coordination/connlimit). Client and server share the machine's cores.
//
// It reports acknowledged sets per second as sets/s (target: at least
// 5,000, and at least half of BenchmarkEtcdPuts, etcd's puts through its
// gRPC client), the p50 and p99 of one set's latency, and how many of the
// sets had to open a new connection as new-conn-%.
// BenchmarkDurableSets (coordination/coordinator) is the same load on the
// coordinator called in-process, with no HTTP.
func BenchmarkDurableSetsHTTP(b *testing.B) {
	b.StopTimer()
	bin := buildSlipc(b)
	b.StartTimer()
	// A sub-benchmark, so slipc is built once while the benchmark runs
	// with b.N = 1 and then with the asked-for -benchtime.
	b.Run("writers=1000", func(b *testing.B) { durableSetsHTTP(b, bin, 1000) })
}

func durableSetsHTTP(b *testing.B, bin string, writers int) {
	b.StopTimer()
	s := startRSSServer(b, bin, false)
	const id = "sets"
	spec := map[string]any{"id": id, "nodes": map[string]any{
		"w": map[string]any{"multiplicity": writers, "params": map[string]any{"out": map[string]any{"output": true}}},
	}}
	var created struct {
		Tokens map[string]string `json:"tokens"`
	}
	if err := s.call("POST", "/v1/deployments", s.token, spec, &created, nil); err != nil {
		b.Fatal(err)
	}
	if len(created.Tokens) != writers {
		b.Fatalf("%d instance tokens, want %d", len(created.Tokens), writers)
	}
	// Agents exchange their one-time bootstrap tokens for their own
	// before they set anything: so do these.
	s.exchangeTokens(b, id, created.Tokens)
	if b.Failed() {
		return
	}
	// Every writer opens its connection first (one set each, not timed),
	// so the measurement is of sets, not of 1,000 connections being set
	// up at once.
	var wg sync.WaitGroup
	for w := 1; w <= writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.call("PUT", "/v1/deployments/"+id+"/parameters/out", created.Tokens[fmt.Sprintf("w.%d", w)], map[string]string{"value": "0"}, nil, nil); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}

	per := max(b.N/writers, 1)
	latencies := make([][]time.Duration, writers+1)
	var newConns atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			newConns.Add(1)
		}
	}}
	b.StartTimer()
	start, ticks := time.Now(), s.cpuTicks(b)
	for w := 1; w <= writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := created.Tokens[fmt.Sprintf("w.%d", w)]
			lat := make([]time.Duration, 0, per)
			for i := 1; i <= per; i++ {
				t := time.Now()
				if err := s.call("PUT", "/v1/deployments/"+id+"/parameters/out", tok, map[string]string{"value": fmt.Sprint(i)}, nil, trace); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(t))
			}
			latencies[w] = lat
		}()
	}
	wg.Wait()
	elapsed, ticks := time.Since(start), s.cpuTicks(b)-ticks
	b.StopTimer()
	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	if len(all) != per*writers {
		b.Fatalf("%d sets acknowledged, want %d", len(all), per*writers)
	}
	// Every acknowledged set is there: the last value of each writer.
	var params struct{ Parameters map[string]string }
	if err := s.call("GET", "/v1/deployments/"+id+"/parameters", s.token, nil, &params, nil); err != nil {
		b.Fatal(err)
	}
	for w := 1; w <= writers; w++ {
		if got := params.Parameters[fmt.Sprintf("w.%d:out", w)]; got != fmt.Sprint(per) {
			b.Fatalf("w.%d:out = %q after %d acknowledged sets", w, got, per)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "sets/s")
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
	b.ReportMetric(100*float64(newConns.Load())/float64(len(all)), "new-conn-%")
	// The server's share of the machine: clock ticks are 10 ms.
	b.ReportMetric(float64(ticks)*1e4/float64(len(all)), "server-cpu-µs/set")
	s.client.CloseIdleConnections()
}

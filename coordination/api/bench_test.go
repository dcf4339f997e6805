package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWakeupHTTP is BenchmarkWakeup (coordination/coordinator) over
// the HTTP API on loopback: 1,000 machines each long-poll one parameter on
// a connection of their own (their gets parked), a set is acknowledged,
// and it measures the delay from that acknowledgement to each get's
// answer being read, as p50-ms and p99-ms. Client and server share the
// machine.
func BenchmarkWakeupHTTP(b *testing.B) {
	const waiters = 1000
	srv, _ := newExtServer(b, func(o *Options) { o.MaxInstances, o.MaxWait = 2*waiters, time.Minute })
	spec := fmt.Sprintf(`{"id":"w","nodes":{"src":{"multiplicity":1,"params":{"v":{"output":true}}},"sink":{"multiplicity":%d,"params":{"v":{}},"mappings":{"v":"src:v"}}}}`, waiters)
	r := call(b, srv, "POST", "/v1/deployments", admin, spec)
	if r.status != http.StatusCreated {
		b.Fatalf("create: %d %s", r.status, r.raw)
	}
	tokens := map[string]string{}
	for k, v := range r.body["tokens"].(map[string]any) {
		tokens[k] = v.(string)
	}
	tokens = exchangeAll(b, srv, "w", tokens)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: waiters, DisableCompression: true}}
	var all []time.Duration
	for round := 0; b.Loop(); round++ {
		value, previous := fmt.Sprint("v", round), fmt.Sprint("v", round-1)
		if round == 0 {
			previous = "" // unset reads as empty when waiting for a change
		}
		got := make([]time.Time, waiters+1)
		var sent, wg sync.WaitGroup
		var failed atomic.Int64
		for i := 1; i <= waiters; i++ {
			wg.Add(1)
			sent.Add(1)
			go func() {
				defer wg.Done()
				var once sync.Once
				done := func() { once.Do(sent.Done) }
				defer done()
				req, _ := http.NewRequest("GET", srv.URL+"/v1/deployments/w/parameters/v?wait=60s&changed_from="+previous, nil)
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { done() }}))
				req.Header.Set("Authorization", "Bearer "+tokens[fmt.Sprint("sink.", i)])
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				got[i] = time.Now()
				if res.StatusCode != http.StatusOK || !strings.Contains(string(body), value) {
					failed.Add(1)
				}
			}()
		}
		sent.Wait()
		time.Sleep(300 * time.Millisecond) // every get parked
		req, _ := http.NewRequest("PUT", srv.URL+"/v1/deployments/w/parameters/v", strings.NewReader(`{"value":"`+value+`"}`))
		req.Header.Set("Authorization", "Bearer "+tokens["src.1"])
		res, err := client.Do(req)
		if err != nil || res.StatusCode != http.StatusNoContent {
			b.Fatalf("set: %v %v", res, err)
		}
		res.Body.Close()
		set := time.Now()
		wg.Wait()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d gets failed", n)
		}
		for _, t := range got[1:] {
			all = append(all, t.Sub(set))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

var rssProfile = flag.String("serve-rss.profile", "", "BenchmarkServeRSS: build slipc with a test-only hook and write the server's heap profiles, goroutine counts and memory statistics into this `folder`")

var rssServeFlags = flag.String("serve-rss.flags", "", "BenchmarkServeRSS: more `flags` for slipc serve, space-separated (say, -max-connections 100000 to compare without the default limit)")

// rssInstances is the size of BenchmarkServeRSS's deployment: db.1 and
// web.1 to web.9999.
const rssInstances = 10000

// rssMemoryLimit is the -memory-limit of the tls-agent-limit case.
const rssMemoryLimit = "256MiB"

// BenchmarkServeRSS measures the resident memory of a real `slipc serve`
// (built from this package, run as its own process, with the GC setting
// slipc itself uses unless GOGC is set) through a run of one deployment of
// 10,000 instances over the HTTP API, as the machines of a real run would
// use it, once over plain HTTP (http) and once over TLS (tls: slipc serve
// -tls-self-signed, the client pinning the CA it prints, with the agent's
// TLS configuration and its session cache); then over TLS as agents use it
// (tls-agent: each machine's agent also holds its one watch on the run,
// two long-polls per machine), and the same with -memory-limit 256MiB
// (tls-agent-limit, the setting docs/performance.md recommends at this
// size):
//
//  1. the provider creates the deployment: db (1 instance, output
//     password) and web (9,999 instances, input password mapped from
//     db:password, output url), and gets the 10,000 instance tokens;
//  2. every web instance long-polls its password (ss-get: ?wait=60s), each
//     with its own token on its own connection, and the benchmark waits
//     until the server is idle, every long-poll parked;
//  3. db.1 sets its password, which sets all 9,999 inputs in one commit and
//     wakes every long-poll;
//  4. every web instance sets its url, and every instance completes
//     Initializing, the last one moving the run to Provisioning.
//
// It reports the server's peak resident memory (VmHWM from /proc, in MiB)
// as rss-MB (target: under 300), its resident memory while the 9,999
// long-polls are parked as parked-rss-MB, and the wake-up of the 9,999
// long-polls over HTTP (from the set's acknowledgement to each response) as
// wake-p50-ms and wake-p99-ms, and how long step 4 took as burst-s; it logs
// the phases' timings and memory. -serve-rss.flags passes more flags to
// slipc serve (-max-connections 100000 shows the burst without the
// default limit).
//
// With -serve-rss.profile DIR (go test -run '^$' -bench ServeRSS
// -benchtime 1x ./cmd/slipc/ -args -serve-rss.profile DIR) the server is
// built with a test-only hook that writes a heap profile, goroutine counts
// and runtime.MemStats into DIR after each phase (after a GC, which lowers
// the memory of the later phases: take the rss figures from a run without
// it).
func BenchmarkServeRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("BenchmarkServeRSS reads the server's memory from /proc/PID/status: Linux only")
	}
	// Go raises its own soft RLIMIT_NOFILE to the hard limit at start (and
	// so does the slipc it starts), so only the hard limit matters.
	raiseOpenFiles(2*rssInstances + 4096)
	if n := openFilesLimit(b); n < rssInstances+256 {
		b.Skipf("BenchmarkServeRSS needs %d open files (one connection per instance, on each side); the limit here is %d: raise it (ulimit -Hn)", rssInstances+256, n)
	}
	b.StopTimer()
	bin := buildSlipc(b)
	b.StartTimer()
	for _, c := range []struct {
		name            string
		useTLS, watches bool
		flags           []string
	}{
		{"http", false, false, nil},
		{"tls", true, false, nil},
		{"tls-agent", true, true, nil},
		// The setting docs/performance.md recommends for 10,000 machines
		// over TLS: a soft memory limit instead of a heap let grow to
		// twice what is live.
		{"tls-agent-limit", true, true, []string{"-memory-limit", rssMemoryLimit}},
	} {
		b.Run(c.name, func(b *testing.B) {
			n := rssInstances
			if c.watches {
				// Two connections per machine on each side: as many
				// machines as the open-files limit allows, at most
				// 10,000 (this machine's hard limit, 20,000, which
				// root cannot raise in its container, fits 9,000). The
				// figures are reported per machine too, to extrapolate.
				n = min(rssInstances, (openFilesLimit(b)-1024)/2/1000*1000)
				if n < 1000 {
					b.Skipf("%s needs at least %d open files (two long-polls per machine); the limit here is %d", c.name, 2*1000+1024, openFilesLimit(b))
				}
			}
			b.ReportMetric(float64(n), "machines")
			for i := 0; i < b.N; i++ {
				rssRun(b, bin, c.useTLS, c.watches, n, c.flags...)
			}
		})
	}
}

// raiseOpenFiles lifts the hard limit on open files, which root may do
// (up to fs.nr_open), so that the tls-agent case's 20,000 connections on
// each side fit; slipc serve inherits it.
func raiseOpenFiles(want uint64) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil || l.Max >= want {
		return
	}
	l.Max, l.Cur = want, want
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) // not root: the check below skips
}

// openFilesLimit reads this process's open files limit from /proc.
func openFilesLimit(b *testing.B) int {
	data, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if f[0] == "unlimited" {
					return 1 << 30
				}
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	b.Fatal("no open files limit in /proc/self/limits")
	return 0
}

// profileHook is the test-only file added to package main (with go build
// -overlay) for -serve-rss.profile: when the benchmark creates DIR/want-N
// the server writes heap-N.pprof, goroutines-N.txt and memstats-N.txt,
// then done-N.
const profileHook = `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// peak is the largest of each memory figure since the last profile,
// sampled every 10 ms: the profiles are taken after a GC, when a burst is
// over, so this is what shows what the burst held.
var peak struct {
	sync.Mutex
	heapInuse, stackInuse, sys uint64
	goroutines                 int
}

func init() {
	dir := os.Getenv("SLIPSTREAM_BENCH_PROFILE_DIR")
	if dir == "" {
		return
	}
	go func() {
		var ms runtime.MemStats
		for range time.Tick(10 * time.Millisecond) {
			runtime.ReadMemStats(&ms)
			g := runtime.NumGoroutine()
			peak.Lock()
			peak.heapInuse = max(peak.heapInuse, ms.HeapInuse)
			peak.stackInuse = max(peak.stackInuse, ms.StackInuse)
			peak.sys = max(peak.sys, ms.Sys-ms.HeapReleased)
			peak.goroutines = max(peak.goroutines, g)
			peak.Unlock()
		}
	}()
	go func() {
		for n := 1; ; {
			name := func(f string) string { return filepath.Join(dir, fmt.Sprintf(f, n)) }
			if _, err := os.Stat(name("want-%d")); err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			peak.Lock()
			high := fmt.Sprintf("peak since the last profile: HeapInuse %.1f MiB, StackInuse %.1f MiB, Sys-HeapReleased %.1f MiB, goroutines %d\n",
				float64(peak.heapInuse)/(1<<20), float64(peak.stackInuse)/(1<<20), float64(peak.sys)/(1<<20), peak.goroutines)
			peak.heapInuse, peak.stackInuse, peak.sys, peak.goroutines = 0, 0, 0, 0
			peak.Unlock()
			runtime.GC()
			if f, err := os.Create(name("heap-%d.pprof")); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			if f, err := os.Create(name("goroutines-%d.txt")); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
			os.WriteFile(name("memstats-%d.txt"), []byte(high+fmt.Sprintf(
				"before the GC: HeapAlloc %.1f MiB, HeapInuse %.1f MiB, HeapSys %.1f MiB, NextGC %.1f MiB\n"+
					"after the GC:  HeapAlloc %.1f MiB, HeapInuse %.1f MiB, HeapIdle %.1f MiB, HeapReleased %.1f MiB, HeapSys %.1f MiB\n"+
					"StackInuse %.1f MiB, StackSys %.1f MiB, MSpanSys %.1f MiB, GCSys %.1f MiB, OtherSys %.1f MiB, Sys %.1f MiB\n"+
					"goroutines %d, GCs %d, GOGC=%q\n",
				mb(before.HeapAlloc), mb(before.HeapInuse), mb(before.HeapSys), mb(before.NextGC),
				mb(ms.HeapAlloc), mb(ms.HeapInuse), mb(ms.HeapIdle), mb(ms.HeapReleased), mb(ms.HeapSys),
				mb(ms.StackInuse), mb(ms.StackSys), mb(ms.MSpanSys), mb(ms.GCSys), mb(ms.OtherSys), mb(ms.Sys),
				runtime.NumGoroutine(), ms.NumGC, os.Getenv("GOGC"))), 0o644)
			os.WriteFile(name("done-%d"), nil, 0o644)
			n++
		}
	}()
}
`

// buildSlipc builds this package's slipc into a temporary folder, with the
// profile hook when -serve-rss.profile is given.
func buildSlipc(b *testing.B) string {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Skipf("BenchmarkServeRSS builds slipc with the go command, which is not on PATH: %v", err)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "slipc")
	args := []string{"build", "-o", bin}
	if *rssProfile != "" {
		pkg, err := os.Getwd()
		if err != nil {
			b.Fatal(err)
		}
		hook := filepath.Join(dir, "hook.go")
		overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(pkg, "zz_bench_profile_hook.go"): hook}})
		if err := os.WriteFile(hook, []byte(profileHook), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644); err != nil {
			b.Fatal(err)
		}
		args = append(args, "-overlay", filepath.Join(dir, "overlay.json"))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(goBin, append(args, ".")...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("go build slipc: %v\n%s", err, stderr.String())
	}
	return bin
}

// rssServer is a running slipc serve.
type rssServer struct {
	url, token string
	pid        int
	client     *http.Client
	profiles   int
}

// startRSSServer starts slipc serve on a free loopback port with a fresh
// data folder; it is stopped when the benchmark ends.
func startRSSServer(b *testing.B, bin string, useTLS bool, flags ...string) *rssServer {
	b.Helper()
	tok := make([]byte, 16)
	rand.Read(tok)
	s := &rssServer{token: hex.EncodeToString(tok)}
	args := []string{"serve", "-listen", "127.0.0.1:0", "-data", b.TempDir()}
	if useTLS {
		args = append(args, "-tls-self-signed")
	}
	args = append(args, flags...)
	cmd := exec.Command(bin, append(args, strings.Fields(*rssServeFlags)...)...)
	cmd.Env = append(os.Environ(), "SLIPSTREAM_ADMIN_TOKEN="+s.token)
	if *rssProfile != "" {
		if err := os.MkdirAll(*rssProfile, 0o755); err != nil {
			b.Fatal(err)
		}
		// The hand-shake files of an earlier run would answer at once.
		for _, pattern := range []string{"want-*", "done-*"} {
			old, _ := filepath.Glob(filepath.Join(*rssProfile, pattern))
			for _, f := range old {
				os.Remove(f)
			}
		}
		dir, _ := filepath.Abs(*rssProfile)
		cmd.Env = append(cmd.Env, "SLIPSTREAM_BENCH_PROFILE_DIR="+dir)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	sc := bufio.NewScanner(out)
	var fingerprint string
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "SLIPSTREAM_CA_FINGERPRINT): "); ok {
			fingerprint = strings.TrimSpace(after)
		}
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			s.url = strings.Fields(after)[0]
			break
		}
	}
	go func() {
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	if s.url == "" {
		b.Fatal("slipc serve printed no address")
	}
	s.pid = cmd.Process.Pid
	// One connection per instance, kept for the instance's later calls, as
	// each machine's agent would have its own.
	s.client = &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 4 * rssInstances,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}}
	if useTLS {
		if fingerprint == "" {
			b.Fatal("slipc serve -tls-self-signed printed no CA fingerprint")
		}
		s.client.Transport.(*http.Transport).TLSClientConfig = tlsutil.PinnedConfig(fingerprint)
	}
	return s
}

// call makes one API call and decodes a 2xx answer into out (when not
// nil); any other status is an error.
// exchangeTokens trades each instance's bootstrap token (tokens:
// instance → token) for an agent token of its own, as every agent does at
// its first start, 64 at a time, and puts the agent tokens in tokens.
func (s *rssServer) exchangeTokens(b *testing.B, id string, tokens map[string]string) {
	var exchanged sync.Map
	var ex sync.WaitGroup
	slots := make(chan struct{}, 64)
	for inst, boot := range tokens {
		ex.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; ex.Done() }()
			own := make([]byte, 32)
			rand.Read(own)
			tok := hex.EncodeToString(own)
			sum := sha256.Sum256([]byte(tok))
			if err := s.call("POST", "/v1/deployments/"+id+"/exchange", boot, map[string]string{"token_sha256": hex.EncodeToString(sum[:])}, nil, nil); err != nil {
				b.Error(err)
				return
			}
			exchanged.Store(inst, tok)
		}()
	}
	ex.Wait()
	exchanged.Range(func(k, v any) bool { tokens[k.(string)] = v.(string); return true })
}

func (s *rssServer) call(method, path, token string, body, out any, trace *httptrace.ClientTrace) error {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return err
	}
	if trace != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// procMem is the memory /proc/PID/status reports, in KiB.
type procMem struct{ rss, hwm, anon, file int64 }

func (m procMem) String() string {
	return fmt.Sprintf("VmRSS %.0f MiB (anon %.0f, file %.0f), VmHWM %.0f MiB", mib(m.rss), mib(m.anon), mib(m.file), mib(m.hwm))
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func (s *rssServer) mem(b *testing.B) procMem {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		b.Fatal(err)
	}
	var m procMem
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = v
		case "VmHWM:":
			m.hwm = v
		case "RssAnon:":
			m.anon = v
		case "RssFile:":
			m.file = v
		}
	}
	return m
}

// cpuTicks is the CPU time the server has used, in clock ticks.
func (s *rssServer) cpuTicks(b *testing.B) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		b.Fatal(err)
	}
	// After "pid (comm) ", utime and stime are the 12th and 13th fields.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// settle waits until the server is idle (at most one clock tick, 10 ms, of
// CPU in 500 ms), which, once every long-poll has been sent, means they are
// all parked; it returns how long that took.
func (s *rssServer) settle(b *testing.B) time.Duration {
	start := time.Now()
	last := s.cpuTicks(b)
	for time.Since(start) < 60*time.Second {
		time.Sleep(500 * time.Millisecond)
		now := s.cpuTicks(b)
		if now-last <= 1 {
			return time.Since(start)
		}
		last = now
	}
	b.Fatal("the server did not become idle within 60 s")
	return 0
}

// profile asks the server's profile hook (-serve-rss.profile) for a
// profile and waits until it is written.
func (s *rssServer) profile(b *testing.B, phase string) {
	if *rssProfile == "" {
		return
	}
	s.profiles++
	n := s.profiles
	os.WriteFile(filepath.Join(*rssProfile, fmt.Sprintf("want-%d", n)), []byte(phase+"\n"), 0o644)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(*rssProfile, fmt.Sprintf("done-%d", n))); err == nil {
			b.Logf("profile %d (%s): %s", n, phase, filepath.Join(*rssProfile, fmt.Sprintf("heap-%d.pprof", n)))
			return
		}
	}
	b.Fatalf("no profile %d from the server", n)
}

// rssRun is one run of BenchmarkServeRSS against a new server. With
// watches, every machine also holds the long-poll its agent keeps on the
// run during every script (coordination/agent: GET …/run, woken by a
// state change or an abort), from before the gets to the end: the real
// pattern, two parked long-polls per machine at the barrier.
func rssRun(b *testing.B, bin string, useTLS, watches bool, n int, flags ...string) {
	s := startRSSServer(b, bin, useTLS, flags...)
	const id = "rss"
	b.Logf("slipc serve pid %d (flags %q %q, TLS %v), GOGC=%q (slipc's default when empty), at start: %v", s.pid, flags, *rssServeFlags, useTLS, os.Getenv("GOGC"), s.mem(b))
	phase := func(name string, start time.Time) {
		b.Logf("%-44s %6.2f s   %v", name, time.Since(start).Seconds(), s.mem(b))
		s.profile(b, name)
	}

	// 1. The provider creates the deployment.
	start := time.Now()
	spec := map[string]any{"id": id, "nodes": map[string]any{
		"db":  map[string]any{"multiplicity": 1, "params": map[string]any{"password": map[string]any{"output": true, "sensitive": true}}},
		"web": map[string]any{"multiplicity": n - 1, "params": map[string]any{"password": map[string]any{"sensitive": true}, "url": map[string]any{"output": true}}, "mappings": map[string]string{"password": "db:password"}},
	}}
	var created struct {
		Tokens map[string]string `json:"tokens"`
	}
	if err := s.call("POST", "/v1/deployments", s.token, spec, &created, nil); err != nil {
		b.Fatal(err)
	}
	if len(created.Tokens) != n {
		b.Fatalf("%d instance tokens, want %d", len(created.Tokens), n)
	}
	phase(fmt.Sprintf("create %d instances", n), start)

	// Each agent exchanges its bootstrap token for its own at its first
	// start: so do these, before they use it.
	start = time.Now()
	s.exchangeTokens(b, id, created.Tokens)
	phase(fmt.Sprintf("exchange %d bootstrap tokens", n), start)

	if watches {
		var cur struct{ State string }
		if err := s.call("GET", "/v1/deployments/"+id+"/run", s.token, nil, &cur, nil); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		var sent atomic.Int64
		dialing := make(chan struct{}, 256)
		for _, tok := range created.Tokens {
			dialing <- struct{}{}
			go func() {
				var once sync.Once
				release := func() { once.Do(func() { <-dialing; sent.Add(1) }) }
				defer release()
				trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { release() }}
				// They end when the run changes state or the server
				// stops: neither is a failure of the benchmark.
				s.call("GET", "/v1/deployments/"+id+"/run?wait=1h&state="+cur.State, tok, nil, nil, trace)
			}()
		}
		for sent.Load() < int64(len(created.Tokens)) {
			time.Sleep(10 * time.Millisecond)
		}
		idle := s.settle(b)
		b.Logf("%-44s %6.2f s   %v", fmt.Sprintf("%d agent watches parked %.1f s later", len(created.Tokens), idle.Seconds()), time.Since(start).Seconds(), s.mem(b))
	}

	// 2. Every web instance long-polls its password.
	const password = "s3cret"
	start = time.Now()
	webs := n - 1
	returned := make([]time.Time, webs+1)
	var written, failed atomic.Int64
	var gets sync.WaitGroup
	dialing := make(chan struct{}, 256) // bounds connections being set up, not requests
	for i := 1; i <= webs; i++ {
		gets.Add(1)
		dialing <- struct{}{}
		go func(i int) {
			defer gets.Done()
			var once sync.Once
			release := func() { once.Do(func() { <-dialing; written.Add(1) }) }
			defer release()
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { release() }}
			var got struct{ Value string }
			err := s.call("GET", "/v1/deployments/"+id+"/parameters/password?wait=60s", created.Tokens[fmt.Sprintf("web.%d", i)], nil, &got, trace)
			returned[i] = time.Now()
			if err == nil && got.Value != password {
				err = fmt.Errorf("web.%d got %q", i, got.Value)
			}
			if err != nil {
				failed.Add(1)
				b.Error(err)
			}
		}(i)
	}
	for written.Load() < int64(webs) {
		time.Sleep(10 * time.Millisecond)
	}
	sent := time.Since(start)
	idle := s.settle(b)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d long-polls failed before the set", n)
	}
	parked := s.mem(b)
	b.Logf("%-44s %6.2f s   %v", fmt.Sprintf("%d long-polls sent, parked %.1f s later", webs, idle.Seconds()), sent.Seconds(), parked)
	s.profile(b, "long-polls parked")

	// 3. db.1 sets its password, which wakes them all.
	if err := s.call("PUT", "/v1/deployments/"+id+"/parameters/password", created.Tokens["db.1"], map[string]string{"value": password}, nil, nil); err != nil {
		b.Fatal(err)
	}
	set := time.Now()
	gets.Wait()
	wakes := make([]time.Duration, 0, webs)
	for _, t := range returned[1:] {
		wakes = append(wakes, t.Sub(set))
	}
	sort.Slice(wakes, func(i, j int) bool { return wakes[i] < wakes[j] })
	p50, p99 := wakes[len(wakes)/2], wakes[len(wakes)*99/100]
	b.Logf("wake-up of %d long-polls: p50 %.1f ms, p99 %.1f ms, last %.1f ms", webs, ms(p50), ms(p99), ms(wakes[len(wakes)-1]))
	phase("set db.1:password, all long-polls answered", set)

	// 4. Every web instance sets its url, and every instance completes
	// Initializing.
	start = time.Now()
	var finals sync.Map
	var work sync.WaitGroup
	var setTime, completeTime atomic.Int64 // summed, for the means
	for inst, tok := range created.Tokens {
		work.Add(1)
		go func() {
			defer work.Done()
			if strings.HasPrefix(inst, "web.") {
				t := time.Now()
				if err := s.call("PUT", "/v1/deployments/"+id+"/parameters/url", tok, map[string]string{"value": "http://" + inst + ".example:8080/"}, nil, nil); err != nil {
					b.Error(err)
					return
				}
				setTime.Add(int64(time.Since(t)))
			}
			t := time.Now()
			var res struct{ State string }
			if err := s.call("POST", "/v1/deployments/"+id+"/complete", tok, map[string]string{"state": "Initializing"}, &res, nil); err != nil {
				b.Error(err)
				return
			}
			completeTime.Add(int64(time.Since(t)))
			finals.Store(res.State, true)
		}()
	}
	work.Wait()
	burst := time.Since(start)
	phase(fmt.Sprintf("%d url sets and %d completes", n-1, n), start)
	b.Logf("mean latency: set %.1f ms, complete %.1f ms", ms(time.Duration(setTime.Load()/int64(webs))), ms(time.Duration(completeTime.Load()/int64(n))))
	var dep struct{ State string }
	if err := s.call("GET", "/v1/deployments/"+id, s.token, nil, &dep, nil); err != nil {
		b.Fatal(err)
	}
	if _, ok := finals.Load("Provisioning"); !ok || dep.State != "Provisioning" {
		b.Fatalf("the run is %q after every instance completed Initializing, want Provisioning", dep.State)
	}

	end := s.mem(b)
	b.ReportMetric(mib(end.hwm), "rss-MB")
	b.ReportMetric(mib(parked.rss), "parked-rss-MB")
	b.ReportMetric(ms(p50), "wake-p50-ms")
	b.ReportMetric(ms(p99), "wake-p99-ms")
	b.ReportMetric(burst.Seconds(), "burst-s")
	s.client.CloseIdleConnections()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

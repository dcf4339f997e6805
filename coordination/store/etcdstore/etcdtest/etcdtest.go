// Package etcdtest runs a real, single-member etcd inside a test or
// benchmark (go.etcd.io/etcd/server/v3/embed), for the etcd store's
// conformance tests, the replica tests of slipc serve and the etcd
// baselines of make bench.
package etcdtest

import (
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Start runs etcd with its data (and its log) in a temporary folder and
// returns its client address, host:port. It stops when tb ends. etcd keeps
// its default durability: every commit is fsynced to its log.
func Start(tb testing.TB) string {
	tb.Helper()
	return StartConfig(tb, nil)
}

// StartConfig is Start with configure, when not nil, changing etcd's
// configuration last, just before etcd starts: the tests of the store's
// batching use it to run etcd with its default request size limit (which
// Start raises), or with limits below the defaults.
func StartConfig(tb testing.TB, configure func(*embed.Config)) string {
	tb.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = tb.TempDir()
	// etcd logs at error level even when it is closed normally; its log
	// goes beside its data, out of the test's output.
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(cfg.Dir, "etcd.log")}
	// Port 0 lets the kernel pick free ports, so parallel test binaries
	// never collide; the real client address is read back from the
	// listener below. A single member never dials its peer URL.
	local, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls = []url.URL{*local}
	cfg.AdvertiseClientUrls = []url.URL{*local}
	cfg.ListenPeerUrls = []url.URL{*local}
	cfg.AdvertisePeerUrls = []url.URL{*local}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// The conformance suite stores 1 MiB values; leave room for the rest
	// of the request above etcd's 1.5 MiB default.
	cfg.MaxRequestBytes = 4 << 20
	if configure != nil {
		configure(cfg)
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		tb.Fatalf("start etcd: %v", err)
	}
	tb.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		tb.Fatalf("etcd: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("etcd not ready within 30s")
	}
	return e.Clients[0].Addr().String()
}

package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// testPrefix keeps the tests' runtimes apart from others (DefaultPrefix).
const testPrefix = "fcgt"

// helperEnv makes the test binary a helper process that boots a guest and
// exits without closing its runtime (see TestCleanupStale).
const helperEnv = "GUEST_TEST_HELPER_PREFIX"

func TestMain(m *testing.M) {
	if prefix := os.Getenv(helperEnv); prefix != "" {
		os.Exit(helperMain(prefix))
	}
	if os.Geteuid() == 0 && Available() == nil {
		// Runtimes of an earlier run of these tests that was killed.
		if err := CleanupStale(testPrefix); err != nil {
			fmt.Fprintln(os.Stderr, "cleaning up stale test runtimes:", err)
		}
	}
	os.Exit(m.Run())
}

// helperMain boots a guest whose user-data starts a daemon, prints the
// guest's description and exits, leaving the runtime stale.
func helperMain(prefix string) int {
	image, err := BaseImageIfCached(ImageOptions{})
	if err == nil {
		var r *Runtime
		r, err = New(context.Background(), Options{Prefix: prefix, UserDataOnly: true})
		if err == nil {
			var g fakecloud.Guest
			g, err = r.Boot(context.Background(), fakecloud.BootSpec{ID: "i-orphan", Layers: []string{image},
				UserData: []byte("#!/bin/sh\nsetsid sleep 1000000 </dev/null >/dev/null 2>&1 &\n")})
			if err == nil {
				inst := g.(*Instance)
				_, err = inst.WaitBooted(context.Background())
				json.NewEncoder(os.Stdout).Encode(map[string]any{"name": inst.Name(), "dir": inst.dir,
					"state": r.StateDir(), "bridge": r.net.Bridge, "pid": inst.InitPID(), "upper": inst.UpperDir()})
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// requireRoot skips tests that need root and namespaces where they cannot
// run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: guests need root (namespaces, overlays, bridges)")
	}
	if err := Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// baseImage returns the cached base image, building it the first time
// (about 1.5 minutes).
func baseImage(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	if _, err := hostTool("debootstrap"); err != nil {
		if _, err := BaseImageIfCached(ImageOptions{}); err != nil {
			t.Skip("skipping: no cached base image and no debootstrap to build it (apt-get install debootstrap)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rootfs, err := BaseImage(ctx, ImageOptions{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// newRuntime makes a runtime closed at the end of the test, and checks
// that closing it leaves nothing behind.
func newRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	opts.Prefix = testPrefix
	return newRuntimeOpts(t, opts)
}

func newRuntimeWithPrefix(t *testing.T, prefix string) *Runtime {
	t.Helper()
	return newRuntimeOpts(t, Options{Prefix: prefix, UserDataOnly: true})
}

func newRuntimeOpts(t *testing.T, opts Options) *Runtime {
	t.Helper()
	requireRoot(t)
	if opts.Log == nil {
		opts.Log = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(r.StateDir()); !os.IsNotExist(err) {
			t.Errorf("the state folder %s is left: %v", r.StateDir(), err)
		}
		if _, err := net.InterfaceByName(r.net.Bridge); err == nil {
			t.Errorf("the bridge %s is left", r.net.Bridge)
		}
	})
	return r
}

// boot boots a guest and returns it; its console is logged if the test fails.
func boot(t *testing.T, r *Runtime, spec fakecloud.BootSpec) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := r.Boot(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	inst := g.(*Instance)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console of %s (%s):\n%s", inst.Name(), spec.ID, inst.Console())
		}
	})
	return inst
}

func waitBooted(t *testing.T, inst *Instance) BootResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := inst.WaitBooted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// gatewayServer is an HTTP server on the runtime's gateway address that
// records the paths asked for, as a coordinator would hear its agents.
type gatewayServer struct {
	URL  string
	mu   sync.Mutex
	hits map[string]time.Time
	cond chan struct{}
}

func newGatewayServer(t *testing.T, r *Runtime) *gatewayServer {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(r.GatewayIP(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &gatewayServer{URL: "http://" + ln.Addr().String(), hits: map[string]time.Time{}, cond: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		s.hits[req.URL.Path] = time.Now()
		close(s.cond)
		s.cond = make(chan struct{})
		s.mu.Unlock()
		fmt.Fprintf(w, "hello %s\n", req.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// wait waits until path was asked for, and returns when.
func (s *gatewayServer) wait(t *testing.T, path string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		at, ok := s.hits[path]
		ch := s.cond
		s.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("nobody asked the gateway for %s within %v", path, timeout)
		}
	}
}

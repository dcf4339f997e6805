package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store/etcdstore/etcdtest"
)

// serveReplica runs slipc serve in-process until the test ends and
// returns its URL.
func serveReplica(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		serve(ctx, append([]string{"-listen", "127.0.0.1:0", "-data", t.TempDir()}, args...), pw, os.Stderr)
		pw.Close()
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			go io.Copy(io.Discard, pr)
			return strings.Fields(after)[0]
		}
	}
	t.Fatal("serve printed no address")
	return ""
}

// TestServe_replicasShareEtcd: two slipc serve processes on one etcd are
// one coordinator: a deployment created on the first is seen by the
// second, and a get blocked on the first is woken by a set made through
// the second (through etcd's watch, not by polling).
func TestServe_replicasShareEtcd(t *testing.T) {
	endpoint := "http://" + etcdtest.Start(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	const token = "shared-admin-token-0123456789abcdef"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	a := serveReplica(t, "-etcd", endpoint, "-admin-token-file", tokenFile)
	b := serveReplica(t, "-etcd", endpoint, "-admin-token-file", tokenFile)

	call := func(method, u, body string, out any) int {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	if code := call("POST", a+"/v1/deployments", `{"id":"d","nodes":{"db":{"multiplicity":1,"params":{"password":{"output":true}}}}}`, nil); code != http.StatusCreated {
		t.Fatalf("create on replica A: %d", code)
	}
	got := make(chan string, 1)
	go func() {
		var out struct{ Value string }
		call("GET", a+"/v1/deployments/d/parameters/db.1:password?wait=30s", "", &out)
		got <- out.Value
	}()
	time.Sleep(200 * time.Millisecond)
	if code := call("PUT", b+"/v1/deployments/d/parameters/db.1:password", `{"value":"from-b"}`, nil); code != http.StatusNoContent {
		t.Fatalf("set on replica B: %d", code)
	}
	select {
	case v := <-got:
		if v != "from-b" {
			t.Fatalf("replica A's waiter got %q", v)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("replica A's waiter was not woken by replica B's set")
	}
}

func TestServe_etcdUnreachable(t *testing.T) {
	var stderr strings.Builder
	code := serve(context.Background(), []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-etcd", "http://127.0.0.1:1"}, io.Discard, &stderr)
	if code != exitDiags || !strings.Contains(stderr.String(), "does not answer") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

package agent

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

const admin = "admin-token-for-the-agent-tests"

// syncBuffer is the agents' log, read while they write it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// poolFixture is an in-process coordinator (the real API over bbolt) with
// deployment "farm" (node worker of 8 instances, node db of 1),
// registered without tokens, and a pool token for each node.
type poolFixture struct {
	url                  string
	admin                *client.Client
	pool, dbPool         string // the pool tokens
	poolHash, dbPoolHash string
}

func newPoolFixture(t *testing.T) *poolFixture {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	s, err := api.New(c, api.Options{AdminToken: admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	f := &poolFixture{url: srv.URL, admin: &client.Client{BaseURL: srv.URL, Deployment: "farm", Token: admin}}
	ctx := context.Background()
	if err := f.admin.RegisterDeployment(ctx, &coordinator.Deployment{ID: "farm", Nodes: map[string]*coordinator.Node{
		"worker": {Multiplicity: 8}, "db": {Multiplicity: 1},
	}}); err != nil {
		t.Fatal(err)
	}
	f.pool, f.poolHash = client.NewToken()
	f.dbPool, f.dbPoolHash = client.NewToken()
	if err := f.admin.RegisterPool(ctx, "worker", f.poolHash); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.RegisterPool(ctx, "db", f.dbPoolHash); err != nil {
		t.Fatal(err)
	}
	return f
}

// runner is a pool machine's Runner of node, with the pool token, its
// machine id in machineIDFile and its state in stateDir.
func (f *poolFixture) runner(node, pool, machineIDFile, stateDir string) (*Runner, *syncBuffer) {
	log := &syncBuffer{}
	return &Runner{
		Client:   &client.Client{BaseURL: f.url, Deployment: "farm", Token: pool, MaxBackoff: 100 * time.Millisecond},
		Config:   Config{ServiceURL: f.url, Deployment: "farm", Token: pool, Node: node, MachineIDFile: machineIDFile},
		StateDir: stateDir, Log: log,
	}, log
}

func waitForLog(t *testing.T, log *syncBuffer, text string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never logged %q:\n%s", text, log.String())
		}
	}
}

// TestPoolIdentity: a pool machine's agent waits for its machine id file,
// then for the provider to register the machine, exchanges the pool token
// and becomes the instance the coordinator names; restarted, it takes
// that from its token file without asking; started on another machine
// (an image of this one), it exchanges again.
func TestPoolIdentity(t *testing.T) {
	f := newPoolFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	idFile := filepath.Join(t.TempDir(), "instance-id")
	state := t.TempDir()
	r, log := f.runner("worker", f.pool, idFile, state)

	type result struct {
		machine string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		m, err := r.poolIdentity(ctx)
		done <- result{m, err}
	}()
	waitForLog(t, log, "waiting for the machine id in "+idFile)
	// cloud-init writes the file, with a newline.
	if err := os.WriteFile(idFile, []byte("i-0abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, log, "machine i-0abc of node worker's pool: waiting for the provider to register it")
	if err := f.admin.SetPoolMembers(ctx, f.poolHash, map[string]string{"i-0abc": "worker.7"}); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil || res.machine != "i-0abc" {
		t.Fatalf("poolIdentity: %q %v\n%s", res.machine, res.err, log.String())
	}
	if r.Instance != (coordinator.Instance{Node: "worker", Index: 7}) || r.Config.Instance != "worker.7" || r.Config.InstanceID != "i-0abc" {
		t.Fatalf("the runner is %v (config %q, instance id %q), want worker.7 on i-0abc", r.Instance, r.Config.Instance, r.Config.InstanceID)
	}
	creds, err := LoadCredentials(TokenFile(state))
	if err != nil || creds.Instance != "worker.7" || creds.MachineID != "i-0abc" || !creds.Exchanged || creds.Token != r.Client.Token || creds.BootstrapSHA256 != f.poolHash {
		t.Fatalf("token file: %+v %v", creds, err)
	}
	for _, once := range []string{"waiting for the machine id", "waiting for the provider"} {
		if n := strings.Count(log.String(), once); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", once, n, log.String())
		}
	}
	// The agent token acts for worker.7.
	if err := r.Client.Set(ctx, "statecustom", "pooled", false); err != nil {
		t.Fatal(err)
	}
	if v, err := f.admin.Get(ctx, "worker.7:statecustom", 0, false, nil); err != nil || v != "pooled" {
		t.Fatalf("worker.7:statecustom = %q %v", v, err)
	}

	// Restarted (a reboot): no exchange, so no coordinator needed.
	again, _ := f.runner("worker", f.pool, idFile, state)
	again.Client.BaseURL = "http://127.0.0.1:1" // nothing listens there
	if m, err := again.poolIdentity(ctx); err != nil || m != "i-0abc" || again.Instance.String() != "worker.7" || again.Client.Token != creds.Token {
		t.Fatalf("restarted: %q %v %v", m, err, again.Instance)
	}

	// Another machine, started from an image of this one (its state folder
	// and all), replaces worker.7: a new exchange, with a new token.
	if err := os.WriteFile(idFile, []byte("i-0new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.SetPoolMembers(ctx, f.poolHash, map[string]string{"i-0new": "worker.7"}); err != nil {
		t.Fatal(err)
	}
	moved, log2 := f.runner("worker", f.pool, idFile, state)
	if m, err := moved.poolIdentity(ctx); err != nil || m != "i-0new" || moved.Instance.String() != "worker.7" {
		t.Fatalf("on a new machine: %q %v %v\n%s", m, err, moved.Instance, log2.String())
	}
	if !strings.Contains(log2.String(), "is the token of machine i-0abc, but this is machine i-0new") {
		t.Errorf("the log does not say why the token file was not reused:\n%s", log2.String())
	}
	newCreds, _ := LoadCredentials(TokenFile(state))
	if newCreds.Token == creds.Token || newCreds.MachineID != "i-0new" || !newCreds.Exchanged {
		t.Fatalf("token file on the new machine: %+v", newCreds)
	}
	var e *client.Error
	if err := r.Client.Set(ctx, "statecustom", "old", false); !errors.As(err, &e) || e.Code != "unauthorized" {
		t.Fatalf("the first machine's agent token after the new one's exchange: %v", err)
	}

	// A machine whose state folder was lost after its exchange cannot
	// exchange again, and says why.
	lost, _ := f.runner("worker", f.pool, idFile, t.TempDir())
	if _, err := lost.poolIdentity(ctx); err == nil || !strings.Contains(err.Error(), "already exchanged") || !strings.Contains(err.Error(), "state folder was lost or copied") {
		t.Fatalf("a lost state folder: %v", err)
	}
}

// TestPoolIdentity_givesUp: without a machine id file, or without the
// provider registering the machine, the agent gives up after its waits,
// saying what it waited for; a pool token of another node is refused.
func TestPoolIdentity_givesUp(t *testing.T) {
	f := newPoolFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()

	r, _ := f.runner("worker", f.pool, filepath.Join(dir, "missing"), t.TempDir())
	r.MachineIDWait = 300 * time.Millisecond
	start := time.Now()
	if _, err := r.poolIdentity(ctx); err == nil || !strings.Contains(err.Error(), "no machine id in "+filepath.Join(dir, "missing")+" after 300ms") {
		t.Fatalf("no machine id file: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("gave up after %s", took)
	}

	idFile := filepath.Join(dir, "instance-id")
	os.WriteFile(idFile, []byte("i-never\n"), 0o644)
	r, log := f.runner("worker", f.pool, idFile, t.TempDir())
	r.RegistrationWait = 1500 * time.Millisecond
	start = time.Now()
	_, err := r.poolIdentity(ctx)
	if err == nil || !strings.Contains(err.Error(), "machine i-never: the provider has not registered this machine as a member of node worker's pool after 1.5s") {
		t.Fatalf("never registered: %v", err)
	}
	if took := time.Since(start); took < 1500*time.Millisecond || took > 10*time.Second {
		t.Fatalf("gave up after %s, want after 1.5 s", took)
	}
	if n := strings.Count(log.String(), "waiting for the provider"); n != 1 {
		t.Errorf("the wait logged %d times:\n%s", n, log.String())
	}

	// The db pool's token on a machine configured as worker's.
	os.WriteFile(idFile, []byte("i-db\n"), 0o644)
	if err := f.admin.SetPoolMembers(ctx, f.dbPoolHash, map[string]string{"i-db": "db.1"}); err != nil {
		t.Fatal(err)
	}
	r, _ = f.runner("worker", f.dbPool, idFile, t.TempDir())
	if _, err := r.poolIdentity(ctx); err == nil || !strings.Contains(err.Error(), "made this machine db.1, but its configuration is a machine of node worker's pool") {
		t.Fatalf("another node's pool token: %v", err)
	}

	// An unknown pool token: the deployment is gone for this machine.
	r, _ = f.runner("worker", strings.Repeat("0", 64), idFile, t.TempDir())
	if _, err := r.poolIdentity(ctx); !errors.Is(err, ErrGone) {
		t.Fatalf("an unknown pool token: %v", err)
	}
}

func TestConfigIdentity(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" for no error
		inst string
	}{
		{Config{Instance: "web.2"}, "", "web.2"},
		{Config{Node: "worker", MachineIDFile: "/x"}, "", ".0"},
		{Config{Instance: "web.2", Node: "worker"}, "names both an instance", ""},
		{Config{Node: "worker"}, "names no machine_id_file", ""},
		{Config{Node: "wor.ker", MachineIDFile: "/x"}, "is not a node name", ""},
		{Config{Instance: "web.x"}, "names no instance", ""},
		{Config{}, "names no instance", ""},
	} {
		inst, err := tc.c.Identity()
		switch {
		case tc.want == "" && (err != nil || inst.String() != tc.inst):
			t.Errorf("%+v: %v %v, want %s", tc.c, inst, err, tc.inst)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error saying %q", tc.c, err, tc.want)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/api"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

// TestStatus: slipc status lists the deployments, and shows one: its
// state, each node's instances and how many completed the state, and who
// is blocked in ss-get on what, as a table and as JSON. Without the
// coordinator's address it says which variables to set.
func TestStatus(t *testing.T) {
	if code, _, stderr := slipc(t, "status"); code != exitUsage || !strings.Contains(stderr, "SLIPSTREAM_COORDINATOR_URL") {
		t.Errorf("status without a coordinator: code %d, %s", code, stderr)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	const admin = "admin-token-for-the-status-test"
	c := coordinator.New(st, coordinator.Options{})
	h, err := api.New(c, api.Options{AdminToken: admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	t.Setenv(envCoordinatorURL, srv.URL)
	t.Setenv(envToken, admin)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &client.Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin}
	tokens, err := cl.CreateDeployment(ctx, &coordinator.Deployment{ID: "lamp-1", Nodes: map[string]*coordinator.Node{
		"db":  {Multiplicity: 1, Params: map[string]coordinator.Param{"password": {Output: true}}},
		"web": {Multiplicity: 2, Params: map[string]coordinator.Param{"db_password": {}}, Mappings: map[string]string{"db_password": "db:password"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	web1 := &client.Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: tokens["web.1"]}
	if _, err := web1.Exchange(ctx, client.TokenHash("own")); err != nil {
		t.Fatal(err)
	}
	web1.Token = "own"
	if _, err := web1.Complete(ctx, coordinator.Initializing); err != nil {
		t.Fatal(err)
	}
	go web1.Get(ctx, "db_password", time.Minute, false, nil)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if w, _ := cl.Waits(ctx); len(w) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("web.1's get never parked")
		}
	}

	code, stdout, stderr := slipc(t, "status")
	if code != exitOK || !strings.Contains(stdout, "lamp-1") || !strings.Contains(stdout, "Initializing") {
		t.Errorf("status: code %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = slipc(t, "status", "lamp-1")
	for _, want := range []string{"deployment lamp-1: Initializing", "web ", "1 / 3 instances completed Initializing", "web.1 waits for web.1:db_password (for "} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("status lamp-1 lacks %q: code %d\n%s%s", want, code, stdout, stderr)
		}
	}
	code, stdout, _ = slipc(t, "status", "-json", "lamp-1")
	var got deploymentStatus
	if err := json.Unmarshal([]byte(stdout), &got); code != exitOK || err != nil {
		t.Fatalf("status -json: code %d, %v\n%s", code, err, stdout)
	}
	if len(got.Nodes) != 2 || got.Nodes[1] != (nodeStatus{Name: "web", Instances: 2, Completed: 1}) || len(got.Waits) != 1 || got.Waits[0].Instance != "web.1" {
		t.Errorf("status -json: %+v", got)
	}
	if code, _, stderr := slipc(t, "status", "nope"); code != exitDiags || !strings.Contains(stderr, "deployment nope") {
		t.Errorf("status of a deployment that does not exist: code %d, %s", code, stderr)
	}
}

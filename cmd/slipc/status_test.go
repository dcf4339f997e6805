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
	const admin = "admin-token-for-the-status-test"
	srv := testCoordinator(t, admin)

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
	for _, want := range []string{"deployment lamp-1: Initializing", "web ", "1 / 3 instances completed Initializing", "web.1 waits for db.1:password (as db_password) (for "} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("status lamp-1 lacks %q: code %d\n%s%s", want, code, stdout, stderr)
		}
	}
	code, stdout, _ = slipc(t, "status", "-json", "lamp-1")
	var got deploymentStatus
	if err := json.Unmarshal([]byte(stdout), &got); code != exitOK || err != nil {
		t.Fatalf("status -json: code %d, %v\n%s", code, err, stdout)
	}
	if len(got.Nodes) != 2 || got.Nodes[1].Name != "web" || got.Nodes[1].Instances != 2 || got.Nodes[1].Completed != 1 || got.Nodes[1].States["Completed"] != 1 || len(got.Waits) != 1 || got.Waits[0].Instance != "web.1" {
		t.Errorf("status -json: %+v", got)
	}
	if code, _, stderr := slipc(t, "status", "nope"); code != exitDiags || !strings.Contains(stderr, "deployment nope") {
		t.Errorf("status of a deployment that does not exist: code %d, %s", code, stderr)
	}
}

// testCoordinator is slipc serve's API over a fresh store, named by the
// environment as slipc's client commands read it, with the admin token.
func testCoordinator(t *testing.T, admin string) *httptest.Server {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	h, err := api.New(c, api.Options{AdminToken: admin})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); c.Close(); st.Close() })
	t.Setenv(envCoordinatorURL, srv.URL)
	t.Setenv(envToken, admin)
	return srv
}

// TestToken_viewer: slipc token viewer issues a token that slipc status
// reads with (and that writes nothing); list shows it without the token,
// revoke ends it.
func TestToken_viewer(t *testing.T) {
	const admin = "admin-token-for-the-token-test"
	srv := testCoordinator(t, admin)
	cl := &client.Client{BaseURL: srv.URL, Deployment: "web-1", Token: admin}
	if _, err := cl.CreateDeployment(context.Background(), &coordinator.Deployment{ID: "web-1", Nodes: map[string]*coordinator.Node{"web": {Multiplicity: 1}}}); err != nil {
		t.Fatal(err)
	}

	if code, _, stderr := slipc(t, "token"); code != exitUsage || !strings.Contains(stderr, "slipc token viewer") {
		t.Errorf("token alone: code %d, %s", code, stderr)
	}
	code, stdout, stderr := slipc(t, "token", "viewer", "-name", "ops", "-ttl", "2h", "-deployment", "web-1")
	viewer := strings.TrimSpace(stdout)
	if code != exitOK || len(viewer) != 64 || !strings.Contains(stderr, `Viewer token "ops" for deployment web-1`) || !strings.Contains(stderr, srv.URL+"/ui/") {
		t.Fatalf("token viewer: code %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := slipc(t, "token", "viewer", "-name", "ops"); code != exitDiags || !strings.Contains(stderr, "in use") {
		t.Errorf("the same name again: code %d, %s", code, stderr)
	}
	code, stdout, _ = slipc(t, "token", "list")
	if code != exitOK || !strings.Contains(stdout, "ops") || !strings.Contains(stdout, "web-1") || strings.Contains(stdout, viewer) {
		t.Errorf("token list: code %d\n%s", code, stdout)
	}

	t.Setenv(envToken, viewer)
	if code, stdout, stderr := slipc(t, "status", "web-1"); code != exitOK || !strings.Contains(stdout, "deployment web-1: Initializing") {
		t.Errorf("status with the viewer token: code %d\n%s%s", code, stdout, stderr)
	}
	if code, _, _ := slipc(t, "token", "list"); code != exitDiags {
		t.Errorf("a viewer listed the viewer tokens: code %d", code)
	}
	t.Setenv(envToken, admin)
	if code, stdout, _ := slipc(t, "token", "revoke", "ops"); code != exitOK || !strings.Contains(stdout, `Revoked viewer token "ops"`) {
		t.Errorf("revoke: code %d, %s", code, stdout)
	}
	t.Setenv(envToken, viewer)
	if code, _, stderr := slipc(t, "status", "web-1"); code != exitDiags || !strings.Contains(stderr, "needs the admin token or a viewer token") {
		t.Errorf("status with a revoked token: code %d, %s", code, stderr)
	}
}

package client

import (
	"errors"
	"fmt"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// TestInstances: every instance is listed once, in node and index order,
// across the coordinator's pages of 500; a node filter keeps that node's;
// an unknown node lists none, an unknown deployment is not_found.
func TestInstances(t *testing.T) {
	srv := newCoordinator(t)
	ctx := bg(t)
	admin := &Client{BaseURL: srv.URL, Deployment: "big-1", Token: admin}
	d := &coordinator.Deployment{ID: "big-1", Nodes: map[string]*coordinator.Node{
		"db":  {Multiplicity: 1, Params: map[string]coordinator.Param{}},
		"web": {Multiplicity: 1200, Params: map[string]coordinator.Param{}},
	}}
	if err := admin.RegisterDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set(ctx, "web.1000:hostname", "10.0.3.232", false); err != nil {
		t.Fatal(err)
	}
	all, err := admin.Instances(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1201 {
		t.Fatalf("%d instances listed, want 1201", len(all))
	}
	for i, iv := range all {
		want := "db.1"
		if i > 0 {
			want = fmt.Sprintf("web.%d", i)
		}
		if iv.Name != want || iv.State != coordinator.InstanceBooting {
			t.Fatalf("instance %d is %s (%s), want %s (Booting)", i, iv.Name, iv.State, want)
		}
	}
	if all[1000].Hostname != "10.0.3.232" {
		t.Errorf("web.1000's hostname is %q", all[1000].Hostname)
	}
	web, err := admin.Instances(ctx, "web")
	if err != nil || len(web) != 1200 || web[0].Name != "web.1" || web[1199].Name != "web.1200" {
		t.Errorf("node web: %d instances, %v", len(web), err)
	}
	none, err := admin.Instances(ctx, "cache")
	if err != nil || len(none) != 0 {
		t.Errorf("node cache: %v, %v", none, err)
	}
	missing := &Client{BaseURL: srv.URL, Deployment: "nope-1", Token: admin.Token}
	var e *Error
	if _, err := missing.Instances(ctx, ""); !errors.As(err, &e) || e.Code != "not_found" {
		t.Errorf("an unknown deployment: %v", err)
	}
}

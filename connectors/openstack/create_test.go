package openstack

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

// connectorSpec is a small machine of deployment, sized generically.
func connectorSpec(image, deployment, instance string) connectors.MachineSpec {
	spec := connectors.MachineSpec{
		Deployment: deployment, Instance: instance, Name: connectors.MachineName(deployment, instance),
		ImageID: image, UserData: "#!/bin/sh\necho hello\n", Size: connectors.Size{CPU: 1, RAMGB: 1, DiskGB: 10},
		Settings: connectors.Settings{},
		Labels:   map[string]string{connectors.LabelDeployment: deployment, connectors.LabelInstance: instance},
	}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	return spec
}

func waitRunning(t *testing.T, conn connectors.Connector, id string) *connectors.Machine {
	t.Helper()
	var m *connectors.Machine
	err := connectors.WaitFor(ctxFor(t), connectors.PollBackoff, "machine to run", func(ctx context.Context) (bool, string, error) {
		var err error
		m, err = conn.Describe(ctx, id)
		if err != nil {
			return false, "", err
		}
		return m.State == connectors.StateRunning, string(m.State), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Nova takes a server first and finds out later that no host has room
// for it: Create waits for that verdict, deletes the server and fails
// permanently with Nova's own words.
func TestNoValidHostFailsCreateAndLeavesNoServer(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{SchedulingDelay: 300 * time.Millisecond})
	conn := connectTo(t, f, settingsFor(f))
	cloud := f.Cloud()
	cloud.Faults.NoCapacity(1)
	start := time.Now()
	m, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-full", "web.1"))
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.KindPermanent || ce.Code != "NoValidHost" ||
		!strings.Contains(err.Error(), "No valid host was found. There are not enough hosts available.") {
		t.Fatalf("Create without capacity: %v, want a permanent NoValidHost error with Nova's fault", err)
	}
	if m != nil {
		t.Errorf("Create returned machine %+v although it deleted it", m)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("Create failed after %v, before Nova's scheduling was over", took)
	}
	if n := len(cloud.Machines(fakecloud.Live)); n != 0 {
		t.Errorf("%d servers left after the failed create", n)
	}
	if cloud.Calls("POST /servers") != 1 || cloud.Calls("DELETE /servers/{id}") != 1 {
		t.Errorf("%d creates and %d deletes, want one of each", cloud.Calls("POST /servers"), cloud.Calls("DELETE /servers/{id}"))
	}
	// The next create has room.
	if _, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-full", "web.1")); err != nil {
		t.Errorf("Create once there is room: %v", err)
	}
}

func TestNoValidHostFailsTheWholeBatch(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	conn := connectTo(t, f, settingsFor(f))
	f.Cloud().Faults.NoCapacity(1) // one of the three finds no host
	_, err := conn.CreateBatch(ctxFor(t), connectorSpec(img, "dep-pool", "worker"), 3)
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "No valid host") {
		t.Fatalf("CreateBatch without capacity for one: %v", err)
	}
	if n := len(f.Cloud().Machines(fakecloud.Live)); n != 0 {
		t.Errorf("%d servers left after the failed batch", n)
	}
}

func TestQuotaIsPermanentWithNovasMessage(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	conn := connectTo(t, f, settingsFor(f))
	f.Cloud().Faults.OverQuota(1)
	_, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-quota", "web.1"))
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.KindPermanent || ce.Status != 403 || ce.Code != "forbidden" ||
		!strings.Contains(ce.Message, "Quota exceeded for instances") || ce.Op != "POST /servers" {
		t.Errorf("Create over quota: %v (%+v)", err, ce)
	}
}

func TestThrottlingAndOutagesAreTransient(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	conn := connectTo(t, f, settingsFor(f))
	spec := connectorSpec(img, "dep-429", "web.1")
	if _, err := conn.Offers(ctxFor(t)); err != nil { // flavors cached: Create's first call is Neutron's
		t.Fatal(err)
	}
	f.Cloud().Faults.Throttle(1, "POST /servers")
	_, err := conn.Create(ctxFor(t), spec)
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.KindTransient || ce.Status != 429 || ce.Code != "overLimit" {
		t.Errorf("throttled create: %v (%+v), want a transient overLimit", err, ce)
	}
	f.Cloud().Faults.Unavailable(1)
	_, err = conn.List(ctxFor(t), "dep-429")
	if !errors.As(err, &ce) || ce.Kind != connectors.KindTransient || ce.Status != 503 {
		t.Errorf("list in an outage: %v, want a transient 503", err)
	}
	if n := len(f.Cloud().Machines(fakecloud.Live)); n != 0 {
		t.Errorf("%d servers after a refused create", n)
	}
}

func TestNetworkChoice(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{ExtraNetworks: []string{"backend"}, SecurityGroups: []string{"web"}})
	conn := connectTo(t, f, settingsFor(f))
	spec := connectorSpec(img, "dep-net", "web.1")
	_, err := conn.Create(ctxFor(t), spec)
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "private") || !strings.Contains(err.Error(), "backend") {
		t.Errorf("Create in a project of two networks without the network setting: %v, want an error naming both", err)
	}
	spec.Settings = connectors.Settings{"network": "backend", "security_groups": []string{"web"}, "availability_zone": "nova"}
	m, err := conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	got := waitRunning(t, conn, m.ID)
	if got.Settings.String("network") != "backend" || !slices.Equal(got.Settings.Strings("security_groups"), []string{"web"}) ||
		got.Settings.String("availability_zone") != "nova" {
		t.Errorf("Settings = %v", got.Settings)
	}
	spec.Settings = connectors.Settings{"network": "backend", "security_groups": []string{"nope"}}
	_, err = conn.Create(ctxFor(t), spec)
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an unknown security group: %v", err)
	}
}

func TestFlavorByNameAndUnknownFlavor(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	conn := connectTo(t, f, settingsFor(f))
	spec := connectorSpec(img, "dep-flavor", "web.1")
	spec.Type = "m1.xlarge"
	m, err := conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if fm, _ := f.Cloud().Machine(m.ID); fm.Type != "m1.xlarge" || fm.CPU != 8 {
		t.Errorf("the server has flavor %q (%d CPU), want m1.xlarge", fm.Type, fm.CPU)
	}
	spec.Type = "m9.huge"
	_, err = conn.Create(ctxFor(t), spec)
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "m9.huge") || !strings.Contains(err.Error(), "m1.tiny") {
		t.Errorf("an unknown flavor: %v, want an error naming it and the flavors offered", err)
	}
}

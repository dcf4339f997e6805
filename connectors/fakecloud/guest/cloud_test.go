package guest

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestThroughCloud uses the runtime as a fakecloud.Cloud's: a machine
// runs with its guest's address and its user-data reaches the gateway; a
// snapshot of it is an image whose machines see its files; Terminate
// removes the guest; a machine whose PID 1 is killed from outside is
// marked failed.
func TestThroughCloud(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{})
	srv := newGatewayServer(t, r)
	cloud, err := fakecloud.New(fakecloud.Options{Name: "guesttest", Runtime: r, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	if _, err := cloud.AddImage(fakecloud.Image{ID: "debian-12", Name: "debian-12", Layers: []string{image}, LoginUser: "root"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	state := func(s fakecloud.State) func(fakecloud.Machine) bool {
		return func(m fakecloud.Machine) bool { return m.State == s }
	}
	guestOf := func(id string) *Instance {
		t.Helper()
		inst, ok := r.Instance(id)
		if !ok {
			t.Fatalf("no guest for machine %s", id)
		}
		return inst
	}

	ms, err := cloud.Run(fakecloud.RunRequest{Op: "RunInstances", Name: "app-1", ImageID: "debian-12",
		UserData: []byte("#!/bin/sh\necho v1 > /root/app-version\ncurl -fsS " + srv.URL + "/up-$(hostname)\n")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cloud.WaitMachine(ctx, ms[0].ID, state(fakecloud.Running))
	if err != nil {
		t.Fatal(err)
	}
	inst := guestOf(m.ID)
	if m.PrivateIP != inst.PrivateIP() || m.PrivateIP == "" {
		t.Errorf("the machine's address %q, its guest's %q", m.PrivateIP, inst.PrivateIP())
	}
	srv.wait(t, "/up-app-1", time.Minute)
	waitBooted(t, inst)

	// Stop, snapshot, a machine from the snapshot.
	if _, err := cloud.Stop(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.WaitMachine(ctx, m.ID, state(fakecloud.Stopped)); err != nil {
		t.Fatal(err)
	}
	img, err := cloud.Snapshot(m.ID, "app-image", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		got, err := cloud.Image(img.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == "failed" {
			t.Fatalf("the snapshot failed")
		}
		if got.State == "available" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ms2, err := cloud.Run(fakecloud.RunRequest{Op: "RunInstances", Name: "app-2", ImageID: img.ID,
		UserData: []byte("#!/bin/sh\ncurl -fsS " + srv.URL + "/up-$(hostname)-$(cat /root/app-version)\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.WaitMachine(ctx, ms2[0].ID, state(fakecloud.Running)); err != nil {
		t.Fatal(err)
	}
	srv.wait(t, "/up-app-2-v1", time.Minute)

	// Terminate: the guest goes.
	inst2 := guestOf(ms2[0].ID)
	name, dir := inst2.Name(), inst2.dir
	if _, err := cloud.Terminate(ms2[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.WaitMachine(ctx, ms2[0].ID, state(fakecloud.Terminated)); err != nil && ctx.Err() != nil {
		t.Fatal(err)
	}
	assertGone(t, name, dir, filepath.Join(dir, "upper"))

	// A machine that dies.
	ms3, err := cloud.Run(fakecloud.RunRequest{Op: "RunInstances", Name: "doomed", ImageID: "debian-12"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloud.WaitMachine(ctx, ms3[0].ID, state(fakecloud.Running)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(guestOf(ms3[0].ID).InitPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failed, err := cloud.WaitMachine(ctx, ms3[0].ID, state(fakecloud.Failed))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the killed machine: %s (%s)", failed.State, failed.Reason)

	// Close destroys what is left (the stopped app-1, the failed one).
	left := r.Instances()
	if err := cloud.Close(); err != nil {
		t.Fatal(err)
	}
	for _, i := range left {
		if _, err := os.Stat(i.dir); !os.IsNotExist(err) {
			t.Errorf("guest %s survived the cloud's Close", i.Name())
		}
	}
}

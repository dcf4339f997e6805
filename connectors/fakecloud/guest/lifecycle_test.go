package guest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestStopStartDestroy: a stopped guest keeps its files and address; it
// boots again without running its user-data again (cloud-init sees the
// same instance id) but with its per-boot scripts; Destroy leaves no
// process, namespace, veth, mount or folder, and may be called again.
func TestStopStartDestroy(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{})
	userData := `#cloud-config
bootcmd:
  - echo boot >> /root/boots
runcmd:
  - echo once >> /root/user-data-runs
  - rm -f /etc/motd
`
	inst := boot(t, r, fakecloud.BootSpec{ID: "i-stopstart", Hostname: "stopper", Layers: []string{image}, UserData: []byte(userData)})
	waitBooted(t, inst)
	pid1, ip := inst.InitPID(), inst.PrivateIP()
	ctx := context.Background()

	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid1))); err == nil && comm(pid1) == "fakecloud-init" {
		t.Errorf("PID 1 (%d) still runs after Stop", pid1)
	}
	if inst.InitPID() != 0 {
		t.Error("InitPID of a stopped guest")
	}
	if overlayMounted(inst.UpperDir()) {
		t.Error("the overlay is still mounted after Stop")
	}
	select {
	case <-inst.Done():
		t.Error("Done closed by Stop")
	default:
	}
	if err := inst.Stop(ctx); err != nil {
		t.Errorf("Stop again: %v", err)
	}

	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res := waitBooted(t, inst)
	if len(res.Failed()) > 0 {
		t.Errorf("failed stages at the second boot: %+v", res.Failed())
	}
	if inst.PrivateIP() != ip {
		t.Errorf("address %s, was %s", inst.PrivateIP(), ip)
	}
	data, _ := os.ReadFile(filepath.Join(inst.UpperDir(), "root/boots"))
	if string(data) != "boot\nboot\n" {
		t.Errorf("bootcmd (per boot) ran: %q", data)
	}
	data, _ = os.ReadFile(filepath.Join(inst.UpperDir(), "root/user-data-runs"))
	if string(data) != "once\n" {
		t.Errorf("runcmd (per instance) ran: %q", data)
	}
	if out, err := inst.Exec(ctx, "sh", "-c", "test -e /etc/motd && echo present || echo deleted"); err != nil || string(out) != "deleted\n" {
		t.Errorf("a file deleted before the restart: %q, %v", out, err)
	}

	name, dir, upper := inst.Name(), inst.dir, inst.UpperDir()
	if err := inst.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := inst.Destroy(ctx); err != nil {
		t.Errorf("Destroy again: %v", err)
	}
	assertGone(t, name, dir, upper)
	if _, ok := r.Instance("i-stopstart"); ok {
		t.Error("the runtime still lists the destroyed guest")
	}
	if err := inst.Start(ctx); err == nil {
		t.Error("Start of a destroyed guest")
	}
	// Destroy of a stopped guest.
	inst2 := boot(t, r, fakecloud.BootSpec{ID: "i-second", Layers: []string{image}})
	if err := inst2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := inst2.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, inst2.Name(), inst2.dir, inst2.UpperDir())
}

// TestDiesUnasked: when PID 1 is killed from outside, Done closes and
// WaitBooted fails; the guest can boot again; Destroy then cleans up.
func TestDiesUnasked(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{UserDataOnly: true})
	inst := boot(t, r, fakecloud.BootSpec{ID: "i-dies", Layers: []string{image}, UserData: []byte("#!/bin/sh\nsleep 1000\n")})
	if err := syscall.Kill(inst.InitPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done did not close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := inst.WaitBooted(ctx); err == nil {
		t.Error("WaitBooted of a dead guest")
	}
	// A dead guest can be started again: a new boot, a new Done.
	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if inst.InitPID() == 0 {
		t.Fatal("the dead guest did not boot again")
	}
	select {
	case <-inst.Done():
		t.Error("the new boot's Done is closed")
	default:
	}
	if err := inst.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, inst.Name(), inst.dir, inst.UpperDir())
}

func assertGone(t *testing.T, name, dir, upper string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("/run/netns", name)); !os.IsNotExist(err) {
		t.Errorf("namespace %s is left: %v", name, err)
	}
	if _, err := net.InterfaceByName(name); err == nil {
		t.Errorf("veth %s is left", name)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state folder %s is left: %v", dir, err)
	}
	if overlayMounted(upper) {
		t.Errorf("the overlay of %s is still mounted", dir)
	}
}

// overlayMounted says whether an overlay with this upper folder is
// mounted anywhere on this machine: in any mount namespace, the guests'
// own too.
func overlayMounted(upper string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "mountinfo"))
		if err == nil && strings.Contains(string(data), "upperdir="+upper+",") {
			return true
		}
	}
	return false
}

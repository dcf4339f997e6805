package fakecloud

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func newCloud(t *testing.T, opts Options) *Cloud {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.AddImage(Image{ID: "img-base", Name: "debian-12", LoginUser: "root"}); err != nil {
		t.Fatal(err)
	}
	return c
}

func waitState(t *testing.T, c *Cloud, id string, want State) Machine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.WaitMachine(ctx, id, func(m Machine) bool { return m.State == want })
	if err != nil {
		t.Fatalf("waiting for %s to be %s: %v", id, want, err)
	}
	return m
}

func TestLifeCycle(t *testing.T) {
	c := newCloud(t, Options{Name: "test", BootDelay: 20 * time.Millisecond, TerminatedRetention: time.Hour})
	ms, err := c.Run(RunRequest{Op: "Run", Name: "web-1", ImageID: "img-base", UserData: []byte("#!/bin/sh\n"), Labels: map[string]string{"k": "v"}, PublicIP: true})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Run: %v, %v", ms, err)
	}
	id := ms[0].ID
	if ms[0].State != Pending || ms[0].PublicIP == "" {
		t.Errorf("a new machine: %+v", ms[0])
	}
	m := waitState(t, c, id, Running)
	if m.PrivateIP == "" || m.Launched.IsZero() || string(m.UserData) != "#!/bin/sh\n" || m.Labels["k"] != "v" {
		t.Errorf("running machine: %+v", m)
	}
	if _, err := c.Stop(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, Stopped)
	if _, err := c.Start(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, Running)
	if _, err := c.Terminate(id); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, id, Terminated)
	if _, err := c.Terminate(id); err != nil {
		t.Errorf("terminating twice: %v", err)
	}
	if got := c.Machines(Live); len(got) != 0 {
		t.Errorf("live machines after terminate: %v", got)
	}
	if got := c.Machines(nil); len(got) != 1 {
		t.Errorf("a terminated machine is retained: got %d", len(got))
	}
	if _, err := c.Start(id); !errors.Is(err, ErrIncorrectState) {
		t.Errorf("starting a terminated machine: %v", err)
	}
	if c.Calls("") != 0 {
		t.Errorf("calls counted without Enter")
	}
}

func TestRunErrorsAndFaults(t *testing.T) {
	c := newCloud(t, Options{})
	if _, err := c.Run(RunRequest{ImageID: "img-none"}); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("unknown image: %v", err)
	}
	c.Faults.NoCapacity(1)
	var f *Fault
	if _, err := c.Run(RunRequest{Op: "RunInstances", ImageID: "img-base"}); !errors.As(err, &f) || f.Kind != FaultCapacity || f.Op != "RunInstances" {
		t.Errorf("capacity fault: %v", err)
	}
	c.Faults.OverQuota(1)
	if _, err := c.Run(RunRequest{ImageID: "img-base"}); !errors.As(err, &f) || f.Kind != FaultQuota {
		t.Errorf("quota fault: %v", err)
	}
	if n := len(c.Machines(nil)); n != 0 {
		t.Errorf("failed runs left %d machines", n)
	}
	c.Faults.Throttle(2, "Describe")
	ctx := context.Background()
	if err := c.Enter(ctx, "Run"); err != nil {
		t.Errorf("throttle limited to Describe hit Run: %v", err)
	}
	for i := range 2 {
		if err := c.Enter(ctx, "Describe"); !errors.As(err, &f) || f.Kind != FaultThrottle {
			t.Errorf("throttled call %d: %v", i, err)
		}
	}
	if err := c.Enter(ctx, "Describe"); err != nil {
		t.Errorf("after the throttled calls: %v", err)
	}
	c.Faults.Unavailable(1)
	if err := c.Enter(ctx, "Run"); !errors.As(err, &f) || f.Kind != FaultUnavailable {
		t.Errorf("unavailable: %v", err)
	}
	if c.Calls("Describe") != 3 || c.Calls("") != 5 {
		t.Errorf("calls: Describe %d, all %d", c.Calls("Describe"), c.Calls(""))
	}
	c.Faults.Latency(30 * time.Millisecond)
	start := time.Now()
	c.Enter(ctx, "Run")
	if time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency not applied")
	}
	c.Faults.Reset()
	start = time.Now()
	c.Enter(ctx, "Run")
	if time.Since(start) > 20*time.Millisecond {
		t.Errorf("latency after Reset")
	}
}

func TestFates(t *testing.T) {
	c := newCloud(t, Options{})
	c.Faults.StuckPending(1)
	stuck, _ := c.Run(RunRequest{ImageID: "img-base"})
	c.Faults.DieAfterBoot(1, 10*time.Millisecond)
	dies, _ := c.Run(RunRequest{ImageID: "img-base"})
	late, _ := c.Run(RunRequest{ImageID: "img-base", FailLater: time.Millisecond})
	c.Faults.NoCapacity(1)
	sched, err := c.Run(RunRequest{ImageID: "img-base", FailLater: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("a capacity fault with FailLater fails the call: %v", err)
	}
	m := waitState(t, c, dies[0].ID, Failed)
	if m.Reason == "" {
		t.Error("a machine that died has no reason")
	}
	m = waitState(t, c, sched[0].ID, Failed)
	if m.Reason != ReasonNoCapacity {
		t.Errorf("reason %q", m.Reason)
	}
	waitState(t, c, late[0].ID, Running) // no fault due: FailLater does nothing
	time.Sleep(50 * time.Millisecond)
	if m, _ := c.Machine(stuck[0].ID); m.State != Pending {
		t.Errorf("a stuck machine is %s", m.State)
	}
}

func TestSnapshotAndImages(t *testing.T) {
	dir := t.TempDir()
	c := newCloud(t, Options{LayerDir: dir, ImageDelay: 10 * time.Millisecond, TerminatedRetention: time.Hour})
	ms, _ := c.Run(RunRequest{ImageID: "img-base"})
	id := ms[0].ID
	waitState(t, c, id, Running)
	if _, err := c.Snapshot(id, "img", nil, nil); !errors.Is(err, ErrIncorrectState) {
		t.Errorf("snapshot of a running machine: %v", err)
	}
	c.Stop(id)
	waitState(t, c, id, Stopped)
	img, err := c.Snapshot(id, "built", map[string]string{"k": "v"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if img.State != "pending" || img.Source != id || len(img.Layers) != 1 || filepath.Dir(img.Layers[0]) != dir {
		t.Errorf("new image: %+v", img)
	}
	if _, err := c.Snapshot(id, "built", nil, nil); !errors.Is(err, ErrDuplicate) {
		t.Errorf("a second image of the same name: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		got, _ := c.Image(img.ID)
		if got.State == "available" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("image stays %s", got.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ms2, err := c.Run(RunRequest{ImageID: img.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteImage(img.ID); !errors.Is(err, ErrIncorrectState) {
		t.Errorf("deleting an image in use: %v", err)
	}
	c.Terminate(ms2[0].ID)
	waitState(t, c, ms2[0].ID, Terminated)
	if err := c.DeleteImage(img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(img.Layers[0]); !os.IsNotExist(err) {
		t.Errorf("the image's layer is left: %v", err)
	}
	if err := c.DeleteImage("img-base"); err != nil {
		t.Errorf("deleting a base image: %v", err)
	}
}

func TestKeysLabelsAndClose(t *testing.T) {
	c := newCloud(t, Options{})
	if _, err := c.ImportKey(KeyPair{Name: "k", PublicKey: "ssh-ed25519 AAAA"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportKey(KeyPair{Name: "k"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate key: %v", err)
	}
	if k, err := c.Key("k"); err != nil || k.ID == "" {
		t.Errorf("Key: %+v, %v", k, err)
	}
	c.DeleteKey("k")
	if len(c.Keys()) != 0 {
		t.Error("key not deleted")
	}
	ms, _ := c.Run(RunRequest{ImageID: "img-base", Count: 3, Labels: map[string]string{"d": "x"}})
	if len(ms) != 3 {
		t.Fatalf("Count 3 gave %d", len(ms))
	}
	c.SetLabels(ms[0].ID, map[string]string{"d": "", "e": "y"})
	if got := c.Machines(WithLabel("d", "x")); len(got) != 2 {
		t.Errorf("WithLabel: %d machines", len(got))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(RunRequest{ImageID: "img-base"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if err := c.Enter(context.Background(), "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Enter after Close: %v", err)
	}
}

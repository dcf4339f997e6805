// Package connectortest is the conformance suite every connector passes
// against its fake cloud: the same behaviour, asked the same way, from
// every cloud, so that the provider's one instance resource can rely on it.
// A connector's test calls Run with a function that makes a fresh fake and
// a connector pointed at it:
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, func(t *testing.T) *connectortest.Harness { … })
//	}
package connectortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Harness is one connector on a fresh fake cloud.
type Harness struct {
	// Connector under test, configured against Cloud's wire fake.
	Connector connectors.Connector
	// Cloud is the fake behind the wire fake: the suite injects faults
	// into it and checks what it holds.
	Cloud *fakecloud.Cloud
	// ImageID is an available image of the fake that machines start from.
	ImageID string
	// Settings are per-machine settings the cloud needs (a network, say);
	// nil when none.
	Settings connectors.Settings
	// Name is the connector's name as errors carry it ("ec2").
	Name string
}

// Run runs every conformance test, each on a harness of its own.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, *Harness)
	}{
		{"CreateDescribeDelete", testCreateDescribeDelete},
		{"UserDataAndKeyReachTheMachine", testUserDataAndKey},
		{"ListByDeployment", testList},
		{"DeleteIsIdempotent", testDeleteIdempotent},
		{"GoneBehindOurBack", testGoneBehindOurBack},
		{"Offers", testOffers},
		{"Snapshot", testSnapshot},
		{"Batch", testBatch},
		{"ErrorsAreClassified", testErrors},
		{"RetryThroughThrottling", testRetryThroughThrottling},
		{"ConcurrentCreates", testConcurrentCreates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if h.Name == "" {
				t.Fatal("Harness.Name is empty")
			}
			tc.fn(t, h)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Spec is a machine spec for instance of deployment, as the provider
// makes one.
func (h *Harness) Spec(deployment, instance string) connectors.MachineSpec {
	spec := connectors.MachineSpec{
		Deployment: deployment, Instance: instance, Name: connectors.MachineName(deployment, instance),
		ImageID: h.ImageID, UserData: "#!/bin/sh\necho hello from " + instance + "\n",
		Size: connectors.Size{CPU: 1, RAMGB: 1, DiskGB: 10}, Settings: h.Settings,
		Labels: map[string]string{connectors.LabelDeployment: deployment, connectors.LabelInstance: instance, "team": "qa"},
	}
	if offer, err := pick(h, spec.Size); err == nil && !offer.Free {
		spec.Type = offer.Name
	}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	return spec
}

func pick(h *Harness, want connectors.Size) (connectors.Offer, error) {
	offers, err := h.Connector.Offers(context.Background())
	if err != nil {
		return connectors.Offer{}, err
	}
	return connectors.PickOffer(h.Name, offers, want)
}

func (h *Harness) create(t *testing.T, spec connectors.MachineSpec) *connectors.Machine {
	t.Helper()
	m, err := h.Connector.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatalf("Create(%s): %v", spec.Instance, err)
	}
	if m == nil || m.ID == "" {
		t.Fatalf("Create(%s) returned no machine id: %+v", spec.Instance, m)
	}
	return m
}

// waitRunning describes the machine until it runs.
func (h *Harness) waitRunning(t *testing.T, id string) *connectors.Machine {
	t.Helper()
	var m *connectors.Machine
	err := connectors.WaitFor(ctxFor(t), connectors.PollBackoff, "machine "+id+" to run", func(ctx context.Context) (bool, string, error) {
		var err error
		m, err = h.Connector.Describe(ctx, id)
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

func testCreateDescribeDelete(t *testing.T, h *Harness) {
	spec := h.Spec("dep-1a2b3c4d", "web.1")
	start := time.Now()
	m := h.create(t, spec)
	t.Logf("Create took %v", time.Since(start))
	if m.State != connectors.StatePending && m.State != connectors.StateRunning {
		t.Errorf("a new machine is %q, want pending or running", m.State)
	}
	got := h.waitRunning(t, m.ID)
	if got.ID != m.ID {
		t.Errorf("Describe(%s).ID = %q", m.ID, got.ID)
	}
	if got.PrivateIP == "" {
		t.Errorf("a running machine has no private address: %+v", got)
	}
	for _, k := range []string{connectors.LabelDeployment, connectors.LabelInstance, connectors.LabelSpec, "team"} {
		if got.Labels[k] != spec.Labels[k] {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got.Labels[k], spec.Labels[k], got.Labels)
		}
	}
	if got.Name != spec.Name {
		t.Errorf("Name = %q, want %q", got.Name, spec.Name)
	}
	if got.ImageID != spec.ImageID {
		t.Errorf("ImageID = %q, want %q", got.ImageID, spec.ImageID)
	}
	if spec.Type != "" && got.Type != spec.Type {
		t.Errorf("Type = %q, want %q", got.Type, spec.Type)
	}
	if err := h.Connector.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	// Delete waits until the machine is gone.
	if fm, err := h.Cloud.Machine(m.ID); err == nil && fm.State != fakecloud.Terminated {
		t.Errorf("after Delete returned the fake's machine is %s, want terminated or gone", fm.State)
	}
	if _, err := h.Connector.Describe(ctxFor(t), m.ID); !connectors.IsNotFound(err) {
		t.Errorf("Describe after Delete: %v, want a not-found error", err)
	}
}

func testUserDataAndKey(t *testing.T, h *Harness) {
	spec := h.Spec("dep-keys", "db.1")
	spec.SSHPublicKey = TestPublicKey
	spec.UserData = "#!/bin/sh\n# \u00e9t\u00e9 — non-ASCII survives\nprintf '%s\\n' \"$(hostname)\" > /tmp/hello\n" + strings.Repeat("#", 9000) + "\n"
	m := h.create(t, spec)
	fm, err := h.Cloud.Machine(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(fm.UserData) != spec.UserData {
		t.Errorf("the machine got user-data of %d bytes, not the %d bytes sent (first bytes %q)", len(fm.UserData), len(spec.UserData), trunc(string(fm.UserData), 40))
	}
	if !slices.ContainsFunc(fm.SSHKeys, func(k string) bool {
		return strings.HasPrefix(k, strings.Join(strings.Fields(spec.SSHPublicKey)[:2], " "))
	}) {
		t.Errorf("the machine's authorized keys %q do not hold the spec's key", fm.SSHKeys)
	}
	// A second machine with the same key reuses the imported key pair.
	m2 := h.create(t, h.WithKey(h.Spec("dep-keys", "db.2")))
	fm2, _ := h.Cloud.Machine(m2.ID)
	if len(fm2.SSHKeys) == 0 {
		t.Errorf("the second machine has no key")
	}
	if n := len(h.Cloud.Keys()); n != 1 {
		t.Errorf("the cloud holds %d key pairs after two machines with one key, want 1: %+v", n, h.Cloud.Keys())
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func testList(t *testing.T, h *Harness) {
	a1 := h.create(t, h.Spec("dep-aaaa", "web.1"))
	a2 := h.create(t, h.Spec("dep-aaaa", "web.2"))
	b1 := h.create(t, h.Spec("dep-bbbb", "web.1"))
	list, err := h.Connector.List(ctxFor(t), "dep-aaaa")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list {
		ids = append(ids, m.ID)
		if m.Labels[connectors.LabelDeployment] != "dep-aaaa" || m.Labels[connectors.LabelInstance] == "" {
			t.Errorf("listed machine %s has labels %v", m.ID, m.Labels)
		}
	}
	slices.Sort(ids)
	want := []string{a1.ID, a2.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("List(dep-aaaa) = %v, want %v (not %s of dep-bbbb)", ids, want, b1.ID)
	}
	for _, id := range want {
		if err := h.Connector.Delete(ctxFor(t), id); err != nil {
			t.Fatal(err)
		}
	}
	list, err = h.Connector.List(ctxFor(t), "dep-aaaa")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("List after deleting every machine = %d machines, want none", len(list))
	}
	if list, _ := h.Connector.List(ctxFor(t), "dep-none"); len(list) != 0 {
		t.Errorf("List of a deployment with no machines = %d machines", len(list))
	}
}

func testDeleteIdempotent(t *testing.T, h *Harness) {
	m := h.create(t, h.Spec("dep-del", "db.1"))
	// Delete while it is still pending, twice, at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = h.Connector.Delete(ctxFor(t), m.ID) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("Delete: %v", err)
		}
	}
	if err := h.Connector.Delete(ctxFor(t), m.ID); err != nil {
		t.Errorf("Delete of a deleted machine: %v", err)
	}
	if err := h.Connector.Delete(ctxFor(t), h.unknownID(t, m.ID)); err != nil {
		t.Errorf("Delete of a machine that never existed: %v", err)
	}
}

// unknownID is an id shaped like the cloud's that no machine has.
func (h *Harness) unknownID(t *testing.T, like string) string {
	var b strings.Builder
	for _, r := range like {
		switch {
		case r >= '0' && r <= '9':
			b.WriteByte('0')
		case r >= 'a' && r <= 'f':
			b.WriteByte('f')
		default:
			b.WriteRune(r)
		}
	}
	if b.String() == like {
		t.Fatalf("cannot make an unknown id like %q", like)
	}
	return b.String()
}

func testGoneBehindOurBack(t *testing.T, h *Harness) {
	m := h.create(t, h.Spec("dep-drift", "web.1"))
	h.waitRunning(t, m.ID)
	if _, err := h.Cloud.Terminate(m.ID); err != nil {
		t.Fatal(err)
	}
	err := connectors.WaitFor(ctxFor(t), connectors.PollBackoff, "the machine to be reported gone", func(ctx context.Context) (bool, string, error) {
		d, err := h.Connector.Describe(ctx, m.ID)
		if connectors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		return false, string(d.State), nil
	})
	if err != nil {
		t.Errorf("a machine terminated outside the connector: %v", err)
	}
	if _, err := h.Connector.Describe(ctxFor(t), h.unknownID(t, m.ID)); !connectors.IsNotFound(err) {
		t.Errorf("Describe of an id that never existed: %v, want not found", err)
	}
}

func testOffers(t *testing.T, h *Harness) {
	offers, err := h.Connector.Offers(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) == 0 {
		t.Fatal("Offers returned none")
	}
	small, err := connectors.PickOffer(h.Name, offers, connectors.Size{CPU: 1, RAMGB: 1})
	if err != nil {
		t.Fatalf("nothing fits 1 CPU, 1 GB: %v", err)
	}
	big, err := connectors.PickOffer(h.Name, offers, connectors.Size{CPU: 4, RAMGB: 8})
	if err != nil {
		t.Fatalf("nothing fits 4 CPU, 8 GB: %v", err)
	}
	if big.CPU < 4 || big.RAMMB < 8192 {
		t.Errorf("PickOffer(4 CPU, 8 GB) = %+v", big)
	}
	if !small.Free && small.RAMMB > big.RAMMB {
		t.Errorf("the small pick %+v is larger than the big one %+v", small, big)
	}
	_, err = connectors.PickOffer(h.Name, offers, connectors.Size{CPU: 100000, RAMGB: 1e7})
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Code != "NoFittingOffer" || !strings.Contains(ce.Error(), "largest") {
		t.Errorf("an impossible size: %v, want a NoFittingOffer error naming the largest offer", err)
	}
	// The picked size is what the machine gets.
	spec := h.Spec("dep-size", "big.1")
	spec.Size = connectors.Size{CPU: 4, RAMGB: 8, DiskGB: 20}
	spec.Type = ""
	if !big.Free {
		spec.Type = big.Name
	}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m := h.create(t, spec)
	fm, err := h.Cloud.Machine(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if big.Free {
		if fm.CPU < 4 || fm.RAMMB < 8192 {
			t.Errorf("the machine has %d CPU, %d MB; asked for 4 CPU, 8 GB", fm.CPU, fm.RAMMB)
		}
	} else if fm.Type != big.Name {
		t.Errorf("the machine's type is %q, want %q", fm.Type, big.Name)
	}
}

func testSnapshot(t *testing.T, h *Harness) {
	m := h.create(t, h.Spec("dep-img", "builder.1"))
	h.waitRunning(t, m.ID)
	img, err := h.Connector.Snapshot(ctxFor(t), m.ID, "slipstream-test-image", map[string]string{"slipstream-image": "lamp_base"})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	fi, err := h.Cloud.Image(img)
	if err != nil {
		t.Fatalf("the fake has no image %s: %v", img, err)
	}
	if fi.State != "available" {
		t.Errorf("Snapshot returned while the image is %s; it waits until it is available", fi.State)
	}
	if fi.Source != m.ID {
		t.Errorf("the image was made from %q, want the machine %s", fi.Source, m.ID)
	}
	// A machine starts from it.
	spec := h.Spec("dep-img", "web.1")
	spec.ImageID = img
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m2 := h.create(t, spec)
	if got := h.waitRunning(t, m2.ID); got.ImageID != img {
		t.Errorf("the machine's image is %q, want %q", got.ImageID, img)
	}
	if err := h.Connector.Delete(ctxFor(t), m2.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.Connector.DeleteImage(ctxFor(t), img); err != nil {
		t.Fatalf("DeleteImage: %v", err)
	}
	if _, err := h.Cloud.Image(img); err == nil {
		t.Errorf("the image is still in the cloud after DeleteImage")
	}
	if err := h.Connector.DeleteImage(ctxFor(t), img); err != nil {
		t.Errorf("DeleteImage of a deleted image: %v", err)
	}
}

func testBatch(t *testing.T, h *Harness) {
	bc := h.Connector
	spec := h.Spec("dep-pool", "")
	spec.Name = connectors.MachineName("dep-pool", "worker")
	delete(spec.Labels, connectors.LabelInstance)
	spec.Labels[connectors.LabelPool] = "worker"
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	ms, err := bc.CreateBatch(ctxFor(t), spec, 3)
	if err != nil {
		t.Fatalf("CreateBatch: %v", err)
	}
	if len(ms) != 3 {
		t.Fatalf("CreateBatch(3) made %d machines", len(ms))
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if m.ID == "" || seen[m.ID] {
			t.Errorf("machine ids %v: empty or repeated", ms)
		}
		seen[m.ID] = true
	}
	list, err := h.Connector.List(ctxFor(t), "dep-pool")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Errorf("List finds %d of the batch's 3 machines", len(list))
	}
	for _, m := range list {
		if m.Labels["slipstream-pool"] != "worker" {
			t.Errorf("batch machine %s has labels %v", m.ID, m.Labels)
		}
	}
}

func testErrors(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	check := func(what string, err error, want connectors.Kind) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		if got := connectors.KindOf(err); got != want {
			t.Errorf("%s: %v is %s, want %s", what, err, got, want)
		}
		if !strings.Contains(err.Error(), h.Name) {
			t.Errorf("%s: %q does not name the cloud %s", what, err, h.Name)
		}
	}
	spec := h.Spec("dep-err", "web.1")
	h.Cloud.Faults.Throttle(1)
	_, err := h.Connector.Create(ctx, spec)
	check("throttled create", err, connectors.KindTransient)
	h.Cloud.Faults.Unavailable(1)
	_, err = h.Connector.Describe(ctx, "whatever")
	check("API unavailable", err, connectors.KindTransient)
	h.Cloud.Faults.NoCapacity(1)
	_, err = h.Connector.Create(ctx, spec)
	check("no capacity", err, connectors.KindPermanent)
	h.Cloud.Faults.OverQuota(1)
	_, err = h.Connector.Create(ctx, spec)
	check("over quota", err, connectors.KindPermanent)
	bad := spec
	bad.ImageID = h.unknownID(t, h.ImageID)
	_, err = h.Connector.Create(ctx, bad)
	check("unknown image", err, connectors.KindPermanent)
	if err != nil && !strings.Contains(err.Error(), bad.ImageID) && !strings.Contains(strings.ToLower(err.Error()), "image") {
		t.Errorf("unknown image: %q says nothing of the image", err)
	}
	if n := len(h.Cloud.Machines(fakecloud.Live)); n != 0 {
		t.Errorf("failed creates left %d machines", n)
	}
}

func testRetryThroughThrottling(t *testing.T, h *Harness) {
	h.Cloud.Faults.Throttle(3)
	var m *connectors.Machine
	retries := 0
	err := connectors.Retry(ctxFor(t), connectors.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		func(int, time.Duration, error) { retries++ },
		func(ctx context.Context) error {
			var err error
			m, err = h.Connector.Create(ctx, h.Spec("dep-retry", "web.1"))
			return err
		})
	if err != nil {
		t.Fatalf("Create through 3 throttled calls: %v", err)
	}
	if retries < 1 {
		t.Errorf("no retry seen")
	}
	if n := len(h.Cloud.Machines(fakecloud.Live)); n != 1 {
		t.Errorf("the cloud holds %d machines after one create that was throttled and retried, want 1", n)
	}
	_ = m
}

func testConcurrentCreates(t *testing.T, h *Harness) {
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Connector.Create(ctxFor(t), h.WithKey(h.Spec("dep-par", fmt.Sprintf("web.%d", i+1))))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent create: %v", err)
		}
	}
	list, err := h.Connector.List(ctxFor(t), "dep-par")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Errorf("List finds %d machines after %d concurrent creates", len(list), n)
	}
	if k := len(h.Cloud.Keys()); k != 1 {
		t.Errorf("%d concurrent creates with one key made %d key pairs, want 1", n, k)
	}
}

// WithKey gives the spec the suite's test key (and a LabelSpec to match).
func (h *Harness) WithKey(spec connectors.MachineSpec) connectors.MachineSpec {
	spec.SSHPublicKey = TestPublicKey
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	return spec
}

// TestPublicKey is a valid ed25519 public key for tests.
const TestPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe test@example"

package azure

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/azure/azurefake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// interceptor stands between the connector and the fake: hook sees each
// request first and may answer it itself (handled true).
type interceptor struct {
	next policy.Transporter
	mu   sync.Mutex
	hook func(req *http.Request) (resp *http.Response, err error, handled bool)
}

func (i *interceptor) Do(req *http.Request) (*http.Response, error) {
	i.mu.Lock()
	hook := i.hook
	i.mu.Unlock()
	if hook != nil {
		if resp, err, handled := hook(req); handled {
			return resp, err
		}
	}
	return i.next.Do(req)
}

func (i *interceptor) set(hook func(req *http.Request) (*http.Response, error, bool)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.hook = hook
}

// intercepted makes the world's connector talk to the fake through an
// interceptor (in process).
func (w *world) intercepted() *interceptor {
	w.t.Helper()
	i := &interceptor{next: w.fake}
	c, err := newConnector(context.Background(), w.settings(nil), i)
	if err != nil {
		w.t.Fatal(err)
	}
	c.retry = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.pollEvery = 10 * time.Millisecond
	w.conn = c
	return i
}

// answer is an HTTP response to req.
func answer(req *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: req,
		ContentLength: int64(len(body))}
}

func isVMPut(req *http.Request) bool {
	return req.Method == http.MethodPut && strings.Contains(strings.ToLower(req.URL.Path), "/virtualmachines/") && !strings.HasSuffix(req.URL.Path, "/get/fake/status")
}

// leftovers lists what the fake still holds of machines and their
// networks: live machines, interfaces, public addresses, disks, virtual
// networks and deployment resource groups.
func (w *world) leftovers() []string {
	var out []string
	for _, m := range w.cloud.Machines(fakecloud.Live) {
		out = append(out, "machine "+m.ID)
	}
	for _, kind := range []string{"nic", "publicip", "disk", "vnet"} {
		out = append(out, w.fake.ResourcesOfType(kind)...)
	}
	for _, g := range w.fake.ResourceGroups() {
		if strings.HasPrefix(g, "slipstream-dep") {
			out = append(out, "group "+g)
		}
	}
	return out
}

// TestUserDataAndKeyArriveByteExact: the user-data goes base64 in
// customData and arrives as the same bytes; the key goes in the Linux
// configuration for the login user, at the path Azure requires.
func TestUserDataAndKeyArriveByteExact(t *testing.T) {
	w := newWorld(t, inProcess)
	h := w.harness()
	var ud strings.Builder
	for i := range 256 {
		ud.WriteByte(byte(i)) // every byte value, NUL and invalid UTF-8 too
	}
	ud.WriteString("#cloud-config\nruncmd: [\"echo été\"]\n")
	spec := h.Spec("dep-ud", "web.1")
	spec.UserData = ud.String()
	spec.SSHPublicKey = connectortest.TestPublicKey + "\n"
	spec.Settings = connectors.Settings{"admin_username": "ops"}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := w.cloud.Machine(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fm.UserData, []byte(spec.UserData)) {
		t.Errorf("the machine got %d bytes of user-data, not the %d sent", len(fm.UserData), len(spec.UserData))
	}
	if !slices.Equal(fm.SSHKeys, []string{connectortest.TestPublicKey}) {
		t.Errorf("the machine's keys are %q, want exactly the spec's", fm.SSHKeys)
	}
	if m.Settings["admin_username"] != "ops" {
		t.Errorf("the machine's settings %v do not report the admin user", m.Settings)
	}
	// A machine given no key gets a throw-away one (Azure needs a key);
	// both keys are the fake cloud's two key pairs.
	m2, err := w.conn.Create(ctxFor(t), h.Spec("dep-ud", "web.2"))
	if err != nil {
		t.Fatal(err)
	}
	fm2, _ := w.cloud.Machine(m2.ID)
	if len(fm2.SSHKeys) != 1 || !strings.HasPrefix(fm2.SSHKeys[0], "ssh-ed25519 ") || !strings.HasSuffix(fm2.SSHKeys[0], " slipstream-no-login") {
		t.Errorf("a machine without a key got %q, want the connector's throw-away ed25519 key", fm2.SSHKeys)
	}
	if n := len(w.cloud.Keys()); n != 2 {
		t.Errorf("%d distinct keys recorded, want 2", n)
	}
}

// TestUserDataTooLarge fails before any call: Azure takes 64 KiB.
func TestUserDataTooLarge(t *testing.T) {
	w := newWorld(t, inProcess)
	spec := w.harness().Spec("dep-big", "web.1")
	calls := w.cloud.Calls("")
	spec.UserData = strings.Repeat("x", 64*1024+1)
	_, err := w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Code != "UserDataTooLarge" {
		t.Errorf("user-data of 64 KiB + 1: %v", err)
	}
	if got := w.cloud.Calls(""); got != calls {
		t.Errorf("%d calls were made for a create refused up front", got-calls)
	}
}

// TestExplicitSizeAndDisk: vm_size wins over the generic sizing, and a
// disk larger than the image's is asked for.
func TestExplicitSizeAndDisk(t *testing.T) {
	w := newWorld(t, inProcess)
	spec := w.harness().Spec("dep-size", "web.1")
	spec.Type = ""
	spec.Settings = connectors.Settings{"vm_size": "Standard_D4s_v5"}
	spec.Size.DiskGB = 64
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	fm, _ := w.cloud.Machine(m.ID)
	if fm.Type != "Standard_D4s_v5" || fm.CPU != 4 || fm.RAMMB != 16384 || fm.DiskGB != 64 {
		t.Errorf("the machine is %s, %d CPU, %d MB, %d GB disk; want Standard_D4s_v5 (4, 16384) and 64 GB", fm.Type, fm.CPU, fm.RAMMB, fm.DiskGB)
	}
	got, err := w.conn.Describe(ctxFor(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != "Standard_D4s_v5" || got.Settings["vm_size"] != "Standard_D4s_v5" {
		t.Errorf("Describe: type %q, settings %v", got.Type, got.Settings)
	}
	offers, err := w.conn.Offers(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offers {
		if o.DiskGB != 0 || o.Free {
			t.Errorf("offer %+v: Azure's disks are sized on their own (DiskGB 0), and its sizes are fixed", o)
		}
	}
}

// TestCreatesAreVMsOfTheirOwn: two creates of one spec (a machine and
// the one that replaces it) are two VMs with the hostname of the spec and
// resource ids of their own, so a replacement is never taken for the
// machine it replaces. (Within one create, a PUT whose answer was lost is
// retried under the same name: TestCancelMidCreate.)
func TestCreatesAreVMsOfTheirOwn(t *testing.T) {
	w := newWorld(t, inProcess)
	spec := w.harness().Spec("dep-idem", "web.1")
	m1, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if m1.ID == m2.ID || len(w.cloud.Machines(fakecloud.Live)) != 2 {
		t.Errorf("two creates of one spec: %s and %s, %d machines", m1.ID, m2.ID, len(w.cloud.Machines(fakecloud.Live)))
	}
	for _, m := range []*connectors.Machine{m1, m2} {
		d, err := w.conn.Describe(ctxFor(t), m.ID)
		if err != nil || m.Name != spec.Name || d.Name != spec.Name {
			t.Errorf("machine %s is named %q, described as %+v (%v); want the hostname %q", m.ID, m.Name, d, err, spec.Name)
		}
	}
}

// TestFailedCreatesLeaveNothing: creates Azure refuses fail permanently
// with Azure's code and message, and take back the interface, address
// and (the deployment having no machine) its group and network.
func TestFailedCreatesLeaveNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   func(*azurefake.Options)
		before func(w *world, spec *connectors.MachineSpec)
		code   string
		says   string
	}{
		{"unknown marketplace image", nil, func(w *world, s *connectors.MachineSpec) { s.ImageID = "Debian:debian-12:12-gen2:0.0.0" },
			"PlatformImageNotFound", "Debian:debian-12:12-gen2:0.0.0"},
		{"unknown managed image", nil, func(w *world, s *connectors.MachineSpec) {
			s.ImageID = "/subscriptions/" + azurefake.DefaultSubscriptionID + "/resourceGroups/img/providers/Microsoft.Compute/images/gone"
		}, "ImageNotFound", "images/gone"},
		{"size not available", func(o *azurefake.Options) { o.UnavailableSizes = []string{"Standard_B1ms"} },
			func(w *world, s *connectors.MachineSpec) { s.Type = "Standard_B1ms" }, "SkuNotAvailable", "Standard_B1ms"},
		{"no capacity", nil, func(w *world, s *connectors.MachineSpec) { w.cloud.Faults.NoCapacity(1) }, "SkuNotAvailable", "not available"},
		{"over quota", nil, func(w *world, s *connectors.MachineSpec) { w.cloud.Faults.OverQuota(1) }, "OperationNotAllowed", "quota"},
		{"size unknown", nil, func(w *world, s *connectors.MachineSpec) { s.Type = "Standard_Z99" }, "InvalidParameter", "Standard_Z99"},
		{"subnet missing", nil, func(w *world, s *connectors.MachineSpec) {
			s.Settings["subnet_id"] = "/subscriptions/" + azurefake.DefaultSubscriptionID + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
		}, "InvalidResourceReference", "subnets/s"},
	} {
		// In the deployment's own group (released whole) and in a group
		// the recipe names (where the interface and address must go one
		// by one, and the network after them).
		for _, group := range []string{"", "shop-rg"} {
			t.Run(tc.name+"/group="+group, func(t *testing.T) {
				var opts []func(*azurefake.Options)
				if tc.opts != nil {
					opts = append(opts, tc.opts)
				}
				w := newWorld(t, inProcess, opts...)
				spec := w.harness().Spec("dep-fail", "web.1")
				spec.Settings = connectors.Settings{"associate_public_ip": true}
				if group != "" {
					w.fake.AddResourceGroup(group, nil)
					spec.Settings["resource_group"] = group
				}
				tc.before(w, &spec)
				m, err := w.conn.Create(ctxFor(t), spec)
				ce := asError(t, err)
				if m != nil || ce.Kind != connectors.KindPermanent || ce.Code != tc.code || !strings.Contains(err.Error(), tc.says) {
					t.Errorf("got %v (machine %v, kind %s, code %s), want a permanent %s saying %q", err, m, ce.Kind, ce.Code, tc.code, tc.says)
				}
				if left := w.leftovers(); len(left) != 0 {
					t.Errorf("the failed create left %v", left)
				}
				if group != "" && !slices.Contains(w.fake.ResourceGroups(), group) {
					t.Errorf("the recipe's group %s was deleted", group)
				}
			})
		}
	}
}

// TestThrottledAndFailingCalls: a 429 and Azure's 5xx are transient and
// asked once (the SDK's own retries are off); a failing poll is asked
// again, since the operation goes on; an answer that is not JSON is
// transient.
func TestThrottledAndFailingCalls(t *testing.T) {
	w := newWorld(t, inProcess)
	h := w.harness()
	spec := h.Spec("dep-429", "web.1")
	w.cloud.Faults.Throttle(1, "ResourceGroupsClient.Get")
	_, err := w.conn.Create(ctxFor(t), spec)
	if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Code != "TooManyRequests" || ce.Status != 429 {
		t.Errorf("throttled: %v (kind %s, code %s, status %d)", err, ce.Kind, ce.Code, ce.Status)
	}
	if n := w.cloud.Calls("ResourceGroupsClient.Get"); n != 1 {
		t.Errorf("the throttled call was made %d times; the SDK must not retry", n)
	}
	// Polls throttled while the interface is made: the create goes on.
	w.cloud.Faults.Throttle(2, "poll")
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatalf("create through two throttled polls: %v", err)
	}
	// Azure's own failure on a read: transient, with its code.
	i := w.intercepted()
	i.set(func(req *http.Request) (*http.Response, error, bool) {
		if req.Method == http.MethodGet && strings.Contains(strings.ToLower(req.URL.Path), "/virtualmachines/") {
			return answer(req, 500, `{"error":{"code":"InternalServerError","message":"An unexpected error occured while processing the request."}}`), nil, true
		}
		return nil, nil, false
	})
	_, err = w.conn.Describe(ctxFor(t), m.ID)
	if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Code != "InternalServerError" || ce.Status != 500 || !strings.Contains(err.Error(), "unexpected error") {
		t.Errorf("a 500: %v (kind %s, code %s, status %d)", err, ce.Kind, ce.Code, ce.Status)
	}
	i.set(func(req *http.Request) (*http.Response, error, bool) {
		if req.Method == http.MethodGet && strings.Contains(strings.ToLower(req.URL.Path), "/virtualmachines/") {
			return answer(req, 200, `{"id": "/subscriptions/x", "properties": {`), nil, true
		}
		return nil, nil, false
	})
	_, err = w.conn.Describe(ctxFor(t), m.ID)
	if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Code != "MalformedResponse" {
		t.Errorf("an answer that is not JSON: %v (kind %s, code %s)", err, ce.Kind, ce.Code)
	}
	// A VM PUT that fails once with a 503 after the interface was made
	// is retried inside the create.
	failed := false
	i.set(func(req *http.Request) (*http.Response, error, bool) {
		if isVMPut(req) && !failed {
			failed = true
			return answer(req, 503, `{"error":{"code":"ServiceUnavailable","message":"try later"}}`), nil, true
		}
		return nil, nil, false
	})
	if _, err := w.conn.Create(ctxFor(t), h.Spec("dep-429", "web.2")); err != nil || !failed {
		t.Errorf("a VM PUT that failed once with 503: %v (failed: %v)", err, failed)
	}
}

// TestCancelMidCreate: a create whose context ends leaves nothing behind
// when Azure never got the VM, and returns the VM with the error when
// the PUT reached Azure but its answer was lost.
func TestCancelMidCreate(t *testing.T) {
	t.Run("before the VM", func(t *testing.T) {
		w := newWorld(t, inProcess)
		i := w.intercepted()
		ctx, cancel := context.WithCancel(ctxFor(t))
		i.set(func(req *http.Request) (*http.Response, error, bool) {
			if isVMPut(req) {
				cancel()
				return nil, context.Canceled, true
			}
			return nil, nil, false
		})
		m, err := w.conn.Create(ctx, w.harness().Spec("dep-cancel", "web.1"))
		if err == nil || m != nil {
			t.Fatalf("create cancelled at the VM's PUT: machine %v, error %v", m, err)
		}
		if connectors.KindOf(err) != connectors.KindPermanent {
			t.Errorf("a cancelled create: %v is %s, want permanent", err, connectors.KindOf(err))
		}
		if left := w.leftovers(); len(left) != 0 {
			t.Errorf("the cancelled create left %v", left)
		}
	})
	t.Run("answer lost", func(t *testing.T) {
		w := newWorld(t, inProcess)
		i := w.intercepted()
		ctx, cancel := context.WithCancel(ctxFor(t))
		i.set(func(req *http.Request) (*http.Response, error, bool) {
			if isVMPut(req) {
				resp, err := w.fake.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				cancel()
				return nil, context.Canceled, true
			}
			return nil, nil, false
		})
		m, err := w.conn.Create(ctx, w.harness().Spec("dep-cancel", "web.1"))
		if err == nil || m == nil || m.ID == "" {
			t.Fatalf("create whose VM PUT reached Azure: machine %v, error %v; want the machine with the error", m, err)
		}
		i.set(nil)
		if _, err := w.cloud.Machine(m.ID); err != nil {
			t.Errorf("the machine returned is not in the cloud: %v", err)
		}
		if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
			t.Fatal(err)
		}
		if left := w.leftovers(); len(left) != 0 {
			t.Errorf("after deleting the machine returned: %v left", left)
		}
	})
}

// TestCapacityFailsLater: Azure takes the VM and fails its allocation
// afterwards: Describe reports it in error with Azure's message.
func TestCapacityFailsLater(t *testing.T) {
	w := newWorld(t, inProcess, func(o *azurefake.Options) { o.CapacityFailsLater = true })
	w.cloud.Faults.NoCapacity(1)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-alloc", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	var got *connectors.Machine
	err = connectors.WaitFor(ctxFor(t), connectors.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}, "the allocation to fail",
		func(ctx context.Context) (bool, string, error) {
			got, err = w.conn.Describe(ctx, m.ID)
			if err != nil {
				return false, "", err
			}
			return got.State == connectors.StateError, string(got.State), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Reason, "Allocation failed") {
		t.Errorf("the failed machine's reason is %q, want Azure's allocation message", got.Reason)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if left := w.leftovers(); len(left) != 0 {
		t.Errorf("after deleting the failed machine: %v left", left)
	}
}

// TestBatchMachinesKnowTheirVMID: a pool's machines are claimed by the id
// their cloud-init knows them by, which on Azure is the VM's vmId, not its
// resource id: CreateBatch and Describe report it as InstanceID, and it is
// the instance-id the fake's guests boot with.
func TestBatchMachinesKnowTheirVMID(t *testing.T) {
	w := newWorld(t, inProcess)
	spec := w.harness().Spec("pool-1a2b3c4d", "")
	spec.Labels[connectors.LabelPool] = "web"
	delete(spec.Labels, connectors.LabelInstance)
	ms, err := w.conn.CreateBatch(ctxFor(t), spec, 3)
	if err != nil || len(ms) != 3 {
		t.Fatalf("CreateBatch: %d machines, %v", len(ms), err)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(m.InstanceID) || seen[m.InstanceID] {
			t.Errorf("machine %s: InstanceID %q is not a vmId of its own", m.ID, m.InstanceID)
		}
		seen[m.InstanceID] = true
		fm, err := w.cloud.Machine(m.ID)
		if err != nil || fm.InstanceID != m.InstanceID {
			t.Errorf("machine %s boots as %q (%v), the connector says %q", m.ID, fm.InstanceID, err, m.InstanceID)
		}
		d, err := w.conn.Describe(ctxFor(t), m.ID)
		if err != nil || d.InstanceID != m.InstanceID {
			t.Errorf("Describe(%s): InstanceID %q (%v), want %q", m.ID, d.InstanceID, err, m.InstanceID)
		}
	}
}

package azure

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/azure/azurefake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestDeploymentGroupGoesWithLastVM: the deployment's own group and
// network are made with its first VM, tagged, shared by the next, and
// deleted with the last; deleting one VM takes its disk, interface and
// address with it.
func TestDeploymentGroupGoesWithLastVM(t *testing.T) {
	w := newWorld(t, inProcess)
	h := w.harness()
	spec1, spec2 := h.Spec("dep-net", "web.1"), h.Spec("dep-net", "web.2")
	spec1.Settings = connectors.Settings{"associate_public_ip": true}
	m1, err := w.conn.Create(ctxFor(t), spec1)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := w.conn.Create(ctxFor(t), spec2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m1.ID, "/resourceGroups/slipstream-dep-net/providers/Microsoft.Compute/virtualMachines/dep-net-web-1") {
		t.Errorf("machine id %s: want the VM's resource id in the deployment's group", m1.ID)
	}
	tags := w.fake.ResourceGroupTags("slipstream-dep-net")
	if tags[connectors.LabelDeployment] != "dep-net" || tags[tagManaged] != managedValue {
		t.Fatalf("the deployment's group has tags %v, want the deployment and the managed mark", tags)
	}
	vnets := w.fake.ResourcesOfType("vnet")
	if len(vnets) != 1 || !strings.HasSuffix(vnets[0], "/virtualNetworks/slipstream-dep-net-vnet") {
		t.Errorf("virtual networks %v, want one for the deployment", vnets)
	}
	if n := len(w.fake.ResourcesOfType("nic")); n != 2 {
		t.Errorf("%d interfaces for 2 VMs", n)
	}
	if n := len(w.fake.ResourcesOfType("publicip")); n != 1 {
		t.Errorf("%d public addresses for 1 VM that asked for one", n)
	}
	got1 := h2running(t, w, m1.ID)
	got2 := h2running(t, w, m2.ID)
	if addr, err := netip.ParseAddr(got1.PublicIP); err != nil || !netip.MustParsePrefix("203.0.113.0/24").Contains(addr) {
		t.Errorf("the machine with associate_public_ip has public address %q", got1.PublicIP)
	}
	if got1.Settings["associate_public_ip"] != true || got2.PublicIP != "" || got2.Settings.Has("associate_public_ip") {
		t.Errorf("associate_public_ip: machine 1 %q %v, machine 2 %q %v", got1.PublicIP, got1.Settings, got2.PublicIP, got2.Settings)
	}
	if got1.Settings.Has("resource_group") || got1.Settings.Has("subnet_id") {
		t.Errorf("settings %v report what the connector chose itself", got1.Settings)
	}

	if err := w.conn.Delete(ctxFor(t), m1.ID); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"nic", "publicip", "disk"} {
		for _, id := range w.fake.ResourcesOfType(kind) {
			if strings.Contains(id, "dep-net-web-1") {
				t.Errorf("after deleting web.1, its %s %s is left", kind, id)
			}
		}
	}
	if !slices.Contains(w.fake.ResourceGroups(), "slipstream-dep-net") {
		t.Fatalf("the group was deleted while web.2 is in it")
	}
	if err := w.conn.Delete(ctxFor(t), m2.ID); err != nil {
		t.Fatal(err)
	}
	if groups := w.fake.ResourceGroups(); slices.Contains(groups, "slipstream-dep-net") {
		t.Errorf("after the last VM the deployment's group is left: %v", groups)
	}
	if left := w.leftovers(); len(left) != 0 {
		t.Errorf("after the last VM: %v left", left)
	}
}

// h2running waits until the machine runs and returns it.
func h2running(t *testing.T, w *world, id string) *connectors.Machine {
	t.Helper()
	if _, err := w.cloud.WaitMachine(ctxFor(t), id, func(m fakecloud.Machine) bool { return m.State == fakecloud.Running }); err != nil {
		t.Fatal(err)
	}
	m, err := w.conn.Describe(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNamedGroupAndSubnetAreKept: a group the recipe names is used and
// kept; the network made in it goes with the deployment's last VM there;
// a subnet the recipe names is used, and no network is made.
func TestNamedGroupAndSubnetAreKept(t *testing.T) {
	w := newWorld(t, inProcess)
	h := w.harness()
	w.fake.AddResourceGroup("shop-rg", map[string]string{"owner": "shop"})
	spec := h.Spec("dep-named", "web.1")
	spec.Settings = connectors.Settings{"resource_group": "shop-rg"}
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.ID, "/resourceGroups/shop-rg/") {
		t.Errorf("machine %s is not in the named group", m.ID)
	}
	if tags := w.fake.ResourceGroupTags("shop-rg"); tags[tagManaged] != "" || tags["owner"] != "shop" {
		t.Errorf("the named group's tags were changed: %v", tags)
	}
	if slices.ContainsFunc(w.fake.ResourceGroups(), func(g string) bool { return strings.HasPrefix(g, "slipstream-") }) {
		t.Errorf("a group was made although the recipe named one: %v", w.fake.ResourceGroups())
	}
	got := h2running(t, w, m.ID)
	if got.Settings["resource_group"] != "shop-rg" {
		t.Errorf("Describe's settings %v do not name the group", got.Settings)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(w.fake.ResourceGroups(), "shop-rg") {
		t.Errorf("the named group was deleted")
	}
	if vnets := w.fake.ResourcesOfType("vnet"); len(vnets) != 0 {
		t.Errorf("the network made in the named group is left after its last VM: %v", vnets)
	}

	// A subnet of the user's own.
	subnet := w.fake.AddVirtualNetwork("net-rg", "shop-net", "10.20.0.0/16")
	spec = h.Spec("dep-subnet", "web.1")
	spec.Settings = connectors.Settings{"subnet_id": subnet}
	m, err = w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if vnets := w.fake.ResourcesOfType("vnet"); len(vnets) != 1 || !strings.HasSuffix(vnets[0], "/shop-net") {
		t.Errorf("networks %v: with subnet_id none should be made", vnets)
	}
	got = h2running(t, w, m.ID)
	if got.Settings["subnet_id"] != subnet {
		t.Errorf("Describe's settings %v do not name the subnet %s", got.Settings, subnet)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if vnets := w.fake.ResourcesOfType("vnet"); len(vnets) != 1 {
		t.Errorf("the user's network was deleted: %v", vnets)
	}
	if slices.Contains(w.fake.ResourceGroups(), "slipstream-dep-subnet") {
		t.Errorf("the deployment's group is left after its last VM")
	}
}

// TestGroupNotOursIsRefused: a group of the deployment's default name
// that SlipStream did not make is neither used nor deleted.
func TestGroupNotOursIsRefused(t *testing.T) {
	w := newWorld(t, inProcess)
	w.fake.AddResourceGroup("slipstream-dep-clash", map[string]string{"owner": "someone"})
	_, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-clash", "web.1"))
	if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Code != "ResourceGroupNotOurs" || !strings.Contains(err.Error(), "resource_group") {
		t.Errorf("a clashing group: %v", err)
	}
	if !slices.Contains(w.fake.ResourceGroups(), "slipstream-dep-clash") {
		t.Errorf("the clashing group was deleted")
	}
	// Nor is it deleted by a Delete of a VM id in it.
	if err := w.conn.Delete(ctxFor(t), w.conn.vmID("slipstream-dep-clash", "x")); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(w.fake.ResourceGroups(), "slipstream-dep-clash") {
		t.Errorf("the clashing group was deleted by a Delete")
	}
}

// TestCreatesRaceTheLastDelete: creates in a deployment while its last
// VM is deleted never lose their group: each either finds it or makes it
// again, and every machine created is there in the end.
func TestCreatesRaceTheLastDelete(t *testing.T) {
	w := newWorld(t, inProcess)
	h := w.harness()
	for round := range 5 {
		dep := fmt.Sprintf("dep-race%d", round)
		first, err := w.conn.Create(ctxFor(t), h.Spec(dep, "web.0"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var made []*connectors.Machine
		var mu sync.Mutex
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.conn.Delete(ctxFor(t), first.ID); err != nil {
				t.Error(err)
			}
		}()
		for i := 1; i <= 3; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := w.conn.Create(ctxFor(t), h.Spec(dep, fmt.Sprintf("web.%d", i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				made = append(made, m)
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, m := range made {
			got, err := w.conn.Describe(ctxFor(t), m.ID)
			if err != nil || got.State == connectors.StateTerminating {
				t.Errorf("round %d: machine %s after the race: %v, %v", round, m.ID, got, err)
			}
		}
		list, err := w.conn.List(ctxFor(t), dep)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(made) {
			t.Errorf("round %d: List finds %d machines, %d were made", round, len(list), len(made))
		}
	}
}

// TestListFindsOnlyVMs: the tag listing also holds the deployment's
// networks and interfaces; List returns its VMs only, with their labels.
func TestListFindsOnlyVMs(t *testing.T) {
	w := newWorld(t, inProcess)
	h := w.harness()
	spec := h.Spec("dep-list", "web.1")
	spec.Settings = connectors.Settings{"associate_public_ip": true, "tags": map[string]string{"team": "shop", connectors.LabelDeployment: "overridden"}}
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	list, err := w.conn.List(ctxFor(t), "dep-list")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("List = %v, want the one VM", list)
	}
	if l := list[0].Labels; l[connectors.LabelDeployment] != "dep-list" || l["team"] != "qa" {
		t.Errorf("labels %v: the spec's labels win over the tags setting", l)
	}
	// Another subscription's VM is not this provider's.
	other := strings.Replace(m.ID, azurefake.DefaultSubscriptionID, "00000000-1111-2222-3333-444444444444", 1)
	if _, err := w.conn.Describe(ctxFor(t), other); !connectors.IsNotFound(err) || !strings.Contains(err.Error(), "subscription") {
		t.Errorf("Describe of another subscription's VM: %v", err)
	}
	// An id that is some other resource is not a machine.
	if _, err := w.conn.Describe(ctxFor(t), w.fake.ResourcesOfType("nic")[0]); !connectors.IsNotFound(err) {
		t.Errorf("Describe of a network interface's id: %v, want not found", err)
	}
}

// TestGroupGoneBehindOurBack: when another process released the
// deployment's group between two steps of a create (before its network,
// before its interface), the create fails as worth retrying, and the
// retry makes the group again.
func TestGroupGoneBehindOurBack(t *testing.T) {
	for _, before := range []string{"/virtualnetworks/", "/networkinterfaces/"} {
		t.Run(strings.Trim(before, "/"), func(t *testing.T) {
			w := newWorld(t, inProcess)
			i := w.intercepted()
			h := w.harness()
			token := w.fake.IssueToken()
			i.set(func(req *http.Request) (*http.Response, error, bool) {
				if req.Method == http.MethodPut && strings.Contains(strings.ToLower(req.URL.Path), before) {
					del, _ := http.NewRequestWithContext(req.Context(), http.MethodDelete,
						"https://management.azure.com/subscriptions/"+azurefake.DefaultSubscriptionID+"/resourcegroups/slipstream-dep-gone", nil)
					del.Header.Set("Authorization", "Bearer "+token)
					if resp, err := w.fake.Do(del); err != nil || resp.StatusCode != http.StatusAccepted {
						t.Errorf("deleting the group behind the connector's back: %v, %v", resp, err)
					}
				}
				return nil, nil, false
			})
			_, err := w.conn.Create(ctxFor(t), h.Spec("dep-gone", "web.1"))
			if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Code != "ResourceGroupNotFound" {
				t.Fatalf("a create whose group went away: %v (%s), want a transient ResourceGroupNotFound", err, ce.Kind)
			}
			i.set(nil)
			m, err := w.conn.Create(ctxFor(t), h.Spec("dep-gone", "web.1"))
			if err != nil {
				t.Fatalf("the retried create: %v", err)
			}
			if _, err := w.cloud.Machine(m.ID); err != nil || !slices.Contains(w.fake.ResourceGroups(), "slipstream-dep-gone") {
				t.Errorf("after the retry: machine %v, groups %v", err, w.fake.ResourceGroups())
			}
		})
	}
}

package openstack

import (
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

func TestFloatingIPIsAllocatedAssociatedAndReleased(t *testing.T) {
	// The server boots after Create returns: its port does not exist yet,
	// so Describe finishes the association.
	f, img := newFakeWith(t, openstackfake.Options{}, fakecloud.Options{BootDelay: 500 * time.Millisecond})
	conn := connectTo(t, f, settingsFor(f))
	spec := connectorSpec(img, "dep-fip", "web.1")
	spec.Settings["floating_ip_pool"] = "public"
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if m.PublicIP != "" {
		t.Errorf("the floating IP %s is associated before the server has a port", m.PublicIP)
	}
	if fips := f.FloatingIPs(); len(fips) != 1 {
		t.Errorf("after Create the project holds floating IPs %v, want one", fips)
	}
	got := waitRunning(t, conn, m.ID)
	if !strings.HasPrefix(got.PublicIP, "203.0.113.") || got.PrivateIP == "" {
		t.Errorf("a running server with a floating IP pool: private %q, public %q", got.PrivateIP, got.PublicIP)
	}
	if got.Settings.String("floating_ip_pool") != "public" {
		t.Errorf("Settings = %v, want floating_ip_pool public", got.Settings)
	}
	if _, ok := got.Labels[metaFloatingPool]; ok || len(got.Labels) != len(spec.Labels) {
		t.Errorf("Labels = %v, want the spec's %v", got.Labels, spec.Labels)
	}
	// Describing again changes nothing.
	again, err := conn.Describe(ctxFor(t), m.ID)
	if err != nil || again.PublicIP != got.PublicIP || len(f.FloatingIPs()) != 1 {
		t.Errorf("Describe again: %v, public %q, floating IPs %v", err, again.PublicIP, f.FloatingIPs())
	}
	if err := conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if fips := f.FloatingIPs(); len(fips) != 0 {
		t.Errorf("floating IPs %v left after Delete", fips)
	}
}

func TestFloatingIPAssociatedAtCreateWhenThePortExists(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	conn := connectTo(t, f, settingsFor(f))
	spec := connectorSpec(img, "dep-fip", "web.1")
	spec.Settings["floating_ip_pool"] = "public"
	m, err := conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.PublicIP, "203.0.113.") {
		t.Errorf("Create returned public address %q, want the floating IP", m.PublicIP)
	}
	spec.Settings["floating_ip_pool"] = "private"
	_, err = conn.Create(ctxFor(t), spec)
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "not an external network") {
		t.Errorf("a pool that is not external: %v", err)
	}
	spec.Settings["floating_ip_pool"] = "nowhere"
	if _, err = conn.Create(ctxFor(t), spec); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "public") {
		t.Errorf("an unknown pool: %v, want an error naming the external networks", err)
	}
	if n := len(f.Cloud().Machines(fakecloud.Live)); n != 1 {
		t.Errorf("%d servers after two refused creates, want the first one only", n)
	}
}

package openstack

import (
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

// otherPublicKey is a valid ed25519 key that is not connectortest's.
const otherPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDfFaAKjmyOUxUOB6eAhyb6e0Po6k2kq90QoOaz2G1QP other@example"

// The conformance suite's key and user-data checks, with a key given as
// the catalog's setting would: a second connector (another process)
// importing the same key meets Nova's 409 and takes it as done.
func TestKeyPairImportedOncePerProject(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	a, b := connectTo(t, f, settingsFor(f)), connectTo(t, f, settingsFor(f))
	spec := connectorSpec(img, "dep-key", "web.1")
	spec.SSHPublicKey = connectortest.TestPublicKey
	if _, err := a.Create(ctxFor(t), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctxFor(t), spec); err != nil {
		t.Fatal(err)
	}
	if n := f.Cloud().Calls("GET /os-keypairs/{name}"); n != 1 {
		t.Errorf("the second import checked the existing key pair %d times, want once (after Nova's 409)", n)
	}
	keys := f.Cloud().Keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0].Name, "slipstream-") || len(keys[0].Name) != len("slipstream-")+16 {
		t.Errorf("key pairs %+v, want one slipstream-<16 hex>", keys)
	}
	// A key pair of that name with another key (made by hand) is not used.
	f.Cloud().DeleteKey(keys[0].Name)
	f.Cloud().ImportKey(fakecloud.KeyPair{Name: keys[0].Name, PublicKey: otherPublicKey})
	c := connectTo(t, f, settingsFor(f))
	if _, err := c.Create(ctxFor(t), spec); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "another public key") {
		t.Errorf("a key pair of the name with another key: %v", err)
	}
	spec.SSHPublicKey = "ssh-rsa not-a-key"
	if _, err := a.Create(ctxFor(t), spec); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "ssh_public_key") {
		t.Errorf("a malformed key: %v", err)
	}
}

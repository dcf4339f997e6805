package openstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// keyPairName is the name a public key is imported under: the same key
// always gets the same name, so it is imported once per project.
func keyPairName(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return "slipstream-" + hex.EncodeToString(sum[:])[:16]
}

// keyPair imports the public key as a Nova key pair and returns its name.
// A 409 is the key pair being there already (imported before, or by a
// concurrent import of the same key that came first): what was asked,
// once its public key is checked to be this one.
func (c *Connector) keyPair(ctx context.Context, authorizedKey string) (string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return "", &connectors.Error{Cloud: cloudName, Op: "POST /os-keypairs", Code: "InvalidKey", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("ssh_public_key is not an OpenSSH public key: %v", err)}
	}
	name := keyPairName(pub)
	// One import at a time: concurrent creates with one key ask Nova once.
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	if c.keys.known[name] {
		return name, nil
	}
	_, err = keypairs.Create(ctx, c.compute, keypairs.CreateOpts{Name: name, PublicKey: authorizedKey}).Extract()
	switch {
	case statusOf(err) == http.StatusConflict:
		kp, err := keypairs.Get(ctx, c.compute, name, nil).Extract()
		if err != nil {
			return "", apiError("GET /os-keypairs/{name}", err)
		}
		if have, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(kp.PublicKey)); perr != nil || !bytes.Equal(have.Marshal(), pub.Marshal()) {
			return "", &connectors.Error{Cloud: cloudName, Op: "POST /os-keypairs", Code: "KeyPairMismatch", Kind: connectors.KindPermanent,
				Message: fmt.Sprintf("key pair %s exists with another public key; delete it or use another key", name)}
		}
	case err != nil:
		return "", apiError("POST /os-keypairs", err)
	}
	if c.keys.known == nil {
		c.keys.known = map[string]bool{}
	}
	c.keys.known[name] = true
	return name, nil
}

// forgetKeyPair drops a key pair from the cache: Nova said it does not
// know it (deleted behind our back), so the next create imports it again.
func (c *Connector) forgetKeyPair(name string) {
	c.keys.mu.Lock()
	defer c.keys.mu.Unlock()
	delete(c.keys.known, name)
}

package cloudsigma

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/ssh"
)

// sshKey is a public key to authorize, and the key pair it is imported
// as.
type sshKey struct {
	given string // as the spec gives it: what the server's meta holds and Describe reports back
	line  string // "ssh-ed25519 AAAA… comment": what the key pair holds
	name  string // "slipstream-<16 hex>"
}

// parseSSHKey checks an authorized_keys line and names its key pair after
// the key itself (the first 16 hex digits of the SHA-256 of the key
// blob), so that every machine with the key shares one key pair.
func parseSSHKey(op, line string) (*sshKey, error) {
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, permanent(op, "InvalidKey", "ssh_public_key is not an OpenSSH public key line: %v", err)
	}
	sum := sha256.Sum256(pub.Marshal())
	norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		norm += " " + comment
	}
	return &sshKey{given: line, line: norm, name: "slipstream-" + hex.EncodeToString(sum[:])[:16]}, nil
}

// keypair is the uuid of the key pair of k, imported unless the account
// has it (Keypairs). Creates of one connector make it once; a create
// refused because another process made it meanwhile finds that one.
func (c *Connector) keypair(ctx context.Context, k *sshKey) (string, error) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	find := func() (string, error) {
		pairs, err := c.api.ListKeypairs(ctx)
		if err != nil {
			return "", apiErr(err)
		}
		for _, p := range pairs {
			if p.Name == k.name {
				return p.UUID, nil
			}
		}
		return "", nil
	}
	if id, err := find(); id != "" || err != nil {
		return id, err
	}
	p, err := c.api.CreateKeypair(ctx, k.name, k.line)
	if err == nil {
		return p.UUID, nil
	}
	if rejected(err) {
		if id, ferr := find(); id != "" {
			return id, nil
		} else if ferr != nil {
			return "", ferr
		}
	}
	return "", apiErr(err)
}

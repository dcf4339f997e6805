package cloudstack

import (
	"context"
	"crypto/md5" // #nosec G501 -- CloudStack names key pairs' fingerprints by MD5; used to find one, not to trust it
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/apache/cloudstack-go/v2/cloudstack"
	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// sshKey is a public key to authorize, and the key pair it is registered
// as.
type sshKey struct {
	line        string // "ssh-ed25519 AAAA… comment": what the key pair holds
	name        string // "slipstream-<16 hex>"
	fingerprint string // CloudStack's: MD5 of the key blob, colon-separated hex
}

// parseSSHKey checks an authorized_keys line and names its key pair after
// the key itself (the first 16 hex digits of the SHA-256 of the key
// blob), so that every machine with the key shares one key pair.
func parseSSHKey(op, line string) (*sshKey, error) {
	pub, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, permanent(op, "InvalidKey", "ssh_public_key is not an OpenSSH public key line: %v", err)
	}
	blob := pub.Marshal()
	sum := sha256.Sum256(blob)
	norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		norm += " " + comment
	}
	if err := checkSignable(op, "ssh_public_key", norm); err != nil {
		return nil, err
	}
	md := md5.Sum(blob) // #nosec G401 -- CloudStack's fingerprint format, compared, not trusted
	parts := make([]string, len(md))
	for i, b := range md {
		parts[i] = fmt.Sprintf("%02x", b)
	}
	return &sshKey{line: norm, name: "slipstream-" + hex.EncodeToString(sum[:])[:16], fingerprint: strings.Join(parts, ":")}, nil
}

// keypair is the name of the account's key pair holding k: registered
// (registerSSHKeyPair) unless the account has it, under our name or
// another (listSSHKeyPairs by fingerprint). Creates of one connector
// register it once; a registration refused because another process made
// it meanwhile finds that one.
func (c *Connector) keypair(ctx context.Context, k *sshKey) (string, error) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if name, ok := c.keys[k.name]; ok {
		return name, nil
	}
	remember := func(name string) (string, error) {
		c.keys[k.name] = name
		return name, nil
	}
	find := func() (string, error) {
		var r *cloudstack.ListSSHKeyPairsResponse
		err := c.call(ctx, "listSSHKeyPairs", func(cs *cloudstack.CloudStackClient) error {
			p := cs.SSH.NewListSSHKeyPairsParams()
			p.SetFingerprint(k.fingerprint)
			var err error
			r, err = cs.SSH.ListSSHKeyPairs(p)
			return err
		})
		if err != nil {
			return "", err
		}
		// Ours first, then any: the fingerprint says it is this key.
		name := ""
		for _, p := range r.SSHKeyPairs {
			if p.Fingerprint != k.fingerprint {
				continue
			}
			if p.Name == k.name {
				return p.Name, nil
			}
			if name == "" {
				name = p.Name
			}
		}
		return name, nil
	}
	if name, err := find(); err != nil || name != "" {
		if err != nil {
			return "", err
		}
		return remember(name)
	}
	err := c.call(ctx, "registerSSHKeyPair", func(cs *cloudstack.CloudStackClient) error {
		_, err := cs.SSH.RegisterSSHKeyPair(cs.SSH.NewRegisterSSHKeyPairParams(k.name, k.line))
		return err
	})
	if err == nil {
		return remember(k.name)
	}
	if answered(err) && connectors.KindOf(err) == connectors.KindPermanent {
		// Refused: registered meanwhile by another process, or the name
		// taken by another key.
		if name, ferr := find(); ferr == nil && name != "" {
			return remember(name)
		}
	}
	return "", err
}

// forgetKeypair drops a key pair from the cache: the cloud said it does
// not know it (deleted behind our back), so the next create registers it
// again.
func (c *Connector) forgetKeypair(k *sshKey) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	delete(c.keys, k.name)
}

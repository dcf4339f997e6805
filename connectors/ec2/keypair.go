package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// keyPairName names the key pair of a public key after the key itself, so
// that every machine with that key shares one key pair and any connector
// finds it again.
func keyPairName(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return "slipstream-" + hex.EncodeToString(sum[:])[:16]
}

// ensureKeyPair makes sure the key pair of an authorized_keys line exists
// and returns its name: it looks for it, imports it when it is missing,
// and takes a concurrent import's InvalidKeyPair.Duplicate as success.
func (c *Connector) ensureKeyPair(ctx context.Context, authorizedKey string) (string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return "", &connectors.Error{Cloud: cloudName, Op: "ImportKeyPair", Kind: connectors.KindPermanent, Code: "InvalidKey.Format",
			Message: "the SSH public key is not an authorized_keys line: " + err.Error(), Err: err}
	}
	name := keyPairName(pub)
	// One look-up and import at a time: concurrent creates with one key
	// then ask EC2 once.
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if c.keys[name] {
		return name, nil
	}
	_, err = c.api.DescribeKeyPairs(ctx, &awsec2.DescribeKeyPairsInput{KeyNames: []string{name}})
	if err = apiError(ctx, "DescribeKeyPairs", err, "InvalidKeyPair.NotFound"); connectors.IsNotFound(err) {
		_, err = c.api.ImportKeyPair(ctx, &awsec2.ImportKeyPairInput{
			KeyName:           aws.String(name),
			PublicKeyMaterial: []byte(strings.TrimSpace(authorizedKey)),
		})
		if err = apiError(ctx, "ImportKeyPair", err); codeOf(err) == "InvalidKeyPair.Duplicate" {
			err = nil // imported meanwhile, by another provider or connector
		}
	}
	if err != nil {
		return "", err
	}
	c.keys[name] = true
	return name, nil
}

// forgetKeyPair drops a key pair from what the connector believes exists.
func (c *Connector) forgetKeyPair(name string) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	delete(c.keys, name)
}

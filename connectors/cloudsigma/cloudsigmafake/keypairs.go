package cloudsigmafake

import (
	"errors"
	"net/http"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Key pairs are the Cloud's (fakecloud.KeyPair, whose ID is the
// keypair's uuid); the fake adds CloudSigma's shape (Keypairs).

// keypairJSON is a key pair as the reference's dumps give it. The fake
// only stores public keys, so private_key is null.
func keypairJSON(k fakecloud.KeyPair) map[string]any {
	return map[string]any{"fingerprint": k.Fingerprint, "grantees": []any{}, "meta": map[string]any{}, "name": k.Name,
		"permissions": []any{}, "private_key": nil, "public_key": k.PublicKey, "resource_uri": uri("keypairs", k.ID),
		"tags": []any{}, "uuid": k.ID}
}

func listKeypairs(f *Fake, c *call) (int, any, error) {
	p, filters, aerr := listQuery(c, "name", "uuid")
	if aerr != nil {
		return 0, nil, aerr
	}
	var all []any
	for _, k := range f.cloud.Keys() {
		if matches(filters, "name", k.Name) && matches(filters, "uuid", k.ID) {
			all = append(all, keypairJSON(k))
		}
	}
	return http.StatusOK, listAnswer(p, all), nil
}

func keypairByID(cloud *fakecloud.Cloud, id string) (fakecloud.KeyPair, bool) {
	for _, k := range cloud.Keys() {
		if k.ID == id {
			return k, true
		}
	}
	return fakecloud.KeyPair{}, false
}

func getKeypair(f *Fake, c *call) (int, any, error) {
	k, ok := keypairByID(f.cloud, c.id)
	if !ok {
		return 0, nil, errNotExist("Keypair", c.id)
	}
	return http.StatusOK, keypairJSON(k), nil
}

func deleteKeypair(f *Fake, c *call) (int, any, error) {
	k, ok := keypairByID(f.cloud, c.id)
	if !ok {
		return 0, nil, errNotExist("Keypair", c.id)
	}
	f.cloud.DeleteKey(k.Name)
	return http.StatusNoContent, nil, nil
}

type keypairBody struct {
	Name          *string `json:"name"`
	PublicKey     *string `json:"public_key"`
	PrivateKey    *string `json:"private_key"`
	AlgorithmType *string `json:"algorithm_type"`
}

// createKeypairs answers POST /keypairs/ with public keys (Keypairs,
// "Creating a keypair"; RSA and ed25519 keys). The fake generates no
// keys and stores no private ones. Names are unique, as the Cloud keeps
// key pairs by name.
func createKeypairs(f *Fake, c *call) (int, any, error) {
	raws, aerr := objectsOf(c.body)
	if aerr != nil {
		return 0, nil, aerr
	}
	var pairs []fakecloud.KeyPair
	for _, raw := range raws {
		var b keypairBody
		if aerr := decodeObject(raw, &b); aerr != nil {
			return 0, nil, aerr
		}
		switch {
		case b.Name == nil || *b.Name == "":
			return 0, nil, errValidation("name", "This field is required.")
		case b.PublicKey == nil || strings.TrimSpace(*b.PublicKey) == "":
			return 0, nil, errValidation("public_key", "The fake cloud does not generate key pairs: give a public key")
		case b.PrivateKey != nil && *b.PrivateKey != "":
			return 0, nil, errValidation("private_key", "The fake cloud does not store private keys")
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*b.PublicKey))
		if err != nil {
			return 0, nil, errValidation("public_key", "Invalid public key: %v", err)
		}
		if t := pub.Type(); t != ssh.KeyAlgoRSA && t != ssh.KeyAlgoED25519 {
			return 0, nil, errValidation("public_key", "Key type %s is not supported; RSA and ed25519 keys are", t)
		}
		pairs = append(pairs, fakecloud.KeyPair{Name: *b.Name, PublicKey: strings.TrimSpace(*b.PublicKey),
			Fingerprint: ssh.FingerprintLegacyMD5(pub), ID: NewUUID()})
	}
	var out []any
	for i, k := range pairs {
		made, err := f.cloud.ImportKey(k)
		if err != nil {
			for _, prev := range pairs[:i] {
				f.cloud.DeleteKey(prev.Name)
			}
			if errors.Is(err, fakecloud.ErrDuplicate) {
				return 0, nil, errValidation("name", "Keypair with name %q already exists", k.Name)
			}
			return 0, nil, err
		}
		out = append(out, keypairJSON(made))
	}
	return http.StatusCreated, map[string]any{"objects": out}, nil
}

package openstackfake

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Key pair names Nova accepts: before 2.92 letters, digits, spaces, '_'
// and '-'; since, also '.', '@'.
var (
	keypairNameOld = regexp.MustCompile(`^[a-zA-Z0-9 _-]+$`)
	keypairNameNew = regexp.MustCompile(`^[a-zA-Z0-9 _.@-]+$`)
)

func (c *call) keypairView(k fakecloud.KeyPair, full bool) map[string]any {
	v := map[string]any{"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint}
	if c.mv.atLeast(2) {
		v["type"] = "ssh"
	}
	if full {
		c.f.mu.Lock()
		created := c.f.keyCreated[k.Name]
		c.f.mu.Unlock()
		v["user_id"], v["id"], v["deleted"] = c.f.userID, 1, false
		v["created_at"], v["updated_at"], v["deleted_at"] = created.Format("2006-01-02T15:04:05.000000"), nil, nil
	}
	return v
}

func (c *call) listKeypairs() {
	var out []any
	for _, k := range c.f.cloud.Keys() {
		out = append(out, map[string]any{"keypair": c.keypairView(k, false)})
	}
	if out == nil {
		out = []any{}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"keypairs": out})
}

func (c *call) getKeypair() {
	k, err := c.f.cloud.Key(c.params["name"])
	if err != nil {
		c.errorf(http.StatusNotFound, "Keypair %s not found for user %s", c.params["name"], c.f.userID)
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"keypair": c.keypairView(k, true)})
}

func (c *call) deleteKeypair() {
	name := c.params["name"]
	if _, err := c.f.cloud.Key(name); err != nil {
		c.errorf(http.StatusNotFound, "Keypair %s not found for user %s", name, c.f.userID)
		return
	}
	c.f.cloud.DeleteKey(name)
	status := http.StatusAccepted
	if c.mv.atLeast(2) {
		status = http.StatusNoContent
	}
	writeNoContent(c.w, status)
}

// createKeypair imports a public key (or, before 2.92, makes a key pair
// and returns its private key once, as Nova did).
func (c *call) createKeypair() {
	var body struct {
		Keypair *struct {
			Name      *string `json:"name"`
			PublicKey *string `json:"public_key"`
			Type      *string `json:"type"`
			UserID    *string `json:"user_id"`
		} `json:"keypair"`
	}
	if err := decodeJSON(c.r, &body); err != nil {
		c.errorf(http.StatusBadRequest, "%s", jsonError(err))
		return
	}
	kp := body.Keypair
	switch {
	case kp == nil:
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute keypair. Value: None. 'keypair' is a required property")
		return
	case kp.Name == nil:
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute keypair. 'name' is a required property")
		return
	case kp.Type != nil && !c.mv.atLeast(2):
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute keypair. Additional properties are not allowed ('type' was unexpected)")
		return
	case kp.Type != nil && *kp.Type != "ssh" && *kp.Type != "x509":
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute type. Value: %s. '%s' is not one of ['ssh', 'x509']", *kp.Type, *kp.Type)
		return
	case kp.UserID != nil && !c.mv.atLeast(10):
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute keypair. Additional properties are not allowed ('user_id' was unexpected)")
		return
	case kp.PublicKey == nil && c.mv.atLeast(92):
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute keypair. 'public_key' is a required property")
		return
	}
	name := *kp.Name
	valid := keypairNameOld
	if c.mv.atLeast(92) {
		valid = keypairNameNew
	}
	if len(name) > 255 || strings.TrimSpace(name) == "" || !valid.MatchString(name) {
		c.errorf(http.StatusBadRequest, "Keypair data is invalid: Keypair name contains unsafe characters")
		return
	}
	var pub ssh.PublicKey
	var private string
	if kp.PublicKey != nil {
		var err error
		pub, _, _, _, err = ssh.ParseAuthorizedKey([]byte(*kp.PublicKey))
		if err != nil {
			c.errorf(http.StatusBadRequest, "Keypair data is invalid: failed to generate fingerprint")
			return
		}
	} else {
		var err error
		pub, private, err = generateKey()
		if err != nil {
			c.errorf(http.StatusInternalServerError, "Keypair data is invalid: %s", err)
			return
		}
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	if kp.PublicKey != nil {
		line = strings.TrimSpace(*kp.PublicKey) // Nova keeps the key as given, comment included
	}
	k, err := c.f.cloud.ImportKey(fakecloud.KeyPair{Name: name, PublicKey: line,
		Fingerprint: strings.TrimPrefix(ssh.FingerprintLegacyMD5(pub), "MD5:")})
	if errors.Is(err, fakecloud.ErrDuplicate) {
		c.errorf(http.StatusConflict, "Key pair '%s' already exists.", name)
		return
	}
	if err != nil {
		c.errorf(http.StatusServiceUnavailable, "%s", err)
		return
	}
	c.f.mu.Lock()
	c.f.keyCreated[name] = time.Now().UTC()
	c.f.mu.Unlock()
	v := c.keypairView(k, false)
	v["user_id"] = c.f.userID
	if private != "" {
		v["private_key"] = private
	}
	status := http.StatusOK
	if c.mv.atLeast(2) {
		status = http.StatusCreated
	}
	writeJSON(c.w, status, map[string]any{"keypair": v})
}

func generateKey() (ssh.PublicKey, string, error) {
	pubRaw, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	pub, err := ssh.NewPublicKey(pubRaw)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, "", err
	}
	return pub, string(pem.EncodeToMemory(block)), nil
}

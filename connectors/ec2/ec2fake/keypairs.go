package ec2fake

import (
	"context"
	"crypto/md5" // #nosec G501 -- EC2 defines an imported RSA key pair's fingerprint as MD5 (see fingerprint)
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// keyMeta is what EC2 says of a key pair beyond fakecloud.KeyPair.
type keyMeta struct {
	Created time.Time
	Tags    map[string]string
}

// keyMeta returns a key pair's EC2 data, made for a key registered on the
// cloud directly; s.mu is held.
func (s *Server) keyMeta(name string) *keyMeta {
	m, ok := s.keys[name]
	if !ok {
		m = &keyMeta{Created: s.opts.Now().UTC(), Tags: map[string]string{}}
		s.keys[name] = m
	}
	return m
}

func keyPairNotFound(name string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", name)
}

func invalidKeyFormat(why string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidKey.Format", "Key is not in valid OpenSSH public key format: %s", why)
}

// fingerprint is EC2's fingerprint of an imported public key: for RSA the
// MD5 of the DER-encoded public key, colon-separated; for ED25519 the
// base64 SHA-256 of the key, as OpenSSH shows it (with padding). EC2
// imports no other kind.
func fingerprint(pub ssh.PublicKey) (fp, keyType string, e *apiError) {
	switch pub.Type() {
	case ssh.KeyAlgoRSA:
		rk, ok := pub.(ssh.CryptoPublicKey).CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return "", "", invalidKeyFormat("not an RSA key")
		}
		if bits := rk.N.BitLen(); bits < 1024 || bits > 16384 {
			return "", "", invalidKeyFormat("RSA keys must have 1024 to 16384 bits")
		}
		der, err := x509.MarshalPKIXPublicKey(rk)
		if err != nil {
			return "", "", invalidKeyFormat(err.Error())
		}
		sum := md5.Sum(der) // #nosec G401 -- AWS defines an imported RSA key's fingerprint as the MD5 of its DER public key: a name, not a protection
		hexed := hex.EncodeToString(sum[:])
		var parts []string
		for i := 0; i < len(hexed); i += 2 {
			parts = append(parts, hexed[i:i+2])
		}
		return strings.Join(parts, ":"), "rsa", nil
	case ssh.KeyAlgoED25519:
		sum := sha256.Sum256(pub.Marshal())
		return base64.StdEncoding.EncodeToString(sum[:]), "ed25519", nil
	}
	return "", "", invalidKeyFormat("key type " + pub.Type() + " is not supported (RSA or ED25519)")
}

var importKeyPairAction = action{
	params: []string{"KeyName", "PublicKeyMaterial", "TagSpecification"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		name, material := p.get("KeyName"), p.get("PublicKeyMaterial")
		switch {
		case name == "":
			return nil, missingParameter("KeyName")
		case material == "":
			return nil, missingParameter("PublicKeyMaterial")
		case len(name) > 255 || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0:
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Key pair names are at most 255 ASCII characters.")
		}
		// The SDK sends the key file's bytes base64-encoded (a blob).
		raw, err := base64.StdEncoding.DecodeString(material)
		if err != nil {
			return nil, invalidKeyFormat("PublicKeyMaterial is not base64")
		}
		pub, comment, _, _, err := ssh.ParseAuthorizedKey(raw)
		if err != nil {
			return nil, invalidKeyFormat(err.Error())
		}
		fp, _, e := fingerprint(pub)
		if e != nil {
			return nil, e
		}
		tags, e := parseTagSpecs(p, "key-pair")
		if e != nil {
			return nil, e
		}
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
		if comment != "" {
			line += " " + comment
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		k, err := s.cloud.ImportKey(fakecloud.KeyPair{Name: name, PublicKey: line, Fingerprint: fp})
		switch {
		case errors.Is(err, fakecloud.ErrDuplicate):
			return nil, errorf(http.StatusBadRequest, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
		case err != nil:
			return nil, cloudError(err)
		}
		meta := &keyMeta{Created: s.opts.Now().UTC(), Tags: tags["key-pair"]}
		if meta.Tags == nil {
			meta.Tags = map[string]string{}
		}
		s.keys[name] = meta
		return &importKeyPairResponse{KeyFingerprint: k.Fingerprint, KeyName: k.Name, KeyPairID: k.ID, Tags: tagSet(meta.Tags)}, nil
	},
}

type importKeyPairResponse struct {
	KeyFingerprint string   `xml:"keyFingerprint"`
	KeyName        string   `xml:"keyName"`
	KeyPairID      string   `xml:"keyPairId"`
	Tags           []tagXML `xml:"tagSet>item,omitempty"`
}

type keyPairXML struct {
	KeyPairID      string   `xml:"keyPairId"`
	KeyType        string   `xml:"keyType"`
	Tags           []tagXML `xml:"tagSet>item,omitempty"`
	KeyName        string   `xml:"keyName"`
	KeyFingerprint string   `xml:"keyFingerprint"`
	PublicKey      string   `xml:"publicKey,omitempty"`
	CreateTime     string   `xml:"createTime"`
}

// keyType is EC2's name for a stored key's type.
func keyType(k fakecloud.KeyPair) string {
	if strings.HasPrefix(k.PublicKey, ssh.KeyAlgoED25519) {
		return "ed25519"
	}
	return "rsa"
}

var keyPairFilters = knownFilters("key-name", "key-pair-id", "fingerprint", "key-type")

var describeKeyPairsAction = action{
	params: []string{"Filter", "IncludePublicKey", "KeyName", "KeyPairId"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		names, e := p.strings("KeyName")
		if e != nil {
			return nil, e
		}
		ids, e := p.strings("KeyPairId")
		if e != nil {
			return nil, e
		}
		filters, e := parseFilters(p, keyPairFilters)
		if e != nil {
			return nil, e
		}
		withPublic, e := p.boolean("IncludePublicKey")
		if e != nil {
			return nil, e
		}
		keys := s.cloud.Keys()
		for _, n := range names {
			if !slices.ContainsFunc(keys, func(k fakecloud.KeyPair) bool { return k.Name == n }) {
				return nil, keyPairNotFound(n)
			}
		}
		for _, id := range ids {
			if !slices.ContainsFunc(keys, func(k fakecloud.KeyPair) bool { return k.ID == id }) {
				return nil, errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		out := &describeKeyPairsResponse{}
		for _, k := range keys {
			if len(names) > 0 && !slices.Contains(names, k.Name) || len(ids) > 0 && !slices.Contains(ids, k.ID) {
				continue
			}
			meta := s.keyMeta(k.Name)
			x := keyPairXML{KeyPairID: k.ID, KeyType: keyType(k), Tags: tagSet(meta.Tags), KeyName: k.Name,
				KeyFingerprint: k.Fingerprint, CreateTime: timestamp(meta.Created)}
			field := func(name string) []string {
				if vals, ok := tagField(name, meta.Tags); ok {
					return vals
				}
				switch name {
				case "key-name":
					return []string{x.KeyName}
				case "key-pair-id":
					return []string{x.KeyPairID}
				case "fingerprint":
					return []string{x.KeyFingerprint}
				case "key-type":
					return []string{x.KeyType}
				}
				return nil
			}
			if !matchAll(filters, field) {
				continue
			}
			if withPublic {
				x.PublicKey = k.PublicKey
			}
			out.Keys = append(out.Keys, x)
		}
		return out, nil
	},
}

type describeKeyPairsResponse struct {
	Keys []keyPairXML `xml:"keySet>item"`
}

var deleteKeyPairAction = action{
	params: []string{"KeyName", "KeyPairId"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		name, id := p.get("KeyName"), p.get("KeyPairId")
		if name == "" && id == "" {
			return nil, missingParameter("KeyName")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		out := &deleteKeyPairResponse{Return: true}
		for _, k := range s.cloud.Keys() {
			if name != "" && k.Name == name || id != "" && k.ID == id {
				s.cloud.DeleteKey(k.Name)
				delete(s.keys, k.Name)
				out.KeyPairID = k.ID
			}
		}
		// EC2 answers success for a key pair that does not exist.
		return out, nil
	},
}

type deleteKeyPairResponse struct {
	Return    bool   `xml:"return"`
	KeyPairID string `xml:"keyPairId,omitempty"`
}

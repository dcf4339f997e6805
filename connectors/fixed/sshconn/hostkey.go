package sshconn

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Fingerprint returns the SHA256 fingerprint of k as ssh-keygen -l prints it
// ("SHA256:" and unpadded base64).
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

// hostKeyCheck holds what a Target pins and decides whether a presented key
// is acceptable. A key is accepted if it matches any pin (host_key or a
// known_hosts entry for the address).
type hostKeyCheck struct {
	ep          Endpoint
	insecure    bool
	key         ssh.PublicKey       // host_key as a public key
	fingerprint string              // host_key as "SHA256:…"
	known       ssh.HostKeyCallback // known_hosts
	algorithms  []string            // host key algorithms to ask for; nil = library default
}

func newHostKeyCheck(t Target, ep Endpoint) (*hostKeyCheck, error) {
	h := &hostKeyCheck{ep: ep, insecure: t.InsecureIgnoreHostKey}
	if s := strings.TrimSpace(t.HostKey); s != "" {
		if err := h.parseHostKey(s); err != nil {
			return nil, fmt.Errorf("%s: %w", ep.setting("host_key"), err)
		}
	}
	if strings.TrimSpace(t.KnownHosts) != "" {
		cb, err := parseKnownHosts(t.KnownHosts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ep.setting("known_hosts"), err)
		}
		h.known = cb
	}
	h.algorithms = h.pinnedAlgorithms()
	return h, nil
}

func (h *hostKeyCheck) parseHostKey(s string) error {
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s)); err == nil {
		h.key = k
		return nil
	}
	// Also accept a whole `ssh-keygen -lf` line ("256 SHA256:… root@x (ED25519)").
	for _, f := range strings.Fields(s) {
		if len(f) > 7 && strings.EqualFold(f[:7], "SHA256:") {
			fp := "SHA256:" + strings.TrimRight(f[7:], "=")
			if raw, err := base64.RawStdEncoding.DecodeString(fp[7:]); err != nil || len(raw) != 32 {
				return fmt.Errorf("%q is not a valid SHA256 fingerprint (expected SHA256: followed by 43 base64 characters, as ssh-keygen -lf prints)", f)
			}
			h.fingerprint = fp
			return nil
		}
	}
	if strings.HasPrefix(strings.ToUpper(s), "MD5:") {
		return errors.New("MD5 fingerprints are not accepted; use the SHA256 fingerprint (ssh-keygen -lf) or the public key itself")
	}
	return fmt.Errorf("expected a public key such as \"ssh-ed25519 AAAA…\" (the contents of /etc/ssh/ssh_host_ed25519_key.pub) or a fingerprint such as \"SHA256:…\", got %q", abbreviate(s))
}

// parseKnownHosts builds a checker with x/crypto's knownhosts package so that
// hashed entries, [host]:port, wildcards, @revoked and @cert-authority all
// behave as in OpenSSH. That package only reads files, so the text goes
// through a short-lived temporary file.
func parseKnownHosts(text string) (ssh.HostKeyCallback, error) {
	f, err := os.CreateTemp("", "sshconn-known_hosts-*")
	if err != nil {
		return nil, err
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	cb, err := knownhosts.New(name)
	if err != nil {
		// "knownhosts: /tmp/sshconn-known_hosts-123:4: …" → "line 4: …"
		msg := strings.Replace(err.Error(), "knownhosts: "+name+":", "line ", 1)
		return nil, fmt.Errorf("invalid entry on %s", msg)
	}
	return cb, nil
}

// pinnedAlgorithms restricts the host key algorithms to the types of the
// pinned keys. A server usually has several host keys (ed25519, ecdsa, rsa)
// and shows only one, chosen from what the client asks for; asking for the
// pinned type makes it show the pinned key instead of a different, equally
// genuine one that would look like a mismatch. (OpenSSH does the same with
// known_hosts.) When the type is unknown (only a fingerprint is pinned) the
// library default is kept.
func (h *hostKeyCheck) pinnedAlgorithms() []string {
	if h.fingerprint != "" {
		return nil
	}
	var keys []ssh.PublicKey
	if h.key != nil {
		keys = append(keys, h.key)
	}
	keys = append(keys, h.knownKeysFor(h.ep.Addr)...)
	var algos []string
	for _, k := range keys {
		for _, a := range algorithmsFor(k.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// knownKeysFor lists the plain keys known_hosts holds for addr, by asking the
// checker about a key that cannot match: the mismatch error lists them.
func (h *hostKeyCheck) knownKeysFor(addr string) []ssh.PublicKey {
	if h.known == nil {
		return nil
	}
	probe, _ := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	var ke *knownhosts.KeyError
	if err := h.known(addr, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) {
		return nil
	}
	var keys []ssh.PublicKey
	for _, w := range ke.Want {
		keys = append(keys, w.Key)
	}
	return keys
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		// An RSA key signs with any of these; ssh-rsa (SHA-1) last, for old servers.
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func (h *hostKeyCheck) pinned() bool {
	return h.key != nil || h.fingerprint != "" || h.known != nil
}

// check is the ssh.HostKeyCallback body.
func (h *hostKeyCheck) check(hostname string, remote net.Addr, presented ssh.PublicKey) error {
	// A host certificate is also accepted when its plain key is pinned.
	candidates := []ssh.PublicKey{presented}
	if cert, ok := presented.(*ssh.Certificate); ok {
		candidates = append(candidates, cert.Key)
	}
	plain := candidates[len(candidates)-1]
	got, line := Fingerprint(plain), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(plain)))

	if !h.pinned() {
		if h.insecure {
			return nil
		}
		return &HostKeyUnknownError{Endpoint: h.ep, Got: got, Key: line}
	}

	var want []string
	if h.key != nil {
		want = append(want, Fingerprint(h.key))
	}
	if h.fingerprint != "" {
		want = append(want, h.fingerprint)
	}
	for _, c := range candidates {
		if h.key != nil && bytes.Equal(h.key.Marshal(), c.Marshal()) || h.fingerprint == Fingerprint(c) {
			return nil
		}
	}
	if h.known != nil {
		for _, c := range candidates {
			err := h.known(hostname, remote, c)
			var ke *knownhosts.KeyError
			var re *knownhosts.RevokedError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &re):
				return &HostKeyMismatchError{Endpoint: h.ep, Want: want, Got: got, Key: line, Revoked: true}
			case errors.As(err, &ke):
				for _, w := range ke.Want {
					if fp := Fingerprint(w.Key); !slices.Contains(want, fp) {
						want = append(want, fp)
					}
				}
			}
		}
	}
	if len(want) == 0 {
		return &HostKeyUnknownError{Endpoint: h.ep, Got: got, Key: line, Lookup: knownhosts.Normalize(hostname)}
	}
	return &HostKeyMismatchError{Endpoint: h.ep, Want: want, Got: got, Key: line}
}

// abbreviate keeps a pasted value short enough to quote in an error.
func abbreviate(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

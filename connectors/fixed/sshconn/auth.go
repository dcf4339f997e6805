package sshconn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// credentials is what Dial offers to the server.
type credentials struct {
	methods []ssh.AuthMethod
	offered []string // for AuthError: what was offered, from where
	close   func()   // releases the agent connection once the handshake is over
}

// newCredentials collects the private key and the agent's keys into one
// public-key method: x/crypto tries each method name once, so a second
// "publickey" method would never be tried. The configured key goes first, so
// a full agent cannot exhaust the server's MaxAuthTries before it.
func newCredentials(t Target, ep Endpoint) (*credentials, error) {
	c := &credentials{close: func() {}}
	var signers []ssh.Signer
	if strings.TrimSpace(t.PrivateKey) != "" {
		s, err := parsePrivateKey(t.PrivateKey, t.Passphrase, ep)
		if err != nil {
			return nil, err
		}
		signers = append(signers, s)
		c.offered = append(c.offered, fmt.Sprintf("publickey with %s (%s %s)", ep.setting("private_key"), s.PublicKey().Type(), Fingerprint(s.PublicKey())))
	}
	if t.UseAgent {
		sock := t.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock == "" {
			return nil, fmt.Errorf("%s is set but no SSH agent is available: SSH_AUTH_SOCK is not set", ep.setting("use_agent"))
		}
		conn, err := net.Dial("unix", sock) // #nosec G704 -- the user's own SSH agent socket (agent_socket or SSH_AUTH_SOCK), a local Unix socket
		if err != nil {
			return nil, fmt.Errorf("%s: cannot connect to the SSH agent at %s: %w", ep.setting("use_agent"), sock, err)
		}
		keys, err := agent.NewClient(conn).Signers()
		if err != nil {
			_ = conn.Close() // only read from; the listing's error is the one to report
			return nil, fmt.Errorf("%s: cannot list the keys of the SSH agent at %s: %w", ep.setting("use_agent"), sock, err)
		}
		c.close = func() { _ = conn.Close() } // the agent connection was only read from
		signers = append(signers, keys...)
		n := fmt.Sprintf("%d keys", len(keys))
		if len(keys) == 1 {
			n = "1 key"
		}
		c.offered = append(c.offered, fmt.Sprintf("publickey with the SSH agent at %s (%s)", sock, n))
	}
	if len(signers) > 0 {
		c.methods = []ssh.AuthMethod{ssh.PublicKeys(signers...)}
	}
	return c, nil
}

func parsePrivateKey(text, passphrase string, ep Endpoint) (ssh.Signer, error) {
	setting := ep.setting("private_key")
	pem := []byte(text)
	s, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return s, nil
	case errors.As(err, &missing):
		if passphrase == "" {
			return nil, fmt.Errorf("%s is encrypted: set %s", setting, ep.setting("passphrase"))
		}
		s, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
		if errors.Is(err, x509.IncorrectPasswordError) {
			return nil, fmt.Errorf("%s does not decrypt %s", ep.setting("passphrase"), setting)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: cannot decrypt the key: %w", setting, err)
		}
		return s, nil
	}
	if _, _, _, _, perr := ssh.ParseAuthorizedKey(pem); perr == nil {
		return nil, fmt.Errorf("%s holds a public key; it needs the private key (the key file without .pub)", setting)
	}
	return nil, fmt.Errorf("%s is not a valid private key (expected the contents of a key file such as ~/.ssh/id_ed25519, in OpenSSH or PEM format): %w", setting, err)
}

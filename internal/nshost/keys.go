package nshost

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

const clientKeyName = "id_ed25519"

// newKeyPair makes an ed25519 key: the private key in OpenSSH format and
// the public key as "ssh-ed25519 AAAA…".
func newKeyPair(comment string) (private []byte, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), nil
}

func (p *Pool) writeClientKey() error {
	priv, pub, err := newKeyPair("nshost-" + p.ID)
	if err != nil {
		return err
	}
	p.PrivateKeyPath = filepath.Join(p.StateDir, clientKeyName)
	p.PublicKey = pub
	if err := writeFileAtomic(p.PrivateKeyPath, priv, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(p.PrivateKeyPath+".pub", []byte(pub+" nshost-"+p.ID+"\n"), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(p.StateDir, "authorized_keys"), []byte(pub+"\n"), 0o600)
}

func (p *Pool) writeKnownHosts() error {
	p.mu.Lock()
	var b bytes.Buffer
	for _, h := range p.Hosts {
		if h.KnownHostsLine != "" {
			b.WriteString(h.KnownHostsLine + "\n")
		}
	}
	p.KnownHostsPath = filepath.Join(p.StateDir, "known_hosts")
	path := p.KnownHostsPath
	p.mu.Unlock()
	return writeFileAtomic(path, b.Bytes(), 0o644)
}

// Signer is the pool's client key.
func (p *Pool) Signer() (ssh.Signer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.signer != nil {
		return p.signer, nil
	}
	data, err := os.ReadFile(p.PrivateKeyPath)
	if err != nil {
		return nil, fmt.Errorf("nshost: pool key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("nshost: pool key %s: %w", p.PrivateKeyPath, err)
	}
	p.signer = s
	return s, nil
}

// ClientConfig logs in as the host's user with the pool key and accepts
// only the host's current host key.
func (h *Host) ClientConfig() (*ssh.ClientConfig, error) {
	signer, err := h.pool.Signer()
	if err != nil {
		return nil, err
	}
	h.pool.mu.Lock()
	hostKey := h.HostKey
	h.pool.mu.Unlock()
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
	if err != nil {
		return nil, fmt.Errorf("nshost: host key of %s: %w", h.Name, err)
	}
	return &ssh.ClientConfig{
		User:              h.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   ssh.FixedHostKey(pub),
		HostKeyAlgorithms: []string{pub.Type()},
		Timeout:           10 * time.Second,
	}, nil
}

// Dial logs in to the host over SSH from the calling process.
func (h *Host) Dial(ctx context.Context) (*ssh.Client, error) {
	cfg, err := h.ClientConfig()
	if err != nil {
		return nil, err
	}
	return dialSSH(ctx, h.Addr(), cfg)
}

func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	d := net.Dialer{Timeout: cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetDeadline(deadline); err != nil {
		_ = conn.Close()
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		_ = conn.Close() // the handshake's error is the one to report
		return nil, err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		_ = c.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// Run runs a shell command on the host over SSH and returns its standard
// output; a failure includes its standard error.
func (h *Host) Run(ctx context.Context, command string) (string, error) {
	c, err := h.Dial(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return RunOn(ctx, c, command)
}

// RunOn runs a shell command over an SSH connection.
func RunOn(ctx context.Context, c *ssh.Client, command string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- s.Run(command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Close() // ends the command; the context's error is the answer
		return "", ctx.Err()
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%q: %w: %s", command, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

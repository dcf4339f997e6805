// Package sshconn is the SSH layer of the slipstream_fixed_host resource. It
// connects to an existing machine, optionally through a jump host, checks its
// host key against what the configuration pins, and runs commands and uploads
// files as root, with sudo when the login user is not root.
//
// Errors are meant to be shown to a Terraform user as they are: they say what
// went wrong and on which host. The ones a caller must tell apart are typed:
// *UnreachableError, *HostKeyMismatchError, *HostKeyUnknownError, *AuthError.
package sshconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	defaultPort    = 22
	defaultUser    = "root"
	defaultTimeout = 30 * time.Second
)

// Target says how to reach and log in to a machine.
type Target struct {
	Host string // address or name; may include ":port" (IPv6 with port as "[::1]:22")
	Port int    // used when Host has none; default 22
	User string // default "root"

	PrivateKey  string // private key text (OpenSSH or PEM)
	Passphrase  string // for an encrypted PrivateKey
	UseAgent    bool   // also offer the keys of the SSH agent
	AgentSocket string // agent socket; default $SSH_AUTH_SOCK

	// Host key pinning. A presented key is accepted if it matches HostKey or
	// an entry of KnownHosts for this address. HostKey is an authorized_keys
	// style public key ("ssh-ed25519 AAAA… [comment]") or a SHA256
	// fingerprint as ssh-keygen -lf prints it. KnownHosts is known_hosts
	// text, hashed or plain, with OpenSSH's markers (@revoked,
	// @cert-authority). With neither, Dial fails with *HostKeyUnknownError
	// (which carries the presented key) unless InsecureIgnoreHostKey is set;
	// InsecureIgnoreHostKey has no effect when something is pinned.
	KnownHosts            string
	HostKey               string
	InsecureIgnoreHostKey bool

	Bastion *Target       // jump host, as ssh -J: the connection to Host is tunnelled through it
	Timeout time.Duration // TCP connect + SSH handshake, each hop; default 30s
}

// Conn is an authenticated SSH connection. It is safe for concurrent use:
// each Run opens its own session.
type Conn struct {
	client  *ssh.Client
	via     *Conn // the bastion connection, closed with this one
	ep      Endpoint
	user    string
	hostKey ssh.PublicKey
}

// HostKey returns the key the host presented, to record in state.
func (c *Conn) HostKey() ssh.PublicKey { return c.hostKey }

// Close closes the connection and the bastion connection under it.
func (c *Conn) Close() error {
	err := c.client.Close()
	if c.via != nil {
		err = errors.Join(err, c.via.Close())
	}
	return err
}

// Dial connects to t, verifies its host key and logs in. The context bounds
// the whole attempt; t.Timeout bounds each hop.
func Dial(ctx context.Context, t Target) (*Conn, error) { return dial(ctx, t, false) }

func dial(ctx context.Context, t Target, isBastion bool) (*Conn, error) {
	ep := Endpoint{Bastion: isBastion}
	addr, err := t.address()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.setting("host"), err)
	}
	ep.Addr = addr
	user := t.User
	if user == "" {
		user = defaultUser
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}

	// Settings are checked before any network traffic.
	hk, err := newHostKeyCheck(t, ep)
	if err != nil {
		return nil, err
	}
	creds, err := newCredentials(t, ep)
	if err != nil {
		return nil, err
	}
	defer creds.close()

	var via *Conn
	if t.Bastion != nil {
		if via, err = dial(ctx, *t.Bastion, true); err != nil {
			return nil, err
		}
		ep.Via = via.ep.Addr
		hk.ep = ep
	}
	fail := func(err error) (*Conn, error) {
		if via != nil {
			_ = via.Close() // the bastion hop is dropped; err says why the dial failed
		}
		return nil, err
	}

	hopCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := openTCP(hopCtx, via, addr)
	if err != nil {
		if ctx.Err() != nil {
			return fail(fmt.Errorf("connecting to %s: %w", ep, ctx.Err()))
		}
		return fail(dialError(ep, via, user, timeout, err))
	}

	// State observed during the handshake, for building errors. The
	// callbacks run on x/crypto's goroutines, hence the lock.
	var (
		mu            sync.Mutex
		presented     ssh.PublicKey
		authStarted   bool
		serverMethods []string
	)
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: creds.methods,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			mu.Lock()
			presented = key
			mu.Unlock()
			return hk.check(hostname, remote, key)
		},
		HostKeyAlgorithms: hk.algorithms,
		AuthCallback: func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			mu.Lock()
			authStarted, serverMethods = true, ac.AllowedMethods
			mu.Unlock()
			return nil, nil // let x/crypto pick from Auth as usual
		},
	}
	// x/crypto's handshake has no context; closing the connection is how
	// the timeout and cancellation reach it.
	// The Close errors below do not matter: the connection is given up
	// on, and the error returned says why.
	stop := context.AfterFunc(hopCtx, func() { _ = raw.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	if !stop() {
		if err == nil {
			_ = sc.Close()
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("connecting to %s: %w", ep, ctx.Err()))
		}
		return fail(&UnreachableError{Endpoint: ep, Err: context.DeadlineExceeded,
			Reason: fmt.Sprintf("the TCP connection opened, but the SSH handshake did not finish within %s (is an SSH server listening there?)", timeout)})
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		_ = raw.Close()
		var mismatch *HostKeyMismatchError
		var unknown *HostKeyUnknownError
		switch {
		case errors.As(err, &mismatch):
			return fail(mismatch)
		case errors.As(err, &unknown):
			return fail(unknown)
		case strings.Contains(err.Error(), "no common algorithm for host key") && hk.algorithms != nil:
			// The server has no key of the pinned type at all.
			return fail(&HostKeyMismatchError{Endpoint: ep, Want: pinnedFingerprints(hk), Err: err})
		case authStarted && (strings.Contains(err.Error(), "unable to authenticate") || strings.Contains(err.Error(), "disconnect")):
			var allowed []string
			for _, m := range serverMethods {
				if m != "none" {
					allowed = append(allowed, m)
				}
			}
			return fail(&AuthError{Endpoint: ep, User: user, Methods: creds.offered, ServerMethods: allowed, Err: err})
		}
		return fail(fmt.Errorf("SSH handshake with %s failed: %w", ep, err))
	}
	return &Conn{client: ssh.NewClient(sc, chans, reqs), via: via, ep: ep, user: user, hostKey: presented}, nil
}

func pinnedFingerprints(hk *hostKeyCheck) []string {
	var fps []string
	if hk.key != nil {
		fps = append(fps, Fingerprint(hk.key))
	}
	for _, k := range hk.knownKeysFor(hk.ep.Addr) {
		if fp := Fingerprint(k); !slices.Contains(fps, fp) {
			fps = append(fps, fp)
		}
	}
	return fps
}

func openTCP(ctx context.Context, via *Conn, addr string) (net.Conn, error) {
	if via == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	return via.client.DialContext(ctx, "tcp", addr) // a direct-tcpip channel
}

// dialError explains why the TCP connection (or the bastion's tunnel) failed.
func dialError(ep Endpoint, via *Conn, user string, timeout time.Duration, err error) error {
	var dnsErr *net.DNSError
	var chanErr *ssh.OpenChannelError
	var netErr net.Error
	reason := err.Error()
	switch {
	case errors.As(err, &chanErr) && chanErr.Reason == ssh.Prohibited:
		// Not an unreachable host: the bastion is configured not to forward.
		return fmt.Errorf("bastion %s refused to open a connection to %s for user %q (%s); its sshd must allow TCP forwarding (AllowTcpForwarding yes): %w",
			via.ep.Addr, ep.Addr, via.user, chanErr.Message, err)
	case errors.As(err, &chanErr):
		reason = fmt.Sprintf("the bastion could not connect to it: %s", chanErr.Message)
	case errors.As(err, &dnsErr):
		reason = fmt.Sprintf("cannot resolve the host name %q: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		_, port, _ := net.SplitHostPort(ep.Addr)
		reason = fmt.Sprintf("connection refused (nothing listens on port %s: is sshd running, and is the port right?)", port)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		reason = fmt.Sprintf("no answer within %s (the machine is down, the address is wrong, or a firewall drops the packets)", timeout)
	case errors.Is(err, syscall.EHOSTUNREACH):
		reason = "no route to host (the machine is down or the address is wrong)"
	case errors.Is(err, syscall.ENETUNREACH):
		reason = "network is unreachable from here"
	}
	return &UnreachableError{Endpoint: ep, Reason: reason, Err: err}
}

// address is Host with a port, ready to dial and to look up in known_hosts.
func (t Target) address() (string, error) {
	h := strings.TrimSpace(t.Host)
	if h == "" {
		return "", errors.New("no host given")
	}
	host, port := h, t.Port
	if hh, p, err := net.SplitHostPort(h); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", fmt.Errorf("%q: the port must be a number", h)
		}
		host, port = hh, n
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]") // bare IPv6
		if port == 0 {
			port = defaultPort
		}
	}
	if host == "" || port < 1 || port > 65535 {
		return "", fmt.Errorf("%q is not a valid host and port", h)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

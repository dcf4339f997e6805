package sshconn

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Endpoint says which machine an error is about. It is embedded in every
// typed error so that a message can name the host (and the bastion it was
// reached through), and so callers can tell a problem with the jump host from
// a problem with the machine being adopted.
type Endpoint struct {
	Addr    string // host:port as dialled
	Via     string // host:port of the bastion the connection went through, if any
	Bastion bool   // Addr is the bastion (jump host), not the target machine
}

func (e Endpoint) String() string {
	s := "SSH host " + e.Addr
	if e.Bastion {
		s = "SSH bastion " + e.Addr
	}
	if e.Via != "" {
		s += " (via bastion " + e.Via + ")"
	}
	return s
}

// setting names a configuration attribute as the user wrote it: settings of
// the jump host live under "bastion".
func (e Endpoint) setting(name string) string {
	if e.Bastion {
		return "bastion." + name
	}
	return name
}

// UnreachableError means no SSH conversation could be had with the machine:
// its name did not resolve, the connection was refused or timed out, there
// was no route, or the bastion could not connect to it.
type UnreachableError struct {
	Endpoint
	Reason string // human-readable: which of the above, with a hint
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s: %s", e.Endpoint, e.Reason)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// HostKeyMismatchError means the machine presented a host key other than the
// one(s) pinned. Either the machine was reinstalled, or the connection is
// being intercepted; only a person can tell which, so it is never retried.
type HostKeyMismatchError struct {
	Endpoint
	Want    []string // SHA256 fingerprints pinned for this host
	Got     string   // SHA256 fingerprint presented ("" if the host offered no key of a pinned type)
	Key     string   // the presented key, authorized_keys style, to re-pin after checking it
	Revoked bool     // the presented key is marked @revoked in known_hosts
	Err     error    // the handshake error when the host offered no key of a pinned type
}

func (e *HostKeyMismatchError) Error() string {
	if e.Revoked {
		return fmt.Sprintf("the host key of %s (%s) is marked @revoked in %s; refusing to connect",
			e.Endpoint, keyType(e.Key)+" "+e.Got, e.setting("known_hosts"))
	}
	var b strings.Builder
	if e.Got == "" {
		fmt.Fprintf(&b, "%s has none of the pinned host keys (%s): it offers no key of their type", e.Endpoint, strings.Join(e.Want, ", "))
		if e.Err != nil {
			fmt.Fprintf(&b, " (%v)", e.Err)
		}
		b.WriteString(". ")
	} else {
		fmt.Fprintf(&b, "the host key of %s has changed: it presented %s %s, but %s is pinned. ",
			e.Endpoint, keyType(e.Key), e.Got, strings.Join(e.Want, " or "))
	}
	b.WriteString("Either the machine was reinstalled (and got new SSH host keys) or someone is intercepting the connection. ")
	fmt.Fprintf(&b, "If the change is expected, check the key on the machine itself (ssh-keygen -lf %s) and update %s or %s", hostKeyFile(e.Key), e.setting("host_key"), e.setting("known_hosts"))
	if e.Key != "" {
		fmt.Fprintf(&b, " (the presented key is %q)", e.Key)
	}
	return b.String()
}

func (e *HostKeyMismatchError) Unwrap() error { return e.Err }

// HostKeyUnknownError means nothing pinned applies to this host, so its
// identity cannot be checked. The message carries the presented key, ready to
// paste, because that is the one thing the user needs to fix it.
type HostKeyUnknownError struct {
	Endpoint
	Got    string // SHA256 fingerprint presented
	Key    string // the presented key, authorized_keys style
	Lookup string // the name looked up in known_hosts ("" if known_hosts was not set)
}

func (e *HostKeyUnknownError) Error() string {
	if e.Lookup != "" {
		return fmt.Sprintf("%s has no entry for %q, so %s cannot be verified (entries for a port other than 22 are written [host]:port). "+
			"The host presented %s %s; after checking it on the machine itself (ssh-keygen -lf %s), add the line %q to %s or set %s to %q",
			e.setting("known_hosts"), e.Lookup, e.Endpoint, keyType(e.Key), e.Got, hostKeyFile(e.Key), e.Lookup+" "+e.Key, e.setting("known_hosts"), e.setting("host_key"), e.Key)
	}
	return fmt.Sprintf("no host key is pinned for %s, so its identity cannot be verified. "+
		"The host presented %s %s; after checking it on the machine itself (ssh-keygen -lf %s), set %s to %q (or to %q), "+
		"or add the host to %s",
		e.Endpoint, keyType(e.Key), e.Got, hostKeyFile(e.Key), e.setting("host_key"), e.Key, e.Got, e.setting("known_hosts"))
}

// AuthError means the machine answered but accepted none of the credentials
// offered (or none were configured).
type AuthError struct {
	Endpoint
	User          string
	Methods       []string // what was offered, e.g. "publickey with private_key (ssh-ed25519 SHA256:…)"
	ServerMethods []string // what the server said it accepts, when known
	Err           error
}

func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s refused to log in user %q: ", e.Endpoint, e.User)
	if len(e.Methods) == 0 {
		fmt.Fprintf(&b, "no credentials were configured (set %s, or %s with a running SSH agent)", e.setting("private_key"), e.setting("use_agent"))
	} else {
		fmt.Fprintf(&b, "tried %s", strings.Join(e.Methods, "; "))
	}
	if len(e.ServerMethods) > 0 {
		fmt.Fprintf(&b, "; the server accepts: %s", strings.Join(e.ServerMethods, ", "))
		if !slices.Contains(e.ServerMethods, "publickey") {
			b.WriteString(" (only public-key authentication is supported here)")
		}
	}
	if len(e.Methods) > 0 {
		fmt.Fprintf(&b, "; check that the public key is in ~%s/.ssh/authorized_keys on the host", e.User)
	}
	return b.String()
}

func (e *AuthError) Unwrap() error { return e.Err }

// hostKeyFile is where OpenSSH keeps the public host key of that type, for
// telling the user how to check a key on the machine itself.
func hostKeyFile(authorizedKey string) string {
	t := keyType(authorizedKey)
	switch {
	case t == ssh.KeyAlgoED25519:
		return "/etc/ssh/ssh_host_ed25519_key.pub"
	case strings.HasPrefix(t, "ecdsa-"):
		return "/etc/ssh/ssh_host_ecdsa_key.pub"
	case t == ssh.KeyAlgoRSA:
		return "/etc/ssh/ssh_host_rsa_key.pub"
	}
	return "/etc/ssh/ssh_host_*_key.pub"
}

// keyType is the first word of an authorized_keys line.
func keyType(authorizedKey string) string {
	t, _, _ := strings.Cut(authorizedKey, " ")
	return t
}

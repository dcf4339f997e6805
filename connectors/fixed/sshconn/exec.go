package sshconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Result is what a command left behind.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int    // 128+n when killed by signal n
	Signal         string // e.g. "KILL", when the command was killed by a signal
}

// Run runs cmd through the login user's shell, with stdin (may be nil) as
// its standard input. A non-zero exit is not an error: ExitCode tells. When
// ctx ends, the session is closed and the error wraps ctx.Err().
//
// Cancelling cannot be relied on to stop the command on the host. The
// session gets a TERM signal (which sudo passes on) and is closed, but
// OpenSSH ignores signal requests in root sessions ("session signalling
// requires privilege separation"), and without a terminal nothing else tells
// the command: it dies when it next writes output, or runs to its end. So
// scripts should be safe to run again. A stdin reader that blocks forever
// keeps one goroutine alive until the connection closes.
func (c *Conn) Run(ctx context.Context, cmd string, stdin io.Reader) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("running a command on %s: %w", c.ep, err)
	}
	s, err := c.client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("opening an SSH session on %s: %w", c.ep, err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if stdin != nil {
		s.Stdin = stdin
	}
	if err := s.Start(cmd); err != nil {
		return nil, fmt.Errorf("starting a command on %s: %w", c.ep, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGTERM)
		_ = s.Close()
		return nil, fmt.Errorf("running a command on %s: %w", c.ep, ctx.Err())
	case err = <-done:
	}

	res := &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode, res.Signal = exit.ExitStatus(), exit.Signal()
	case errors.As(err, &missing):
		return nil, fmt.Errorf("the command on %s ended without an exit status (was the connection lost?)", c.ep)
	default:
		return nil, fmt.Errorf("running a command on %s: %w", c.ep, err)
	}
	return res, nil
}

// RunRoot runs a POSIX sh script as root: directly when logged in as root,
// otherwise through `sudo -n` (never prompting: a sudo that wants a password
// is an error saying so). A non-zero exit is not an error.
//
// The script goes to `sh -s` on stdin, so it does not depend on the login
// shell (root's may be bash, zsh or fish) or on command-line length limits.
// It is wrapped in { } so that sh reads all of it before running any of it: a
// command in the script that reads stdin cannot swallow the rest of the
// script, and a syntax error runs nothing. Such commands read /dev/null.
func (c *Conn) RunRoot(ctx context.Context, script string) (*Result, error) {
	return c.runAsRoot(ctx, "sh -s", strings.NewReader("{\n"+script+"\n} </dev/null\n"))
}

// Upload writes r to path on the host as root, atomically: the data goes to
// a temporary file next to path, which gets mode and is then renamed over
// path, so readers see the old file or the whole new one. Missing parent
// directories are created with mode 0755. path must be absolute.
func (c *Conn) Upload(ctx context.Context, path string, mode os.FileMode, r io.Reader) error {
	return c.upload(ctx, path, mode, r, "cat")
}

// UploadGzip is Upload for gzip-compressed data, which the host
// decompresses with gzip (so the host must have it): a compressed agent is
// less than half the bytes to encrypt, send and decrypt.
func (c *Conn) UploadGzip(ctx context.Context, path string, mode os.FileMode, r io.Reader) error {
	return c.upload(ctx, path, mode, r, "gzip -dc")
}

// upload writes what sink (a command from stdin to stdout) makes of r.
func (c *Conn) upload(ctx context.Context, path string, mode os.FileMode, r io.Reader, sink string) error {
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.ContainsAny(path, "\x00\n") {
		return fmt.Errorf("cannot upload to %q on %s: the path must be an absolute file path", path, c.ep)
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	// The data travels on stdin and the path as an argument, so neither is
	// ever parsed as shell. The script is one line because the login shell
	// parses the command first, and some (csh) reject quoted newlines. The
	// second umask keeps the data unreadable to others until chmod.
	// A signal (the session hung up) exits through the EXIT trap too,
	// which removes the temporary file: sh runs it on exit, not on death
	// by a signal.
	const script = `set -e; umask 022; d="${1%/*}"; mkdir -p -- "${d:-/}"; t="$1.tmp-$2"; trap 'rm -f -- "$t"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM; umask 077; $4 > "$t"; chmod "$3" "$t"; mv -f -- "$t" "$1"`
	cmd := fmt.Sprintf("sh -c %s sh %s %s %04o %s", shellQuote(script), shellQuote(path), hex.EncodeToString(rnd[:]), mode.Perm(), shellQuote(sink))
	res, err := c.runAsRoot(ctx, cmd, r)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", path, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("uploading %s to %s failed (exit status %d): %s", path, c.ep, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

// runAsRoot runs cmd (a command line for the login shell) as root.
func (c *Conn) runAsRoot(ctx context.Context, cmd string, stdin io.Reader) (*Result, error) {
	if c.user == "root" {
		return c.Run(ctx, cmd, stdin)
	}
	res, err := c.Run(ctx, "sudo -n "+cmd, stdin)
	if err != nil || res.ExitCode == 0 {
		return res, err
	}
	// sudo's own failures, told apart from the script's by sudo's wording.
	msg := string(res.Stderr)
	switch {
	case strings.Contains(msg, "sudo: a password is required") || strings.Contains(msg, "sudo: a terminal is required"):
		return nil, fmt.Errorf("user %q on %s needs a password for sudo; allow it passwordless sudo (NOPASSWD in sudoers) or log in as root", c.user, c.ep)
	case strings.Contains(msg, "not in the sudoers file") || strings.Contains(msg, "is not allowed to") || strings.Contains(msg, "may not run sudo"):
		return nil, fmt.Errorf("user %q on %s may not use sudo to run commands as root: %s", c.user, c.ep, strings.TrimSpace(msg))
	case res.ExitCode == 127 && strings.Contains(msg, "sudo") && strings.Contains(msg, "not found"):
		return nil, fmt.Errorf("sudo is not installed on %s, so user %q cannot act as root; install sudo or log in as root", c.ep, c.user)
	}
	return res, nil
}

// shellQuote quotes s as one word for any Bourne-like or C shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

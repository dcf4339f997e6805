package sshconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealSSHD repeats the main paths against OpenSSH's sshd, to catch what
// an in-process server cannot (the login shell parsing our command lines,
// real exit statuses, real forwarding). It runs only where sshd can: as
// root, with sshd installed and its privilege separation directory present
// (mkdir /run/sshd); elsewhere it is skipped. Commands run as root on this
// machine and write only under t.TempDir().
func TestRealSSHD(t *testing.T) {
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(sshd); err != nil || os.Geteuid() != 0 || testing.Short() {
		t.Skip("needs root and OpenSSH's sshd")
	}
	if _, err := os.Stat("/run/sshd"); err != nil {
		t.Skip("sshd needs /run/sshd")
	}
	dir := t.TempDir()
	client, ed, ec := newKey(t), newKey(t), newECDSAKey(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cfg := write("sshd_config", fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding yes
`, port, write("host_ecdsa", ec.pem), write("host_ed25519", ed.pem), filepath.Join(dir, "sshd.pid"), write("authorized_keys", client.line+"\n")))
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd said:\n%s", log.String())
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 50 {
			t.Fatalf("sshd did not start: %s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	tg := Target{Host: addr, PrivateKey: client.pem, HostKey: ed.line, Timeout: 5 * time.Second}
	c := dialOK(t, tg) // the server prefers neither key: the pinned type is asked for
	res, err := c.Run(context.Background(), "echo out; echo err >&2; exit 3", nil)
	if err != nil || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 3 {
		t.Errorf("Run: %v %+v", err, res)
	}
	res, err = c.RunRoot(context.Background(), "id -u\ncat\necho after")
	if err != nil || string(res.Stdout) != "0\nafter\n" {
		t.Errorf("RunRoot: %v %q %q", err, res.Stdout, res.Stderr)
	}
	path := filepath.Join(t.TempDir(), "a dir", `it's "x"`, "f")
	if err := c.Upload(context.Background(), path, 0o600, strings.NewReader("data")); err != nil {
		t.Error(err)
	} else if b, _ := os.ReadFile(path); string(b) != "data" {
		t.Errorf("uploaded %q", b)
	}
	// OpenSSH refuses signal requests in root sessions ("session signalling
	// requires privilege separation"), so after a cancel the command lives
	// until it next writes to its closed output.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	marker := fmt.Sprintf("sshconn-cancel-%d", time.Now().UnixNano())
	if _, err := c.Run(ctx, "while :; do echo tick; sleep 0.2; done # "+marker, nil); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("cancel: %v after %v", err, time.Since(start))
	}
	if _, err := exec.LookPath("pgrep"); err == nil {
		for i := 0; exec.Command("pgrep", "-f", marker).Run() == nil; i++ {
			if i == 30 {
				t.Error("the cancelled command is still running")
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	via := tg
	via.Bastion = &Target{Host: addr, PrivateKey: client.pem, KnownHosts: "[127.0.0.1]:" + port + " " + ec.line}
	cv := dialOK(t, via)
	if res, err := cv.Run(context.Background(), "echo through", nil); err != nil || string(res.Stdout) != "through\n" {
		t.Errorf("via bastion: %v", err)
	}

	bad := tg
	bad.PrivateKey = newKey(t).pem
	dialErr[*AuthError](t, bad)
	bad = tg
	bad.HostKey = ""
	dialErr[*HostKeyUnknownError](t, bad)
	bad.HostKey = newKey(t).line
	dialErr[*HostKeyMismatchError](t, bad)
}

package sshconn

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ---- an in-process SSH server ----

// server is a small SSH server: public-key auth against Allowed, "exec"
// requests run locally with sh -c (stdin, stdout, stderr and exit status
// wired through), and "direct-tcpip" channels dialled and piped, so it can
// serve as a bastion. Commands run as the test's own user; tests only write
// under t.TempDir().
type server struct {
	HostKeys  []ssh.Signer
	Allowed   []ssh.PublicKey
	Env       []string          // added to the environment of commands
	NoForward bool              // reject direct-tcpip as "administratively prohibited"
	Names     map[string]string // direct-tcpip name → real address (a private DNS only the bastion sees)

	addr      string
	mu        sync.Mutex
	forwarded []string
}

func (s *server) start(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			go s.handle(c)
		}
	}()
	return s
}

func (s *server) handle(c net.Conn) {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			for _, a := range s.Allowed {
				if bytes.Equal(a.Marshal(), k.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("key not allowed")
		},
	}
	for _, k := range s.HostKeys {
		cfg.AddHostKey(k)
	}
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go s.session(nc)
		case "direct-tcpip":
			go s.forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *server) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	var cmd *exec.Cmd
	kill := func() {
		if cmd != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group: sh may have forked
		}
	}
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(req.Payload, &p) != nil || cmd != nil {
				req.Reply(false, nil)
				continue
			}
			c := exec.Command("sh", "-c", p.Command)
			c.Env = append(os.Environ(), s.Env...)
			c.Stdout, c.Stderr = ch, ch.Stderr()
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			c.WaitDelay = time.Second
			stdin, _ := c.StdinPipe()
			if c.Start() != nil {
				req.Reply(false, nil)
				continue
			}
			cmd = c
			req.Reply(true, nil)
			go func() { io.Copy(stdin, ch); stdin.Close() }()
			go func() {
				code := 0
				var ee *exec.ExitError
				if err := c.Wait(); errors.As(err, &ee) {
					code = ee.ExitCode()
					if code < 0 {
						code = 137
					}
				}
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
				ch.Close()
			}()
		case "signal":
			kill()
			req.Reply(true, nil)
		default:
			req.Reply(false, nil)
		}
	}
	kill() // the client closed the channel: do not leave the command running
}

func (s *server) forward(nc ssh.NewChannel) {
	if s.NoForward {
		nc.Reject(ssh.Prohibited, "port forwarding is disabled")
		return
	}
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	s.mu.Lock()
	s.forwarded = append(s.forwarded, addr)
	s.mu.Unlock()
	if real, ok := s.Names[addr]; ok {
		addr = real
	} else if net.ParseIP(p.Host) == nil {
		// Tests never send a name to a real resolver.
		nc.Reject(ssh.ConnectionFailed, "lookup "+p.Host+": no such host")
		return
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(c, ch); c.Close() }()
	io.Copy(ch, c)
	ch.Close()
}

// ---- keys and helpers ----

type key struct {
	signer ssh.Signer
	pem    string // OpenSSH private key text
	line   string // authorized_keys line
}

func newKey(t *testing.T) key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyFrom(t, priv)
}

func newECDSAKey(t *testing.T) key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyFrom(t, priv)
}

func keyFrom(t *testing.T, priv any) key {
	t.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key{signer: s, pem: string(pem.EncodeToMemory(block)), line: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))}
}

// fixture: one server with one host key that accepts one client key.
type fixture struct {
	srv    *server
	host   key
	client key
}

func newFixture(t *testing.T, opts ...func(*server)) *fixture {
	t.Helper()
	f := &fixture{host: newKey(t), client: newKey(t)}
	f.srv = &server{HostKeys: []ssh.Signer{f.host.signer}, Allowed: []ssh.PublicKey{f.client.signer.PublicKey()}}
	for _, o := range opts {
		o(f.srv)
	}
	f.srv.start(t)
	return f
}

// target logs in with the right key and pins the right host key.
func (f *fixture) target() Target {
	return Target{Host: f.srv.addr, PrivateKey: f.client.pem, HostKey: f.host.line, Timeout: 5 * time.Second}
}

func dialOK(t *testing.T, tg Target) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), tg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialErr[E error](t *testing.T, tg Target) E {
	t.Helper()
	c, err := Dial(context.Background(), tg)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded, want an error")
	}
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("Dial error is %T, want %T: %v", err, e, err)
	}
	t.Logf("message: %v", err)
	return e
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q\ndoes not contain %q", s, sub)
		}
	}
}

// ---- running commands ----

func TestRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dialOK(t, f.target())

	res, err := c.Run(context.Background(), "echo out; echo err >&2; exit 3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 3 {
		t.Errorf("got stdout %q stderr %q exit %d", res.Stdout, res.Stderr, res.ExitCode)
	}

	res, err = c.Run(context.Background(), "tr a-z A-Z", strings.NewReader("hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "HELLO\n" || res.ExitCode != 0 {
		t.Errorf("stdin: got stdout %q exit %d", res.Stdout, res.ExitCode)
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dialOK(t, f.target())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(ctx, "sleep 30", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// The connection is still usable.
	if res, err := c.Run(context.Background(), "echo ok", nil); err != nil || string(res.Stdout) != "ok\n" {
		t.Errorf("after cancel: %v %q", err, res.Stdout)
	}
}

// fakeSudo puts a `sudo` script first on the PATH of the server's commands.
// The honest part of a non-root test is the command line sent and the
// handling of sudo's answers; whether real sudo grants root is sudo's
// business. The fake records its arguments and runs the rest of them (after
// -n), as sudo with NOPASSWD would.
func fakeSudo(t *testing.T, body string) (opt func(*server), log string) {
	dir := t.TempDir()
	log = filepath.Join(dir, "sudo.log")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$SUDO_LOG\"\n" + body
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return func(s *server) {
		s.Env = append(s.Env, "PATH="+dir+":"+os.Getenv("PATH"), "SUDO_LOG="+log)
	}, log
}

const sudoNopasswd = "[ \"$1\" = -n ] && shift\nexec \"$@\"\n"

func TestRunRoot(t *testing.T) {
	t.Parallel()
	opt, log := fakeSudo(t, sudoNopasswd)
	f := newFixture(t, opt)
	// The script's `cat` would eat the rest of the script if sh read it
	// line by line from stdin; RunRoot's wrapping makes it read /dev/null.
	script := "echo root-$((1+1))\ncat\necho after\nexit 4"

	t.Run("as root, no sudo", func(t *testing.T) {
		c := dialOK(t, f.target())
		res, err := c.RunRoot(context.Background(), script)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Stdout) != "root-2\nafter\n" || res.ExitCode != 4 {
			t.Errorf("got %q exit %d (stderr %q)", res.Stdout, res.ExitCode, res.Stderr)
		}
		if _, err := os.Stat(log); err == nil {
			t.Error("sudo was called for root")
		}
	})
	t.Run("as another user, through sudo -n", func(t *testing.T) {
		tg := f.target()
		tg.User = "deploy"
		c := dialOK(t, tg)
		res, err := c.RunRoot(context.Background(), script)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Stdout) != "root-2\nafter\n" || res.ExitCode != 4 {
			t.Errorf("got %q exit %d (stderr %q)", res.Stdout, res.ExitCode, res.Stderr)
		}
		b, _ := os.ReadFile(log)
		if string(b) != "-n sh -s\n" {
			t.Errorf("sudo called with %q", b)
		}
	})
}

func TestRunRootSudoWantsPassword(t *testing.T) {
	t.Parallel()
	opt, _ := fakeSudo(t, "echo 'sudo: a password is required' >&2\nexit 1\n")
	f := newFixture(t, opt)
	tg := f.target()
	tg.User = "deploy"
	c := dialOK(t, tg)
	_, err := c.RunRoot(context.Background(), "true")
	if err == nil {
		t.Fatal("no error")
	}
	mustContain(t, err.Error(), `user "deploy"`, f.srv.addr, "password for sudo", "NOPASSWD")
	err = c.Upload(context.Background(), filepath.Join(t.TempDir(), "f"), 0o644, strings.NewReader("x"))
	if err == nil {
		t.Fatal("upload: no error")
	}
	mustContain(t, err.Error(), "password for sudo")
}

func TestUpload(t *testing.T) {
	t.Parallel()
	opt, log := fakeSudo(t, sudoNopasswd)
	f := newFixture(t, opt)
	for _, user := range []string{"root", "deploy"} {
		t.Run(user, func(t *testing.T) {
			tg := f.target()
			tg.User = user
			c := dialOK(t, tg)
			dir := filepath.Join(t.TempDir(), "new dir", `it's "quoted" $HOME`)
			path := filepath.Join(dir, "agent config.yaml")

			for _, content := range []string{"first\n", "second, replacing the first\n"} {
				if err := c.Upload(context.Background(), path, 0o640, strings.NewReader(content)); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(path)
				if err != nil || string(b) != content {
					t.Fatalf("content %q, %v; want %q", b, err, content)
				}
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v", st.Mode())
			}
			if st, _ := os.Stat(dir); st.Mode().Perm() != 0o755 {
				t.Errorf("parent dir mode %v", st.Mode())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("left behind: %v", entries)
			}
			b, _ := os.ReadFile(log)
			if (user == "deploy") != strings.HasPrefix(string(b), "-n sh -c ") {
				t.Errorf("sudo log %q for user %s", b, user)
			}
		})
	}
}

// TestUploadGzip: the host decompresses what it is sent; data that is not
// gzip fails the upload and leaves nothing behind.
func TestUploadGzip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dialOK(t, f.target())
	content := strings.Repeat("the agent, compressible\n", 10000)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(content))
	w.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "agent")
	if err := c.UploadGzip(context.Background(), path, 0o700, &gz); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != content {
		t.Fatalf("decompressed %d bytes, %v; want the %d sent", len(b), err, len(content))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", st.Mode())
	}

	err := c.UploadGzip(context.Background(), filepath.Join(dir, "broken"), 0o700, strings.NewReader("not gzip"))
	if err == nil {
		t.Fatal("an upload of data that is not gzip succeeded")
	}
	mustContain(t, err.Error(), "failed (exit status")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dialOK(t, f.target())
	err := c.Upload(context.Background(), "relative/path", 0o644, strings.NewReader("x"))
	if err == nil {
		t.Fatal("relative path accepted")
	}
	mustContain(t, err.Error(), "absolute")

	// The parent is a file: mkdir fails, and no temporary file is left.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	err = c.Upload(context.Background(), filepath.Join(dir, "file", "x"), 0o644, strings.NewReader("x"))
	if err == nil {
		t.Fatal("no error")
	}
	mustContain(t, err.Error(), "exit status", f.srv.addr)
}

// ---- authentication ----

func TestAuthWrongKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tg := f.target()
	other := newKey(t)
	tg.PrivateKey = other.pem
	tg.User = "deploy"
	e := dialErr[*AuthError](t, tg)
	mustContain(t, e.Error(), `user "deploy"`, f.srv.addr, "publickey with private_key", Fingerprint(other.signer.PublicKey()), "the server accepts: publickey")
}

func TestAuthNoCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tg := f.target()
	tg.PrivateKey = ""
	e := dialErr[*AuthError](t, tg)
	mustContain(t, e.Error(), "no credentials were configured", f.srv.addr, `"root"`)
}

func serveAgent(t *testing.T, keys ...key) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		blk, _ := pem.Decode([]byte(k.pem))
		priv, err := ssh.ParseRawPrivateKey(pem.EncodeToMemory(blk))
		if err != nil {
			t.Fatal(err)
		}
		if err := kr.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	return sock
}

func TestAuthAgent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sock := serveAgent(t, newKey(t), f.client) // the right key second
	tg := f.target()
	tg.PrivateKey, tg.UseAgent, tg.AgentSocket = "", true, sock
	dialOK(t, tg)

	// A wrong configured key does not stop the agent's keys from being tried.
	tg.PrivateKey = newKey(t).pem
	dialOK(t, tg)

	// An agent without the right key: the error lists both sources.
	tg.AgentSocket = serveAgent(t, newKey(t))
	e := dialErr[*AuthError](t, tg)
	mustContain(t, e.Error(), "publickey with private_key", "publickey with the SSH agent at", "(1 key)")

	tg.AgentSocket = filepath.Join(t.TempDir(), "missing.sock")
	_, err := Dial(context.Background(), tg)
	if err == nil {
		t.Fatal("missing agent accepted")
	}
	mustContain(t, err.Error(), "use_agent", "missing.sock")
}

func TestEncryptedKey(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"encrypted_ed25519", "encrypted_rsa.pem"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			signer, err := ssh.ParsePrivateKeyWithPassphrase(b, []byte("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, func(s *server) { s.Allowed = []ssh.PublicKey{signer.PublicKey()} })
			tg := f.target()
			tg.PrivateKey = string(b)

			_, err = Dial(context.Background(), tg)
			if err == nil {
				t.Fatal("encrypted key without passphrase accepted")
			}
			mustContain(t, err.Error(), "private_key is encrypted: set passphrase")

			tg.Passphrase = "wrong"
			_, err = Dial(context.Background(), tg)
			if err == nil {
				t.Fatal("wrong passphrase accepted")
			}
			mustContain(t, err.Error(), "passphrase does not decrypt private_key")

			tg.Passphrase = "s3cret"
			dialOK(t, tg)
		})
	}
}

func TestMalformedSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		edit func(*Target)
		want []string
	}{
		{"private key", func(tg *Target) { tg.PrivateKey = "not a key" }, []string{"private_key is not a valid private key"}},
		{"public key as private", func(tg *Target) { tg.PrivateKey = f.client.line }, []string{"private_key holds a public key"}},
		{"host key", func(tg *Target) { tg.HostKey = "ssh-ed25519 garbage" }, []string{"host_key: expected a public key"}},
		{"fingerprint", func(tg *Target) { tg.HostKey = "SHA256:tooshort" }, []string{"host_key:", "not a valid SHA256 fingerprint"}},
		{"known_hosts", func(tg *Target) { tg.KnownHosts = "# comment\n\nhost ssh-ed25519 garbage\n" }, []string{"known_hosts: invalid entry on line 3"}},
		{"host", func(tg *Target) { tg.Host = "" }, []string{"host: no host given"}},
		{"port", func(tg *Target) { tg.Host = "example.com:ssh" }, []string{"port must be a number"}},
		{"bastion key", func(tg *Target) { tg.Bastion = &Target{Host: "127.0.0.1", PrivateKey: "junk"} }, []string{"bastion.private_key is not a valid private key"}},
	} {
		tg := f.target()
		tc.edit(&tg)
		_, err := Dial(context.Background(), tg)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		mustContain(t, err.Error(), tc.want...)
	}
}

// ---- host keys ----

func TestHostKeyPinning(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pub := f.host.signer.PublicKey()
	port := strings.TrimPrefix(f.srv.addr, "127.0.0.1:")
	plain := knownhosts.Line([]string{f.srv.addr}, pub) // "[127.0.0.1]:PORT ssh-ed25519 …"
	if !strings.HasPrefix(plain, "[127.0.0.1]:"+port+" ") {
		t.Fatalf("unexpected known_hosts line %q", plain)
	}
	hashed := knownhosts.HashHostname(knownhosts.Normalize(f.srv.addr)) + " " + f.host.line
	other := newKey(t)

	for name, edit := range map[string]func(*Target){
		"authorized key line":  func(tg *Target) { tg.HostKey = f.host.line + " root@host" },
		"fingerprint":          func(tg *Target) { tg.HostKey = Fingerprint(pub) },
		"ssh-keygen -lf line":  func(tg *Target) { tg.HostKey = "256 " + Fingerprint(pub) + " root@host (ED25519)" },
		"known_hosts plain":    func(tg *Target) { tg.HostKey, tg.KnownHosts = "", "# mine\nother.example "+other.line+"\n"+plain+"\n" },
		"known_hosts hashed":   func(tg *Target) { tg.HostKey, tg.KnownHosts = "", hashed },
		"known_hosts wildcard": func(tg *Target) { tg.HostKey, tg.KnownHosts = "", "[127.0.0.*]:"+port+" "+f.host.line },
		"host and port apart":  func(tg *Target) { tg.Host, tg.Port, tg.HostKey, tg.KnownHosts = "127.0.0.1", mustAtoi(port), "", plain },
		"insecure":             func(tg *Target) { tg.HostKey, tg.InsecureIgnoreHostKey = "", true },
		"either pin matches":   func(tg *Target) { tg.HostKey, tg.KnownHosts = other.line, plain },
	} {
		tg := f.target()
		edit(&tg)
		c, err := Dial(context.Background(), tg)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(c.HostKey().Marshal(), pub.Marshal()) {
			t.Errorf("%s: HostKey() = %s", name, Fingerprint(c.HostKey()))
		}
		c.Close()
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestHostKeyMismatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := newKey(t)
	got := Fingerprint(f.host.signer.PublicKey())
	want := Fingerprint(other.signer.PublicKey())

	tg := f.target()
	tg.HostKey = other.line
	e := dialErr[*HostKeyMismatchError](t, tg)
	if e.Got != got || len(e.Want) != 1 || e.Want[0] != want || e.Bastion {
		t.Errorf("fields: %+v", e)
	}
	mustContain(t, e.Error(), f.srv.addr, got, want, "has changed", "reinstalled", "intercepting", "host_key", f.host.line)

	tg = f.target()
	tg.HostKey, tg.KnownHosts = "", knownhosts.Line([]string{f.srv.addr}, other.signer.PublicKey())
	e = dialErr[*HostKeyMismatchError](t, tg)
	mustContain(t, e.Error(), got, want)

	// Pinned by fingerprint only.
	tg = f.target()
	tg.HostKey = want
	e = dialErr[*HostKeyMismatchError](t, tg)
	mustContain(t, e.Error(), got, want)

	// @revoked wins over a matching entry.
	tg = f.target()
	tg.HostKey, tg.KnownHosts = "", knownhosts.Line([]string{f.srv.addr}, f.host.signer.PublicKey())+"\n@revoked * "+f.host.line+"\n"
	e = dialErr[*HostKeyMismatchError](t, tg)
	if !e.Revoked {
		t.Error("not marked revoked")
	}
	mustContain(t, e.Error(), "@revoked", got)
}

// A server has several host keys and shows one; Dial asks for the pinned
// type, so pinning any one of them works. x/crypto's default order would
// pick ECDSA here.
func TestHostKeyTypeNegotiation(t *testing.T) {
	t.Parallel()
	ec := newECDSAKey(t)
	f := newFixture(t, func(s *server) { s.HostKeys = append(s.HostKeys, ec.signer) })

	tg := f.target() // pins the ed25519 key
	dialOK(t, tg)
	tg.HostKey, tg.KnownHosts = "", knownhosts.Line([]string{f.srv.addr}, f.host.signer.PublicKey())
	dialOK(t, tg)
	tg.HostKey, tg.KnownHosts = ec.line, ""
	dialOK(t, tg)

	// A server without any key of the pinned type.
	g := newFixture(t)
	tg = g.target()
	tg.HostKey = newECDSAKey(t).line
	e := dialErr[*HostKeyMismatchError](t, tg)
	if e.Got != "" {
		t.Errorf("Got = %q", e.Got)
	}
	mustContain(t, e.Error(), "none of the pinned host keys", "reinstalled")
}

func TestHostKeyUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tg := f.target()
	tg.HostKey = ""
	e := dialErr[*HostKeyUnknownError](t, tg)
	if e.Key != f.host.line || e.Got != Fingerprint(f.host.signer.PublicKey()) {
		t.Errorf("fields: %+v", e)
	}
	mustContain(t, e.Error(), f.srv.addr, "no host key is pinned", f.host.line, e.Got, "known_hosts")

	// known_hosts with an entry for port 22 only does not cover another port.
	tg.KnownHosts = "127.0.0.1 " + f.host.line
	e = dialErr[*HostKeyUnknownError](t, tg)
	lookup := "[127.0.0.1]:" + strings.TrimPrefix(f.srv.addr, "127.0.0.1:")
	if e.Lookup != lookup {
		t.Errorf("Lookup = %q", e.Lookup)
	}
	mustContain(t, e.Error(), `known_hosts has no entry for "`+lookup+`"`, lookup+" "+f.host.line)
}

// ---- unreachable ----

func TestUnreachableRefused(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	e := dialErr[*UnreachableError](t, Target{Host: addr, InsecureIgnoreHostKey: true})
	if !errors.Is(e, syscall.ECONNREFUSED) {
		t.Errorf("not ECONNREFUSED: %v", e.Err)
	}
	mustContain(t, e.Error(), "cannot reach SSH host "+addr, "connection refused")
}

// The brief suggested dialling a non-routable 10.x address to provoke a
// connect timeout; this workplace forbids traffic to non-loopback addresses,
// so the timeout is provoked on loopback by a listener that accepts and
// never speaks SSH, and the connect-timeout wording is covered by
// TestDialErrorReasons.
func TestUnreachableTimeout(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	start := time.Now()
	e := dialErr[*UnreachableError](t, Target{Host: ln.Addr().String(), InsecureIgnoreHostKey: true, Timeout: 300 * time.Millisecond})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("not a deadline: %v", e.Err)
	}
	mustContain(t, e.Error(), "did not finish within 300ms")

	// The caller's context ends it too, as a context error, not "unreachable".
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, Target{Host: ln.Addr().String(), InsecureIgnoreHostKey: true})
	var ue *UnreachableError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ue) {
		t.Errorf("ctx deadline: %v", err)
	}
}

func TestUnreachableBadName(t *testing.T) {
	t.Parallel()
	// An empty label makes the resolver fail without asking a DNS server.
	e := dialErr[*UnreachableError](t, Target{Host: "no-such-host..invalid", InsecureIgnoreHostKey: true})
	var dnsErr *net.DNSError
	if !errors.As(e, &dnsErr) {
		t.Errorf("not a DNS error: %v", e.Err)
	}
	mustContain(t, e.Error(), "cannot resolve the host name", "no-such-host..invalid")
}

func TestDialErrorReasons(t *testing.T) {
	ep := Endpoint{Addr: "192.0.2.1:22"}
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: &timeoutErr{}}
	for err, want := range map[error]string{
		timeout: "no answer within 300ms",
		&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}: "no route to host",
		&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}:  "network is unreachable",
	} {
		got := dialError(ep, nil, "root", 300*time.Millisecond, err)
		var ue *UnreachableError
		if !errors.As(got, &ue) {
			t.Errorf("%v: got %T", err, got)
			continue
		}
		mustContain(t, got.Error(), "cannot reach SSH host 192.0.2.1:22: "+want)
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// ---- bastion ----

// bastionPair is a target that only the bastion can name: the target's
// address is "target.internal:22", which the bastion maps to the real one.
func bastionPair(t *testing.T, opts ...func(*server)) (b, target *fixture, tg Target) {
	target = newFixture(t)
	b = newFixture(t, append(opts, func(s *server) {
		s.Names = map[string]string{"target.internal:22": target.srv.addr}
	})...)
	bt := b.target()
	tg = target.target()
	tg.Host = "target.internal"
	tg.HostKey, tg.KnownHosts = "", "target.internal "+target.host.line // port 22: plain name
	tg.Bastion = &bt
	return b, target, tg
}

func TestBastion(t *testing.T) {
	t.Parallel()
	b, target, tg := bastionPair(t)
	c := dialOK(t, tg)
	if !bytes.Equal(c.HostKey().Marshal(), target.host.signer.PublicKey().Marshal()) {
		t.Error("HostKey is not the target's")
	}
	res, err := c.Run(context.Background(), "echo through", nil)
	if err != nil || string(res.Stdout) != "through\n" {
		t.Fatalf("%v %q", err, res.Stdout)
	}
	b.srv.mu.Lock()
	fwd := b.srv.forwarded
	b.srv.mu.Unlock()
	if len(fwd) != 1 || fwd[0] != "target.internal:22" {
		t.Errorf("bastion forwarded %v", fwd)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestBastionErrors(t *testing.T) {
	t.Parallel()
	t.Run("bastion host key changed", func(t *testing.T) {
		b, _, tg := bastionPair(t)
		tg.Bastion.HostKey = newKey(t).line
		e := dialErr[*HostKeyMismatchError](t, tg)
		if !e.Bastion {
			t.Error("not marked as the bastion")
		}
		mustContain(t, e.Error(), "SSH bastion "+b.srv.addr, "bastion.host_key")
	})
	t.Run("target host key changed", func(t *testing.T) {
		b, _, tg := bastionPair(t)
		tg.KnownHosts = "target.internal " + newKey(t).line
		e := dialErr[*HostKeyMismatchError](t, tg)
		if e.Bastion || e.Via != b.srv.addr {
			t.Errorf("endpoint %+v", e.Endpoint)
		}
		mustContain(t, e.Error(), "SSH host target.internal:22 (via bastion "+b.srv.addr+")")
	})
	t.Run("forwarding refused", func(t *testing.T) {
		b, _, tg := bastionPair(t, func(s *server) { s.NoForward = true })
		_, err := Dial(context.Background(), tg)
		if err == nil {
			t.Fatal("no error")
		}
		t.Logf("message: %v", err)
		mustContain(t, err.Error(), "bastion "+b.srv.addr+" refused", "target.internal:22", "AllowTcpForwarding")
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
			t.Errorf("not an OpenChannelError: %v", err)
		}
	})
	t.Run("target unreachable from bastion", func(t *testing.T) {
		b, _, tg := bastionPair(t)
		tg.Host = "unknown.internal" // the bastion cannot resolve it
		e := dialErr[*UnreachableError](t, tg)
		if e.Via != b.srv.addr {
			t.Errorf("Via = %q", e.Via)
		}
		mustContain(t, e.Error(), "SSH host unknown.internal:22 (via bastion "+b.srv.addr+")", "the bastion could not connect to it: lookup unknown.internal: no such host")
	})
	t.Run("bastion unreachable", func(t *testing.T) {
		_, _, tg := bastionPair(t)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		tg.Bastion.Host = ln.Addr().String()
		ln.Close()
		e := dialErr[*UnreachableError](t, tg)
		mustContain(t, e.Error(), "cannot reach SSH bastion "+tg.Bastion.Host)
	})
	t.Run("bastion auth refused", func(t *testing.T) {
		_, _, tg := bastionPair(t)
		tg.Bastion.PrivateKey = newKey(t).pem
		e := dialErr[*AuthError](t, tg)
		mustContain(t, e.Error(), "SSH bastion", "bastion.private_key")
	})
}

func TestAddress(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		want string
	}{
		{"example.com", 0, "example.com:22"},
		{"example.com", 2200, "example.com:2200"},
		{"example.com:2222", 99, "example.com:2222"},
		{" 10.0.0.5 ", 0, "10.0.0.5:22"},
		{"::1", 0, "[::1]:22"},
		{"[::1]", 2222, "[::1]:2222"},
		{"[fe80::1]:2222", 0, "[fe80::1]:2222"},
	} {
		got, err := Target{Host: tc.host, Port: tc.port}.address()
		if err != nil || got != tc.want {
			t.Errorf("%q port %d: got %q, %v; want %q", tc.host, tc.port, got, err, tc.want)
		}
	}
	for _, bad := range []Target{{Host: ""}, {Host: ":22"}, {Host: "h", Port: 70000}, {Host: "h:0"}} {
		if got, err := bad.address(); err == nil {
			t.Errorf("%+v accepted as %q", bad, got)
		}
	}
}

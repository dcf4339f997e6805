package tlsutil

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedAndPinning(t *testing.T) {
	dir := t.TempDir()
	cert, fp, err := SelfSigned(dir, []string{"coordinator.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, again, err := SelfSigned(dir, nil); err != nil || again != fp {
		t.Fatalf("a restart made a new CA: %s vs %s (%v)", again, fp, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	get := func(cfg *tls.Config) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		res, err := c.Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	if err := get(PinnedConfig(fp)); err != nil {
		t.Fatalf("pinned client: %v", err)
	}
	colons := strings.ToUpper(fp[:2] + ":" + fp[2:])
	if err := get(PinnedConfig(colons)); err != nil {
		t.Fatalf("pinned client with a colon, upper-case fingerprint: %v", err)
	}
	if err := get(PinnedConfig(strings.Repeat("ab", 32))); err == nil || !strings.Contains(err.Error(), "not signed by the pinned CA") {
		t.Fatalf("wrong pin: %v", err)
	}
	if err := get(&tls.Config{}); err == nil {
		t.Fatal("an unpinned client trusted the private CA")
	}
	// A certificate from another self-signed setup does not pass the pin.
	other, _, _ := SelfSigned(t.TempDir(), nil)
	srv2 := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv2.TLS = &tls.Config{Certificates: []tls.Certificate{other}}
	srv2.StartTLS()
	defer srv2.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: PinnedConfig(fp)}}
	if _, err := c.Get(srv2.URL); err == nil {
		t.Fatal("another CA's server passed the pin")
	}
}

// TestPinnedConfig_resumesSessions: a reconnecting client (every parked
// long-poll's answer closes its connection) resumes its TLS session, and
// the pin is still checked when it does.
func TestPinnedConfig_resumesSessions(t *testing.T) {
	cert, fp, err := SelfSigned(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.TLS.DidResume {
			w.Write([]byte("resumed"))
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()

	connect := func(cfg *tls.Config) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		res, err := c.Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		var b strings.Builder
		_, err = io.Copy(&b, res.Body)
		return b.String(), err
	}
	cfg := PinnedConfig(fp)
	if got, err := connect(cfg); err != nil || got != "" {
		t.Fatalf("first connection: %q, %v", got, err)
	}
	if got, err := connect(cfg); err != nil || got != "resumed" {
		t.Fatalf("second connection did not resume its session: %q, %v", got, err)
	}
	// A session cached under the right pin does not let a client with a
	// wrong pin through: the pin is checked on resumption too.
	wrong := PinnedConfig(strings.Repeat("ab", 32))
	wrong.ClientSessionCache = cfg.ClientSessionCache
	if _, err := connect(wrong); err == nil || !strings.Contains(err.Error(), "not signed by the pinned CA") {
		t.Fatalf("a wrong pin with a resumable session: %v", err)
	}
}

// TestPinnedConfig_machineClockOff: a machine whose clock is hours or
// years off (a cloud image before NTP, a reset hardware clock) still
// reaches the coordinator whose CA it pins; the pin is still checked.
func TestPinnedConfig_machineClockOff(t *testing.T) {
	cert, fp, err := SelfSigned(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	defer func() { clock = time.Now }()
	for _, off := range []time.Duration{-5 * time.Hour, -30 * 365 * 24 * time.Hour, 14 * time.Hour, 20 * 365 * 24 * time.Hour} {
		clock = func() time.Time { return time.Now().Add(off) }
		for pin, want := range map[string]bool{fp: true, strings.Repeat("ab", 32): false} {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: PinnedConfig(pin)}}
			res, err := c.Get(srv.URL)
			if err == nil {
				res.Body.Close()
			}
			if (err == nil) != want {
				t.Errorf("clock off by %s, pin %s: %v", off, pin[:8], err)
			}
		}
	}
}

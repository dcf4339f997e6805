package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

// TestServe starts the coordinator on a free loopback port, registers a
// deployment through the API with the generated admin token, and stops it.
func TestServe(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, []string{"-listen", "127.0.0.1:0", "-data", data}, pw, os.Stderr)
		pw.Close()
	}()
	var url, view string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			url = strings.Fields(after)[0]
		}
		if _, after, ok := strings.Cut(sc.Text(), "Web view: "); ok {
			view = strings.Fields(after)[0]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" || view != url+"/ui/" {
		t.Fatalf("serve printed the address %q and the web view %q", url, view)
	}
	// The web view is served beside the API, with its security headers.
	page, err := http.Get(view)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), `<script src="app.js" defer>`) || !strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("GET %s: %d %v\n%s", view, page.StatusCode, page.Header, html)
	}
	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(data, "admin-token")); st.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode %v, want 0600", st.Mode().Perm())
	}
	req, _ := http.NewRequest("POST", url+"/v1/deployments", strings.NewReader(`{"id":"d","nodes":{"a":{"multiplicity":1,"params":{}}}}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create through slipc serve: %d", res.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServe_selfSignedTLS serves TLS from a private CA: a client pinning
// the printed fingerprint gets through, one trusting the system does not.
func TestServe_selfSignedTLS(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	go func() {
		serve(ctx, []string{"-listen", "127.0.0.1:0", "-data", data, "-tls-self-signed"}, pw, os.Stderr)
		pw.Close()
	}()
	var url, fp string
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		line := sc.Text()
		if _, after, ok := strings.Cut(line, "SLIPSTREAM_CA_FINGERPRINT): "); ok {
			fp = after
		}
		if _, after, ok := strings.Cut(line, "listening on "); ok {
			url = strings.Fields(after)[0]
		}
	}
	go io.Copy(io.Discard, pr)
	if !strings.HasPrefix(url, "https://") || len(fp) != 64 {
		t.Fatalf("url %q fingerprint %q", url, fp)
	}
	token, _ := os.ReadFile(filepath.Join(data, "admin-token"))
	req := func(c *http.Client) (int, error) {
		r, _ := http.NewRequest("GET", url+"/v1/deployments/none", nil)
		r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		res, err := c.Do(r)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	pinned := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsutil.PinnedConfig(fp)}}
	if code, err := req(pinned); err != nil || code != http.StatusNotFound {
		t.Fatalf("pinned client: %d %v", code, err)
	}
	if _, err := req(http.DefaultClient); err == nil {
		t.Fatal("a client trusting only the system roots got through")
	}
}

func TestServe_refusesPlainHTTPOffLoopback(t *testing.T) {
	var stderr strings.Builder
	code := serve(context.Background(), []string{"-listen", "0.0.0.0:0", "-data", t.TempDir()}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "refusing plain HTTP") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

func TestServe_maxConnectionsMustBePositive(t *testing.T) {
	var stderr strings.Builder
	code := serve(context.Background(), []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-max-connections", "0"}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "-max-connections must be at least 1, not 0") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "2GiB": 2 << 30, "1048576": 1 << 20, "512B": 512, "64KiB": 64 << 10, "1TiB": 1 << 40} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "1.5GiB", "256MB", "99999999999TiB"} {
		if _, err := parseByteSize(bad); err == nil {
			t.Errorf("parseByteSize(%q) succeeded", bad)
		}
	}
	var stderr strings.Builder
	code := serve(context.Background(), []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-memory-limit", "lots"}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), `-memory-limit "lots": want a positive size such as 256MiB`) {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

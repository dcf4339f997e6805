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
	var url string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
			url = strings.Fields(after)[0]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatal("serve printed no address")
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

func TestServe_refusesPlainHTTPOffLoopback(t *testing.T) {
	var stderr strings.Builder
	code := serve(context.Background(), []string{"-listen", "0.0.0.0:0", "-data", t.TempDir()}, io.Discard, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "refusing plain HTTP") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
}

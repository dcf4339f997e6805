package webui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandler_securityHeaders: every file of the view is served with a
// CSP that allows no inline script and no framing, and the view's own
// HTML holds no inline script or handler for that CSP to block.
func TestHandler_securityHeaders(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := httptest.NewServer(Mount(api))
	defer srv.Close()
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/app.css"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 || len(body) == 0 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %d %v", path, res.StatusCode, res.Header)
		}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/ui/" {
		t.Fatalf("/: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := http.Get(srv.URL + "/v1/deployments"); res.StatusCode != http.StatusTeapot {
		t.Fatalf("/v1 is not the API's: %d", res.StatusCode)
	}
	if res, _ := http.Post(srv.URL+"/ui/", "text/plain", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ui/: %d", res.StatusCode)
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|=\s*["']?javascript:|<style|style=`)
	err = fs.WalkDir(static, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, _ := static.ReadFile(path)
		if m := inline.Find(b); m != nil {
			t.Errorf("%s has inline script or style: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Values reach the page as text only.
	js, _ := static.ReadFile("static/app.js")
	if regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`).Match(js) {
		t.Fatal("app.js builds HTML from strings: put values in with textContent")
	}
}

package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestAPI_internalErrorsAreLogged: a failure of the store is answered as a
// bare 500 "internal" and logged with the request's method and path, never
// with its token or the value being set; only the admin is told the cause
// in the answer. A token that cannot be checked
// because the store failed is such an error too, not a 401.
func TestAPI_internalErrorsAreLogged(t *testing.T) {
	var logged syncBuffer
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{})
	s, err := New(c, Options{AdminToken: admin, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); c.Close() })
	tokens := create(t, srv, lampJSON)
	// The store fails under the coordinator, as a full disk or a lost etcd
	// cluster would make it.
	st.Close()

	const secret = "correct-horse-battery-staple"
	r := call(t, srv, "PUT", "/v1/deployments/lamp/parameters/password", tokens["db.1"], `{"value":"`+secret+`"}`)
	if r.status != http.StatusInternalServerError || code(r) != "internal" || strings.Contains(r.raw, "closed") {
		t.Fatalf("a failed store answered %d %s; want a bare 500 internal", r.status, r.raw)
	}
	log := logged.String()
	for _, want := range []string{"internal error", "method=PUT", "path=/v1/deployments/lamp/parameters/password", "closed"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	// The failure is the store's, not the token's: it does not count as a
	// failed authentication (20 in a row would be answered 429).
	for i := range 30 {
		if r := call(t, srv, "GET", "/v1/deployments/lamp/parameters/password", tokens["web.1"], ""); r.status != http.StatusInternalServerError {
			t.Fatalf("request %d with a valid token while the store fails: %d %s, want 500", i+1, r.status, r.raw)
		}
	}
	// The admin (the operator, through the provider) is told the cause.
	if r := call(t, srv, "GET", "/v1/deployments/lamp/parameters", admin, ""); r.status != http.StatusInternalServerError || !strings.Contains(r.raw, "closed") {
		t.Fatalf("the admin's request while the store fails: %d %s, want a 500 with the cause", r.status, r.raw)
	}
	log = logged.String()
	for _, secretPart := range []string{secret, tokens["db.1"], admin} {
		if strings.Contains(log, secretPart) {
			t.Errorf("the log holds a secret (%q):\n%s", secretPart, log)
		}
	}
}

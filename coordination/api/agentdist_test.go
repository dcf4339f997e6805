package api

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/store/boltstore"
)

// newExtServer is newServer with options of the test's choosing; it also
// returns the Server, for tests that call ServeHTTP directly.
func newExtServer(t testing.TB, set func(*Options)) (*httptest.Server, *Server) {
	t.Helper()
	s := newAPI(t, set)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close) // before the coordinator and store newAPI closes
	return srv, s
}

// newAPI is the API over a fresh bbolt store, with the tests' options
// changed by set; the coordinator and the store close when t ends.
func newAPI(t testing.TB, set func(*Options)) *Server {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := coordinator.New(st, coordinator.Options{MaxValue: 4096})
	t.Cleanup(func() { c.Close(); st.Close() })
	opts := Options{AdminToken: admin, MaxBody: 64 << 10, MaxWait: 5 * time.Second, MaxInstances: 1000}
	set(&opts)
	s, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fetch does a request and returns the response with its body read.
func fetch(t testing.TB, method, url, token string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func errorCode(b []byte) string {
	var e errorBody
	json.Unmarshal(b, &e)
	return e.Error.Code
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type agentList struct {
	Agents map[string]AgentInfo `json:"agents"`
}

func listAgentsOf(t *testing.T, srv *httptest.Server) agentList {
	t.Helper()
	res, b := fetch(t, "GET", srv.URL+"/v1/agent", "", nil)
	var l agentList
	if err := json.Unmarshal(b, &l); err != nil || res.StatusCode != 200 || l.Agents == nil {
		t.Fatalf("list: %d %s", res.StatusCode, b)
	}
	return l
}

func TestAgent_download(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "agent")
	os.Mkdir(dir, 0o755)
	bin := randomBytes(t, 300<<10)
	path := filepath.Join(dir, "slipstream-agent-linux-amd64")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "secret"), []byte("TOPSECRET"), 0o644)
	srv, _ := newExtServer(t, func(o *Options) { o.AgentDir = dir })

	// The list: what is there, and nothing else.
	l := listAgentsOf(t, srv)
	want := AgentInfo{SHA256: sha(bin), Size: int64(len(bin)), URL: "/v1/agent/linux/amd64"}
	if len(l.Agents) != 1 || l.Agents["linux/amd64"] != want {
		t.Fatalf("list: %+v, want only linux/amd64 %+v", l.Agents, want)
	}

	// The binary, with no token (as it is: Go's client would ask for gzip).
	res, b := fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil, "Accept-Encoding", "identity")
	if res.StatusCode != 200 || !bytes.Equal(b, bin) {
		t.Fatalf("download: %d, %d bytes", res.StatusCode, len(b))
	}
	if h := res.Header; h.Get("X-Checksum-Sha256") != sha(bin) || h.Get("Content-Type") != "application/octet-stream" ||
		h.Get("Content-Length") != "307200" || h.Get("ETag") != `"`+sha(bin)+`"` {
		t.Fatalf("headers: %v", h)
	}
	// A range, and a conditional request.
	res, b = fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil, "Range", "bytes=1000-1999")
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(b, bin[1000:2000]) {
		t.Fatalf("range: %d, %d bytes", res.StatusCode, len(b))
	}
	res, _ = fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil, "If-None-Match", `"`+sha(bin)+`"`, "Accept-Encoding", "identity")
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("if-none-match: %d", res.StatusCode)
	}
	res, b = fetch(t, "HEAD", srv.URL+"/v1/agent/linux/amd64", "", nil)
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("X-Checksum-Sha256") != sha(bin) {
		t.Fatalf("head: %d", res.StatusCode)
	}

	// Missing and unknown platforms.
	res, b = fetch(t, "GET", srv.URL+"/v1/agent/linux/arm64", "", nil)
	if res.StatusCode != 404 || errorCode(b) != "not_found" || !strings.Contains(string(b), dir) || !strings.Contains(string(b), "available: linux/amd64") {
		t.Fatalf("arm64: %d %s", res.StatusCode, b)
	}
	for _, p := range []string{"windows/amd64", "linux/386", "darwin/arm64", "linux/AMD64"} {
		if res, b := fetch(t, "GET", srv.URL+"/v1/agent/"+p, "", nil); res.StatusCode != 404 || errorCode(b) != "not_found" {
			t.Errorf("%s: %d %s", p, res.StatusCode, b)
		}
	}

	// Path tricks never reach the file system.
	for _, p := range []string{
		"/v1/agent/linux/..%2f..%2fetc%2fpasswd",
		"/v1/agent/linux/..%2f..%2fsecret",
		"/v1/agent/..%2f..%2fsecret/amd64",
		"/v1/agent/linux/amd64%2f..%2f..%2f..%2fsecret",
		"/v1/agent/linux/amd64/../../x",
		"/v1/agent/linux/../../../secret",
		"/v1/agent/linux/%2e%2e",
		"/v1/agent/linux/amd64/extra",
		"/v1/agent/linux",
		"/v1/agent/",
	} {
		res, b := fetch(t, "GET", srv.URL+p, "", nil)
		if res.StatusCode != 404 || bytes.Contains(b, []byte("TOPSECRET")) || bytes.Contains(b, []byte("root:")) {
			t.Errorf("%s: %d %q", p, res.StatusCode, b)
		}
	}

	// A new binary of the same size: the checksum follows it.
	bin2 := randomBytes(t, len(bin))
	if err := os.WriteFile(path, bin2, 0o755); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	os.Chtimes(path, later, later)
	if l := listAgentsOf(t, srv); l.Agents["linux/amd64"].SHA256 != sha(bin2) {
		t.Fatalf("the checksum was not recomputed: %+v", l.Agents)
	}
	res, b = fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil)
	if !bytes.Equal(b, bin2) || res.Header.Get("X-Checksum-Sha256") != sha(bin2) {
		t.Fatal("download after the change")
	}
	// A second platform appears.
	bin3 := randomBytes(t, 1000)
	os.WriteFile(filepath.Join(dir, "slipstream-agent-linux-arm64"), bin3, 0o755)
	if l := listAgentsOf(t, srv); len(l.Agents) != 2 || l.Agents["linux/arm64"].SHA256 != sha(bin3) {
		t.Fatalf("arm64 added: %+v", l.Agents)
	}
	if got := AvailableAgents(dir); strings.Join(got, " ") != "linux/amd64 linux/arm64" {
		t.Fatalf("AvailableAgents: %v", got)
	}
}

// TestAgent_gzip: a client that takes gzip (curl --compressed, Go's
// client) gets the binary compressed, with the binary's own checksum; a
// range, or a client that refuses gzip, gets it as it is.
func TestAgent_gzip(t *testing.T) {
	dir := t.TempDir()
	bin := bytes.Repeat([]byte("an agent binary compresses well; "), 20000)
	if err := os.WriteFile(filepath.Join(dir, "slipstream-agent-linux-amd64"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, _ := newExtServer(t, func(o *Options) { o.AgentDir = dir })
	req, _ := http.NewRequest("GET", srv.URL+"/v1/agent/linux/amd64", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	res, err := http.DefaultClient.Do(req) // the header set by hand: no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	z, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("X-Checksum-Sha256") != sha(bin) || res.Header.Get("Vary") != "Accept-Encoding" ||
		res.Header.Get("ETag") != `"`+sha(bin)+`-gzip"` {
		t.Fatalf("headers: %v", res.Header)
	}
	if len(z) >= len(bin)/10 {
		t.Errorf("compressed %d bytes to %d", len(bin), len(z))
	}
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, bin) {
		t.Fatal("the gzip body is not the binary")
	}
	// Go's client asks for gzip itself and decompresses: the same bytes.
	if res, b := fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil); res.StatusCode != 200 || !bytes.Equal(b, bin) || !res.Uncompressed {
		t.Fatalf("transparent gzip: %d, %d bytes, uncompressed %v", res.StatusCode, len(b), res.Uncompressed)
	}
	for _, h := range [][]string{{"Accept-Encoding", "gzip;q=0"}, {"Accept-Encoding", "gzip", "Range", "bytes=0-99"}} {
		res, b := fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil, h...)
		if res.Header.Get("Content-Encoding") != "" || !bytes.HasPrefix(bin, b) || len(b) == 0 {
			t.Errorf("%v: %v, %d bytes", h, res.Header, len(b))
		}
	}
}

// TestAgent_noFolder: without the folder, or with none configured, the
// list is empty and downloads are 404s that say why.
func TestAgent_noFolder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for _, dir := range []string{missing, ""} {
		srv, _ := newExtServer(t, func(o *Options) { o.AgentDir = dir })
		if l := listAgentsOf(t, srv); len(l.Agents) != 0 {
			t.Fatalf("list: %+v", l.Agents)
		}
		res, b := fetch(t, "GET", srv.URL+"/v1/agent/linux/amd64", "", nil)
		if res.StatusCode != 404 || !strings.Contains(string(b), "no agent for linux/amd64") || (dir != "" && !strings.Contains(string(b), dir)) {
			t.Fatalf("download: %d %s", res.StatusCode, b)
		}
	}
	if got := AvailableAgents(missing); len(got) != 0 {
		t.Fatalf("AvailableAgents: %v", got)
	}
}

package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarGz makes a report: files by name, plus one of n random bytes (which
// do not compress) when n > 0.
func tarGz(t testing.TB, files map[string]string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	level := gzip.DefaultCompression
	if n > 0 {
		level = gzip.NoCompression // random bytes do not compress anyway
	}
	zw, _ := gzip.NewWriterLevel(&buf, level)
	tw := tar.NewWriter(zw)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	for name, content := range files {
		add(name, []byte(content))
	}
	if n > 0 {
		add("random.bin", randomBytes(t, n))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

type reportList struct {
	Reports map[string]ReportInfo `json:"reports"`
}

func listReportsOf(t *testing.T, srv *httptest.Server, id string) reportList {
	t.Helper()
	res, b := fetch(t, "GET", srv.URL+"/v1/deployments/"+id+"/reports", admin, nil)
	var l reportList
	if err := json.Unmarshal(b, &l); err != nil || res.StatusCode != 200 || l.Reports == nil {
		t.Fatalf("list reports: %d %s", res.StatusCode, b)
	}
	return l
}

// storedFiles lists every file under dir, temporary ones included.
func storedFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return files
}

func TestReports(t *testing.T) {
	reports := filepath.Join(t.TempDir(), "reports")
	srv, _ := newExtServer(t, func(o *Options) { o.ReportDir = reports; o.MaxReport = 256 << 10 })
	tokens := create(t, srv, lampJSON)
	other := create(t, srv, strings.Replace(lampJSON, `"lamp"`, `"other"`, 1))
	url := srv.URL + "/v1/deployments/lamp/reports/"

	// Its own report, then the admin lists and reads it back. It is
	// larger than MaxBody (64 KiB here) but within MaxReport.
	report := tarGz(t, map[string]string{"web.1/install.log": "ok\n"}, 200<<10)
	before := time.Now().Add(-time.Second)
	if res, b := fetch(t, "PUT", url+"web.1", tokens["web.1"], bytes.NewReader(report)); res.StatusCode != 204 {
		t.Fatalf("upload: %d %s", res.StatusCode, b)
	}
	l := listReportsOf(t, srv, "lamp")
	got := l.Reports["web.1"]
	when, err := time.Parse(time.RFC3339, got.Time)
	if len(l.Reports) != 1 || got.Size != int64(len(report)) || got.SHA256 != sha(report) || err != nil || when.Before(before.Truncate(time.Second)) {
		t.Fatalf("list: %+v", l.Reports)
	}
	res, b := fetch(t, "GET", url+"web.1", admin, nil)
	if res.StatusCode != 200 || !bytes.Equal(b, report) || res.Header.Get("Content-Type") != "application/gzip" || res.Header.Get("X-Checksum-Sha256") != sha(report) {
		t.Fatalf("get: %d %v", res.StatusCode, res.Header)
	}
	if files := storedFiles(reports); strings.Join(files, " ") != "lamp/web.1.tar.gz" {
		t.Fatalf("stored: %v", files)
	}

	// The admin may upload any instance's; a new upload replaces the old.
	small := tarGz(t, map[string]string{"a": "1", "dir/b": "2"}, 0)
	for _, r := range [][]byte{small, tarGz(t, map[string]string{"c": "3"}, 0)} {
		if res, b := fetch(t, "PUT", url+"web.2", admin, bytes.NewReader(r)); res.StatusCode != 204 {
			t.Fatalf("admin upload: %d %s", res.StatusCode, b)
		}
	}
	replaced := tarGz(t, map[string]string{"again": "x"}, 0)
	fetch(t, "PUT", url+"web.1", tokens["web.1"], bytes.NewReader(replaced))
	l = listReportsOf(t, srv, "lamp")
	if len(l.Reports) != 2 || l.Reports["web.1"].SHA256 != sha(replaced) || l.Reports["web.1"].Size != int64(len(replaced)) {
		t.Fatalf("after replace: %+v", l.Reports)
	}
	if _, b := fetch(t, "GET", url+"web.1", admin, nil); !bytes.Equal(b, replaced) {
		t.Fatal("get after replace: old bytes")
	}

	// Refusals.
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "x", Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	truncated := tarGz(t, map[string]string{"a": strings.Repeat("data ", 1000)}, 0)
	cases := []struct {
		name, inst, token string
		body              []byte
		status            int
		code              string
	}{
		{"a sibling's report", "web.2", tokens["web.1"], small, 403, "forbidden"},
		{"another node's report", "db.1", tokens["web.1"], small, 403, "forbidden"},
		{"another deployment's token", "web.1", other["web.1"], small, 401, "unauthorized"},
		{"no token", "web.1", "", small, 401, "unauthorized"},
		{"not gzip", "web.1", tokens["web.1"], []byte("just text, not a report"), 400, "invalid"},
		{"an uncompressed tar", "web.1", tokens["web.1"], plain.Bytes(), 400, "invalid"},
		{"empty", "web.1", tokens["web.1"], nil, 400, "invalid"},
		{"gzip, not tar", "web.1", tokens["web.1"], gz([]byte(strings.Repeat("not a tar header ", 100))), 400, "invalid"},
		{"gzip of a short text", "web.1", tokens["web.1"], gz([]byte("hello")), 400, "invalid"},
		{"truncated", "web.1", tokens["web.1"], truncated[:len(truncated)-10], 400, "invalid"},
		{"trailing garbage", "web.1", tokens["web.1"], append(append([]byte{}, small...), "junk"...), 400, "invalid"},
		{"too large", "web.1", tokens["web.1"], tarGz(t, nil, 300<<10), 413, "too_large"},
		{"no such instance", "web.3", admin, small, 404, "not_found"},
		{"instance 0", "web.0", admin, small, 404, "not_found"},
		{"a node", "web", admin, small, 404, "not_found"},
		{"leading zero", "web.01", admin, small, 404, "not_found"},
		{"no such node", "nope.1", admin, small, 404, "not_found"},
		{"deployment-wide", "ss", admin, small, 404, "not_found"},
		{"a key", "web.1:x", admin, small, 404, "not_found"},
		{"path trick", "..%2f..%2fweb.1", admin, small, 404, "not_found"},
		{"path trick in the name", "web.1%2f..%2f..%2fx", admin, small, 404, "not_found"},
	}
	for _, c := range cases {
		res, b := fetch(t, "PUT", url+c.inst, c.token, bytes.NewReader(c.body))
		if res.StatusCode != c.status || errorCode(b) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.StatusCode, b, c.status, c.code)
		}
		if c.code == "too_large" && !strings.Contains(string(b), "256 KiB") {
			t.Errorf("%s: the message gives no limit: %s", c.name, b)
		}
	}
	// Too large without a Content-Length (chunked): cut off while read.
	res, b = fetch(t, "PUT", url+"web.1", tokens["web.1"], io.MultiReader(bytes.NewReader(tarGz(t, nil, 300<<10))))
	if res.StatusCode != 413 || errorCode(b) != "too_large" || !strings.Contains(string(b), "256 KiB") {
		t.Fatalf("chunked too large: %d %s", res.StatusCode, b)
	}
	// Nothing refused was stored, not even a temporary file.
	if files := storedFiles(reports); strings.Join(files, " ") != "lamp/web.1.tar.gz lamp/web.2.tar.gz" {
		t.Fatalf("stored after refusals: %v", files)
	}
	if _, b := fetch(t, "GET", url+"web.1", admin, nil); !bytes.Equal(b, replaced) {
		t.Fatal("a refused upload changed the stored report")
	}

	// Reading is the admin's.
	for _, p := range []string{"/v1/deployments/lamp/reports", "/v1/deployments/lamp/reports/web.1"} {
		if res, b := fetch(t, "GET", srv.URL+p, tokens["web.1"], nil); res.StatusCode != 401 {
			t.Errorf("instance reading %s: %d %s", p, res.StatusCode, b)
		}
	}
	for _, c := range []struct{ path, code string }{
		{"/v1/deployments/lamp/reports/db.1", "not_found"}, // not uploaded
		{"/v1/deployments/lamp/reports/db.2", "not_found"}, // no such instance
		{"/v1/deployments/nope/reports", "not_found"},
		{"/v1/deployments/nope/reports/web.1", "not_found"},
	} {
		if res, b := fetch(t, "GET", srv.URL+c.path, admin, nil); res.StatusCode != 404 || errorCode(b) != c.code {
			t.Errorf("%s: %d %s", c.path, res.StatusCode, b)
		}
	}
	if l := listReportsOf(t, srv, "other"); len(l.Reports) != 0 {
		t.Fatalf("other: %+v", l.Reports)
	}

	// Deleting the deployment deletes its reports, and only its own.
	fetch(t, "PUT", srv.URL+"/v1/deployments/other/reports/db.1", other["db.1"], bytes.NewReader(small))
	if res, _ := fetch(t, "DELETE", srv.URL+"/v1/deployments/lamp", admin, nil); res.StatusCode != 204 {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(reports, "lamp")); !os.IsNotExist(err) {
		t.Fatalf("the deleted deployment's reports are still there: %v", err)
	}
	if files := storedFiles(reports); strings.Join(files, " ") != "other/db.1.tar.gz" {
		t.Fatalf("stored after delete: %v", files)
	}
	if res, _ := fetch(t, "GET", srv.URL+"/v1/deployments/lamp/reports", admin, nil); res.StatusCode != 404 {
		t.Fatalf("list after delete: %d", res.StatusCode)
	}
	// Created again under the same id, it starts with no reports.
	create(t, srv, lampJSON)
	if l := listReportsOf(t, srv, "lamp"); len(l.Reports) != 0 {
		t.Fatalf("recreated: %+v", l.Reports)
	}
}

// TestReports_noFolder: a coordinator without a report folder keeps none.
func TestReports_noFolder(t *testing.T) {
	srv, _ := newExtServer(t, func(o *Options) {})
	tokens := create(t, srv, lampJSON)
	res, b := fetch(t, "PUT", srv.URL+"/v1/deployments/lamp/reports/web.1", tokens["web.1"], bytes.NewReader(tarGz(t, nil, 10)))
	if res.StatusCode != 404 || !strings.Contains(string(b), "without a report folder") {
		t.Fatalf("upload: %d %s", res.StatusCode, b)
	}
	if res, _ := fetch(t, "GET", srv.URL+"/v1/deployments/lamp/reports", admin, nil); res.StatusCode != 404 {
		t.Fatalf("list: %d", res.StatusCode)
	}
}

// TestReports_bodyLimits: the report limit applies to report uploads only;
// every other body keeps MaxBody.
func TestReports_bodyLimits(t *testing.T) {
	srv, s := newExtServer(t, func(o *Options) { o.ReportDir = t.TempDir(); o.MaxBody = 0 })
	if s.opts.MaxReport != 16<<20 || s.opts.MaxBody != 1<<20 {
		t.Fatalf("defaults: MaxReport %d, MaxBody %d", s.opts.MaxReport, s.opts.MaxBody)
	}
	tokens := create(t, srv, lampJSON)
	big := tarGz(t, nil, 1<<20+100<<10)
	if res, b := fetch(t, "PUT", srv.URL+"/v1/deployments/lamp/reports/db.1", tokens["db.1"], bytes.NewReader(big)); res.StatusCode != 204 {
		t.Fatalf("a report over MaxBody: %d %s", res.StatusCode, b)
	}
	body := `{"value":"` + strings.Repeat("x", 1<<20) + `"}`
	if res, b := fetch(t, "PUT", srv.URL+"/v1/deployments/lamp/parameters/password", tokens["db.1"], strings.NewReader(body)); res.StatusCode != 413 {
		t.Fatalf("a large JSON body: %d %s", res.StatusCode, b)
	}
}

// TestReports_gzipBomb: a report may not decompress to more than 64 times
// MaxReport.
func TestReports_gzipBomb(t *testing.T) {
	srv, _ := newExtServer(t, func(o *Options) { o.ReportDir = t.TempDir(); o.MaxReport = 16 << 10 })
	tokens := create(t, srv, lampJSON)
	bomb := tarGz(t, map[string]string{"zeros": strings.Repeat("\x00", 1100<<10)}, 0)
	if len(bomb) > 16<<10 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	res, b := fetch(t, "PUT", srv.URL+"/v1/deployments/lamp/reports/web.1", tokens["web.1"], bytes.NewReader(bomb))
	if res.StatusCode != 413 || errorCode(b) != "too_large" || !strings.Contains(string(b), "decompresses") {
		t.Fatalf("bomb: %d %s", res.StatusCode, b)
	}
	ok := tarGz(t, map[string]string{"zeros": strings.Repeat("\x00", 900<<10)}, 0)
	if res, b := fetch(t, "PUT", srv.URL+"/v1/deployments/lamp/reports/web.1", tokens["web.1"], bytes.NewReader(ok)); res.StatusCode != 204 {
		t.Fatalf("within the expansion limit: %d %s", res.StatusCode, b)
	}
}

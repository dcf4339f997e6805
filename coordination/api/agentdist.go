package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// agentFiles are the agent binaries the coordinator serves, by platform.
// Requests are mapped through this fixed table, so nothing from a request
// path ever reaches the file system.
var agentFiles = []struct{ platform, file string }{
	{"linux/amd64", "slipstream-agent-linux-amd64"},
	{"linux/arm64", "slipstream-agent-linux-arm64"},
}

// AgentInfo describes one agent binary in GET /v1/agent.
type AgentInfo struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	URL    string `json:"url"`
}

// AvailableAgents returns the platforms ("linux/amd64") whose agent binary
// is in dir, for slipc serve to tell at start.
func AvailableAgents(dir string) []string {
	var found []string
	for _, a := range agentFiles {
		if st, err := os.Stat(filepath.Join(dir, a.file)); err == nil && st.Mode().IsRegular() {
			found = append(found, a.platform)
		}
	}
	return found
}

// openAgent opens the agent binary for a platform with its size, time and
// SHA-256. The error says what is missing, for the 404's message.
func (s *Server) openAgent(platform string) (*os.File, fs.FileInfo, string, error) {
	name := ""
	for _, a := range agentFiles {
		if a.platform == platform {
			name = a.file
		}
	}
	if name == "" {
		return nil, nil, "", fmt.Errorf("there is no agent for %q", platform)
	}
	if s.opts.AgentDir == "" {
		return nil, nil, "", fmt.Errorf("the coordinator has no agent for %s: it was started without an agent folder", platform)
	}
	missing := fmt.Errorf("the coordinator has no agent for %s: there is no %s in %s", platform, name, s.opts.AgentDir)
	path := filepath.Join(s.opts.AgentDir, name)
	f, err := os.Open(path) // #nosec G304 -- AgentDir is the operator's option and name one of the fixed agentFiles
	if err != nil {
		return nil, nil, "", missing
	}
	// f is read-only: a failed Close loses nothing.
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, "", missing
	}
	sum, err := s.ext.sums.sum(path, f, st)
	if err != nil {
		_ = f.Close()
		return nil, nil, "", err
	}
	return f, st, sum, nil
}

// agents lists the binaries present: GET /v1/agent. No authentication:
// the binary is not secret, and a bootstrap checks it against the SHA-256
// it was given.
func (s *Server) listAgents(w http.ResponseWriter, r *http.Request) {
	if s.ext.limited(w, r) {
		return
	}
	agents := map[string]AgentInfo{}
	for _, a := range agentFiles {
		f, st, sum, err := s.openAgent(a.platform)
		if err != nil {
			continue
		}
		_ = f.Close() // opened only for its size and checksum
		agents[a.platform] = AgentInfo{SHA256: sum, Size: st.Size(), URL: "/v1/agent/" + a.platform}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"agents": agents})
}

// getAgent serves one binary: GET /v1/agent/{os}/{arch}, with ranges and
// conditional requests on an ETag that is its SHA-256.
func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) {
	if s.ext.limited(w, r) {
		return
	}
	f, st, sum, err := s.openAgent(r.PathValue("os") + "/" + r.PathValue("arch"))
	if err != nil {
		s.noAgentError(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Checksum-Sha256", sum)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Vary", "Accept-Encoding")
	if r.Header.Get("Range") == "" && acceptsGzip(r) {
		// Compressed, it is well under half the bytes: what a hundred
		// machines booting at once fetch from the coordinator. The sum
		// stays the binary's, which the bootstrap checks after curl
		// --compressed has decompressed it.
		if z, err := s.ext.gzipped.of(sum, f, st); err == nil {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("ETag", `"`+sum+`-gzip"`)
			http.ServeContent(w, r, "", st.ModTime(), bytes.NewReader(z))
			return
		}
	}
	w.Header().Set("ETag", `"`+sum+`"`)
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (and does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// gzipCache keeps the gzip-compressed agent binaries, by SHA-256 of the
// binary, compressed once (a few hundred milliseconds each).
type gzipCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *gzipCache) of(sum string, f *os.File, st fs.FileInfo) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if z, ok := c.m[sum]; ok {
		return z, nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := io.Copy(zw, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if len(c.m) >= 4 { // two platforms; old binaries go when new ones come
		clear(c.m)
	}
	c.m[sum] = buf.Bytes()
	return buf.Bytes(), nil
}

// noAgent answers any other path under /v1/agent/.
func (s *Server) noAgent(w http.ResponseWriter, r *http.Request) {
	if s.ext.limited(w, r) {
		return
	}
	s.noAgentError(w, errors.New("agents are at /v1/agent/{os}/{arch}"))
}

func (s *Server) noAgentError(w http.ResponseWriter, err error) {
	found := "none"
	if s.opts.AgentDir != "" {
		if list := AvailableAgents(s.opts.AgentDir); len(list) > 0 {
			found = strings.Join(list, ", ")
		}
	}
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%v (available: %s)", err, found))
}

// sumCache keeps the SHA-256 of served files, computed once and again
// only when a file's size or modification time changes.
type sumCache struct {
	mu sync.Mutex
	m  map[string]fileSum // by path
}

type fileSum struct {
	size int64
	mod  time.Time
	sha  string
}

// sum returns the SHA-256 of f, open at path with status st. It reads the
// open file, not the path, so the sum matches the bytes then served even
// if the file is replaced meanwhile.
func (c *sumCache) sum(path string, f *os.File, st fs.FileInfo) (string, error) {
	c.mu.Lock()
	e, ok := c.m[path]
	c.mu.Unlock()
	if ok && e.size == st.Size() && e.mod.Equal(st.ModTime()) {
		return e.sha, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return "", err
	}
	sha := hex.EncodeToString(h.Sum(nil))
	c.put(path, st, sha)
	return sha, nil
}

func (c *sumCache) put(path string, st fs.FileInfo, sha string) {
	c.mu.Lock()
	c.m[path] = fileSum{size: st.Size(), mod: st.ModTime(), sha: sha}
	c.mu.Unlock()
}

// forget drops the sums of the files under dir.
func (c *sumCache) forget(dir string) {
	prefix := dir + string(filepath.Separator)
	c.mu.Lock()
	for p := range c.m {
		if strings.HasPrefix(p, prefix) {
			delete(c.m, p)
		}
	}
	c.mu.Unlock()
}

package api

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// Reports are the tar.gz archives the agents upload after the report
// script, one per instance. They live on the coordinator's disk, not in
// the store: store values are kept in the in-memory watch history too, and
// reports are megabytes. Each is written to a temporary file and renamed,
// so a crash never leaves half a report:
//
//	ReportDir/<deployment id>/<instance>.tar.gz
const reportPutPattern = "PUT /v1/deployments/{id}/reports/{instance}"

var (
	// depDirRE is what a deployment id must look like to name its folder
	// as is (the coordinator accepts no other ids); anything else would be
	// named by its hash.
	depDirRE = regexp.MustCompile(`^\w[\w.-]*$`)
	// reportFileRE is a stored report's file name.
	reportFileRE = regexp.MustCompile(`^(\w+\.[1-9][0-9]*)\.tar\.gz$`)
)

// maxExpansion bounds how far a report may decompress (times MaxReport),
// so a small gzip bomb cannot keep the validation busy for minutes.
const maxExpansion = 64

// bodyLimit is the size limit of a request's body: MaxReport for a report
// upload, MaxBody for everything else.
func (s *Server) bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPut {
		if _, pattern := s.mux.Handler(r); pattern == reportPutPattern {
			return s.opts.MaxReport
		}
	}
	return s.opts.MaxBody
}

// reportDir is a deployment's report folder.
func (s *Server) reportDir(id string) string {
	name := id
	if !depDirRE.MatchString(id) || len(id) > 128 {
		sum := sha256.Sum256([]byte(id))
		name = "~" + hex.EncodeToString(sum[:]) // "~" is in no id, so no clash
	}
	return filepath.Join(s.opts.ReportDir, name)
}

// removeReports deletes a deployment's reports; the deployment is gone.
// Best effort: the deployment itself was deleted already.
func (s *Server) removeReports(id string) {
	if s.opts.ReportDir == "" {
		return
	}
	dir := s.reportDir(id)
	_ = os.RemoveAll(dir)
	s.ext.sums.forget(dir)
}

// reportTarget checks that the request names a deployment that exists and
// one of its instances, and returns the report's path.
func (s *Server) reportTarget(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.opts.ReportDir == "" {
		writeError(w, http.StatusNotFound, "not_found", "this coordinator keeps no reports: it was started without a report folder")
		return "", false
	}
	id, name := r.PathValue("id"), r.PathValue("instance")
	d, _, err := s.c.Spec(r.Context(), id)
	if err != nil {
		fail(w, err)
		return "", false
	}
	k, err := coordinator.Qualify(name+":x", nil)
	inst, isInst := k.Instance()
	if err != nil || !isInst || k.Scope != name || !reportFileRE.MatchString(name+".tar.gz") ||
		d.Nodes[inst.Node] == nil || inst.Index > d.Nodes[inst.Node].Multiplicity {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("deployment %s has no instance %q", id, name))
		return "", false
	}
	return filepath.Join(s.reportDir(id), name+".tar.gz"), true
}

// putReport stores an instance's report, replacing the one before:
// PUT /v1/deployments/{id}/reports/{instance}, body a tar.gz.
func (s *Server) putReport(w http.ResponseWriter, r *http.Request, who caller) {
	if who.instance != nil && who.instance.String() != r.PathValue("instance") {
		writeError(w, http.StatusForbidden, "forbidden", "an instance may upload only its own report")
		return
	}
	path, ok := s.reportTarget(w, r)
	if !ok {
		return
	}
	tooLarge := fmt.Sprintf("a report may be at most %s", sizeText(s.opts.MaxReport))
	if r.ContentLength > s.opts.MaxReport {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", tooLarge)
		return
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fail(w, err)
		return
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		fail(w, err)
		return
	}
	closed, renamed := false, false
	defer func() {
		if !closed {
			_ = tmp.Close() // the upload failed and is thrown away
		}
		if !renamed {
			// Gone already if a delete removed the folder meanwhile.
			if err := os.Remove(tmp.Name()); err != nil && !os.IsNotExist(err) {
				s.opts.Log.Warn("removing a failed report upload", "file", tmp.Name(), "error", err)
			}
		}
	}()
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", tooLarge)
		} else {
			writeError(w, http.StatusBadRequest, "invalid", "reading the report: "+err.Error())
		}
		return
	}
	if err := checkTarGz(io.NewSectionReader(tmp, 0, size), maxExpansion*s.opts.MaxReport); err != nil {
		if errors.Is(err, errExpands) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
		} else {
			writeError(w, http.StatusBadRequest, "invalid", err.Error())
		}
		return
	}
	if err := tmp.Sync(); err != nil {
		fail(w, err)
		return
	}
	closed = true
	if err := tmp.Close(); err != nil {
		fail(w, err)
		return
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		// The deployment was deleted meanwhile, or the disk failed.
		if _, _, serr := s.c.Spec(r.Context(), r.PathValue("id")); serr != nil {
			fail(w, serr)
		} else {
			fail(w, err)
		}
		return
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		// The report's data is on disk (Sync above) and the upload has
		// succeeded; only the rename might not survive a crash.
		s.opts.Log.Warn("syncing the report folder", "folder", dir, "error", err)
	}
	if st, err := os.Stat(path); err == nil {
		s.ext.sums.put(path, st, hex.EncodeToString(h.Sum(nil)))
	}
	// A delete that ran during the upload has removed the folder before
	// the rename: take the report back out.
	if _, _, err := s.c.Spec(r.Context(), r.PathValue("id")); errors.Is(err, coordinator.ErrNotFound) {
		// A report left here would outlive its deployment: say so.
		for _, p := range []string{path, dir} {
			if rerr := os.Remove(p); rerr != nil && !os.IsNotExist(rerr) {
				s.opts.Log.Warn("removing the report of a deleted deployment", "path", p, "error", rerr)
			}
		}
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ReportInfo describes one report in GET /v1/deployments/{id}/reports.
type ReportInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Time   string `json:"time"` // RFC 3339, when it was stored
}

// listReports lists a deployment's reports: GET /v1/deployments/{id}/reports.
func (s *Server) listReports(w http.ResponseWriter, r *http.Request, _ caller) {
	if s.opts.ReportDir == "" {
		writeError(w, http.StatusNotFound, "not_found", "this coordinator keeps no reports: it was started without a report folder")
		return
	}
	id := r.PathValue("id")
	if _, _, err := s.c.Spec(r.Context(), id); err != nil {
		fail(w, err)
		return
	}
	reports := map[string]ReportInfo{}
	dir := s.reportDir(id)
	entries, _ := os.ReadDir(dir) // no folder: no reports yet
	for _, e := range entries {
		m := reportFileRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		f, st, sum, err := s.openReport(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // replaced or removed meanwhile
		}
		_ = f.Close() // opened read-only, for its size and checksum
		reports[m[1]] = ReportInfo{Size: st.Size(), SHA256: sum, Time: st.ModTime().UTC().Format(time.RFC3339)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": reports})
}

// getReport serves one report: GET /v1/deployments/{id}/reports/{instance}.
func (s *Server) getReport(w http.ResponseWriter, r *http.Request, _ caller) {
	path, ok := s.reportTarget(w, r)
	if !ok {
		return
	}
	f, st, sum, err := s.openReport(path)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s has uploaded no report", r.PathValue("instance")))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.tar.gz"`, r.PathValue("id"), r.PathValue("instance")))
	w.Header().Set("X-Checksum-Sha256", sum)
	w.Header().Set("ETag", `"`+sum+`"`)
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func (s *Server) openReport(path string) (*os.File, os.FileInfo, string, error) {
	f, err := os.Open(path) // #nosec G304 -- a report file under ReportDir: reportTarget and listReports allow only reportFileRE names in the deployment's folder
	if err != nil {
		return nil, nil, "", err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a file")
	}
	var sum string
	if err == nil {
		sum, err = s.ext.sums.sum(path, f, st)
	}
	if err != nil {
		_ = f.Close() // read-only
		return nil, nil, "", err
	}
	return f, st, sum, nil
}

var errExpands = errors.New("the report decompresses to too much data")

// checkTarGz checks that r is a gzip-compressed tar by walking it to the
// end: every header, and the gzip checksum.
func checkTarGz(r io.ReadSeeker, maxExpanded int64) error {
	var magic [2]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || magic != [2]byte{0x1f, 0x8b} {
		return errors.New("the report must be a gzip-compressed tar: it does not start with the gzip magic 1f 8b")
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("the report is not a readable gzip stream: %v", err)
	}
	limited := &io.LimitedReader{R: zr, N: maxExpanded + 1}
	tr := tar.NewReader(limited)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if limited.N <= 0 {
				return fmt.Errorf("%w: more than %s", errExpands, sizeText(maxExpanded))
			}
			return fmt.Errorf("the report is not a readable tar.gz: %v", err)
		}
	}
	// What follows the tar's end (padding) and the gzip checksum.
	if _, err := io.Copy(io.Discard, limited); err != nil {
		return fmt.Errorf("the report is not a readable tar.gz: %v", err)
	}
	if limited.N <= 0 {
		return fmt.Errorf("%w: more than %s", errExpands, sizeText(maxExpanded))
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a deployment's folder under ReportDir, named by reportDir
	if err != nil {
		return err
	}
	err = d.Sync()
	_ = d.Close() // read-only: the Sync is what tells
	return err
}

// sizeText writes a size in bytes, in MiB or KiB when it is a whole number
// of them.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// This file is the read side for people (the web view under /ui/, slipc
// status and watch) and the viewer tokens that open it:
//
//	POST   /v1/viewers                            admin: {"name", "ttl": "24h", "deployment"}: a new viewer token,
//	                                              returned once: {"token", "name", "expires", "deployment"}
//	GET    /v1/viewers                            admin: {"viewers": [{"name", "deployment", "created", "expires"}]}
//	DELETE /v1/viewers/{name}                     admin: revoke
//	GET    /v1/stats                              admin: {"goroutines", "heap_bytes", "open_files"} of the coordinator process
//	GET    /v1/whoami                             reader: {"role": "admin"} or {"role": "viewer", "name", "deployment", "expires"}
//	GET    /v1/deployments/{id}/overview          reader: counts by instance state and node, the barrier's count,
//	                                              the waits with their deadlocks, the abort with its context
//	GET    /v1/deployments/{id}/instances         reader: ?node=&state=&match=&offset=&limit= (limit ≤ 500):
//	                                              {"instances": [...], "total": N}
//	GET    /v1/deployments/{id}/instances/{i}     reader: one instance with its parameters (sensitive ones
//	                                              say so, without their value)
//
// A reader is the admin or a viewer: a viewer token reads every GET of
// the people's side (deployments, the run, its waits, parameters, the
// event stream, the reports' list) but no report itself (a script's log
// may hold anything), never a sensitive value (its parameters list leaves
// them out, as the event stream does for everyone), and nothing of a
// deployment outside the one it is limited to. It can write nothing.

const (
	defaultViewerTTL = 24 * time.Hour
	maxViewerTTL     = 366 * 24 * time.Hour
	maxPage          = 500
)

// viewer returns the viewer a token belongs to, if it is a live viewer
// token.
func (s *Server) viewer(r *http.Request, token string) (*coordinator.Viewer, error) {
	sum := sha256.Sum256([]byte(token))
	v, err := s.c.ViewerForToken(r.Context(), hex.EncodeToString(sum[:]), s.opts.Now())
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// mayView reports whether a viewer may read deployment id.
func mayView(v *coordinator.Viewer, id string) bool {
	return v.Deployment == "" || v.Deployment == id
}

// reader wraps a handler the admin or a viewer may call. Instance tokens
// are refused: a machine reads its deployment through the agent's calls.
func (s *Server) reader(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.ext.limited(w, r) {
			return
		}
		token := bearer(r)
		if s.isAdmin(token) {
			asAdmin(w)
			h(w, r, caller{admin: true})
			return
		}
		who, ok := s.asViewer(w, r, token)
		if !ok {
			return
		}
		if who == nil {
			s.ext.authFailed(r)
			writeError(w, http.StatusUnauthorized, "unauthorized", "this needs the admin token or a viewer token (slipc token viewer)")
			return
		}
		h(w, r, *who)
	}
}

// asViewer authenticates a viewer token: a caller (nil when the token is
// not a viewer's), or false when it has answered the request itself (an
// expired token, another deployment's, a store failure).
func (s *Server) asViewer(w http.ResponseWriter, r *http.Request, token string) (*caller, bool) {
	if token == "" {
		return nil, true
	}
	v, err := s.viewer(r, token)
	switch {
	case errors.Is(err, coordinator.ErrViewerExpired):
		s.ext.authFailed(r)
		writeError(w, http.StatusUnauthorized, "unauthorized", "this viewer token has expired: ask for a new one (slipc token viewer)")
		return nil, false
	case errors.Is(err, coordinator.ErrNotFound):
		return nil, true
	case err != nil:
		fail(w, err)
		return nil, false
	}
	if id := r.PathValue("id"); id != "" && !mayView(v, id) {
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this viewer token is for deployment %s only", v.Deployment))
		return nil, false
	}
	return &caller{viewer: v}, true
}

func (s *Server) createViewer(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		Name       string `json:"name"`
		TTL        string `json:"ttl"`
		Deployment string `json:"deployment"`
	}
	if !decode(w, r, &body) {
		return
	}
	ttl := defaultViewerTTL
	if body.TTL != "" {
		d, err := time.ParseDuration(body.TTL)
		if err != nil || d <= 0 || d > maxViewerTTL {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("ttl %q: want a duration from 1s to %s, such as 24h", body.TTL, maxViewerTTL))
			return
		}
		ttl = d
	}
	if body.Deployment != "" {
		if _, err := s.c.Status(r.Context(), body.Deployment); err != nil {
			fail(w, err)
			return
		}
	}
	if body.Name == "" {
		body.Name = "viewer-" + newToken()[:8]
	}
	token := newToken()
	sum := sha256.Sum256([]byte(token))
	now := s.opts.Now().UTC()
	v := coordinator.Viewer{Name: body.Name, Deployment: body.Deployment, Created: now, Expires: now.Add(ttl), Hash: hex.EncodeToString(sum[:])}
	if err := s.c.AddViewer(r.Context(), v); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "name": v.Name, "deployment": v.Deployment, "expires": v.Expires})
}

func (s *Server) listViewers(w http.ResponseWriter, r *http.Request, _ caller) {
	list, err := s.c.Viewers(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"viewers": list})
}

func (s *Server) deleteViewer(w http.ResponseWriter, r *http.Request, _ caller) {
	if err := s.c.RemoveViewer(r.Context(), r.PathValue("name")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, _ caller) {
	o, err := s.c.Overview(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// instanceRow is an instance as listed, with whether its report is kept.
type instanceRow struct {
	coordinator.InstanceView
	Report bool `json:"report"`
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request, _ caller) {
	q := r.URL.Query()
	f := coordinator.InstanceFilter{Node: q.Get("node"), State: q.Get("state"), Match: q.Get("match"), Limit: 100}
	for name, dst := range map[string]*int{"offset": &f.Offset, "limit": &f.Limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%s must be a whole number from 0", name))
				return
			}
			*dst = n
		}
	}
	f.Limit = min(max(f.Limit, 1), maxPage)
	if f.State != "" && !validInstanceState(f.State) {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("state %q: want one of %v", f.State, coordinator.InstanceStates))
		return
	}
	list, total, err := s.c.Instances(r.Context(), r.PathValue("id"), f)
	if err != nil {
		fail(w, err)
		return
	}
	rows := make([]instanceRow, len(list))
	for i, iv := range list {
		rows[i] = instanceRow{InstanceView: iv, Report: s.hasReport(r.PathValue("id"), iv.Name)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"instances": rows, "total": total, "offset": f.Offset, "limit": f.Limit})
}

func validInstanceState(s string) bool {
	for _, st := range coordinator.InstanceStates {
		if st == s {
			return true
		}
	}
	return false
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request, _ caller) {
	id, name := r.PathValue("id"), r.PathValue("instance")
	k, err := coordinator.Qualify(name+":x", nil)
	inst, isInst := k.Instance()
	if err != nil || !isInst || k.Scope != name {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%q is not an instance name (node.index)", name))
		return
	}
	iv, err := s.c.InstanceDetail(r.Context(), id, inst)
	if errors.Is(err, coordinator.ErrUnknown) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("deployment %s has no instance %s", id, name))
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, instanceRow{InstanceView: *iv, Report: s.hasReport(id, iv.Name)})
}

func (s *Server) hasReport(id, instance string) bool {
	if s.opts.ReportDir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(s.reportDir(id), instance+".tar.gz")) // #nosec G703 -- instance is the name of an instance the coordinator found (node.index), in reportDir's folder for the id
	return err == nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, who caller) {
	if who.viewer == nil {
		writeJSON(w, http.StatusOK, map[string]any{"role": "admin"})
		return
	}
	v := who.viewer
	writeJSON(w, http.StatusOK, map[string]any{"role": "viewer", "name": v.Name, "deployment": v.Deployment, "expires": v.Expires})
}

// stats answers the coordinator process's own vital signs, for operators
// and the fault suite's soak run: goroutines, heap, open files, parked
// waits. GET /v1/stats (admin).
func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ caller) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	files := -1
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		files = len(entries)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"goroutines": runtime.NumGoroutine(), "heap_bytes": m.HeapAlloc, "open_files": files,
	})
}

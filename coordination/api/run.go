package api

import (
	"fmt"
	"net/http"
)

type scaleResponse struct {
	State string `json:"state"`
	// Tokens are the new instances' tokens, issued once as at creation.
	Tokens map[string]string `json:"tokens"`
}

// scale changes a node's multiplicity (the provider's update of a
// deployment). New instances get tokens like those issued at creation.
func (s *Server) scale(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		Node         string `json:"node"`
		Multiplicity *int   `json:"multiplicity"`
	}
	if !decode(w, r, &body) {
		return
	}
	id := r.PathValue("id")
	if body.Multiplicity == nil || *body.Multiplicity < 0 {
		writeError(w, http.StatusBadRequest, "invalid", `the body needs "node" and a "multiplicity" of 0 or more`)
		return
	}
	d, _, err := s.c.Spec(r.Context(), id)
	if err != nil {
		fail(w, err)
		return
	}
	n := d.Nodes[body.Node]
	if n == nil {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("deployment %s has no node %q", id, body.Node))
		return
	}
	total := *body.Multiplicity
	for name, other := range d.Nodes {
		if name != body.Node {
			total += other.Multiplicity
		}
	}
	if total > s.opts.MaxInstances {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("a deployment may have 0 to %d instances", s.opts.MaxInstances))
		return
	}
	tokens, hashes := map[string]string{}, map[string]string{}
	issueTokens(body.Node, n.Multiplicity+1, *body.Multiplicity, tokens, hashes)
	now, err := s.c.Scale(r.Context(), id, body.Node, *body.Multiplicity, hashes)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, scaleResponse{State: now, Tokens: tokens})
}

// finalize ends a run; agents complete Finalizing and stop.
func (s *Server) finalize(w http.ResponseWriter, r *http.Request, _ caller) {
	now, err := s.c.Finalize(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": now})
}

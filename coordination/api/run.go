package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

type scaleResponse struct {
	State string `json:"state"`
	// Tokens are the new instances' tokens, issued once as at creation.
	Tokens map[string]string `json:"tokens"`
}

// scale changes a node's multiplicity (the provider's update of a
// deployment). New instances get tokens like those issued at creation,
// or none with "defer_tokens".
func (s *Server) scale(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		Node         string            `json:"node"`
		Multiplicity *int              `json:"multiplicity"`
		TokenSHA256  map[string]string `json:"token_sha256"`
		DeferTokens  bool              `json:"defer_tokens"`
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
	tokens, hashes := map[string]string{}, body.TokenSHA256
	switch {
	case body.DeferTokens && hashes != nil:
		writeError(w, http.StatusBadRequest, "invalid", `"defer_tokens" issues no token: leave "token_sha256" out`)
		return
	case body.DeferTokens:
		// No token for the new instances: their machine resources ask
		// for them, or their pool's token is registered. The coordinator
		// takes a scale to the multiplicity the node has as the retry of
		// one that committed.
		tokens, hashes = nil, nil
	case hashes == nil:
		hashes = map[string]string{}
		issueTokens(body.Node, n.Multiplicity+1, *body.Multiplicity, tokens, hashes)
	default:
		// The caller's tokens for instances 1..multiplicity it adds; a
		// retry after the scale committed names instances that exist now,
		// and the coordinator checks that they hold exactly these tokens.
		want := map[string]bool{}
		for i := 1; i <= *body.Multiplicity; i++ {
			want[coordinator.Instance{Node: body.Node, Index: i}.String()] = true
		}
		if msg := checkHashes(hashes, want, false); msg != "" {
			writeError(w, http.StatusBadRequest, "invalid", msg)
			return
		}
		tokens = nil
	}
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

// listDeployments lists every deployment the coordinator holds, so an
// operator can find those no Terraform state knows.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, who caller) {
	list, err := s.c.Deployments(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := []deploymentRow{}
	for _, d := range list {
		if who.viewer != nil {
			if !mayView(who.viewer, d.ID) {
				continue
			}
			d.Meta = nil // the provider's configuration is the admin's
		}
		row := deploymentRow{Summary: d}
		if r.URL.Query().Get("states") == "1" {
			// Each instance's state, counted: what the web view lists.
			o, err := s.c.Overview(r.Context(), d.ID)
			if errors.Is(err, coordinator.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				fail(w, err)
				return
			}
			row.States, row.Created = o.States, o.Created
		}
		out = append(out, row)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deployments": out})
}

// deploymentRow is a deployment as listed; with ?states=1, with its
// instances counted by state and its registration time.
type deploymentRow struct {
	coordinator.Summary
	States  map[string]int `json:"states,omitempty"`
	Created time.Time      `json:"created,omitzero"`
}

// updateSettings changes what a running deployment may change in place.
func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, _ caller) {
	var body coordinator.Settings
	if !decode(w, r, &body) {
		return
	}
	if body.Meta != nil && !json.Valid(body.Meta) {
		writeError(w, http.StatusBadRequest, "invalid", "meta must be JSON")
		return
	}
	now, err := s.c.UpdateSettings(r.Context(), r.PathValue("id"), body)
	var invalid *coordinator.InvalidError
	if errors.As(err, &invalid) {
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": now})
}

// reissueTokens replaces instances' tokens with the caller's.
func (s *Server) reissueTokens(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		TokenSHA256 map[string]string `json:"token_sha256"`
		// UnlessUnspent, when given, holds the hashes of the instances'
		// current bootstrap tokens: only those no longer exchangeable are
		// renewed (RenewSpentTokens).
		UnlessUnspent map[string]string `json:"unless_unspent"`
	}
	if !decode(w, r, &body) {
		return
	}
	if len(body.TokenSHA256) == 0 {
		writeError(w, http.StatusBadRequest, "invalid", `the body needs "token_sha256": {"node.i": "<hex sha256>"}`)
		return
	}
	want := map[string]bool{}
	for inst := range body.TokenSHA256 {
		want[inst] = true
	}
	if msg := checkHashes(body.TokenSHA256, want, true); msg != "" {
		writeError(w, http.StatusBadRequest, "invalid", msg)
		return
	}
	if body.UnlessUnspent != nil {
		renewed, err := s.c.RenewSpentTokens(r.Context(), r.PathValue("id"), body.UnlessUnspent, body.TokenSHA256)
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"renewed": renewed})
		return
	}
	if err := s.c.ReissueTokens(r.Context(), r.PathValue("id"), body.TokenSHA256); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// instanceFailed records that an instance's machine could not be started.
func (s *Server) instanceFailed(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !decode(w, r, &body) {
		return
	}
	k, err := coordinator.Qualify(r.PathValue("instance")+":x", nil)
	inst, ok := k.Instance()
	if err != nil || !ok {
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%q is not an instance name (node.i)", r.PathValue("instance")))
		return
	}
	tolerated, err := s.c.InstanceFailed(r.Context(), r.PathValue("id"), inst, body.Reason)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"tolerated": tolerated})
}

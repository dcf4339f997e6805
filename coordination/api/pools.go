package api

import "net/http"

// Pools: the machines of a pool are started by one cloud call and share
// one user-data, which holds a pool token rather than an instance's
// bootstrap token. The provider registers the pool token before the call
// (registerPool) and, once the cloud has answered with the machines' ids,
// which machine is which instance (setPoolMembers); each machine's agent
// then exchanges the pool token with its machine id (exchange.go). Every
// call here is safe to retry.

// registerPool is POST /v1/deployments/{id}/pools {"node", "token_sha256"}.
func (s *Server) registerPool(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		Node        string `json:"node"`
		TokenSHA256 string `json:"token_sha256"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Node == "" || body.TokenSHA256 == "" {
		writeError(w, http.StatusBadRequest, "invalid", `the body needs "node" and "token_sha256" (the pool token's hex SHA-256)`)
		return
	}
	if err := s.c.RegisterPool(r.Context(), r.PathValue("id"), body.Node, body.TokenSHA256); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// setPoolMembers is PUT /v1/deployments/{id}/pools/{hash}/members
// {"members": {"<machine id>": "<instance>"}}.
func (s *Server) setPoolMembers(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		Members map[string]string `json:"members"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Members == nil {
		writeError(w, http.StatusBadRequest, "invalid", `the body needs "members": {"<machine id>": "<node>.<i>"}`)
		return
	}
	if err := s.c.SetPoolMembers(r.Context(), r.PathValue("id"), r.PathValue("hash"), body.Members); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// removePoolMembers is DELETE /v1/deployments/{id}/members
// {"machine_ids": [...]}.
func (s *Server) removePoolMembers(w http.ResponseWriter, r *http.Request, _ caller) {
	var body struct {
		MachineIDs []string `json:"machine_ids"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.MachineIDs == nil {
		writeError(w, http.StatusBadRequest, "invalid", `the body needs "machine_ids": ["<machine id>", ...]`)
		return
	}
	if err := s.c.RemovePoolMembers(r.Context(), r.PathValue("id"), body.MachineIDs); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listPoolMembers is GET /v1/deployments/{id}/members[?node=worker]:
// {"members": {"<machine id>": "<instance>"}}.
func (s *Server) listPoolMembers(w http.ResponseWriter, r *http.Request, _ caller) {
	members, err := s.c.PoolMembers(r.Context(), r.PathValue("id"), r.URL.Query().Get("node"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": members})
}

package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"net/http"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// exchange is POST /v1/deployments/{id}/exchange: the agent trades the
// one-time bootstrap token its machine was given (the bearer) for its own
// token, which it made on the machine and sends only as a hash
// ({"token_sha256": "<hex>"}). User-data is readable by any local user
// through a cloud's metadata service and is kept in the provider's state;
// after the exchange, what they hold opens nothing. The same exchange
// asked again succeeds (the agent retries when an answer is lost); any
// other use of a spent bootstrap token is 401 "exchanged".
//
// A pool token (pools.go) is exchanged with the machine's cloud id as
// well ({"token_sha256", "machine_id"}), and the answer names the
// instance the provider registered that machine as. A machine id that is
// not (yet) a member is 409 "not_registered": the provider registers a
// batch's machines once the cloud has answered with their ids, and the
// agent asks again. That is no authentication failure: the token is good,
// so it does not count against the client's address. A bootstrap token
// ignores a machine id.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if s.ext.limited(w, r) {
		return
	}
	token := bearer(r)
	if token == "" {
		s.ext.authFailed(r)
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token")
		return
	}
	if s.isAdmin(token) {
		asAdmin(w)
		writeError(w, http.StatusForbidden, "forbidden", "the admin token is not a bootstrap token: only an instance's bootstrap token is exchanged")
		return
	}
	var body struct {
		TokenSHA256 string `json:"token_sha256"`
		MachineID   string `json:"machine_id,omitempty"`
	}
	if !decode(w, r, &body) {
		return
	}
	sum := sha256.Sum256([]byte(token))
	inst, err := s.c.ExchangeMachine(r.Context(), r.PathValue("id"), hex.EncodeToString(sum[:]), body.TokenSHA256, body.MachineID)
	switch {
	case errors.Is(err, coordinator.ErrNotFound):
		s.ext.authFailed(r)
		writeError(w, http.StatusUnauthorized, "unauthorized", "unknown token for this deployment")
	case errors.Is(err, coordinator.ErrTokenExchanged):
		s.ext.authFailed(r)
		writeError(w, http.StatusUnauthorized, "exchanged", err.Error())
	case err != nil:
		fail(w, err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"instance": inst.String()})
	}
}

// forInstance is the deployment as an instance sees it: without the
// provider's own description (Meta, which repeats every input) and
// without the starting values of other nodes' sensitive inputs, which
// that instance may not read as parameters either.
// forViewer is the deployment as a viewer sees it: no sensitive input's
// starting value, and not the provider's configuration.
func forViewer(d *coordinator.Deployment) *coordinator.Deployment {
	out := forInstance(d, coordinator.Instance{})
	out.Meta = nil
	return out
}

func forInstance(d *coordinator.Deployment, inst coordinator.Instance) *coordinator.Deployment {
	out := *d // d is shared with the coordinator's cache: change copies
	out.Meta = nil
	out.Nodes = make(map[string]*coordinator.Node, len(d.Nodes))
	for name, n := range d.Nodes {
		if name == inst.Node || len(n.Inputs) == 0 {
			out.Nodes[name] = n
			continue
		}
		nn := *n
		nn.Inputs = maps.Clone(n.Inputs)
		for in := range n.Inputs {
			if d.ParamSensitive(name, in) {
				delete(nn.Inputs, in)
			}
		}
		out.Nodes[name] = &nn
	}
	return &out
}

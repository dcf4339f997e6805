// Package api is the coordinator's HTTP/JSON API under /v1 (slipc serve).
//
// Authentication: every request carries "Authorization: Bearer <token>".
// The admin token (the provider's) may do everything. Each instance gets a
// one-time bootstrap token, issued when its deployment is created or
// scaled (or later, one by one, when the deployment was registered with
// "defer_tokens") and carried by its user-data or SSH bootstrap: it can
// only be exchanged, once, for the agent's own token, which the agent
// makes on the machine (exchange.go). The machines of a pool (N identical
// machines started by one cloud call, with the same user-data) share a
// pool token instead: each exchanges it together with its cloud machine
// id, which the provider registered as a member of the pool once the
// cloud answered with the ids, and so learns its instance (pools.go).
// Tokens are stored only as SHA-256 hashes and compared in constant time.
// An agent token may read its own deployment (of the sensitive values,
// only its own, its node's inputs and the outputs they are mapped from),
// and write only its own instance's parameters, its abort and its state
// completions. A viewer token (view.go, for the web view) reads, and only
// what is not sensitive. "reader" below is the admin or a viewer. Bodies
// are limited (413 beyond).
//
//	POST   /v1/deployments                        admin: register; with "token_sha256" the hashes of the caller's bootstrap tokens (safe to retry),
//	                                              with "defer_tokens": true no token at all (safe to retry), else returns new ones
//	GET    /v1/deployments                        reader: every deployment: id, state, abort, instances, meta (admin only);
//	                                              ?states=1: with instances counted by state, and created
//	PATCH  /v1/deployments/{id}                   admin: {"keep_running", "max_provisioning_failures", "meta"}
//	POST   /v1/deployments/{id}/tokens            admin: {"token_sha256": {"web.3": hash}}: new tokens, the old revoked
//	POST   /v1/deployments/{id}/instances/{i}/failed admin: {"reason"}: machine i could not be started
//	POST   /v1/deployments/{id}/exchange          bootstrap token: {"token_sha256": "<hex>"}; returns {"instance"}
//	                                              pool token: {"token_sha256", "machine_id"}; 409 not_registered until the
//	                                              provider has registered the machine as a member
//	POST   /v1/deployments/{id}/pools             admin: {"node", "token_sha256"}: a pool token for the node (safe to retry)
//	PUT    /v1/deployments/{id}/pools/{token_sha256}/members admin: {"members": {"<machine id>": "worker.7"}}: these machines
//	                                              may claim these instances with that pool token; replaces an instance's
//	                                              other member (safe to retry)
//	DELETE /v1/deployments/{id}/members           admin: {"machine_ids": [...]}: those members can claim no more (safe to retry)
//	GET    /v1/deployments/{id}/members           admin: ?node=worker: {"members": {"<machine id>": "worker.7"}} (every node's without)
//	GET    /v1/deployments/{id}                   spec, state and abort message (a viewer: also)
//	GET    /v1/deployments/{id}/run               {"state", "abort"} (a viewer: also); ?wait=30s&state=S&abort=M: long-poll until
//	                                              the run differs from S and M (the agent's one watch on the run)
//	POST   /v1/deployments/{id}/scale             admin: {"node", "multiplicity", "token_sha256" or "defer_tokens"}; as create
//	POST   /v1/deployments/{id}/finalize          admin: end the run (Finalizing, then Done)
//	DELETE /v1/deployments/{id}                   admin
//	GET    /v1/deployments/{id}/parameters        reader: every value set (a viewer: without the sensitive ones)
//	GET    /v1/deployments/{id}/waits             reader: {"waits": [{"instance", "key", "since"}]}: who is blocked
//	                                              in ss-get on which parameter right now (kept in the memory of
//	                                              the coordinator process that parked the get)
//	GET    /v1/deployments/{id}/parameters/{key}  ?wait=30s&ignoreabort=true: long-poll get
//	                                              &changed_from=V: wait for a value other than V
//	PUT    /v1/deployments/{id}/parameters/{key}  {"value": "...", "ignore_abort": false}
//	POST   /v1/deployments/{id}/abort             {"message": "...", "cancel": false}
//	POST   /v1/deployments/{id}/complete          {"state": "Executing"} (instances)
//	GET    /v1/deployments/{id}/events            ?after=REV: server-sent events, one per parameter change (a viewer: also)
//	PUT    /v1/deployments/{id}/reports/{instance} the instance's report, a tar.gz (admin or that instance)
//	GET    /v1/deployments/{id}/reports           reader: the reports stored, with sizes and SHA-256
//	GET    /v1/deployments/{id}/reports/{instance} admin: one report
//	GET    /v1/agent                              no token: the agent binaries served, with SHA-256
//	GET    /v1/agent/{os}/{arch}                  no token: one agent binary (linux/amd64, linux/arm64)
//
// Errors are {"error": {"code": "...", "message": "..."}} with codes the
// agent maps to SlipStream's exit codes: timeout (408), aborted (409),
// not_set (404), not_found (404), forbidden (403), unauthorized (401),
// exchanged (401: a bootstrap token already exchanged, or a pool member),
// not_registered (409: a pool token with a machine id that is not, or not
// yet, a member; not an authentication failure), invalid (400), too_large
// (413), conflict (409, "exists" or "state"),
// rate_limited (429, with Retry-After: too many authentication failures
// from the client's address), unavailable (503, with Retry-After: the
// coordinator is shutting down; waits parked on it end so), storage_full
// (507, with Retry-After: its disk is full; nothing was stored).
package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/connlimit"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// Options configure the API.
type Options struct {
	// NoParking serves blocking gets on the HTTP server's goroutines
	// instead of parking them (parked.go); for comparison in benchmarks.
	NoParking bool
	// AdminToken is the provider's token. Required.
	AdminToken string
	// MaxBody bounds request bodies in bytes (default 1 MiB).
	MaxBody int64
	// MaxWait bounds a long-poll get (default 10 minutes); longer waits are
	// cut to it, and the agent simply asks again.
	MaxWait time.Duration
	// MaxInstances bounds the instances of one deployment (default 100,000;
	// the original SlipStream allowed 300).
	MaxInstances int
	// AgentDir holds the agent binaries served at /v1/agent
	// (slipstream-agent-linux-amd64, slipstream-agent-linux-arm64).
	AgentDir string
	// ReportDir holds the reports the instances upload ("": none kept).
	// Replicas sharing a store must share it too.
	ReportDir string
	// MaxReport bounds a report upload in bytes (default 16 MiB).
	MaxReport int64
	// AuthFailureBurst is how many authentication failures a client address
	// may make in a row (default 20; negative: no limit), and
	// AuthFailureRate how many more it gets each second (default 2).
	AuthFailureBurst int
	AuthFailureRate  float64
	// MaxTrackedClients bounds the addresses whose failures are counted
	// (default 10,000).
	MaxTrackedClients int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives the errors answered as 500 "internal", with the
	// request's method and path, never its headers, body or values
	// (default: discarded).
	Log *slog.Logger
}

// Server serves the API.
type Server struct {
	c     *coordinator.Coordinator
	opts  Options
	admin [32]byte
	mux   *http.ServeMux
	ext   *extras // agents, reports, rate limiting (agentdist.go, reports.go, ratelimit.go)
}

// New returns the API over a coordinator.
func New(c *coordinator.Coordinator, opts Options) (*Server, error) {
	if len(opts.AdminToken) < 16 {
		return nil, errors.New("the admin token must be at least 16 characters")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 10 * time.Minute
	}
	if opts.MaxInstances <= 0 {
		opts.MaxInstances = 100000
	}
	if opts.MaxReport <= 0 {
		opts.MaxReport = 16 << 20
	}
	if opts.AuthFailureBurst == 0 {
		opts.AuthFailureBurst = 20
	}
	if opts.AuthFailureRate <= 0 {
		opts.AuthFailureRate = 2
	}
	if opts.MaxTrackedClients <= 0 {
		opts.MaxTrackedClients = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{c: c, opts: opts, admin: sha256.Sum256([]byte(opts.AdminToken)), mux: http.NewServeMux()}
	s.ext = newExtras(opts)
	s.mux.HandleFunc("POST /v1/deployments", s.admin1(s.createDeployment))
	s.mux.HandleFunc("GET /v1/deployments", s.reader(s.listDeployments))
	s.mux.HandleFunc("PATCH /v1/deployments/{id}", s.admin1(s.updateSettings))
	s.mux.HandleFunc("POST /v1/deployments/{id}/tokens", s.admin1(s.reissueTokens))
	s.mux.HandleFunc("POST /v1/deployments/{id}/instances/{instance}/failed", s.admin1(s.instanceFailed))
	s.mux.HandleFunc("GET /v1/deployments/{id}", s.anyoneOrViewer(s.getDeployment))
	s.mux.HandleFunc("GET /v1/deployments/{id}/run", s.anyoneOrViewer(s.getRun))
	s.mux.HandleFunc("POST /v1/deployments/{id}/exchange", s.exchange)
	s.mux.HandleFunc("POST /v1/deployments/{id}/pools", s.admin1(s.registerPool))
	s.mux.HandleFunc("PUT /v1/deployments/{id}/pools/{hash}/members", s.admin1(s.setPoolMembers))
	s.mux.HandleFunc("DELETE /v1/deployments/{id}/members", s.admin1(s.removePoolMembers))
	s.mux.HandleFunc("GET /v1/deployments/{id}/members", s.admin1(s.listPoolMembers))
	s.mux.HandleFunc("POST /v1/deployments/{id}/scale", s.admin1(s.scale))
	s.mux.HandleFunc("POST /v1/deployments/{id}/finalize", s.admin1(s.finalize))
	s.mux.HandleFunc("DELETE /v1/deployments/{id}", s.admin1(s.deleteDeployment))
	s.mux.HandleFunc("GET /v1/deployments/{id}/parameters", s.reader(s.listParameters))
	s.mux.HandleFunc("GET /v1/deployments/{id}/waits", s.reader(s.listWaits))
	s.mux.HandleFunc("GET /v1/deployments/{id}/overview", s.reader(s.overview))
	s.mux.HandleFunc("GET /v1/deployments/{id}/instances", s.reader(s.listInstances))
	s.mux.HandleFunc("GET /v1/deployments/{id}/instances/{instance}", s.reader(s.getInstance))
	s.mux.HandleFunc("GET /v1/whoami", s.reader(s.whoami))
	s.mux.HandleFunc("GET /v1/stats", s.admin1(s.stats))
	s.mux.HandleFunc("POST /v1/viewers", s.admin1(s.createViewer))
	s.mux.HandleFunc("GET /v1/viewers", s.admin1(s.listViewers))
	s.mux.HandleFunc("DELETE /v1/viewers/{name}", s.admin1(s.deleteViewer))
	s.mux.HandleFunc("GET /v1/deployments/{id}/parameters/{key}", s.anyone(s.getParameter))
	s.mux.HandleFunc("PUT /v1/deployments/{id}/parameters/{key}", s.anyone(s.setParameter))
	s.mux.HandleFunc("POST /v1/deployments/{id}/abort", s.anyone(s.abort))
	s.mux.HandleFunc("POST /v1/deployments/{id}/complete", s.anyone(s.complete))
	s.mux.HandleFunc("GET /v1/deployments/{id}/events", s.anyoneOrViewer(s.events))
	s.mux.HandleFunc(reportPutPattern, s.anyone(s.putReport))
	s.mux.HandleFunc("GET /v1/deployments/{id}/reports", s.reader(s.listReports))
	s.mux.HandleFunc("GET /v1/deployments/{id}/reports/{instance}", s.admin1(s.getReport))
	s.mux.HandleFunc("GET /v1/agent", s.listAgents)
	s.mux.HandleFunc("GET /v1/agent/{os}/{arch}", s.getAgent)
	s.mux.HandleFunc("GET /v1/agent/", s.noAgent)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if connlimit.Busy(connlimit.FromContext(r.Context())) {
		// Most of the connections slipc serve works on at once are taken:
		// this one is closed after its answer rather than kept idle in a
		// slot others wait for (coordination/connlimit).
		w.Header().Set("Connection", "close")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(r))
	// Answers hold a run's state and tokens: no cache keeps them, and no
	// browser guesses their type.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(&loggedWriter{ResponseWriter: w, requestLog: requestLog{log: s.opts.Log, method: r.Method, path: r.URL.Path}}, r)
}

// loggedWriter lets fail log the internal errors it answers (fail only
// has the ResponseWriter). Unwrap keeps http.NewResponseController working
// through it (parked gets take the connection over, event streams flush).
type loggedWriter struct {
	http.ResponseWriter
	requestLog
}

func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestLog is what an internal error is logged with. A parked get keeps
// a copy, not the ResponseWriter, which would keep the HTTP server's
// buffers for the connection alive while it waits.
type requestLog struct {
	log          *slog.Logger
	method, path string
	admin        bool // the caller holds the admin token
}

func (l *requestLog) internal(err error) (detail bool) {
	l.log.Error("internal error", "method", l.method, "path", l.path, "error", err)
	return l.admin
}

// internalLogger is what fail needs of a ResponseWriter to log an
// internal error: loggedWriter, or a parked get's rawResponse. internal
// reports whether the caller may see the error itself: the admin (the
// operator, through the provider: an etcd limit to raise, say), not a
// machine.
type internalLogger interface{ internal(error) (detail bool) }

// asAdmin notes on w that the caller is the admin.
func asAdmin(w http.ResponseWriter) {
	if lw, ok := w.(*loggedWriter); ok {
		lw.admin = true
	}
}

// caller is who made a request: the admin, an instance, or a viewer
// (view.go).
type caller struct {
	admin    bool
	instance *coordinator.Instance
	viewer   *coordinator.Viewer
}

type handler func(w http.ResponseWriter, r *http.Request, who caller)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) isAdmin(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], s.admin[:]) == 1
}

// admin1 wraps a handler only the admin may call.
func (s *Server) admin1(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.ext.limited(w, r) {
			return
		}
		if !s.isAdmin(bearer(r)) {
			s.ext.authFailed(r)
			writeError(w, http.StatusUnauthorized, "unauthorized", "this needs the admin token")
			return
		}
		asAdmin(w)
		h(w, r, caller{admin: true})
	}
}

// anyone wraps a handler the admin or an instance of the deployment may
// call. An instance token of another deployment does not match: tokens are
// looked up in the deployment's own records.
func (s *Server) anyone(h handler) http.HandlerFunc { return s.anyoneAnd(h, false) }

// anyoneOrViewer is anyone, and a viewer too (view.go): for reads.
func (s *Server) anyoneOrViewer(h handler) http.HandlerFunc { return s.anyoneAnd(h, true) }

func (s *Server) anyoneAnd(h handler, viewers bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
			h(w, r, caller{admin: true})
			return
		}
		sum := sha256.Sum256([]byte(token))
		inst, err := s.c.InstanceForToken(r.Context(), r.PathValue("id"), hex.EncodeToString(sum[:]))
		if errors.Is(err, coordinator.ErrBootstrapToken) || errors.Is(err, coordinator.ErrPoolToken) {
			// A valid token, for one thing only: the agent exchanges it
			// when it starts (exchange.go).
			writeError(w, http.StatusForbidden, "forbidden", err.Error())
			return
		}
		if errors.Is(err, coordinator.ErrTokenExchanged) {
			s.ext.authFailed(r)
			writeError(w, http.StatusUnauthorized, "exchanged", err.Error())
			return
		}
		if err != nil && !errors.Is(err, coordinator.ErrNotFound) {
			// The store failed, not the token: a 500 the agent retries,
			// rather than a 401 that would count against the client's
			// address and end its scripts.
			fail(w, err)
			return
		}
		if err != nil && viewers {
			// Not an instance's: a viewer's? Looked up only now, so the
			// agents' calls cost no extra read.
			who, ok := s.asViewer(w, r, token)
			if !ok {
				return
			}
			if who != nil {
				h(w, r, *who)
				return
			}
		}
		if err != nil {
			s.ext.authFailed(r)
			writeError(w, http.StatusUnauthorized, "unauthorized", "unknown token for this deployment")
			return
		}
		h(w, r, caller{instance: inst})
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail maps coordinator errors onto statuses and codes.
func fail(w http.ResponseWriter, err error) {
	var ab *coordinator.AbortError
	var kerr *coordinator.KeyError
	var invalid *coordinator.InvalidError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &ab):
		writeError(w, http.StatusConflict, "aborted", ab.Message)
	case errors.As(err, &kerr), errors.As(err, &invalid), errors.Is(err, coordinator.ErrMachineIDNeeded):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	case errors.Is(err, coordinator.ErrNotRegistered):
		writeError(w, http.StatusConflict, "not_registered", err.Error())
	case errors.As(err, &tooBig), errors.Is(err, coordinator.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.Is(err, coordinator.ErrTimeout):
		writeError(w, http.StatusRequestTimeout, "timeout", err.Error())
	case errors.Is(err, coordinator.ErrNotSet):
		writeError(w, http.StatusNotFound, "not_set", err.Error())
	case errors.Is(err, coordinator.ErrNotFound), errors.Is(err, coordinator.ErrUnknown):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, coordinator.ErrTokenExchanged):
		writeError(w, http.StatusUnauthorized, "exchanged", err.Error())
	case errors.Is(err, coordinator.ErrForbidden), errors.Is(err, coordinator.ErrBootstrapToken), errors.Is(err, coordinator.ErrPoolToken), errors.Is(err, coordinator.ErrNotBootstrap):
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, coordinator.ErrExists):
		writeError(w, http.StatusConflict, "exists", err.Error())
	case errors.Is(err, coordinator.ErrState):
		writeError(w, http.StatusConflict, "state", err.Error())
	case errors.Is(err, context.Canceled):
		writeError(w, 499, "canceled", err.Error())
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// Nothing was stored (the commit failed whole): the client
		// retries, and the coordinator recovers by itself once its
		// operator frees space. Logged: somebody has to.
		if l, ok := w.(internalLogger); ok {
			l.internal(err)
		}
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusInsufficientStorage, "storage_full",
			"the coordinator cannot store this: its disk is full; nothing was changed, ask again (it recovers by itself once space is freed)")
	case errors.Is(err, coordinator.ErrClosed):
		// Shutting down (a restart, usually): not a fault to log, and a
		// status the clients retry, so a parked wait asks the next
		// coordinator process.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the coordinator is shutting down; ask again")
	default:
		// Store failures and bugs: the details go to the coordinator's log,
		// where its operator looks, not to the client.
		msg := "internal error (the coordinator's log has the details)"
		if l, ok := w.(internalLogger); ok && l.internal(err) {
			msg = "internal error: " + err.Error()
		}
		writeError(w, http.StatusInternalServerError, "internal", msg)
	}
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// client errors, an oversized body a 413.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON body")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, err)
		} else {
			writeError(w, http.StatusBadRequest, "invalid", "malformed JSON body: "+err.Error())
		}
		return false
	}
	return true
}

type createResponse struct {
	ID     string            `json:"id"`
	Tokens map[string]string `json:"tokens"`
}

// createRequest is a deployment to register. TokenSHA256 holds the hex
// SHA-256 of each instance's token, chosen by the caller (the provider):
// then the coordinator never sees the tokens, and sending the same request
// again after a lost answer succeeds without registering anything twice.
// DeferTokens registers the deployment without any token (each machine
// resource asks for its instance's token when it creates the machine,
// POST .../tokens, and a pool gets a pool token, POST .../pools); the same
// request again succeeds too. With neither, the coordinator issues the
// tokens and returns them, and a create whose answer is lost cannot be
// retried.
type createRequest struct {
	coordinator.Deployment
	TokenSHA256 map[string]string `json:"token_sha256,omitempty"`
	DeferTokens bool              `json:"defer_tokens,omitempty"`
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request, _ caller) {
	var req createRequest
	if !decode(w, r, &req) {
		return
	}
	d := req.Deployment
	total := 0
	for name, n := range d.Nodes {
		if n == nil {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("node %q has no definition", name))
			return
		}
		if n.Multiplicity < 0 || n.Multiplicity > s.opts.MaxInstances-total {
			writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("a deployment may have 0 to %d instances", s.opts.MaxInstances))
			return
		}
		total += n.Multiplicity
	}
	if req.DeferTokens {
		if req.TokenSHA256 != nil {
			writeError(w, http.StatusBadRequest, "invalid", `"defer_tokens" issues no token: leave "token_sha256" out`)
			return
		}
		if err := s.c.RegisterDeployment(r.Context(), d); err != nil {
			fail(w, err) // an invalid deployment is 400
			return
		}
		writeJSON(w, http.StatusCreated, createResponse{ID: d.ID})
		return
	}
	tokens, hashes := map[string]string{}, req.TokenSHA256
	if hashes == nil {
		hashes = map[string]string{}
		for name, n := range d.Nodes {
			issueTokens(name, 1, n.Multiplicity, tokens, hashes)
		}
	} else {
		want := map[string]bool{}
		for name, n := range d.Nodes {
			for i := 1; i <= n.Multiplicity; i++ {
				want[coordinator.Instance{Node: name, Index: i}.String()] = true
			}
		}
		if msg := checkHashes(hashes, want, true); msg != "" {
			writeError(w, http.StatusBadRequest, "invalid", msg)
			return
		}
		tokens = nil
	}
	if err := s.c.CreateDeployment(r.Context(), d, hashes); err != nil {
		var invalid *coordinator.InvalidError
		if errors.As(err, &invalid) {
			writeError(w, http.StatusBadRequest, "invalid", err.Error())
		} else {
			fail(w, err)
		}
		return
	}
	writeJSON(w, http.StatusCreated, createResponse{ID: d.ID, Tokens: tokens})
}

// checkHashes checks token hashes chosen by the caller: 64 hex digits
// each, unique, for instances in want (every one of them when all).
func checkHashes(hashes map[string]string, want map[string]bool, all bool) string {
	seen := map[string]bool{}
	for inst, h := range hashes {
		if !want[inst] {
			return fmt.Sprintf("token_sha256 names %q, which is not an instance this request creates", inst)
		}
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return fmt.Sprintf("token_sha256 of %s must be 64 hexadecimal digits (a SHA-256)", inst)
		}
		if seen[h] {
			return fmt.Sprintf("token_sha256 of %s is another instance's too: each instance needs its own token", inst)
		}
		seen[h] = true
	}
	if all && len(hashes) != len(want) {
		for inst := range want {
			if _, ok := hashes[inst]; !ok {
				return fmt.Sprintf("token_sha256 has no hash for instance %s: give one for every instance, or leave token_sha256 out", inst)
			}
		}
	}
	return ""
}

// issueTokens makes tokens for instances from..to of node, adding each to
// tokens and its hex SHA-256 (all the coordinator keeps) to hashes.
func issueTokens(node string, from, to int, tokens, hashes map[string]string) {
	for i := from; i <= to; i++ {
		inst := coordinator.Instance{Node: node, Index: i}.String()
		tok := newToken()
		sum := sha256.Sum256([]byte(tok))
		tokens[inst], hashes[inst] = tok, hex.EncodeToString(sum[:])
	}
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request, who caller) {
	d, _, err := s.c.Spec(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if who.instance != nil {
		d = forInstance(d, *who.instance)
	}
	if who.viewer != nil {
		d = forViewer(d)
	}
	run, err := s.c.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deployment": d, "state": run.State, "abort": run.Abort})
}

func (s *Server) deleteDeployment(w http.ResponseWriter, r *http.Request, _ caller) {
	if err := s.c.DeleteDeployment(r.Context(), r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	s.removeReports(r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listParameters(w http.ResponseWriter, r *http.Request, who caller) {
	values, sensitive, err := s.c.Parameters(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if who.viewer != nil {
		for key := range sensitive {
			delete(values, key) // listed as sensitive, without the value
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"parameters": values, "sensitive": sensitive})
}

// listWaits answers who is blocked on which parameter right now.
func (s *Server) listWaits(w http.ResponseWriter, r *http.Request, _ caller) {
	id := r.PathValue("id")
	if _, err := s.c.Status(r.Context(), id); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"waits": s.c.Waits(id)})
}

// waitQuery reads a long-poll's ?wait= (0 when absent), capped at
// MaxWait; on a bad value it answers the request and reports false.
func (s *Server) waitQuery(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	q := r.URL.Query().Get("wait")
	if q == "" {
		return 0, true
	}
	d, err := time.ParseDuration(q)
	if err != nil || d < 0 {
		writeError(w, http.StatusBadRequest, "invalid", "wait must be a duration such as 30s")
		return 0, false
	}
	return min(d, s.opts.MaxWait), true
}

// getRun answers the run's state and abort message. With wait, state and
// abort (the run as the caller last saw it; abort empty or absent for a
// run not aborted) it long-polls until the run differs: the agent's one
// watch on the run, parked like a get.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request, _ caller) {
	wait, ok := s.waitQuery(w, r)
	if !ok {
		return
	}
	id, q := r.PathValue("id"), r.URL.Query()
	if !q.Has("state") {
		run, err := s.c.Status(r.Context(), id) // nothing to compare with: answer now
		answer(w, run, err)
		return
	}
	// Only the strings are kept while the wait is parked, not the query.
	seen := coordinator.Run{State: q.Get("state"), Abort: q.Get("abort")}
	get := func(ctx context.Context, wait time.Duration) (any, error) {
		return s.c.WaitRun(ctx, id, seen, wait)
	}
	register := func(fn func()) (func(), error) { return s.c.ParkRun(id, fn) }
	if wait > 0 && !s.opts.NoParking && s.park(w, r, wait, get, register) {
		return
	}
	run, err := get(r.Context(), wait)
	answer(w, run, err)
}

func (s *Server) getParameter(w http.ResponseWriter, r *http.Request, who caller) {
	wait, ok := s.waitQuery(w, r)
	if !ok {
		return
	}
	ignore, _ := strconv.ParseBool(r.URL.Query().Get("ignoreabort"))
	id, key := r.PathValue("id"), r.PathValue("key")
	get := func(ctx context.Context, wait time.Duration) (any, error) {
		v, err := s.c.Get(ctx, id, who.instance, key, wait, ignore)
		return map[string]string{"value": v}, err
	}
	if q := r.URL.Query(); q.Has("changed_from") {
		old := q.Get("changed_from")
		get = func(ctx context.Context, wait time.Duration) (any, error) {
			v, err := s.c.WaitChange(ctx, id, who.instance, key, old, wait, ignore)
			return map[string]string{"value": v}, err
		}
	}
	register := func(fn func()) (func(), error) { return s.c.Park(id, who.instance, key, fn) }
	if wait > 0 && !s.opts.NoParking && s.park(w, r, wait, get, register) {
		return
	}
	v, err := get(r.Context(), wait)
	answer(w, v, err)
}

func (s *Server) setParameter(w http.ResponseWriter, r *http.Request, who caller) {
	var body struct {
		Value       *string `json:"value"`
		IgnoreAbort bool    `json:"ignore_abort"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Value == nil {
		writeError(w, http.StatusBadRequest, "invalid", `the body needs a "value"`)
		return
	}
	if err := s.c.Set(r.Context(), r.PathValue("id"), who.instance, r.PathValue("key"), *body.Value, body.IgnoreAbort); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) abort(w http.ResponseWriter, r *http.Request, who caller) {
	var body struct {
		Message string `json:"message"`
		Cancel  bool   `json:"cancel"`
	}
	if !decode(w, r, &body) {
		return
	}
	if err := s.c.Abort(r.Context(), r.PathValue("id"), who.instance, body.Message, body.Cancel); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, who caller) {
	if who.instance == nil {
		writeError(w, http.StatusForbidden, "forbidden", "only an instance completes a state")
		return
	}
	var body struct {
		State string `json:"state"`
	}
	if !decode(w, r, &body) {
		return
	}
	now, err := s.c.Complete(r.Context(), r.PathValue("id"), *who.instance, body.State)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": now})
}

// events streams parameter changes as server-sent events: "id" is the
// revision (a reconnecting client sends it back as Last-Event-ID, or
// ?after=), "data" the change as JSON with sensitive values left out.
func (s *Server) events(w http.ResponseWriter, r *http.Request, _ caller) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		after, _ = strconv.ParseInt(last, 10, 64)
	}
	rc := http.NewResponseController(w)
	evs, streamErr, err := s.c.Events(r.Context(), r.PathValue("id"), after)
	if err != nil {
		fail(w, err)
		return
	}
	// A stream may stay open for hours with little to send: it does not
	// count against the connections served at once, and so its connection
	// is not used again after it, uncounted.
	connlimit.Release(connlimit.FromContext(r.Context()))
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	// Flush errors mean the client went away; its request's context ends
	// then, and with it evs.
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	for ev := range evs {
		data, _ := json.Marshal(ev)
		fmt.Fprintf(w, "id: %d\nevent: parameter\ndata: %s\n\n", ev.Rev, data)
		_ = rc.Flush()
	}
	if err := streamErr(); err != nil {
		fmt.Fprintf(w, "event: error\ndata: {\"code\":\"compacted\",\"message\":%q}\n\n", err.Error())
		_ = rc.Flush()
	}
}

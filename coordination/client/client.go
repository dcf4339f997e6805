// Package client talks to the coordinator's API for the agent and the
// ss-* commands. It retries through network failures and coordinator
// restarts with capped exponential backoff, and turns the API's answers
// into errors carrying SlipStream's exit codes.
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// SlipStream's exit codes for the ss-* commands.
const (
	ExitTimeout = 9
	ExitAborted = 8
	ExitClient  = 7
	ExitServer  = 5
	ExitNetwork = 4
)

// Error is an answer the coordinator gave, or a failure to reach it.
type Error struct {
	Code    string // the API's error code, or "network"
	Message string
	Status  int
	// RetryAfter is the server's Retry-After (rate limiting).
	RetryAfter time.Duration
	// sent: the request was written to the connection, so the
	// coordinator may have acted on it.
	sent bool
}

func (e *Error) Error() string { return e.Message }

// ExitCode maps the error onto SlipStream's exit codes.
func (e *Error) ExitCode() int {
	switch {
	case e.Code == "timeout":
		return ExitTimeout
	case e.Code == "aborted":
		return ExitAborted
	case e.Code == "network", e.Code == "unreachable":
		return ExitNetwork
	case e.Status >= 500:
		return ExitServer
	}
	return ExitClient
}

// ExitCode of any error: SlipStream's code for an *Error, 7 otherwise.
func ExitCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ExitTimeout
	}
	return ExitClient
}

// Client calls one deployment's API with one token.
type Client struct {
	BaseURL    string // e.g. http://127.0.0.1:8680
	Deployment string
	Token      string
	HTTP       *http.Client
	// MaxBackoff caps the wait between retries (default 5 s).
	MaxBackoff time.Duration
	// RetryFor bounds how long one call keeps retrying a coordinator it
	// cannot reach (or that answers 5xx), counted from the first failure;
	// the call then fails with an *Error of code "unreachable" that says
	// for how long and why. 0: until ctx ends (the agent rides out
	// coordinator restarts; the provider sets a budget so that a plan
	// never hangs).
	RetryFor time.Duration
	// AttemptTimeout bounds one request (0: none), plus the wait of a
	// long-poll: a coordinator that accepts the connection but never
	// answers is then retried like one that is down.
	AttemptTimeout time.Duration
	// Recovered, when set, is called when a call the coordinator failed
	// (unreachable, or answering 5xx) was retried until it answered: how
	// long the outage lasted for that call, and its last error. The
	// provider reports such outages as warnings; it may be called from
	// several goroutines at once.
	Recovered func(outage time.Duration, last error)
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// request is one API call.
type request struct {
	method, path string
	payload      []byte
	contentType  string
	out          any
	// safe: sending the request twice has the effect of sending it once
	// (GET, PUT, DELETE, and the POSTs this API makes idempotent: creates
	// and scales with the caller's token hashes or with deferred tokens,
	// pool registrations, exchanges, completions, aborts, finalize). Only a safe request is sent again after a failure that
	// may have reached the coordinator.
	safe bool
	// wait is how long the coordinator may hold a long-poll before it
	// answers; it extends AttemptTimeout.
	wait time.Duration
}

// do sends one request with a JSON body, retrying network errors, 5xx
// answers and rate limiting (see send). Other client errors (4xx) are
// final.
func (c *Client) do(ctx context.Context, method, path string, body any, out any, safe bool) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return c.send(ctx, request{method: method, path: path, payload: payload, contentType: "application/json", out: out, safe: safe})
}

// send sends a request until it gets an answer that is not a failure of
// the coordinator, ctx ends, or RetryFor passes. A request that is not
// safe is retried only when it never left this process (the connection
// failed before it was written) or was refused unprocessed (429): the
// coordinator may have acted on anything else.
func (c *Client) send(ctx context.Context, req request) error {
	backoff := 100 * time.Millisecond
	maxBackoff := c.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 5 * time.Second
	}
	var firstFailure time.Time
	var lastFailure error
	for {
		err := c.once(ctx, req)
		var e *Error
		if err == nil || !errors.As(err, &e) || !e.retryable(req.safe) {
			if !firstFailure.IsZero() && c.Recovered != nil && (err == nil || e != nil && e.Code != "network") {
				c.Recovered(time.Since(firstFailure), lastFailure) // it answers again
			}
			return err
		}
		lastFailure = err
		if firstFailure.IsZero() {
			firstFailure = time.Now()
		}
		pause := backoff
		if e.RetryAfter > pause {
			pause = e.RetryAfter
		}
		if c.RetryFor > 0 {
			left := c.RetryFor - time.Since(firstFailure)
			if left <= 0 {
				return c.unreachable(time.Since(firstFailure), e)
			}
			pause = min(pause, left)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// unreachable is the error of a call whose retry budget ran out.
func (c *Client) unreachable(d time.Duration, last *Error) *Error {
	what := "unreachable"
	if last.Code != "network" {
		what = "failing"
	}
	return &Error{Code: "unreachable", Status: last.Status,
		Message: fmt.Sprintf("coordinator at %s %s for %s: %s", c.BaseURL, what, d.Round(time.Second), last.Message)}
}

// retryable reports whether a failed request may be sent again.
func (e *Error) retryable(safe bool) bool {
	switch {
	case e.Status == http.StatusTooManyRequests:
		return true // refused before anything was done
	case e.Code == "network":
		return safe || !e.sent
	case e.Status >= 500:
		return safe
	}
	return false
}

func (c *Client) once(parent context.Context, r request) error {
	ctx := parent
	if c.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.AttemptTimeout+r.wait)
		defer cancel()
	}
	var body io.Reader
	if r.payload != nil {
		body = bytes.NewReader(r.payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, strings.TrimRight(c.BaseURL, "/")+r.path, body)
	if err != nil {
		return &Error{Code: "invalid", Message: err.Error()}
	}
	// Whether the request reached the connection decides whether a
	// request that is not safe may be sent again.
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { sent.Store(true) },
	}))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if r.payload != nil {
		req.Header.Set("Content-Type", r.contentType)
	}
	res, err := c.http().Do(req)
	if err != nil {
		if parent.Err() != nil {
			return &Error{Code: "timeout", Message: "timed out: " + parent.Err().Error()}
		}
		if ctx.Err() != nil { // this attempt's own limit
			return &Error{Code: "network", sent: sent.Load(), Message: fmt.Sprintf("the coordinator did not answer within %s", c.AttemptTimeout+r.wait)}
		}
		return &Error{Code: "network", sent: sent.Load(), Message: "cannot reach the coordinator: " + err.Error()}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return &Error{Code: "network", sent: true, Message: "reading the coordinator's answer: " + err.Error()}
	}
	if res.StatusCode >= 300 {
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error.Code, eb.Error.Message = "http", fmt.Sprintf("coordinator answered %s", res.Status)
		}
		e := &Error{Code: eb.Error.Code, Message: eb.Error.Message, Status: res.StatusCode, sent: true}
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	if r.out != nil && len(b) > 0 {
		return json.Unmarshal(b, r.out)
	}
	return nil
}

func (c *Client) paramPath(key string) string {
	return "/v1/deployments/" + url.PathEscape(c.Deployment) + "/parameters/" + url.PathEscape(key)
}

// Get reads a key. With wait > 0 it blocks up to wait for the key to be
// set, asking again after each long-poll round the server cuts short;
// with wait == 0 it does not block (an unset key is a not_set error).
// waiting is called once if the key is not set yet (ss-get prints
// "Waiting for <key>").
func (c *Client) Get(ctx context.Context, key string, wait time.Duration, ignoreAbort bool, waiting func()) (string, error) {
	return c.get(ctx, key, wait, ignoreAbort, waiting, nil)
}

// WaitChange blocks up to wait (0: forever) until key has a value other
// than old, and returns it. The agent follows the run's state with it.
func (c *Client) WaitChange(ctx context.Context, key, old string, wait time.Duration, ignoreAbort bool) (string, error) {
	if wait <= 0 {
		wait = 100 * 365 * 24 * time.Hour
	}
	return c.get(ctx, key, wait, ignoreAbort, nil, &old)
}

func (c *Client) get(ctx context.Context, key string, wait time.Duration, ignoreAbort bool, waiting func(), changedFrom *string) (string, error) {
	var deadline time.Time
	if wait > 0 {
		deadline = time.Now().Add(wait)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(5*time.Second))
		defer cancel()
	}
	if wait > 0 && waiting != nil {
		// Tell the user at once when the key is not there yet, as
		// SlipStream's ss-get did, then block.
		var out struct{ Value string }
		err := c.do(ctx, "GET", c.paramPath(key)+ignoreQuery(ignoreAbort), nil, &out, true)
		var e *Error
		if err == nil {
			return out.Value, nil
		}
		if !errors.As(err, &e) || e.Code != "not_set" {
			return "", err
		}
		waiting()
	}
	q := url.Values{}
	if ignoreAbort {
		q.Set("ignoreabort", "true")
	}
	if changedFrom != nil {
		q.Set("changed_from", *changedFrom)
	}
	var out struct{ Value string }
	var err error
	if wait > 0 {
		err = c.longPoll(ctx, deadline, c.paramPath(key), q, &out, "timed out waiting for "+key)
	} else {
		err = c.send(ctx, request{method: "GET", path: c.paramPath(key) + "?" + q.Encode(), out: &out, safe: true})
	}
	if err != nil {
		return "", err
	}
	return out.Value, nil
}

// longPoll sends GET path?query&wait=… until it is answered, the deadline
// passes (a timeout error saying expired) or ctx ends: the server cuts a
// long-poll short at its own maximum wait, and each round asks for the
// time left.
func (c *Client) longPoll(ctx context.Context, deadline time.Time, path string, query url.Values, out any, expired string) error {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return &Error{Code: "timeout", Message: expired}
		}
		query.Set("wait", left.Round(time.Millisecond).String())
		err := c.send(ctx, request{method: "GET", path: path + "?" + query.Encode(), out: out, safe: true, wait: left})
		var e *Error
		if errors.As(err, &e) && e.Code == "timeout" && time.Until(deadline) > 0 && ctx.Err() == nil {
			continue // the server cut the long-poll short; ask again
		}
		return err
	}
}

func ignoreQuery(ignoreAbort bool) string {
	if ignoreAbort {
		return "?ignoreabort=true"
	}
	return ""
}

// Set writes one of the calling instance's parameters.
func (c *Client) Set(ctx context.Context, key, value string, ignoreAbort bool) error {
	return c.do(ctx, "PUT", c.paramPath(key), map[string]any{"value": value, "ignore_abort": ignoreAbort}, nil, true)
}

// Abort raises (or with cancel, clears) the run's abort.
func (c *Client) Abort(ctx context.Context, message string, cancel bool) error {
	return c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/abort", map[string]any{"message": message, "cancel": cancel}, nil, true)
}

// Complete reports that this instance finished a state; it returns the
// run's state afterwards.
func (c *Client) Complete(ctx context.Context, state string) (string, error) {
	var out struct{ State string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/complete", map[string]any{"state": state}, &out, true)
	return out.State, err
}

// Run is a deployment as an instance or the provider reads it.
type Run struct {
	Deployment coordinator.Deployment `json:"deployment"`
	State      string                 `json:"state"`
	Abort      string                 `json:"abort"`
}

// Run reads the deployment's spec, its state and abort message.
func (c *Client) Run(ctx context.Context) (*Run, error) {
	var out Run
	if err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment), nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// WaitRun blocks up to wait (0: forever) until the run differs from seen
// (its state moved, its abort raised, changed or cancelled), and returns
// it: one long-poll for both, asked again each time the server cuts it
// short. A run that stays as seen is a timeout error.
func (c *Client) WaitRun(ctx context.Context, seen coordinator.Run, wait time.Duration) (coordinator.Run, error) {
	if wait <= 0 {
		wait = 100 * 365 * 24 * time.Hour
	}
	deadline := time.Now().Add(wait)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(5*time.Second))
	defer cancel()
	q := url.Values{"state": {seen.State}}
	if seen.Abort != "" {
		q.Set("abort", seen.Abort)
	}
	var out coordinator.Run
	if err := c.longPoll(ctx, deadline, "/v1/deployments/"+url.PathEscape(c.Deployment)+"/run", q, &out, "timed out waiting for the run to leave "+seen.State); err != nil {
		return seen, err
	}
	return out, nil
}

// UploadReport sends an instance's report directory, a gzip-compressed
// tar, replacing the one sent before.
func (c *Client) UploadReport(ctx context.Context, instance string, tarball []byte) error {
	return c.send(ctx, request{method: "PUT", path: "/v1/deployments/" + url.PathEscape(c.Deployment) + "/reports/" + url.PathEscape(instance), payload: tarball, contentType: "application/gzip", safe: true})
}

// Exchange trades the client's token, a one-time bootstrap token, for the
// agent's own token, given by its hex SHA-256 (the token itself never
// leaves the machine). It returns the instance the token acts for. It is
// safe to retry: the same exchange asked again succeeds. Afterwards the
// client still holds the spent bootstrap token: set Token to the new one.
func (c *Client) Exchange(ctx context.Context, tokenSHA256 string) (string, error) {
	var out struct{ Instance string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/exchange", map[string]string{"token_sha256": tokenSHA256}, &out, true)
	return out.Instance, err
}

// ExchangeMachine is Exchange for a pool token: the client's token is the
// pool token that every machine of a batch has in its user-data, and
// machineID is this machine's cloud id (what cloud-init wrote to
// /var/lib/cloud/data/instance-id), which the provider registered as one
// of the pool's members. It returns the instance the provider registered
// the machine as, which the agent token then acts for. Until the provider
// has registered the machine, the coordinator answers an *Error with Code
// "not_registered" (409), and the caller asks again. With a bootstrap
// token it is Exchange (the machine id is ignored). Safe to retry.
func (c *Client) ExchangeMachine(ctx context.Context, tokenSHA256, machineID string) (string, error) {
	var out struct{ Instance string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/exchange", map[string]string{"token_sha256": tokenSHA256, "machine_id": machineID}, &out, true)
	return out.Instance, err
}

// The calls below are the provider's: they need the admin token.

// RegisterDeployment registers d without issuing any token: each
// instance's machine resource asks for its token when it creates the
// machine (ReissueTokens), and a pool of machines gets a pool token
// (RegisterPool). Sending it again after a lost answer is safe: the
// coordinator takes the same registration as a success.
func (c *Client) RegisterDeployment(ctx context.Context, d *coordinator.Deployment) error {
	body := struct {
		*coordinator.Deployment
		DeferTokens bool `json:"defer_tokens"`
	}{d, true}
	return c.do(ctx, "POST", "/v1/deployments", body, nil, true)
}

// Resize changes a node's multiplicity without issuing tokens for the new
// instances (as RegisterDeployment), and returns the run's state. Safe to
// retry: a resize to the multiplicity the node has already succeeds.
func (c *Client) Resize(ctx context.Context, node string, to int) (string, error) {
	var out struct{ State string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/scale", map[string]any{"node": node, "multiplicity": to, "defer_tokens": true}, &out, true)
	return out.State, err
}

// RegisterPool registers a pool token, given by its hex SHA-256 (see
// NewToken), for a node: the one token in the user-data of a batch of the
// node's machines started by one cloud call. Safe to retry.
func (c *Client) RegisterPool(ctx context.Context, node, tokenSHA256 string) error {
	return c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/pools", map[string]string{"node": node, "token_sha256": tokenSHA256}, nil, true)
}

// SetPoolMembers registers which machine is which instance (machine id →
// instance name, such as "i-0abc" → "worker.7") for a pool token (its hex
// SHA-256): those machines' agents may then exchange the pool token. A
// machine registered for an instance that had another replaces it. Safe
// to retry.
func (c *Client) SetPoolMembers(ctx context.Context, tokenSHA256 string, members map[string]string) error {
	if members == nil {
		members = map[string]string{}
	}
	return c.do(ctx, "PUT", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/pools/"+url.PathEscape(tokenSHA256)+"/members", map[string]any{"members": members}, nil, true)
}

// PoolMembers returns the pool members of a node's instances (machine id
// → instance name; every node's when node is ""), as SetPoolMembers
// registered them: how an imported pool learns which machine is which
// instance.
func (c *Client) PoolMembers(ctx context.Context, node string) (map[string]string, error) {
	path := "/v1/deployments/" + url.PathEscape(c.Deployment) + "/members"
	if node != "" {
		path += "?" + url.Values{"node": {node}}.Encode()
	}
	var out struct{ Members map[string]string }
	if err := c.do(ctx, "GET", path, nil, &out, true); err != nil {
		return nil, err
	}
	if out.Members == nil {
		out.Members = map[string]string{}
	}
	return out.Members, nil
}

// RemovePoolMembers removes the pool members with these machine ids,
// whatever their pool token (the machines were deleted): they can no
// longer claim their instances, and an agent token such a machine
// exchanged that still acts for its instance is revoked. Machine ids that
// are no member are skipped. Safe to retry.
func (c *Client) RemovePoolMembers(ctx context.Context, machineIDs []string) error {
	if machineIDs == nil {
		machineIDs = []string{}
	}
	return c.do(ctx, "DELETE", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/members", map[string]any{"machine_ids": machineIDs}, nil, true)
}

// CreateDeployment registers d with tokens this client makes for its
// instances (the coordinator receives only their SHA-256), and returns
// them. Because the request carries everything, sending it again after a
// lost answer is safe: the coordinator takes the same registration as a
// success.
func (c *Client) CreateDeployment(ctx context.Context, d *coordinator.Deployment) (map[string]string, error) {
	tokens, hashes := map[string]string{}, map[string]string{}
	for name, n := range d.Nodes {
		NewTokens(name, 1, n.Multiplicity, tokens, hashes)
	}
	body := struct {
		*coordinator.Deployment
		TokenSHA256 map[string]string `json:"token_sha256"`
	}{d, hashes}
	if err := c.do(ctx, "POST", "/v1/deployments", body, nil, true); err != nil {
		return nil, err
	}
	return tokens, nil
}

// Scale changes a node's multiplicity; it returns the run's state and the
// new instances' tokens, made here as in CreateDeployment (so a retry is
// safe).
func (c *Client) Scale(ctx context.Context, node string, from, to int) (string, map[string]string, error) {
	tokens, hashes := map[string]string{}, map[string]string{}
	NewTokens(node, from+1, to, tokens, hashes)
	var out struct{ State string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/scale", map[string]any{"node": node, "multiplicity": to, "token_sha256": hashes}, &out, true)
	if err != nil {
		return "", nil, err
	}
	return out.State, tokens, nil
}

// ReissueTokens gives instances new tokens, made here, and revokes the
// ones they had; it returns the new tokens.
func (c *Client) ReissueTokens(ctx context.Context, instances []string) (map[string]string, error) {
	tokens, hashes := map[string]string{}, map[string]string{}
	for _, inst := range instances {
		tok := newToken()
		tokens[inst], hashes[inst] = tok, TokenHash(tok)
	}
	if err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/tokens", map[string]any{"token_sha256": hashes}, nil, true); err != nil {
		return nil, err
	}
	return tokens, nil
}

// RenewSpentTokens gives a new bootstrap token to each instance whose
// current one (current: instance → token) can no longer be exchanged (its
// machine's agent did, or it was revoked), and returns the new tokens of
// those it renewed; an instance whose token is still good is not in the
// answer. A machine resource calls it before it starts a machine for an
// instance again. Safe to retry.
func (c *Client) RenewSpentTokens(ctx context.Context, current map[string]string) (map[string]string, error) {
	tokens, hashes, currentHashes := map[string]string{}, map[string]string{}, map[string]string{}
	for inst, tok := range current {
		fresh := newToken()
		tokens[inst], hashes[inst], currentHashes[inst] = fresh, TokenHash(fresh), TokenHash(tok)
	}
	var out struct{ Renewed []string }
	if err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/tokens", map[string]any{"token_sha256": hashes, "unless_unspent": currentHashes}, &out, true); err != nil {
		return nil, err
	}
	renewed := map[string]string{}
	for _, inst := range out.Renewed {
		if tok, ok := tokens[inst]; ok {
			renewed[inst] = tok
		}
	}
	return renewed, nil
}

// Deployments lists every deployment at the coordinator (admin).
func (c *Client) Deployments(ctx context.Context) ([]coordinator.Summary, error) {
	var out struct{ Deployments []coordinator.Summary }
	err := c.do(ctx, "GET", "/v1/deployments", nil, &out, true)
	return out.Deployments, err
}

// UpdateSettings changes the deployment's keep-running policy, tolerated
// provisioning failures or description in place; it returns the run's
// state afterwards.
func (c *Client) UpdateSettings(ctx context.Context, s coordinator.Settings) (string, error) {
	var out struct{ State string }
	err := c.do(ctx, "PATCH", "/v1/deployments/"+url.PathEscape(c.Deployment), s, &out, true)
	return out.State, err
}

// InstanceFailed tells the coordinator that an instance's machine could
// not be started; tolerated says whether the run goes on without it.
func (c *Client) InstanceFailed(ctx context.Context, instance, reason string) (bool, error) {
	var out struct{ Tolerated bool }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/instances/"+url.PathEscape(instance)+"/failed", map[string]string{"reason": reason}, &out, true)
	return out.Tolerated, err
}

// NewTokens makes tokens for instances from..to of node, adding each to
// tokens and its hex SHA-256 (all the coordinator keeps) to hashes.
func NewTokens(node string, from, to int, tokens, hashes map[string]string) {
	for i := from; i <= to; i++ {
		inst := coordinator.Instance{Node: node, Index: i}.String()
		tok := newToken()
		tokens[inst], hashes[inst] = tok, TokenHash(tok)
	}
}

// NewToken makes a token (64 hex digits from crypto/rand) and returns it
// with its hex SHA-256, all the coordinator is sent and keeps.
func NewToken() (token, hash string) {
	token = newToken()
	return token, TokenHash(token)
}

// TokenHash is the hex SHA-256 of a token, as the coordinator keeps it.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// Finalize ends the run and returns its state afterwards.
func (c *Client) Finalize(ctx context.Context) (string, error) {
	var out struct{ State string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/finalize", nil, &out, true)
	return out.State, err
}

// Delete removes the deployment and everything kept for it.
func (c *Client) Delete(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/v1/deployments/"+url.PathEscape(c.Deployment), nil, nil, true)
}

// Parameters returns every parameter that has a value, and which of them
// are sensitive.
func (c *Client) Parameters(ctx context.Context) (map[string]string, map[string]bool, error) {
	var out struct {
		Parameters map[string]string
		Sensitive  map[string]bool
	}
	err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/parameters", nil, &out, true)
	return out.Parameters, out.Sensitive, err
}

// Agent is one agent binary the coordinator serves.
type Agent struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	URL    string `json:"url"`
}

// Waits lists the instances blocked on a parameter right now (ss-get), by
// key: who is waiting for whom.
func (c *Client) Waits(ctx context.Context) ([]coordinator.Wait, error) {
	var out struct {
		Waits []coordinator.Wait `json:"waits"`
	}
	err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/waits", nil, &out, true)
	return out.Waits, err
}

// Agents lists the agent binaries the coordinator serves, by "linux/amd64".
func (c *Client) Agents(ctx context.Context) (map[string]Agent, error) {
	var out struct{ Agents map[string]Agent }
	err := c.do(ctx, "GET", "/v1/agent", nil, &out, true)
	return out.Agents, err
}

// AgentBinary downloads the agent for linux/arch and checks its SHA-256
// against the one listed.
func (c *Client) AgentBinary(ctx context.Context, arch string) ([]byte, string, error) {
	agents, err := c.Agents(ctx)
	if err != nil {
		return nil, "", err
	}
	a, ok := agents["linux/"+arch]
	if !ok {
		var have []string
		for k := range agents {
			have = append(have, k)
		}
		sort.Strings(have)
		return nil, "", &Error{Code: "not_found", Message: fmt.Sprintf("the coordinator serves no agent for linux/%s (it has: %s); build them with make build, or give slipc serve -agent-dir", arch, strings.Join(have, ", ")), Status: 404}
	}
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.BaseURL, "/")+"/v1/agent/linux/"+url.PathEscape(arch), nil)
	if err != nil {
		return nil, "", err
	}
	res, err := c.http().Do(req)
	if err != nil {
		return nil, "", &Error{Code: "network", Message: "cannot reach the coordinator: " + err.Error()}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", &Error{Code: "http", Message: "downloading the agent: coordinator answered " + res.Status, Status: res.StatusCode}
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 512<<20))
	if err != nil {
		return nil, "", &Error{Code: "network", Message: "downloading the agent: " + err.Error()}
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != a.SHA256 {
		return nil, "", &Error{Code: "invalid", Message: fmt.Sprintf("the agent for linux/%s downloaded with sha256 %s, but the coordinator lists %s", arch, got, a.SHA256)}
	}
	return b, a.SHA256, nil
}

// Viewer is a viewer token as issued (Token is returned only then).
type Viewer struct {
	Token      string    `json:"token,omitempty"`
	Name       string    `json:"name"`
	Deployment string    `json:"deployment,omitempty"`
	Created    time.Time `json:"created,omitzero"`
	Expires    time.Time `json:"expires"`
}

// CreateViewer issues a viewer token (admin): read-only, no sensitive
// value, valid for ttl (0: the coordinator's default, a day), limited to
// deployment when it is not empty. name "" lets the coordinator pick one.
func (c *Client) CreateViewer(ctx context.Context, name string, ttl time.Duration, deployment string) (*Viewer, error) {
	body := map[string]string{"name": name, "deployment": deployment}
	if ttl > 0 {
		body["ttl"] = ttl.String()
	}
	var out Viewer
	// Not safe to resend: a lost answer leaves a token nobody holds; the
	// name then says "in use", and slipc token revoke frees it.
	err := c.do(ctx, "POST", "/v1/viewers", body, &out, false)
	return &out, err
}

// Viewers lists the viewer tokens (admin), without the tokens.
func (c *Client) Viewers(ctx context.Context) ([]Viewer, error) {
	var out struct {
		Viewers []Viewer `json:"viewers"`
	}
	err := c.do(ctx, "GET", "/v1/viewers", nil, &out, true)
	return out.Viewers, err
}

// RemoveViewer revokes a viewer token by name (admin).
func (c *Client) RemoveViewer(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/v1/viewers/"+url.PathEscape(name), nil, nil, true)
}

// Overview reads a deployment at a glance (admin or viewer): its
// instances counted by state per node, the waits and their deadlocks, the
// abort with its context.
func (c *Client) Overview(ctx context.Context) (*coordinator.Overview, error) {
	var out coordinator.Overview
	err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/overview", nil, &out, true)
	return &out, err
}

// instancesPage is how many instances Instances asks for at once: the
// most the coordinator answers (GET /v1/deployments/{id}/instances).
const instancesPage = 500

// Instances lists the deployment's instances (admin or viewer) in node and
// index order, each with its state and what its agent published about it
// (hostname, addresses, URLs); only node's when node is not "" (none when
// the deployment has no such node). It asks for them a page at a time.
func (c *Client) Instances(ctx context.Context, node string) ([]coordinator.InstanceView, error) {
	all := []coordinator.InstanceView{}
	for {
		q := url.Values{"offset": {strconv.Itoa(len(all))}, "limit": {strconv.Itoa(instancesPage)}}
		if node != "" {
			q.Set("node", node)
		}
		var out struct {
			Instances []coordinator.InstanceView `json:"instances"`
			Total     int                        `json:"total"`
		}
		if err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/instances?"+q.Encode(), nil, &out, true); err != nil {
			return nil, err
		}
		all = append(all, out.Instances...)
		if len(out.Instances) == 0 || len(all) >= out.Total {
			return all, nil
		}
	}
}

// Events follows the deployment's event stream (a change of a parameter
// each; sensitive ones without their value) from after revision after,
// calling fn for each, until ctx ends or the stream does. It returns the
// last revision seen, to go on from. One connection, not retried: the
// caller reconnects (slipc watch redraws on each event and reconnects).
func (c *Client) Events(ctx context.Context, after int64, fn func(coordinator.Event)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.BaseURL+"/v1/deployments/"+url.PathEscape(c.Deployment)+"/events?after="+strconv.FormatInt(after, 10), nil)
	if err != nil {
		return after, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	res, err := c.http().Do(req)
	if err != nil {
		return after, &Error{Code: "network", Message: err.Error()}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var body struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body)
		return after, &Error{Code: body.Error.Code, Message: body.Error.Message, Status: res.StatusCode}
	}
	r := bufio.NewReader(res.Body)
	event := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil {
				return after, ctx.Err()
			}
			return after, nil // the stream ended: the caller reconnects
		}
		line = strings.TrimRight(line, "\r\n")
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			event = name
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if event == "error" {
			// The coordinator no longer has the changes after this
			// revision (compacted): start again from what it keeps.
			return 0, nil
		}
		var ev coordinator.Event
		if json.Unmarshal([]byte(data), &ev) == nil && ev.Rev > 0 {
			after = ev.Rev
			fn(ev)
		}
	}
}

// Stats is the coordinator process's vital signs (GET /v1/stats, admin).
type Stats struct {
	Goroutines int   `json:"goroutines"`
	HeapBytes  int64 `json:"heap_bytes"`
	OpenFiles  int   `json:"open_files"`
}

// Stats reads the coordinator process's vital signs (admin).
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var out Stats
	err := c.do(ctx, "GET", "/v1/stats", nil, &out, true)
	return &out, err
}

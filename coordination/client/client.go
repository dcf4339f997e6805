// Package client talks to the coordinator's API for the agent and the
// ss-* commands. It retries through network failures and coordinator
// restarts with capped exponential backoff, and turns the API's answers
// into errors carrying SlipStream's exit codes.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
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
}

func (e *Error) Error() string { return e.Message }

// ExitCode maps the error onto SlipStream's exit codes.
func (e *Error) ExitCode() int {
	switch {
	case e.Code == "timeout":
		return ExitTimeout
	case e.Code == "aborted":
		return ExitAborted
	case e.Code == "network":
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
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends one request with a JSON body, retrying network errors, 5xx
// answers and rate limiting until ctx ends. Other client errors (4xx) are
// final.
func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return c.send(ctx, method, path, payload, "application/json", out)
}

func (c *Client) send(ctx context.Context, method, path string, payload []byte, contentType string, out any) error {
	backoff := 100 * time.Millisecond
	maxBackoff := c.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 5 * time.Second
	}
	for {
		err := c.once(ctx, method, path, payload, contentType, out)
		var e *Error
		if err == nil || !errors.As(err, &e) || (e.Code != "network" && e.Status < 500 && e.Status != http.StatusTooManyRequests) {
			return err
		}
		pause := backoff
		if e.RetryAfter > pause {
			pause = e.RetryAfter
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (c *Client) once(ctx context.Context, method, path string, payload []byte, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return &Error{Code: "invalid", Message: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if payload != nil {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := c.http().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &Error{Code: "timeout", Message: "timed out: " + ctx.Err().Error()}
		}
		return &Error{Code: "network", Message: "cannot reach the coordinator: " + err.Error()}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode >= 300 {
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			eb.Error.Code, eb.Error.Message = "http", fmt.Sprintf("coordinator answered %s", res.Status)
		}
		e := &Error{Code: eb.Error.Code, Message: eb.Error.Message, Status: res.StatusCode}
		if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
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
		err := c.do(ctx, "GET", c.paramPath(key)+ignoreQuery(ignoreAbort), nil, &out)
		var e *Error
		if err == nil {
			return out.Value, nil
		}
		if !errors.As(err, &e) || e.Code != "not_set" {
			return "", err
		}
		waiting()
	}
	for {
		q := url.Values{}
		if wait > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return "", &Error{Code: "timeout", Message: "timed out waiting for " + key}
			}
			q.Set("wait", left.Round(time.Millisecond).String())
		}
		if ignoreAbort {
			q.Set("ignoreabort", "true")
		}
		if changedFrom != nil {
			q.Set("changed_from", *changedFrom)
		}
		var out struct{ Value string }
		err := c.do(ctx, "GET", c.paramPath(key)+"?"+q.Encode(), nil, &out)
		var e *Error
		if err == nil {
			return out.Value, nil
		}
		if errors.As(err, &e) && e.Code == "timeout" && wait > 0 && time.Until(deadline) > 0 && ctx.Err() == nil {
			continue // the server cut the long-poll short; ask again
		}
		return "", err
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
	return c.do(ctx, "PUT", c.paramPath(key), map[string]any{"value": value, "ignore_abort": ignoreAbort}, nil)
}

// Abort raises (or with cancel, clears) the run's abort.
func (c *Client) Abort(ctx context.Context, message string, cancel bool) error {
	return c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/abort", map[string]any{"message": message, "cancel": cancel}, nil)
}

// Complete reports that this instance finished a state; it returns the
// run's state afterwards.
func (c *Client) Complete(ctx context.Context, state string) (string, error) {
	var out struct{ State string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/complete", map[string]any{"state": state}, &out)
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
	if err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UploadReport sends an instance's report directory, a gzip-compressed
// tar, replacing the one sent before.
func (c *Client) UploadReport(ctx context.Context, instance string, tarball []byte) error {
	return c.send(ctx, "PUT", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/reports/"+url.PathEscape(instance), tarball, "application/gzip", nil)
}

// Exchange trades the client's token, a one-time bootstrap token, for the
// agent's own token, given by its hex SHA-256 (the token itself never
// leaves the machine). It returns the instance the token acts for. It is
// safe to retry: the same exchange asked again succeeds. Afterwards the
// client still holds the spent bootstrap token: set Token to the new one.
func (c *Client) Exchange(ctx context.Context, tokenSHA256 string) (string, error) {
	var out struct{ Instance string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/exchange", map[string]string{"token_sha256": tokenSHA256}, &out)
	return out.Instance, err
}

// The calls below are the provider's: they need the admin token.

// CreateDeployment registers d and returns its instances' tokens.
func (c *Client) CreateDeployment(ctx context.Context, d *coordinator.Deployment) (map[string]string, error) {
	var out struct{ Tokens map[string]string }
	err := c.do(ctx, "POST", "/v1/deployments", d, &out)
	return out.Tokens, err
}

// Scale changes a node's multiplicity; it returns the run's state and the
// new instances' tokens.
func (c *Client) Scale(ctx context.Context, node string, multiplicity int) (string, map[string]string, error) {
	var out struct {
		State  string
		Tokens map[string]string
	}
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/scale", map[string]any{"node": node, "multiplicity": multiplicity}, &out)
	return out.State, out.Tokens, err
}

// Finalize ends the run and returns its state afterwards.
func (c *Client) Finalize(ctx context.Context) (string, error) {
	var out struct{ State string }
	err := c.do(ctx, "POST", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/finalize", nil, &out)
	return out.State, err
}

// Delete removes the deployment and everything kept for it.
func (c *Client) Delete(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/v1/deployments/"+url.PathEscape(c.Deployment), nil, nil)
}

// Parameters returns every parameter that has a value, and which of them
// are sensitive.
func (c *Client) Parameters(ctx context.Context) (map[string]string, map[string]bool, error) {
	var out struct {
		Parameters map[string]string
		Sensitive  map[string]bool
	}
	err := c.do(ctx, "GET", "/v1/deployments/"+url.PathEscape(c.Deployment)+"/parameters", nil, &out)
	return out.Parameters, out.Sensitive, err
}

// Agent is one agent binary the coordinator serves.
type Agent struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	URL    string `json:"url"`
}

// Agents lists the agent binaries the coordinator serves, by "linux/amd64".
func (c *Client) Agents(ctx context.Context) (map[string]Agent, error) {
	var out struct{ Agents map[string]Agent }
	err := c.do(ctx, "GET", "/v1/agent", nil, &out)
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

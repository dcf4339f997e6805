// Package csapi is a small typed client for CloudSigma's REST API 2.0,
// written from the public API reference (github.com/cloudsigma/cloudsigma-docs,
// published at docs.cloudsigma.com) because the official Go SDK is not
// available to this module. It covers what the SlipStream connector uses:
// servers, drives, library drives, key pairs, tags and capabilities.
//
// Every call takes a context, sends HTTP Basic credentials and JSON, and
// returns CloudSigma's error answers as *Error (with the HTTP status and
// the error_type) and failures to reach the API as *RequestError.
package csapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultUserAgent names this client to the API.
const DefaultUserAgent = "slipstream-cloudsigma/1.0 (+https://github.com/slipstream/terraform-provider-slipstream)"

// DefaultTimeout bounds one HTTP exchange. API calls answer in well under
// a second; long operations (clones, starts) are asynchronous.
const DefaultTimeout = 60 * time.Second

// maxResponse bounds a response body: a detailed list of a few thousand
// servers is far below it.
const maxResponse = 64 << 20

// LocationURL is the API base of a location ("zrh", "fra", …), as the
// General Notes section "API endpoint" gives it.
func LocationURL(location string) string {
	return "https://" + location + ".cloudsigma.com/api/2.0/"
}

// Options configure a Client.
type Options struct {
	// BaseURL is the API base, ending in /api/2.0/ (a trailing slash is
	// added when missing).
	BaseURL string
	// Username (the account e-mail) and Password for HTTP Basic auth
	// (General Notes, "HTTP Basic Auth").
	Username string
	Password string
	// HTTPClient, when set, sends the requests (its Timeout is left as is).
	HTTPClient *http.Client
	// Timeout bounds each request when HTTPClient is not given (default
	// DefaultTimeout).
	Timeout time.Duration
	// UserAgent is sent with every request (default DefaultUserAgent).
	UserAgent string
	// PageSize is the limit asked for per page of a list (Pagination
	// section). 0, the default, asks for every object at once (limit=0);
	// the client still follows offsets when an answer holds fewer objects
	// than its meta.total_count.
	PageSize int
}

// Client calls one location's API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	username  string
	password  string
	http      *http.Client
	userAgent string
	pageSize  int
}

// New returns a client for opts.BaseURL.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("csapi: no API base URL")
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil {
		// Not the URL itself: it might hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("csapi: the API base URL does not parse: %w", err)
	}
	if base.Scheme != "http" && base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("csapi: API base URL %q is not an http(s) URL", base.Redacted())
	}
	if base.User != nil {
		// They would show wherever the URL does; Username and Password
		// are the credentials.
		return nil, fmt.Errorf("csapi: API base URL %s holds credentials; give them as the username and password", base.Redacted())
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	base.RawQuery, base.Fragment = "", ""
	c := &Client{base: base, username: opts.Username, password: opts.Password, http: opts.HTTPClient,
		userAgent: opts.UserAgent, pageSize: max(opts.PageSize, 0)}
	if c.http == nil {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		c.http = &http.Client{Timeout: timeout}
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	return c, nil
}

// BaseURL is the API base the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// do sends one request to path (relative to the base and escaped:
// "servers/", or objectPath("servers", id)) with query, and body encoded
// as JSON when not nil, and decodes a successful answer into out when not
// nil. A 204 or an empty body leaves out alone.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	where := "/" + path
	rel, err := url.Parse(path)
	if err != nil || rel.IsAbs() || rel.Host != "" || strings.HasPrefix(path, "/") {
		return &RequestError{Method: method, Path: where, Err: fmt.Errorf("not a path relative to the API base")}
	}
	if len(query) > 0 {
		rel.RawQuery = query.Encode()
		where += "?" + rel.RawQuery
	}
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &RequestError{Method: method, Path: where, Err: fmt.Errorf("encoding the request: %w", err)}
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.ResolveReference(rel).String(), reader)
	if err != nil {
		return &RequestError{Method: method, Path: where, Err: err}
	}
	req.SetBasicAuth(c.username, c.password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL in *url.Error holds no credentials (they travel in a
		// header, and New refuses them in the base URL), so the message
		// is safe to show.
		return &RequestError{Method: method, Path: where, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return &RequestError{Method: method, Path: where, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := DecodeError(resp.StatusCode, data)
		e.Method, e.Path = method, where
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &RequestError{Method: method, Path: where, Err: fmt.Errorf("decoding the answer (HTTP %d): %w", resp.StatusCode, err)}
	}
	return nil
}

// objectPath is the path of one object, "<kind>/<id>/", with the id
// escaped so that whatever a caller passes stays one path segment.
func objectPath(kind, id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", &RequestError{Method: "", Path: "/" + kind + "/" + id, Err: ErrBadID}
	}
	return kind + "/" + url.PathEscape(id) + "/", nil
}

// ErrBadID is the error of a call given an id that cannot name an object
// (empty, "." or ".."): no request is sent.
var ErrBadID = errors.New("not an object id")

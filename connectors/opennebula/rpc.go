package opennebula

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca"
	errs "github.com/OpenNebula/one/src/oca/go/src/goca/errors"
)

// rpcClient is goca's XML-RPC client as goca's controller calls it
// (goca.RPCCaller), with what the client leaves out: the method's name on
// every error, HTTP bodies of error answers closed (goca leaves them open,
// which holds a connection per error), and StratusLab's proxy
// authentication.
type rpcClient struct {
	client *goca.Client
}

var _ goca.RPCCaller = (*rpcClient)(nil)

// newRPC makes the client of an endpoint. The session string is
// "user:password", which OpenNebula takes for a password and for a login
// token alike.
func newRPC(cfg rpcConfig) (*rpcClient, error) {
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return nil, errors.New("the default HTTP transport is not an *http.Transport")
	}
	tr := base.Clone()
	tr.ResponseHeaderTimeout = 5 * time.Minute // a pool of thousands of VMs takes a while; the context bounds the rest
	var rt http.RoundTripper = tr
	if cfg.basicAuth {
		rt = &basicAuth{next: tr, username: cfg.username, password: cfg.password}
	}
	conf := goca.OneConfig{Token: cfg.username + ":" + cfg.password, Endpoint: cfg.endpoint}
	return &rpcClient{client: goca.NewClient(conf, &http.Client{Transport: rt})}, nil
}

// CallContext makes one call. Its errors are *callError.
func (r *rpcClient) CallContext(ctx context.Context, method string, args ...any) (*goca.Response, error) {
	resp, err := r.client.CallContext(ctx, method, args...)
	if err == nil {
		return resp, nil
	}
	var ce *errs.ClientError
	if errors.As(err, &ce) && ce.Code == errs.ClientRespHTTP && ce.HttpResp != nil && ce.HttpResp.Body != nil {
		// A little of the body is read so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(ce.HttpResp.Body, 64<<10))
		_ = ce.HttpResp.Body.Close()
	}
	return nil, &callError{Method: method, Err: err}
}

// callError is the failure of one XML-RPC call.
type callError struct {
	Method string
	Err    error
}

func (e *callError) Error() string { return e.Method + ": " + e.Err.Error() }

// Unwrap gives goca's error and what it wraps: goca's ClientError keeps
// the transport's error (a cancelled context, say) without unwrapping it.
func (e *callError) Unwrap() []error {
	out := []error{e.Err}
	var ce *errs.ClientError
	if errors.As(e.Err, &ce) && ce.Err != nil {
		out = append(out, ce.Err)
	}
	return out
}

// basicAuth adds HTTP Basic credentials to every request, as StratusLab's
// one-proxy authenticates its users.
type basicAuth struct {
	next               http.RoundTripper
	username, password string
}

func (b *basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(b.username, b.password)
	return b.next.RoundTrip(r)
}

// malformedError is an answer that is not what OpenNebula answers: goca
// could not read it (or failed on it).
type malformedError struct {
	detail string
}

func (e *malformedError) Error() string { return "the answer is not OpenNebula's: " + e.detail }

// guard runs one goca call: a panic of goca on an answer it did not
// expect (it indexes the answer's array without checking its length)
// becomes a malformed-answer error, and every error is classified
// (errors.go) for method.
func guard[T any](c *Connector, method string, call func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, c.apiErr(method, &malformedError{detail: fmt.Sprint(p)})
		}
	}()
	v, err = call()
	if err != nil {
		err = c.apiErr(method, err)
	}
	return v, err
}

// guardErr is guard for calls that return only an error.
func guardErr(c *Connector, method string, call func() error) error {
	_, err := guard(c, method, func() (struct{}, error) { return struct{}{}, call() })
	return err
}

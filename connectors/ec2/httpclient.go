package ec2

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/config"
)

// readOnlyBodies hands requests to the HTTP client with their bodies
// stripped down to Read and Close.
//
// Why: the SDK closes a request's body as soon as the response has
// come, and its closed body's WriteTo then fails with io.EOF. Go's
// transport, once it has sent the body, reads it once more for bytes
// beyond Content-Length; when the answer came first (a fast server, a
// proxy), that read goes to WriteTo, the io.EOF counts as a failed write,
// and the transport closes the connection under the response being read:
// "deserialization failed ... use of closed network connection"
// (aws/aws-sdk-go-v2#1825, #2737). Read on a closed body returns a clean
// io.EOF instead.
type readOnlyBodies struct{ config.HTTPClient }

func (c readOnlyBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.HTTPClient.Do(req)
}

// Package ec2fake is a fake Amazon EC2 that speaks the EC2 Query API to the
// real AWS SDK for Go: SigV4-signed, form-encoded POSTs in, XML in the EC2
// namespace out, with EC2's own error codes and HTTP statuses. Everything
// that is not protocol (machines, images, key pairs, faults) is a
// fakecloud.Cloud; this package adds what only EC2 has: reservations,
// client tokens, EBS snapshots behind images, instance types and EC2's
// names for states and errors.
//
// Point the SDK at it with ec2.Options.BaseEndpoint (an httptest.Server
// serving a Server) and the Options' credentials and region. A client of
// its own should hide io.WriterTo of request bodies, as connectors/ec2
// does (httpclient.go): the fake answers fast enough to trip an SDK bug
// that closes the connection under the answer (aws/aws-sdk-go-v2#1825).
package ec2fake

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Namespace is the XML namespace of EC2's answers (API version 2016-11-15).
const Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Credentials the fake accepts when Options leave them out: AWS's own
// documentation examples, so that nothing looks like a real key.
const (
	DefaultAccessKey = "AKIAIOSFODNN7EXAMPLE"                     // #nosec G101 -- AWS's documented example key, for the fake only
	DefaultSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // #nosec G101 -- AWS's documented example secret, for the fake only
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
)

// maxBody bounds a request: the largest real one (RunInstances with 16 KB
// of user-data, base64) is far below it.
const maxBody = 1 << 20

// Options configure a Server.
type Options struct {
	// AccessKey and SecretKey are the only credentials whose signatures
	// the fake accepts (default DefaultAccessKey, DefaultSecretKey).
	AccessKey string
	SecretKey string
	// SessionToken, when set, must come with every request as
	// X-Amz-Security-Token (temporary credentials).
	SessionToken string
	// Region is the region requests must be signed for (default
	// DefaultRegion); its availability zone "<region>a" is where machines
	// are placed.
	Region string
	// AccountID owns the machines, images and snapshots made through the
	// API (default DefaultAccountID).
	AccountID string
	// PageLimit is the largest page a Describe call returns, whatever
	// MaxResults asks (default 1000, EC2's own largest). EC2 may return
	// fewer results than asked with a NextToken; a small limit makes
	// tests page.
	PageLimit int
	// ClockSkew is how far a request's X-Amz-Date may be from the fake's
	// clock (default 15 minutes, as EC2).
	ClockSkew time.Duration
	// Now is the fake's clock (default time.Now).
	Now func() time.Time
}

// Server is the EC2 Query API over a fakecloud.Cloud. It is an
// http.Handler, safe for concurrent use.
type Server struct {
	cloud *fakecloud.Cloud
	opts  Options

	mu           sync.Mutex
	tokens       map[string]*runRecord        // RunInstances client tokens
	reservations map[string][]string          // reservation id → instance ids in launch order
	snapshots    map[string]*snapshot         // EBS snapshots by id
	imageTags    map[string]map[string]string // tags changed by CreateTags/DeleteTags after an image was made
	keys         map[string]*keyMeta          // what EC2 knows of a key pair beyond fakecloud.KeyPair

	requests atomic.Uint64
}

// New returns an EC2 API serving cloud. The cloud should make EC2-shaped
// ids (NewCloud does).
func New(cloud *fakecloud.Cloud, opts Options) *Server {
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAccessKey
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSecretKey
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.PageLimit <= 0 || opts.PageLimit > 1000 {
		opts.PageLimit = 1000
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		cloud: cloud, opts: opts,
		tokens: map[string]*runRecord{}, reservations: map[string][]string{}, snapshots: map[string]*snapshot{},
		imageTags: map[string]map[string]string{}, keys: map[string]*keyMeta{},
	}
}

// Cloud is the fake cloud behind the API.
func (s *Server) Cloud() *fakecloud.Cloud { return s.cloud }

// action answers one EC2 action: a response (a pointer to a struct of
// the answer's elements) or an EC2 error.
type action struct {
	// params are the top-level parameter names the action takes (the
	// part before the first dot); others are UnknownParameter, as EC2
	// answers a misspelled one.
	params []string
	run    func(s *Server, ctx context.Context, p params) (response, *apiError)
}

// actions are the EC2 actions the fake serves, by name.
var actions = map[string]action{
	"RunInstances":          runInstancesAction,
	"DescribeInstances":     describeInstancesAction,
	"TerminateInstances":    terminateInstancesAction,
	"StopInstances":         stopInstancesAction,
	"StartInstances":        startInstancesAction,
	"DescribeInstanceTypes": describeInstanceTypesAction,
	"ImportKeyPair":         importKeyPairAction,
	"DescribeKeyPairs":      describeKeyPairsAction,
	"DeleteKeyPair":         deleteKeyPairAction,
	"CreateTags":            createTagsAction,
	"DeleteTags":            deleteTagsAction,
	"DescribeImages":        describeImagesAction,
	"CreateImage":           createImageAction,
	"DeregisterImage":       deregisterImageAction,
	"DeleteSnapshot":        deleteSnapshotAction,
	"DescribeSnapshots":     describeSnapshotsAction,
}

// ServeHTTP answers one EC2 Query API request: authenticate, decode,
// enter the cloud (count, latency, injected throttling), act, answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.newRequestID()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, reqID, errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body is larger than %d bytes.", maxBody))
			return
		}
		writeError(w, reqID, errorf(http.StatusBadRequest, "InvalidRequest", "The request body could not be read."))
		return
	}
	if e := s.authenticate(r, body); e != nil {
		writeError(w, reqID, e)
		return
	}
	p, e := parseParams(r, body)
	if e != nil {
		writeError(w, reqID, e)
		return
	}
	name := p.get("Action")
	if name == "" {
		writeError(w, reqID, errorf(http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action."))
		return
	}
	act, ok := actions[name]
	if !ok {
		writeError(w, reqID, errorf(http.StatusBadRequest, "InvalidAction", "The action %s is not valid for this web service.", name))
		return
	}
	if p.get("Version") == "" {
		writeError(w, reqID, missingParameter("Version"))
		return
	}
	if e := p.checkKnown(act.params); e != nil {
		writeError(w, reqID, e)
		return
	}
	if err := s.cloud.Enter(r.Context(), name); err != nil {
		writeError(w, reqID, cloudError(err))
		return
	}
	if dry, e := p.boolean("DryRun"); e != nil {
		writeError(w, reqID, e)
		return
	} else if dry {
		writeError(w, reqID, errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."))
		return
	}
	resp, e := act.run(s, r.Context(), p)
	if e != nil {
		writeError(w, reqID, e)
		return
	}
	writeResponse(w, name, reqID, resp)
}

// newRequestID is a request id shaped like EC2's (a UUID), numbered so
// that a test log shows the order of requests.
func (s *Server) newRequestID() string {
	n := s.requests.Add(1)
	return fmt.Sprintf("%s-%s-4%s-8%s-%012x", randomHex(8), randomHex(4), randomHex(3), randomHex(3), n)
}

// response is an action's answer: a pointer to a struct whose fields
// are the answer's elements. writeResponse puts them in the action's root
// element, after the request id.
type response any

func writeResponse(w http.ResponseWriter, action, reqID string, resp response) {
	body, err := xml.Marshal(resp)
	if err != nil {
		writeError(w, reqID, errorf(http.StatusInternalServerError, "InternalError", "An internal error has occurred."))
		return
	}
	// body is <typeName>…</typeName>: keep what is inside.
	inner := body[bytes.IndexByte(body, '>')+1 : bytes.LastIndex(body, []byte("</"))]
	var out bytes.Buffer
	out.WriteString(xml.Header)
	fmt.Fprintf(&out, "<%sResponse xmlns=\"%s\"><requestId>%s</requestId>", action, Namespace, reqID)
	out.Write(inner)
	fmt.Fprintf(&out, "</%sResponse>", action)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes()) // the client may have gone; nothing to tell it
}

// Package cloudsigmafake is a fake CloudSigma that speaks the REST API 2.0
// (github.com/cloudsigma/cloudsigma-docs) over HTTP: Basic auth, JSON in
// and out, list envelopes with limit/offset pagination, and CloudSigma's
// error answers (a list of {"error_point", "error_type", "error_message"}
// with its HTTP statuses). Everything that is not protocol (machines,
// images, key pairs, injected faults) is a fakecloud.Cloud; this package
// adds what only CloudSigma has: servers that exist stopped until started,
// drives cloned from library drives and from each other, tags, and
// CloudSigma's words for states and errors.
//
// The mapping onto the Cloud:
//   - a library drive is a base image of the Cloud (one registered with
//     AddImage), with the same uuid;
//   - a drive is the fake's own, pointing at the Cloud image its content
//     comes from; cloning the boot drive of a stopped server snapshots
//     the server's machine (Cloud.Snapshot), and the clone's uuid is the
//     new image's id, so that a drive made that way is an image machines
//     start from;
//   - a server is a Cloud machine created stopped (RunRequest.Stopped),
//     with the same uuid, booted from its boot drive's image by its first
//     start.
//
// Serve it with httptest.NewServer and point the client at
// <server URL>/api/2.0/.
package cloudsigmafake

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Credentials the fake accepts when Options leave them out: the example
// of the reference's "HTTP Basic Auth" section.
const (
	DefaultUsername = "user.email@domain.tld"
	DefaultPassword = "pass123"
)

// Prefix is where the API lives on the fake's server.
const Prefix = "/api/2.0/"

// maxBody bounds a request body: a batch of a hundred servers with 16 KB
// of user-data each is well below it.
const maxBody = 8 << 20

// Options configure a Fake.
type Options struct {
	// Username and Password are the only credentials accepted (default
	// DefaultUsername, DefaultPassword).
	Username string
	Password string
	// CloneDelay is how long a new clone stays cloning_dst before it can
	// be used (a clone of a server's drive also waits for its image).
	CloneDelay time.Duration
	// Limits are the location's capabilities; zero fields take those of
	// DefaultLimits.
	Limits Limits
	// LibDriveSize is the size of a library drive whose image does not
	// say (Image.Extra["size"], bytes); default 10 GiB.
	LibDriveSize int64
}

// Fake is the API, an http.Handler.
type Fake struct {
	cloud *fakecloud.Cloud
	opts  Options
	owner string // the account's uuid, owner of everything made through the API

	mu      sync.Mutex
	drives  map[string]*drive
	servers map[string]*server
	tags    map[string]*tag
	starts  map[string]int  // accepted starts per server
	doomed  map[string]bool // images of deleted drives, removed once nothing uses them
}

// New serves the API over cloud.
func New(cloud *fakecloud.Cloud, opts Options) *Fake {
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if opts.LibDriveSize <= 0 {
		opts.LibDriveSize = 10 << 30
	}
	opts.Limits = opts.Limits.withDefaults()
	return &Fake{cloud: cloud, opts: opts, owner: NewUUID(), drives: map[string]*drive{}, servers: map[string]*server{},
		tags: map[string]*tag{}, starts: map[string]int{}, doomed: map[string]bool{}}
}

// NewCloud is a fakecloud.Cloud named "cloudsigma" whose machines and
// images get UUIDs, as CloudSigma's servers and drives have.
func NewCloud(opts fakecloud.Options) (*fakecloud.Cloud, error) {
	if opts.Name == "" {
		opts.Name = "cloudsigma"
	}
	if opts.NewID == nil {
		opts.NewID = func(string) string { return NewUUID() }
	}
	return fakecloud.New(opts)
}

// NewUUID is a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Cloud is the fake cloud behind the API.
func (f *Fake) Cloud() *fakecloud.Cloud { return f.cloud }

// Starts is how many starts of the server the API accepted.
func (f *Fake) Starts(uuid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[uuid]
}

// call is one request on its way through a handler.
type call struct {
	ctx  context.Context
	r    *http.Request
	op   string // "POST /servers/{uuid}/action/?do=start"
	id   string // the {uuid} of the path, if any
	body []byte
}

// ServeHTTP answers one API request: authentication first, then the
// route, the Cloud's accounting and injected faults, then the handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(r) {
		writeError(w, &apiError{status: http.StatusUnauthorized, typ: "permission", msg: "Authentication credentials were missing or incorrect."})
		return
	}
	rt, id, aerr := route(r.Method, r.URL.Path, r.URL.Query())
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	c := &call{ctx: r.Context(), r: r, op: rt.op(), id: id}
	if err := f.cloud.Enter(c.ctx, c.op); err != nil {
		writeError(w, errorFor(err))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, errValidation("", "Reading the request body: %v", err))
		return
	}
	if len(body) > maxBody {
		writeError(w, errValidation("", "The request body is larger than %d bytes", maxBody))
		return
	}
	c.body = body
	f.collectImages()
	status, answer, err := rt.handle(f, c)
	if err != nil {
		writeError(w, errorFor(err))
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, answer)
}

// authorized checks HTTP Basic credentials (General Notes, "HTTP Basic
// Auth"); digest and cookie authentication are not served.
func (f *Fake) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(f.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(f.opts.Password))
	return u&p == 1
}

// uri is an object's resource_uri.
func uri(kind, id string) string { return Prefix + kind + "/" + id + "/" }

// refJSON is a nested reference as answers give it.
func refJSON(kind, id string) map[string]any {
	return map[string]any{"resource_uri": uri(kind, id), "uuid": id}
}

// ownerJSON is the account as answers name an owner.
func (f *Fake) ownerJSON() map[string]any { return refJSON("user", f.owner) }

// newMAC is a MAC address in the range CloudSigma gives NICs (22:…).
func newMAC() string {
	var b [5]byte
	rand.Read(b[:])
	parts := []string{"22"}
	for _, x := range b {
		parts = append(parts, fmt.Sprintf("%02x", x))
	}
	return strings.Join(parts, ":")
}

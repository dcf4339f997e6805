// Package cloudstackfake is a fake Apache CloudStack management server: the
// API at /client/api, answering the commands the cloudstack connector
// calls, over HTTP, to the real github.com/apache/cloudstack-go/v2 client.
//
// What is CloudStack's own protocol is done as the management server does
// it (server/src/main/java/com/cloud/api/ApiServer.java, ApiServlet.java):
//   - every request is signed: the parameters, query and form body
//     together, sorted by name, each value encoded as Java's URLEncoder
//     does (then "+" as "%20"), joined with "&", the whole lower-cased,
//     HMAC-SHA1 with the secret key, base64; with signatureversion=3 the
//     expires time must not have passed. A request that fails the check,
//     names an unknown API key or an unknown command is answered 401
//     "unable to verify user credentials and/or request signature";
//   - GET and POST (application/x-www-form-urlencoded) are both served;
//   - answers are JSON: {"<command>response": {...}}, lists as
//     {"count": n, "<item>": [...]} (an empty list as {}), errors as
//     {"<command>response": {"uuidList": [], "errorcode": 431,
//     "cserrorcode": 4350, "errortext": "…"}} with the errorcode as the
//     HTTP status (ApiErrorCode: 401, 429, 430, 431, 432, 530…537);
//   - a parameter that names an entity by uuid is checked as
//     ParamProcessWorker does: a uuid that names nothing is 431 "Invalid
//     parameter id value=… due to incorrect long value format, or entity
//     does not exist …"; a removed (expunged) entity's uuid still
//     resolves, and the command finds nothing;
//   - asynchronous commands (deployVirtualMachine, destroyVirtualMachine,
//     stopVirtualMachine, createTags, createTemplate, deleteTemplate)
//     answer a jobid (and the new object's id for the create commands) at
//     once; queryAsyncJobResult and listAsyncJobs report the job pending
//     (jobstatus 0) for at least Options.JobDelay and until its work is
//     done, then succeeded (1, jobresult the object) or failed (2,
//     jobresult {"errorcode", "errortext"}).
//
// Everything that is not protocol (machines, images, key pairs, injected
// faults) is a fakecloud.Cloud: a VM is a Cloud machine with the same
// uuid, a template a Cloud image with the same uuid (a template made by
// createTemplate from a stopped VM's root volume is Cloud.Snapshot of that
// VM), an SSH key pair a Cloud key pair; VM tags are the machine's
// labels. The base64 user-data of deployVirtualMachine is decoded and the
// registered public key of its keypair looked up, so that Cloud.Run gets
// the bytes a real VM's cloud-init would.
//
// Injected faults answer as CloudStack does: throttling as the API rate
// limit's 429 ("The given user has reached his/her account api limit"),
// an unavailable API as the 503 of the proxy in front of the management
// servers, no capacity as 533 (or, with Options.CapacityInJob, as a
// deploy job that fails with 533 after the VM was accepted), the
// account's limit as 535 "Maximum number of resources of type 'user_vm'
// … has been exceeded".
//
// Serve it with httptest.NewServer and point the client at
// <server URL>/client/api.
package cloudstackfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Path is where the API lives on the fake's server, as on a real
// management server.
const Path = "/client/api"

// Credentials the fake accepts when Options leave them out, shaped as
// CloudStack's generated keys are (86 characters of URL-safe base64).
const (
	DefaultAPIKey    = "Hq1tF7c3Yv2nQ8xW0sLbK5mR9pZ4jE6aGdU1oI3yTfN8vC2wX7eB0hS5kM9qL4rJ6uA1zD3gP8nV2tY7cF5xW0" // #nosec G101 -- the fake's own test credential, documented as such
	DefaultSecretKey = "Zk3pW8sN1vQ6yB4mT9cR2xL7fH0jD5aG8uE3nK6qV1zS4wY9oI2bM7tC0hF5rX8gJ3lP6dA1eU4kN9sQ2vB7yT" // #nosec G101 -- the fake's own test credential, documented as such
)

// Options configure a Fake. The zero value serves one zone, the default
// offerings and one network, with the default credentials.
type Options struct {
	// APIKey and SecretKey are the only credentials accepted (default
	// DefaultAPIKey, DefaultSecretKey).
	APIKey    string
	SecretKey string
	// Zones, Offerings and Networks are what the account sees; nil takes
	// DefaultZones, DefaultOfferings and one network per zone.
	Zones     []Zone
	Offerings []Offering
	Networks  []Network
	// JobDelay is how long every asynchronous job stays pending, at
	// least (a real management server takes a moment for even the
	// smallest job).
	JobDelay time.Duration
	// UserDataMaxLength is vm.userdata.max.length: the most base64
	// characters of user-data a POST may carry (default 32768). A GET
	// carries at most 4096, as CloudStack allows.
	UserDataMaxLength int
	// CapacityInJob makes a capacity fault behave as CloudStack's
	// planner does once the VM is allocated: deployVirtualMachine
	// succeeds, the VM goes to Error and the deploy job fails with 533.
	// Without it the capacity fault fails deployVirtualMachine itself.
	CapacityInJob bool
	// NoUserExpunge is an account without allow.user.expunge.recover.vm:
	// destroyVirtualMachine with expunge=true fails (a job failing with
	// 530), and destroyed VMs are expunged by the server later (here: at
	// once).
	NoUserExpunge bool
	// Denied are commands the account's role does not allow: they are
	// answered 432, as the role checker does.
	Denied []string
	// StaticNAT gives every VM a public address (static NAT), reported as
	// its publicip.
	StaticNAT bool
}

// Zone is a zone of the fake.
type Zone struct {
	ID   string
	Name string
}

// Offering is a service offering. A customized offering (CPU and
// MemoryMB 0) takes the VM's cores and memory from deployVirtualMachine's
// details, within its Min and Max.
type Offering struct {
	ID         string
	Name       string
	CPU        int
	SpeedMHz   int
	MemoryMB   int
	RootDiskGB int // 0: the template's size
	Customized bool
	MinCPU     int
	MaxCPU     int
	MinMemory  int
	MaxMemory  int
}

// Network is a guest network of the account.
type Network struct {
	ID     string
	Name   string
	ZoneID string
	CIDR   string // informative
}

// DefaultZones is the zone a fake has when Options name none.
var DefaultZones = []Zone{{ID: "8f2c1e4a-6b3d-4f5a-9c7e-1d2b3a4c5e6f", Name: "zone1"}}

// DefaultOfferings are CloudStack's default compute offerings and a few
// larger ones, plus a customized one.
var DefaultOfferings = []Offering{
	{ID: "c6f3a1e2-0b4d-4e5f-8a9b-1c2d3e4f5a01", Name: "Small Instance", CPU: 1, SpeedMHz: 500, MemoryMB: 512},
	{ID: "c6f3a1e2-0b4d-4e5f-8a9b-1c2d3e4f5a02", Name: "Medium Instance", CPU: 1, SpeedMHz: 1000, MemoryMB: 1024},
	{ID: "c6f3a1e2-0b4d-4e5f-8a9b-1c2d3e4f5a03", Name: "Large Instance", CPU: 2, SpeedMHz: 2000, MemoryMB: 4096},
	{ID: "c6f3a1e2-0b4d-4e5f-8a9b-1c2d3e4f5a04", Name: "XLarge Instance", CPU: 4, SpeedMHz: 2000, MemoryMB: 8192},
	{ID: "c6f3a1e2-0b4d-4e5f-8a9b-1c2d3e4f5a05", Name: "2XLarge Instance", CPU: 8, SpeedMHz: 2000, MemoryMB: 16384},
	{ID: "c6f3a1e2-0b4d-4e5f-8a9b-1c2d3e4f5a06", Name: "Custom", Customized: true, SpeedMHz: 2000, MinCPU: 1, MaxCPU: 16, MinMemory: 512, MaxMemory: 65536},
}

// DefaultOSTypeID is the guest OS type ("Debian GNU/Linux 12 (64-bit)") of
// a base template whose image does not say (Image.Extra["ostypeid"]).
const DefaultOSTypeID = "4f1b2d3c-5e6a-4b7c-8d9e-0f1a2b3c4d5e"

// account names who owns everything made through the API.
const (
	accountName = "slipstream"
	domainName  = "ROOT"
)

// Fake is the API, an http.Handler.
type Fake struct {
	cloud *fakecloud.Cloud
	opts  Options

	accountID, domainID, userID string
	denied                      map[string]bool

	mu        sync.Mutex
	vms       map[string]*vm       // by uuid, while not expunged
	templates map[string]*template // fake-side data of templates made by createTemplate, by uuid
	tmplTags  map[string]map[string]string
	volumes   map[string]string // root volume uuid → VM uuid
	keys      map[string]string // key pair name → uuid, for those registered through the API
	jobs      map[string]*job
	failJobs  map[string][]jobFailure
	known     map[string]string // every uuid ever handed out → its kind ("vm", "template", "volume", "job", "keypair")
	vmSeq     int
}

// New serves the API over cloud.
func New(cloud *fakecloud.Cloud, opts Options) *Fake {
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSecretKey
	}
	if len(opts.Zones) == 0 {
		opts.Zones = DefaultZones
	}
	if len(opts.Offerings) == 0 {
		opts.Offerings = DefaultOfferings
	}
	if opts.Networks == nil {
		for i, z := range opts.Zones {
			opts.Networks = append(opts.Networks, Network{ID: NewUUID(), Name: fmt.Sprintf("guest-net-%d", i+1), ZoneID: z.ID, CIDR: "10.1.1.0/24"})
		}
	}
	if opts.UserDataMaxLength <= 0 {
		opts.UserDataMaxLength = 32768
	}
	f := &Fake{cloud: cloud, opts: opts, accountID: NewUUID(), domainID: NewUUID(), userID: NewUUID(), denied: map[string]bool{},
		vms: map[string]*vm{}, templates: map[string]*template{}, tmplTags: map[string]map[string]string{}, volumes: map[string]string{},
		keys: map[string]string{}, jobs: map[string]*job{}, failJobs: map[string][]jobFailure{}, known: map[string]string{}}
	for _, c := range opts.Denied {
		f.denied[strings.ToLower(c)] = true
	}
	return f
}

// NewCloud is a fakecloud.Cloud named "cloudstack" whose machines and
// images get UUIDs, as CloudStack's VMs and templates have.
func NewCloud(opts fakecloud.Options) (*fakecloud.Cloud, error) {
	if opts.Name == "" {
		opts.Name = "cloudstack"
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

// Options are the fake's options, defaults filled in.
func (f *Fake) Options() Options { return f.opts }

// FailJobs makes the next n jobs of command (createTags, stopVirtualMachine,
// destroyVirtualMachine, createTemplate, deleteTemplate) fail without
// doing their work, with CloudStack's errorcode and errortext.
// deployVirtualMachine's job fails through capacity faults with
// Options.CapacityInJob instead.
func (f *Fake) FailJobs(command string, n, errorcode int, errortext string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := strings.ToLower(command)
	f.failJobs[key] = nil
	for range n {
		f.failJobs[key] = append(f.failJobs[key], jobFailure{code: errorcode, text: errortext})
	}
}

// RootVolume is the uuid of the VM's root volume ("" if none).
func (f *Fake) RootVolume(vmID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.vms[vmID]; ok {
		return v.volumeID
	}
	return ""
}

// call is one request on its way through a handler.
type call struct {
	ctx     context.Context
	method  string
	command string // as sent: "deployVirtualMachine"
	params  params
}

// maxBody bounds a request body: a deployVirtualMachine with a megabyte
// of user-data (CloudStack's largest) fits.
const maxBody = 4 << 20

// ServeHTTP answers one API request: parameters, the Cloud's accounting
// and injected faults, the signature, the role, then the command.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path && r.URL.Path != Path+"/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, "", &csError{status: http.StatusMethodNotAllowed, code: 405, text: "Method " + r.Method + " is not allowed"})
		return
	}
	ps, err := readParams(r, maxBody)
	if err != nil {
		writeError(w, "", &csError{status: http.StatusBadRequest, code: 400, text: err.Error()})
		return
	}
	c := &call{ctx: r.Context(), method: r.Method, command: ps.first("command"), params: ps}
	if err := f.cloud.Enter(c.ctx, c.command); err != nil {
		writeError(w, c.command, errorFor(err))
		return
	}
	cmd, known := commands[c.command]
	if !known || !f.verify(ps, time.Now()) {
		// ApiServer.verifyRequest: an unknown command fails the check
		// before the signature is looked at, as does everything else.
		writeError(w, c.command, &csError{status: http.StatusUnauthorized, code: 401, text: "unable to verify user credentials and/or request signature"})
		return
	}
	if f.denied[strings.ToLower(c.command)] {
		writeError(w, "", &csError{status: 432, code: 432, cscode: 4555,
			text: fmt.Sprintf("The API [%s] does not exist or is not available for the account for user [%s].", c.command, accountName)})
		return
	}
	if ps.first("response") != "json" {
		writeError(w, c.command, &csError{status: 431, code: 431, cscode: 9999, text: "only response=json is served by this fake"})
		return
	}
	answer, err := cmd(f, c)
	if err != nil {
		writeError(w, c.command, errorFor(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{responseName(c.command): answer})
}

// errorFor is the CloudStack answer to an error of the Cloud or a handler.
func errorFor(err error) *csError {
	var ce *csError
	if errors.As(err, &ce) {
		return ce
	}
	var fault *fakecloud.Fault
	if errors.As(err, &fault) {
		switch fault.Kind {
		case fakecloud.FaultThrottle:
			return &csError{status: 429, code: 429, cscode: 9999,
				text: "The given user has reached his/her account api limit, please retry after [1000] ms."}
		case fakecloud.FaultUnavailable:
			return &csError{status: http.StatusServiceUnavailable, proxy: true}
		case fakecloud.FaultCapacity:
			return &csError{status: 533, code: 533, cscode: 9999, text: "Unable to create a deployment for VM[User|" + fault.Op + "]"}
		case fakecloud.FaultQuota:
			return &csError{status: 535, code: 535, cscode: 9999,
				text: fmt.Sprintf("Maximum number of resources of type 'user_vm' for account name=%s in domain id=1 has been exceeded.", accountName)}
		}
	}
	switch {
	case errors.Is(err, fakecloud.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &csError{status: http.StatusServiceUnavailable, proxy: true}
	case errors.Is(err, fakecloud.ErrIncorrectState), errors.Is(err, fakecloud.ErrImageNotReady):
		return &csError{status: 431, code: 431, cscode: 4350, text: err.Error()}
	}
	return &csError{status: 530, code: 530, cscode: 4250, text: err.Error()}
}

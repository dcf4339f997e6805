// Package onefake is a fake OpenNebula that speaks oned's XML-RPC API
// (release 7.0) over HTTP, for goca, OpenNebula's Go client: a
// methodCall in, a methodResponse out whose array is OpenNebula's
// [success, result or message, error code, …], with VM, image, VM
// template, virtual network and user bodies in OpenNebula 7's XML, and
// OpenNebula's failure answers and messages ("[one.vm.info] Error getting
// virtual machine [42]."). Templates are read with a parser of
// OpenNebula's template syntax (ParseTemplate). Everything that is not
// protocol — machines, images, key pairs, injected faults — is a
// fakecloud.Cloud.
//
// The mapping onto the Cloud:
//   - a VM is a Cloud machine with the same (numeric) id; it boots from
//     the image of its first disk that has one, with the user-data and
//     SSH keys its CONTEXT carries, decoded as the image's
//     contextualization would: USER_DATA per USERDATA_ENCODING and
//     SSH_PUBLIC_KEY, or, for CONTEXT_METHOD = "cloud-init" (StratusLab),
//     CLOUD_INIT_USER_DATA (base64 of gzip) and CLOUD_INIT_AUTHORIZED_KEYS.
//     Each distinct key is also registered as a key pair of the Cloud
//     (named after its fingerprint), so tests see the keys VMs were given.
//     Its labels are the pairs of its user template's SLIPSTREAM_LABELS
//     vector (lower-cased, _ as -), where the connector keeps SlipStream's
//     labels, so that tests looking behind the API see them as on every
//     other fake; its type is its user template's INSTANCE_TYPE (the size
//     a StratusLab instance type gave it);
//   - an image is a Cloud image with the same id: base images (AddImage,
//     or the Cloud's own) belong to oneadmin; one.vm.disksaveas snapshots
//     the machine (it must be powered off) into an image of the user;
//   - the Cloud's states are OpenNebula's: pending is PENDING (with the
//     scheduler's SCHED_MESSAGE after a while), running ACTIVE/RUNNING,
//     stopping ACTIVE/SHUTDOWN_POWEROFF, stopped POWEROFF (HOLD for a VM
//     allocated on hold), terminating ACTIVE/EPILOG, terminated DONE
//     (kept, as oned keeps DONE VMs), failed ACTIVE/BOOT_FAILURE with
//     the reason as ERROR.
//
// Injected faults answer as OpenNebula's deployments do: throttling is an
// HTTP 429 and an outage an HTTP 503 of the proxy in front of oned; no
// capacity is oned's ALLOCATE failure for a network without free leases;
// over quota its AUTHORIZATION failure for the VM quota.
//
// With Options.OneProxy the fake is StratusLab's one-proxy instead: HTTP
// Basic authentication on /pswd/xmlrpc, the session string replaced.
//
// What the fake does not do: oned's other methods, disk snapshots, saving
// the disk of a running VM (hot save-as), persistent template copies,
// most VM actions (see action), the JSON query of pool infos (refused as
// oned refuses it on its default SQLite back-end).
package onefake

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Credentials the fake accepts when Options leave them out.
const (
	DefaultUsername = "slipstream"
	DefaultPassword = "opennebula-pass"
)

// Paths the API is served on: oned's, and StratusLab's one-proxy's.
const (
	Path      = "/RPC2"
	ProxyPath = "/pswd/xmlrpc"
)

// Ids of the fake's users and groups.
const (
	oneadminID  = 0
	oneadmin    = "oneadmin"
	usersGroup  = 1
	usersGName  = "users"
	oneadminGID = 0
)

// Options configure a Fake.
type Options struct {
	// Cloud configures the fake cloud; its Name defaults to
	// "opennebula", its NewID and TerminatedRetention are the fake's.
	Cloud fakecloud.Options
	// Username and Password are the user's credentials (default
	// DefaultUsername, DefaultPassword); UserID is its id (default 2).
	Username string
	Password string
	UserID   int
	// UserSSHKey is the user template's SSH_PUBLIC_KEY, which VM
	// templates refer to as $USER[SSH_PUBLIC_KEY].
	UserSSHKey string
	// Networks are the virtual networks; default one, "public" (id 0),
	// owned by oneadmin and usable by everyone.
	Networks []Network
	// Quota is the user's VM quota; nil for none (the default quota,
	// unlimited).
	Quota *Quota
	// OneProxy serves StratusLab's one-proxy rather than oned: Basic
	// authentication with Username and Password on ProxyPath; the
	// session string of calls is not checked (the proxy replaces it).
	OneProxy bool
	// SchedMessageAfter is how long a VM stays pending before the
	// scheduler's "Cannot dispatch" message shows in its user template
	// (default 2 s).
	SchedMessageAfter time.Duration
	// DefaultImageMB is the SIZE of a base image whose Extra does not
	// give "size_mb" (default 2252, a Debian 12 generic image).
	DefaultImageMB int
}

// Network is a virtual network of the fake.
type Network struct {
	ID     int
	Name   string
	Owner  string // a user name: oneadmin or the user
	Bridge string
}

// Quota is a VM quota: -1 means the default quota (unlimited here), -2
// unlimited, as OpenNebula's quotas say.
type Quota struct {
	VMs      int
	CPU      int
	MemoryMB int
}

// Fake is the API, an http.Handler, over its fakecloud.Cloud.
type Fake struct {
	cloud *fakecloud.Cloud
	opts  Options
	ids   *ids

	mu        sync.Mutex
	vms       map[int]*vmRecord
	images    map[int]*imageRecord
	templates map[int]*vmTemplate
	nextTmpl  int
	// allocMu serializes allocations: a VM's default name holds the id
	// it is about to get.
	allocMu sync.Mutex
}

// New makes a fake with a new Cloud.
func New(opts Options) (*Fake, error) {
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if opts.UserID <= 0 {
		opts.UserID = 2
	}
	if opts.Networks == nil {
		opts.Networks = []Network{{ID: 0, Name: "public", Owner: oneadmin, Bridge: "br0"}}
	}
	if opts.SchedMessageAfter <= 0 {
		opts.SchedMessageAfter = 2 * time.Second
	}
	if opts.DefaultImageMB <= 0 {
		opts.DefaultImageMB = 2252
	}
	g := &ids{next: map[string]int{}}
	co := opts.Cloud
	if co.Name == "" {
		co.Name = "opennebula"
	}
	co.NewID = g.newID
	if co.TerminatedRetention == 0 {
		co.TerminatedRetention = time.Hour // oned keeps DONE VMs; an hour is plenty for a test
	}
	cloud, err := fakecloud.New(co)
	if err != nil {
		return nil, err
	}
	return &Fake{cloud: cloud, opts: opts, ids: g, vms: map[int]*vmRecord{}, images: map[int]*imageRecord{},
		templates: map[int]*vmTemplate{}}, nil
}

// Cloud is the fake cloud behind the API.
func (f *Fake) Cloud() *fakecloud.Cloud { return f.cloud }

// Options are the fake's options, defaults filled in.
func (f *Fake) Options() Options { return f.opts }

// Close closes the Cloud.
func (f *Fake) Close() error { return f.cloud.Close() }

// ids hands out OpenNebula's numeric ids: one sequence per kind, from 1
// (oned starts at 0; 0 is kept free so that an id of zeros names nothing,
// which tests rely on), past every id registered.
type ids struct {
	mu   sync.Mutex
	next map[string]int
}

func (g *ids) newID(kind string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := max(g.next[kind], 1)
	g.next[kind] = n + 1
	return strconv.Itoa(n)
}

// peek is the id newID gives next.
func (g *ids) peek(kind string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.next[kind], 1)
}

// reserve keeps newID from giving id.
func (g *ids) reserve(kind string, id int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if id >= g.next[kind] {
		g.next[kind] = id + 1
	}
}

// syncImageIDs reserves the ids of every image of the Cloud, those added
// to it directly too, before the Cloud makes a new one.
func (f *Fake) syncImageIDs() {
	for _, img := range f.cloud.Images() {
		if n, err := strconv.Atoi(img.ID); err == nil {
			f.ids.reserve("image", n)
		}
	}
}

// AddImage registers a base image of oneadmin's, of sizeMB (0: the
// default size), whose root file system is layers.
func (f *Fake) AddImage(id int, name string, sizeMB int, layers ...string) error {
	if id < 0 {
		return fmt.Errorf("onefake: image id %d is negative", id)
	}
	if sizeMB <= 0 {
		sizeMB = f.opts.DefaultImageMB
	}
	_, err := f.cloud.AddImage(fakecloud.Image{ID: strconv.Itoa(id), Name: name, Layers: layers, LoginUser: "root",
		Extra: map[string]any{"size_mb": sizeMB}})
	if err != nil {
		return err
	}
	f.ids.reserve("image", id)
	return nil
}

// AddTemplate registers a VM template of oneadmin's, its body in
// OpenNebula's template syntax, and returns its id.
func (f *Fake) AddTemplate(name, body string) (int, error) {
	t, err := ParseTemplate(body)
	if err != nil {
		return -1, fmt.Errorf("onefake: template %s: %w", name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextTmpl++
	id := f.nextTmpl
	f.templates[id] = &vmTemplate{id: id, name: name, body: t, regtime: time.Now().Unix()}
	return id, nil
}

// ServeHTTP answers one call: the path and (as the one-proxy) the Basic
// credentials, the methodCall, the Cloud's accounting and injected faults
// (Enter, with the method as the operation), the session string, then the
// method.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := Path
	if f.opts.OneProxy {
		path = ProxyPath
	}
	if r.URL.Path != path {
		http.Error(w, "404 Not Found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if f.opts.OneProxy && !f.basicAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="StratusLab"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeXML(w, faultResponse(&fault{code: faultInternal, msg: "reading the request: " + err.Error()}))
		return
	}
	if len(body) > maxBody {
		writeXML(w, faultResponse(&fault{code: faultLimitExceeded, msg: fmt.Sprintf("XML-RPC request too large (more than %d bytes)", maxBody)}))
		return
	}
	c, err := parseCall(body)
	if err != nil {
		var flt *fault
		errors.As(err, &flt)
		writeXML(w, faultResponse(flt))
		return
	}
	if err := f.cloud.Enter(r.Context(), c.method); err != nil {
		f.writeFault(w, err)
		return
	}
	writeXML(w, f.dispatch(r.Context(), c))
}

// basicAuthorized checks the one-proxy's HTTP Basic credentials.
func (f *Fake) basicAuthorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := subtle.ConstantTimeCompare([]byte(user), []byte(f.opts.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(f.opts.Password))
	return u&p == 1
}

// writeFault answers a fault of Enter as the HTTP front of oned would:
// throttled 429, out of service 503.
func (f *Fake) writeFault(w http.ResponseWriter, err error) {
	var fault *fakecloud.Fault
	if errors.As(err, &fault) && fault.Kind == fakecloud.FaultThrottle {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "429 Too Many Requests", http.StatusTooManyRequests)
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the caller is gone
	}
	http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
}

func writeXML(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

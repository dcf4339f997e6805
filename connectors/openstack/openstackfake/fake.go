// Package openstackfake is an OpenStack cloud on one HTTP server, speaking
// the JSON APIs that gophercloud (and the other OpenStack clients) use:
// Keystone v3 tokens with a service catalog, Nova (compute v2.1 with
// microversions), Glance v2 images and Neutron v2.0 networks, ports and
// floating IPs. What is not protocol (machines, images, key pairs,
// injected faults) is a fakecloud.Cloud's.
//
//	cloud, _ := fakecloud.New(fakecloud.Options{Name: "openstack", NewID: openstackfake.NewID})
//	fake, _ := openstackfake.New(cloud, openstackfake.Options{})
//	fake.Start()
//	defer fake.Close()
//	imageID, _ := fake.AddImage("debian-12", "/srv/layers/debian")
//	// gophercloud against fake.AuthURL(), user "demo", password "secret", project "demo"
//
// The services are under path prefixes of the one server: /identity,
// /compute, /image and /network, as DevStack lays them out.
package openstackfake

import (
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Options configure a Fake. The zero value is a DevStack-like cloud: user
// "demo" with password "secret" in project "demo" of domain "Default",
// region "RegionOne", Nova microversions 2.1 to 2.96.
type Options struct {
	User     string // default "demo"
	Password string // default "secret"
	Project  string // default "demo"
	Domain   string // of the user and the project; default "Default"
	// ApplicationCredentialID and ApplicationCredentialSecret, when set,
	// are accepted as an application credential of the user, scoped to
	// the project.
	ApplicationCredentialID     string
	ApplicationCredentialSecret string
	Region                      string // default "RegionOne"

	// MinMicroversion and MaxMicroversion bound the Nova microversions
	// the fake accepts (default 2.1 and 2.96). A fake capped at an old
	// maximum behaves as an old Nova: no server tags before 2.26 (read)
	// and 2.52 (set at create), the flavor by id before 2.47, the
	// snapshot's image id only in the Location header before 2.45.
	MinMicroversion string
	MaxMicroversion string

	// TokenTTL is how long a token is valid (default one hour); make it
	// short to test re-authentication.
	TokenTTL time.Duration

	// SchedulingDelay is how long a new server stays in BUILD with
	// task_state "scheduling", and when a server that finds no capacity
	// goes to ERROR (default 100 ms). Then it is "spawning" until ACTIVE.
	SchedulingDelay time.Duration

	// NetworkName is the project's network (default "private");
	// ExtraNetworks are more project networks, so that the project has no
	// single network. ExternalNetworkName is the router:external network
	// floating IPs come from (default "public").
	NetworkName         string
	ExtraNetworks       []string
	ExternalNetworkName string

	// SecurityGroups are the project's security groups besides "default".
	SecurityGroups []string
	// AvailabilityZones are the compute zones (default just "nova").
	AvailabilityZones []string

	// MaxLimit is the most items one page of a list holds (Nova's and
	// Neutron's max_limit, Glance's limit_param_default); default 1000.
	MaxLimit int
}

// Fake is the OpenStack cloud: an http.Handler.
type Fake struct {
	cloud *fakecloud.Cloud
	opts  Options

	projectID, userID, domainID string
	minMV, maxMV                microversion
	networks                    []*network // the tenant networks first, then the external one
	flavors                     []flavor

	mu          sync.Mutex
	tokens      map[string]time.Time // token → expiry
	floatingIPs map[string]*floatingIP
	keyCreated  map[string]time.Time // key pair name → creation time (fakecloud keeps no time)
	baseURL     string
	server      *httptest.Server
}

// New returns a fake for cloud. Give cloud openstackfake.NewID as its
// NewID, so ids are UUIDs as OpenStack's.
func New(cloud *fakecloud.Cloud, opts Options) (*Fake, error) {
	opts = withDefaults(opts)
	minMV, err := parseMicroversion(opts.MinMicroversion)
	if err != nil {
		return nil, fmt.Errorf("openstackfake: MinMicroversion: %w", err)
	}
	maxMV, err := parseMicroversion(opts.MaxMicroversion)
	if err != nil {
		return nil, fmt.Errorf("openstackfake: MaxMicroversion: %w", err)
	}
	if maxMV.less(minMV) {
		return nil, fmt.Errorf("openstackfake: MaxMicroversion %s is below MinMicroversion %s", maxMV, minMV)
	}
	f := &Fake{
		cloud: cloud, opts: opts, minMV: minMV, maxMV: maxMV,
		projectID: strings.ReplaceAll(NewID("project"), "-", ""),
		userID:    strings.ReplaceAll(NewID("user"), "-", ""),
		domainID:  "default",
		flavors:   defaultFlavors(),
		tokens:    map[string]time.Time{}, floatingIPs: map[string]*floatingIP{}, keyCreated: map[string]time.Time{},
	}
	if opts.Domain != "Default" {
		f.domainID = strings.ReplaceAll(derivedID("domain", opts.Domain), "-", "")
	}
	f.networks = f.makeNetworks()
	return f, nil
}

func withDefaults(o Options) Options {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.User, "demo")
	def(&o.Password, "secret")
	def(&o.Project, "demo")
	def(&o.Domain, "Default")
	def(&o.Region, "RegionOne")
	def(&o.MinMicroversion, "2.1")
	def(&o.MaxMicroversion, "2.96")
	def(&o.NetworkName, "private")
	def(&o.ExternalNetworkName, "public")
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.SchedulingDelay <= 0 {
		o.SchedulingDelay = 100 * time.Millisecond
	}
	if len(o.AvailabilityZones) == 0 {
		o.AvailabilityZones = []string{"nova"}
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = 1000
	}
	return o
}

// Cloud is the fakecloud.Cloud behind the fake.
func (f *Fake) Cloud() *fakecloud.Cloud { return f.cloud }

// Options are the fake's options, defaults filled in.
func (f *Fake) Options() Options {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opts
}

// ProjectID is the id of the fake's one project.
func (f *Fake) ProjectID() string { return f.projectID }

// Start serves the fake over HTTP on a loopback port; Close stops it.
func (f *Fake) Start() { f.serve(httptest.NewServer(f)) }

// StartTLS serves the fake over HTTPS, with a certificate of its own
// (Certificate) that clients must be told to trust.
func (f *Fake) StartTLS() {
	srv := httptest.NewUnstartedServer(f)
	// A client that does not trust the certificate is what tests check;
	// the server need not log each refused handshake.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	f.serve(srv)
}

func (f *Fake) serve(srv *httptest.Server) {
	f.mu.Lock()
	f.server, f.baseURL = srv, srv.URL
	f.mu.Unlock()
}

// Certificate is the server's certificate under StartTLS, nil otherwise.
func (f *Fake) Certificate() *x509.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.server == nil || f.server.TLS == nil {
		return nil
	}
	return f.server.Certificate()
}

// Close stops the server started by Start (the Cloud is the caller's).
func (f *Fake) Close() {
	f.mu.Lock()
	srv := f.server
	f.server = nil
	f.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// URL is the server's root, once started.
func (f *Fake) URL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.baseURL
}

// AuthURL is Keystone v3's URL, what OS_AUTH_URL is set to.
func (f *Fake) AuthURL() string { return f.URL() + "/identity/v3" }

// AddImage registers an active public base image in Glance, its root file
// system the given layers (top first), and returns its id.
func (f *Fake) AddImage(name string, layers ...string) (string, error) {
	return f.AddImageWithID(NewID("image"), name, layers...)
}

// AddImageWithID is AddImage with the image's id chosen by the caller (a
// demo serving a recipe's image ids).
func (f *Fake) AddImageWithID(id, name string, layers ...string) (string, error) {
	img, err := f.cloud.AddImage(fakecloud.Image{ID: id, Name: name, Layers: layers,
		Extra: map[string]any{extraVisibility: "public"}})
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// SetPassword changes the user's password (tokens issued stay valid).
func (f *Fake) SetPassword(password string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts.Password = password
}

func (f *Fake) password() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opts.Password
}

// ExpireTokens makes every token issued so far invalid, as if they had
// all run out: the next call of a client must authenticate again.
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

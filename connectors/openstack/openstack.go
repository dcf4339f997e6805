// Package openstack is the connector for OpenStack clouds, on gophercloud
// v2: Nova servers (with a compute microversion of 2.52 or later when the
// cloud offers it), Glance images and Neutron networks and floating IPs,
// logged in through Keystone v3.
//
// Machines are Nova servers. Their labels are the server's metadata and,
// with microversion 2.52 or later, the deployment is also a server tag
// ("slipstream-deployment=<id>") so that List asks Nova for one
// deployment's servers instead of reading them all.
//
// A floating IP given to a server (floating_ip_pool) is tied to it in two
// ways, so that none leaks: the server's metadata names the pool
// (slipstream-floating-ip-pool, not shown among the labels), and the
// floating IP's description names the server ("slipstream server <id>").
// Describe associates a floating IP with the server's port once the port
// exists (allocating it if Create could not), Delete releases every
// floating IP whose description names the server once the server is gone.
package openstack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	gopenstack "github.com/gophercloud/gophercloud/v2/openstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Connector is an OpenStack project in one region.
type Connector struct {
	compute *gophercloud.ServiceClient
	image   *gophercloud.ServiceClient // nil when the catalog has no image service
	network *gophercloud.ServiceClient // nil when the catalog has no network service
	// microversion is the compute microversion's minor number (2.x), 0
	// when the cloud has no microversions (the base 2.1 API).
	microversion int

	flavors  flavorCache
	networks networkCache
	keys     keyCache
}

var (
	_ connectors.Connector = (*Connector)(nil)
)

// newestMicroversion is the newest compute microversion this connector
// was written against: it asks for it, or for the cloud's newest when
// that is older. 2.52 and later bring the tags List filters by.
const newestMicroversion = 96

// requestTimeout bounds one HTTP request, so that a cloud that stops
// answering fails the call (as transient) while the caller's deadline is
// still far.
const requestTimeout = 2 * time.Minute

// New logs in to Keystone with the settings (auth_url, cloud, region,
// user_name, password, project_name, domain_name,
// application_credential_id, application_credential_secret), falling back
// to the clouds.yaml entry named by cloud or OS_CLOUD, then to the OS_*
// environment variables. It authenticates at once, so that wrong
// credentials fail here (a permanent error naming Keystone's 401), finds
// the compute, image and network endpoints in the catalog and the compute
// microversion to use.
func New(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	if err := settings.Check(); err != nil {
		return nil, &connectors.Error{Cloud: cloudName, Op: "configure", Code: "InvalidConfiguration", Kind: connectors.KindPermanent, Message: err.Error()}
	}
	creds, err := resolveCredentials(settings, os.Getenv)
	if err != nil {
		return nil, err
	}
	return connect(ctx, creds)
}

func connect(ctx context.Context, creds credentials) (*Connector, error) {
	provider, err := gopenstack.NewClient(creds.AuthURL)
	if err != nil {
		return nil, &connectors.Error{Cloud: cloudName, Op: "configure", Code: "InvalidConfiguration", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("auth_url %q is not a URL: %v", creds.AuthURL, err)}
	}
	provider.HTTPClient = http.Client{Timeout: requestTimeout}
	tr, err := creds.transport()
	if err != nil {
		return nil, configError("cloud", "OS_CACERT", err.Error())
	}
	if tr != nil {
		provider.HTTPClient.Transport = tr
	}
	provider.UserAgent.Prepend("slipstream")
	ao := creds.authOptions()
	if err := gopenstack.AuthenticateV3(ctx, provider, &ao, gophercloud.EndpointOpts{}); err != nil {
		return nil, apiError(opToken, err)
	}
	eo := gophercloud.EndpointOpts{Region: creds.Region, Availability: gophercloud.AvailabilityPublic}
	c := &Connector{}
	if c.compute, err = gopenstack.NewComputeV2(provider, eo); err != nil {
		return nil, &connectors.Error{Cloud: cloudName, Op: "configure", Code: "NoComputeEndpoint", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf("the service catalog has no compute endpoint (region %q): %v", creds.Region, apiError("catalog", err))}
	}
	// A cloud without Glance or Neutron in its catalog still runs
	// servers; what needs them fails when it is asked for.
	if img, err := gopenstack.NewImageV2(provider, eo); err == nil {
		c.image = img
	}
	if net, err := gopenstack.NewNetworkV2(provider, eo); err == nil {
		c.network = net
	}
	if c.microversion, err = negotiateMicroversion(ctx, c.compute); err != nil {
		return nil, err
	}
	if c.microversion > 0 {
		c.compute.Microversion = "2." + strconv.Itoa(c.microversion)
	}
	return c, nil
}

// negotiateMicroversion reads the compute version document and picks the
// newest microversion both sides know. A cloud without one (an old or
// minimal Nova) gets none: the base 2.1 API. An error of the cloud itself
// (5xx, throttling) is returned, so that a passing outage does not
// quietly make a connector that tags nothing.
func negotiateMicroversion(ctx context.Context, compute *gophercloud.ServiceClient) (int, error) {
	var doc struct {
		Version *struct {
			Version    string `json:"version"`
			MinVersion string `json:"min_version"`
		} `json:"version"`
	}
	_, err := compute.Get(ctx, compute.Endpoint, &doc, &gophercloud.RequestOpts{OkCodes: []int{200, 300}})
	if err != nil {
		if e := apiError("GET /", err); connectors.IsTransient(e) || statusOf(e) == http.StatusUnauthorized {
			return 0, e
		}
		return 0, nil
	}
	if doc.Version == nil {
		return 0, nil
	}
	maxMajor, maxMinor, ok := splitMicroversion(doc.Version.Version)
	if !ok {
		return 0, nil
	}
	minMajor, minMinor, _ := splitMicroversion(doc.Version.MinVersion)
	want := newestMicroversion
	if maxMajor == 2 {
		want = min(want, maxMinor)
	}
	if maxMajor < 2 || minMajor > 2 || minMajor == 2 && want < minMinor {
		return 0, nil
	}
	return want, nil
}

func splitMicroversion(v string) (major, minor int, ok bool) {
	var err1, err2 error
	a, b, found := strings.Cut(v, ".")
	major, err1 = strconv.Atoi(a)
	minor, err2 = strconv.Atoi(b)
	return major, minor, found && err1 == nil && err2 == nil
}

// atLeast reports whether the compute microversion is 2.minor or later.
func (c *Connector) atLeast(minor int) bool { return c.microversion >= minor }

// needImage and needNetwork are the image and network clients, or an
// error saying the catalog has none.
func (c *Connector) needImage(op string) (*gophercloud.ServiceClient, error) {
	if c.image == nil {
		return nil, &connectors.Error{Cloud: cloudName, Op: op, Code: "NoImageEndpoint", Kind: connectors.KindPermanent,
			Message: "the service catalog has no image (Glance) endpoint"}
	}
	return c.image, nil
}

func (c *Connector) needNetwork(op string) (*gophercloud.ServiceClient, error) {
	if c.network == nil {
		return nil, &connectors.Error{Cloud: cloudName, Op: op, Code: "NoNetworkEndpoint", Kind: connectors.KindPermanent,
			Message: "the service catalog has no network (Neutron) endpoint"}
	}
	return c.network, nil
}

// Microversion is the compute microversion the connector speaks ("2.96"),
// or "" for the base API.
func (c *Connector) Microversion() string { return c.compute.Microversion }

// keyCache remembers the key pairs known to exist.
type keyCache struct {
	mu    sync.Mutex
	known map[string]bool
}

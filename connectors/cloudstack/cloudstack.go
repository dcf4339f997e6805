// Package cloudstack is the SlipStream connector for Apache CloudStack, on
// the cloud's own Go SDK, github.com/apache/cloudstack-go/v2 (v2.19.0).
//
// The mapping:
//   - a machine is a CloudStack VM, its id the VM's uuid. Create calls
//     deployVirtualMachine (by POST, so that the user-data may be up to
//     vm.userdata.max.length, 32 KB by default, of base64) with the zone,
//     the service offering, the template (MachineSpec.ImageID), the
//     networks, the key pair and the base64 user-data, named after the
//     spec (name = a valid host name, displayname = spec.Name). It does
//     not wait for the VM to run: deployVirtualMachine answers the VM's id
//     and its job's id at once, and Create returns the VM, pending, once
//     its tags are on (createTags resourcetype=UserVm with every label and
//     the tags setting). A deploy job that fails later (no host with
//     room, say) leaves the VM in state Error: Describe reports it so,
//     with the job's own error text (listAsyncJobs) as Reason;
//   - labels are tags; List finds a deployment's VMs by the tag
//     slipstream-deployment (listVirtualMachines tags[0].key/value,
//     listall=true, every page);
//   - CloudStack's VM states map as Starting → pending, Running (and
//     Migrating) → running, Stopping → stopping, Stopped → stopped,
//     Expunging → terminating, Destroyed → gone (not found: only an
//     administrator could recover it), Error → error;
//   - sizes are service offerings (listServiceOfferings): the service_offering
//     setting (name or id) or the smallest offering that fits the cores
//     and memory asked for. A cloud that offers only customized offerings
//     is sized freely (one Free offer, the largest offering's limits), and
//     a customized offering named explicitly gets the cores and memory
//     asked for as deployVirtualMachine details. The disk asked for
//     becomes rootdisksize when it is larger than the template;
//   - zone: the zone setting (name or id), else the only zone (the error
//     lists them when there are several); networks: network_ids, else
//     CloudStack's own default (the account's only network in the zone);
//   - an SSH public key is registered (registerSSHKeyPair) under a name
//     made from its SHA-256 ("slipstream-<16 hex>"), once per account: a
//     key the account has under another name (listSSHKeyPairs by
//     CloudStack's MD5 fingerprint) is used under that name;
//   - Delete is destroyVirtualMachine with expunge=true, its job followed
//     to the end; an account that may not expunge (the setting
//     allow.user.expunge.recover.vm is false: the job fails saying so) has
//     its VMs destroyed without expunge, which the cloud expunges after
//     expunge.delay. A VM that does not exist is not an error;
//   - Snapshot stops the VM (stopVirtualMachine, awaited), makes a
//     template of its ROOT volume (listVolumes, createTemplate with the
//     VM's guest OS type, awaited), tags it, and waits until the template
//     is ready; DeleteImage is deleteTemplate, awaited.
//
// Asynchronous jobs are followed with queryAsyncJobResult (jobstatus 0
// pending, 1 done, 2 failed with jobresult's errorcode and errortext).
// Errors are *connectors.Error with CloudStack's errorcode as Code and
// its errortext as Message; see errors.go for how each is classified.
//
// The SDK's calls take no context: each call of this connector makes a
// client (cheap: a struct of services) whose HTTP transport carries the
// caller's context, so a cancelled create stops where it is. A deploy
// whose answer was lost (cancelled or cut off after the request left)
// may have made a VM nobody knows: Create looks for it by its host name
// (a VM of that name with no slipstream-deployment tag, which only such a
// VM lacks) and destroys it before it returns.
//
// Tested against connectors/cloudstack/cloudstackfake, which verifies the
// SDK's signatures as the management server does and answers in
// CloudStack's JSON, asynchronous jobs included.
package cloudstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Name is the connector's name in the catalog and in errors.
const Name = "cloudstack"

// Environment variables read for settings left out, as CloudStack's
// Terraform provider and CloudMonkey (cmk) name them.
const (
	EnvAPIURL    = "CLOUDSTACK_API_URL"
	EnvAPIKey    = "CLOUDSTACK_API_KEY"    // #nosec G101 -- the variable's name, not a credential
	EnvSecretKey = "CLOUDSTACK_SECRET_KEY" // #nosec G101 -- the variable's name, not a credential
)

// Connector creates machines in one CloudStack account through one
// management server endpoint. It is safe for concurrent use.
type Connector struct {
	apiURL, apiKey, secret string
	transport              http.RoundTripper
	// requestTimeout bounds one API call (the SDK's own default is a
	// minute); the caller's context bounds the whole.
	requestTimeout time.Duration

	// retry spaces the retries of transient failures inside a call that
	// made something already; poll the checks of waits for a job or
	// state.
	retry connectors.Backoff
	poll  connectors.Backoff
	// cleanupTimeout bounds taking back what a failed create made; it
	// runs even when the create's context has ended.
	cleanupTimeout time.Duration
	// lostChecks are when, after a deploy whose answer was lost, the VM
	// it may have made is looked for: at once, and again later, as the
	// management server may still be creating it.
	lostChecks []time.Duration

	// keyMu makes one connector's concurrent creates register a key pair
	// once; keys are the key pair names known registered, by our name.
	keyMu sync.Mutex
	keys  map[string]string

	// noExpunge is set once the cloud said this account may not expunge.
	noExpunge atomic.Bool

	mu          sync.Mutex
	zones       []zone
	zonesAt     time.Time
	offerings   []offering
	offeringsAt time.Time
	templates   map[string]templateInfo
}

var _ connectors.Connector = (*Connector)(nil)

// cacheFor is how long the zones and offerings read from the cloud are
// used before they are read again.
const cacheFor = 10 * time.Minute

// New makes the connector from the catalog's provider settings: api_url,
// api_key and secret_key, each falling back on its CLOUDSTACK_*
// environment variable, and ca_file. It does not call the API.
func New(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	return newConnector(settings, os.Getenv)
}

func newConnector(settings connectors.Settings, getenv func(string) string) (*Connector, error) {
	if err := settings.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	setting := func(name, env string) string {
		if v := settings.String(name); v != "" {
			return v
		}
		return getenv(env)
	}
	rawURL, apiKey, secret := setting("api_url", EnvAPIURL), setting("api_key", EnvAPIKey), setting("secret_key", EnvSecretKey)
	switch {
	case rawURL == "":
		return nil, fmt.Errorf("%s: no API URL: set the provider setting \"api_url\" (e.g. https://cloud.example.com/client/api) or the environment variable %s", Name, EnvAPIURL)
	case apiKey == "":
		return nil, fmt.Errorf("%s: no API key: set the provider setting \"api_key\" or the environment variable %s", Name, EnvAPIKey)
	case secret == "":
		return nil, fmt.Errorf("%s: no secret key: set the provider setting \"secret_key\" or the environment variable %s", Name, EnvSecretKey)
	}
	apiURL, err := endpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: api_url: %w", Name, err)
	}
	transport, err := newTransport(settings.String("ca_file"))
	if err != nil {
		return nil, fmt.Errorf("%s: ca_file: %w", Name, err)
	}
	return &Connector{apiURL: apiURL, apiKey: apiKey, secret: secret, transport: transport, requestTimeout: time.Minute,
		retry: connectors.DefaultBackoff, poll: connectors.PollBackoff, cleanupTimeout: 2 * time.Minute,
		lostChecks: []time.Duration{0, 2 * time.Second, 5 * time.Second},
		keys:       map[string]string{}, templates: map[string]templateInfo{}}, nil
}

// endpoint checks the API URL. A URL with no path is the management
// server's root: the API is at /client/api below it.
func endpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL such as https://cloud.example.com/client/api", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q has a query or fragment; give the API's URL alone", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/client/api"
	}
	return u.String(), nil
}

// newTransport is the HTTP transport of every call: the proxy from the
// environment, TLS verified against the system's roots, or against
// caFile's PEM certificates when given (a private cloud's own CA).
func newTransport(caFile string) (*http.Transport, error) {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile) // #nosec G304 -- the operator's own setting names the CA bundle to trust
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

// client is an SDK client whose requests carry ctx (the SDK's calls take
// none) and whose failed answers come back as *answerError.
func (c *Connector) client(ctx context.Context) *cloudstack.CloudStackClient {
	hc := &http.Client{Transport: &callTransport{ctx: ctx, base: c.transport, timeout: c.requestTimeout}}
	return cloudstack.NewClient(c.apiURL, c.apiKey, c.secret, true, cloudstack.WithHTTPClient(hc))
}

// call runs one SDK call with a client of ctx, and classifies its error
// as a *connectors.Error of op (the API command).
func (c *Connector) call(ctx context.Context, op string, fn func(cs *cloudstack.CloudStackClient) error) error {
	return apiErr(ctx, op, fn(c.client(ctx)))
}

// cleanupContext is a context for taking back what a failed call made:
// it keeps ctx's values but not its end, and has its own timeout.
func (c *Connector) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.cleanupTimeout)
}

// checkSignable refuses a value the SDK cannot sign as CloudStack checks
// it: cloudstack-go encodes parameter values with Go's url.QueryEscape,
// which leaves "~" as it is, where the management server's
// java.net.URLEncoder makes it %7E; a request with "~" in any value is
// refused with 401 as if the keys were wrong.
func checkSignable(op, what, value string) error {
	if strings.Contains(value, "~") {
		return permanent(op, "UnsignableValue", "%s %q holds \"~\", which CloudStack's signature check and the cloudstack-go SDK encode differently (the request would be refused as unsigned): remove it", what, value)
	}
	return nil
}

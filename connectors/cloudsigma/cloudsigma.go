// Package cloudsigma is the SlipStream connector for CloudSigma, on the
// typed REST API 2.0 client in csapi.
//
// A machine is a CloudSigma server with one drive: Create clones the image
// (a library drive or a drive of the account) into a new drive, creates a
// server that boots from it with the spec's labels and cloud-init
// contextualization in its meta, and starts it. CloudSigma sizes servers
// freely (CPU in MHz, cores, memory in bytes, within the location's
// capabilities), so Offers is one Free offer with those limits.
//
// Tested against connectors/cloudsigma/cloudsigmafake, which speaks the
// same API over HTTP.
package cloudsigma

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// Name is the connector's name in the catalog and in errors.
const Name = "cloudsigma"

// Environment variables read for settings left out, as CloudSigma's own
// tools (the Terraform provider, the CLI) name them.
const (
	EnvUsername = "CLOUDSIGMA_USERNAME"
	EnvPassword = "CLOUDSIGMA_PASSWORD"
	EnvEndpoint = "CLOUDSIGMA_ENDPOINT"
	EnvLocation = "CLOUDSIGMA_LOCATION"
)

// Connector creates machines on one CloudSigma location with one account.
// It is safe for concurrent use.
type Connector struct {
	api *csapi.Client

	// retry spaces the retries of transient failures inside Create;
	// poll the checks of waits for a state.
	retry connectors.Backoff
	poll  connectors.Backoff
	// cleanupTimeout bounds taking back what a failed create made; it
	// runs even when the create's context has ended.
	cleanupTimeout time.Duration

	// keyMu and tagMu make one connector's concurrent creates find or
	// make a key pair or tag once, not once each.
	keyMu sync.Mutex
	tagMu sync.Mutex

	mu       sync.Mutex
	inFlight map[string]int // servers created whose start is under way
	caps     *csapi.Capabilities
	capsAt   time.Time
}

var _ connectors.Connector = (*Connector)(nil)

// New makes the connector from the catalog's provider settings: location
// (or endpoint), username and password, each falling back on its
// CLOUDSIGMA_* environment variable. It does not call the API.
func New(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	return newConnector(settings, os.Getenv)
}

var locationCode = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

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
	username, password := setting("username", EnvUsername), setting("password", EnvPassword)
	if username == "" {
		return nil, fmt.Errorf("%s: no username: set the provider setting \"username\" (the account's e-mail) or the environment variable %s", Name, EnvUsername)
	}
	if password == "" {
		return nil, fmt.Errorf("%s: no password: set the provider setting \"password\" or the environment variable %s", Name, EnvPassword)
	}
	endpoint := setting("endpoint", EnvEndpoint)
	if endpoint == "" {
		location := setting("location", EnvLocation)
		if location == "" {
			return nil, fmt.Errorf("%s: no location: set the provider setting \"location\" (e.g. zrh) or \"endpoint\", or the environment variable %s or %s", Name, EnvLocation, EnvEndpoint)
		}
		if !locationCode.MatchString(location) {
			return nil, fmt.Errorf("%s: location %q is not a CloudSigma location code (such as zrh or fra)", Name, location)
		}
		endpoint = csapi.LocationURL(location)
	}
	api, err := csapi.New(csapi.Options{BaseURL: endpoint, Username: username, Password: password})
	if err != nil {
		return nil, fmt.Errorf("%s: endpoint: %w", Name, err)
	}
	return &Connector{api: api, retry: connectors.DefaultBackoff, poll: connectors.PollBackoff,
		cleanupTimeout: 2 * time.Minute, inFlight: map[string]int{}}, nil
}

// cleanupContext is a context for taking back what a failed call made:
// it keeps ctx's values but not its end, and has its own timeout.
func (c *Connector) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.cleanupTimeout)
}

// startInFlight marks a server whose start is under way: until it is
// done, Describe reports the stopped server pending, as it soon will be.
func (c *Connector) startInFlight(id string) (done func()) {
	c.mu.Lock()
	c.inFlight[id]++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.inFlight[id]--; c.inFlight[id] <= 0 {
			delete(c.inFlight, id)
		}
	}
}

func (c *Connector) starting(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight[id] > 0
}

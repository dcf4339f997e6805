package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// requestTimeout bounds one HTTP request (an operation's poll is a
// request of its own): Azure answers in seconds, and a request that hangs
// is retried by the provider as a transient error.
const requestTimeout = 2 * time.Minute

// metadataTimeout bounds reading an endpoint's /metadata/endpoints.
const metadataTimeout = 15 * time.Second

// environments are the clouds the environment setting names, by every
// spelling Azure's tools use.
var environments = map[string]cloud.Configuration{
	"": cloud.AzurePublic, "public": cloud.AzurePublic, "azurepubliccloud": cloud.AzurePublic, "azurecloud": cloud.AzurePublic,
	"usgovernment": cloud.AzureGovernment, "usgov": cloud.AzureGovernment, "azureusgovernment": cloud.AzureGovernment, "azureusgovernmentcloud": cloud.AzureGovernment,
	"china": cloud.AzureChina, "azurechinacloud": cloud.AzureChina,
}

// newConnector makes the connector; transport, when not nil, carries
// every request (Resource Manager and Entra ID): tests give the fake's.
func newConnector(ctx context.Context, settings connectors.Settings, transport policy.Transporter) (*Connector, error) {
	if err := settings.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	setting := func(name, env string) string {
		if v := settings.String(name); v != "" {
			return v
		}
		return os.Getenv(env)
	}
	sub, loc := setting("subscription_id", EnvSubscriptionID), setting("location", EnvLocation)
	if sub == "" {
		return nil, fmt.Errorf("%s: no subscription: set the provider setting \"subscription_id\" or the environment variable %s", Name, EnvSubscriptionID)
	}
	if loc == "" {
		return nil, fmt.Errorf("%s: no location: set the provider setting \"location\" (e.g. westeurope) or the environment variable %s", Name, EnvLocation)
	}
	envName := setting("environment", EnvEnvironment)
	base, ok := environments[strings.ToLower(envName)]
	if !ok {
		return nil, fmt.Errorf("%s: environment %q is not one of public, usgovernment or china (for another cloud, set endpoint and authority_host)", Name, envName)
	}
	cfg := cloud.Configuration{ActiveDirectoryAuthorityHost: base.ActiveDirectoryAuthorityHost, Services: maps.Clone(base.Services)}
	if transport == nil {
		var err error
		if transport, err = httpTransport(setting("ca_file", EnvCAFile)); err != nil {
			return nil, fmt.Errorf("%s: ca_file: %w", Name, err)
		}
	}
	login := ""
	if endpoint := setting("endpoint", EnvEndpoint); endpoint != "" {
		if err := httpsURL(endpoint); err != nil {
			return nil, fmt.Errorf("%s: endpoint: %w", Name, err)
		}
		endpoint = strings.TrimRight(endpoint, "/")
		rm := cfg.Services[cloud.ResourceManager]
		rm.Endpoint = endpoint
		// An Azure Stack Hub (or any Resource Manager but the public
		// clouds') says which token audience it takes and where to log
		// in; one that does not answer keeps the environment's.
		md, err := readMetadata(ctx, transport, endpoint)
		if isTLSError(err) {
			return nil, fmt.Errorf("%s: endpoint %s: %w (set ca_file to the CA that signs its certificate)", Name, endpoint, err)
		}
		if err == nil {
			if len(md.Authentication.Audiences) > 0 && md.Authentication.Audiences[0] != "" {
				rm.Audience = md.Authentication.Audiences[0]
			}
			login = md.Authentication.LoginEndpoint
		}
		cfg.Services[cloud.ResourceManager] = rm
	}
	authority := setting("authority_host", EnvAuthorityHost)
	if authority == "" && login != "" && httpsURL(login) == nil {
		authority = login
	}
	if authority != "" {
		if err := httpsURL(authority); err != nil {
			return nil, fmt.Errorf("%s: authority_host: %w", Name, err)
		}
		cfg.ActiveDirectoryAuthorityHost = strings.TrimRight(authority, "/") + "/"
	}
	copts := azcore.ClientOptions{
		Cloud:     cfg,
		Transport: transport,
		// The provider retries transient errors itself (connectors.Retry),
		// in one place for every cloud: the SDK must not retry as well.
		Retry:     policy.RetryOptions{MaxRetries: -1, TryTimeout: requestTimeout},
		Telemetry: policy.TelemetryOptions{ApplicationID: "slipstream"},
	}
	cred, err := newCredential(settings, sub, copts, !knownAuthority(cfg.ActiveDirectoryAuthorityHost))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	c := &Connector{subscription: sub, location: loc, cred: cred, imageGroup: settings.String("image_resource_group"),
		retry: connectors.DefaultBackoff, pollEvery: 5 * time.Second, cleanupTimeout: 5 * time.Minute,
		deployments: map[string]*deployment{}}
	if c.imageGroup == "" {
		c.imageGroup = defaultImageGroup
	}
	if g := settings.String("gallery"); g != "" {
		ref, ok := parseGallery(g)
		if !ok {
			return nil, fmt.Errorf("%s: gallery %q is not a compute gallery's resource id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/galleries/NAME)", Name, g)
		}
		c.gallery = &ref
	}
	c.armOpts = &arm.ClientOptions{ClientOptions: copts}
	if err := c.makeClients(c.armOpts); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	return c, nil
}

func (c *Connector) makeClients(o *arm.ClientOptions) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	c.vms, err = armcompute.NewVirtualMachinesClient(c.subscription, c.cred, o)
	add(err)
	c.sizes, err = armcompute.NewVirtualMachineSizesClient(c.subscription, c.cred, o)
	add(err)
	c.images, err = armcompute.NewImagesClient(c.subscription, c.cred, o)
	add(err)
	gsub := c.subscription
	if c.gallery != nil {
		gsub = c.gallery.subscription
	}
	c.defs, err = armcompute.NewGalleryImagesClient(gsub, c.cred, o)
	add(err)
	c.versions, err = armcompute.NewGalleryImageVersionsClient(gsub, c.cred, o)
	add(err)
	c.nics, err = armnetwork.NewInterfacesClient(c.subscription, c.cred, o)
	add(err)
	c.pips, err = armnetwork.NewPublicIPAddressesClient(c.subscription, c.cred, o)
	add(err)
	c.vnets, err = armnetwork.NewVirtualNetworksClient(c.subscription, c.cred, o)
	add(err)
	c.groups, err = armresources.NewResourceGroupsClient(c.subscription, c.cred, o)
	add(err)
	c.resources, err = armresources.NewClient(c.subscription, c.cred, o)
	add(err)
	return errors.Join(errs...)
}

// httpTransport is the HTTP client of every request: TLS 1.2 or later,
// trusting the system's CAs and those of caFile.
func httpTransport(caFile string) (policy.Transporter, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile) // #nosec G304 -- the CA file the user's ca_file setting or REQUESTS_CA_BUNDLE names
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout}, nil
}

// httpsURL checks that s is an absolute https URL: the SDK sends tokens
// over TLS only.
func httpsURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https:// URL", s)
	}
	return nil
}

// knownAuthority reports whether host is the Entra ID authority of one of
// the public clouds; for any other, MSAL's instance discovery (a call to
// login.microsoftonline.com) is skipped, as Azure Stack Hub and private
// clouds need.
func knownAuthority(host string) bool {
	for _, c := range []cloud.Configuration{cloud.AzurePublic, cloud.AzureGovernment, cloud.AzureChina} {
		if strings.EqualFold(strings.TrimRight(c.ActiveDirectoryAuthorityHost, "/"), strings.TrimRight(host, "/")) {
			return true
		}
	}
	return false
}

// metadata is what a Resource Manager says of itself at
// /metadata/endpoints.
type metadata struct {
	Authentication struct {
		LoginEndpoint string   `json:"loginEndpoint"`
		Audiences     []string `json:"audiences"`
	} `json:"authentication"`
}

func readMetadata(ctx context.Context, transport policy.Transporter, endpoint string) (metadata, error) {
	var md metadata
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/metadata/endpoints?api-version=2022-09-01", nil)
	if err != nil {
		return md, err
	}
	resp, err := transport.Do(req)
	if err != nil {
		return md, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return md, fmt.Errorf("GET /metadata/endpoints: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return md, err
	}
	return md, json.Unmarshal(body, &md)
}

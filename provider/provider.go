// Package provider is the SlipStream Terraform provider: it registers
// deployments with the coordinator, starts machines through connectors and
// waits for them to be ready.
package provider

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

var (
	_ provider.Provider                       = (*slipstreamProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*slipstreamProvider)(nil)
)

// Environment variables the provider falls back on when its configuration
// leaves a setting out, so CI can configure it without touching the code.
const (
	EnvCoordinatorURL = "SLIPSTREAM_COORDINATOR_URL"
	EnvToken          = "SLIPSTREAM_TOKEN"
	EnvCAFingerprint  = "SLIPSTREAM_CA_FINGERPRINT"
	EnvAgentURL       = "SLIPSTREAM_AGENT_COORDINATOR_URL"
	EnvRetryTimeout   = "SLIPSTREAM_RETRY_TIMEOUT"
)

// DefaultRetryTimeout is how long a call to the coordinator is retried
// while it is unreachable or failing, when the configuration does not say:
// long enough to ride out a restart, short enough that a plan against a
// coordinator that is down ends with an error rather than hanging.
const DefaultRetryTimeout = 2 * time.Minute

// attemptTimeout bounds one request to the coordinator (a long-poll gets
// its wait on top): a coordinator that accepts connections but never
// answers counts as unreachable.
const attemptTimeout = 30 * time.Second

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &slipstreamProvider{version: version} }
}

type slipstreamProvider struct {
	version string
	hooks   *hooks
}

// hooks let tests see what the provider does (to start agents for the
// instances it registers); nil in production.
type hooks struct {
	// instancesAdded is called with the instances a deployment gained
	// (created or scaled out), and bootstrapScript may change the script a
	// machine is about to run (to make it fail).
	instancesAdded  func(deployment string, instances []string)
	bootstrapScript func(deployment, instance, script string) string
}

// Config is the provider configuration resources receive: the coordinator
// to talk to, and the settings of the one cloud this provider instance
// (usually an alias) targets.
type Config struct {
	CoordinatorURL string
	Token          string
	CAFingerprint  string
	// AgentURL is the coordinator's URL as machines reach it.
	AgentURL string
	// RetryFor bounds each call's retries of an unreachable or failing
	// coordinator (retry_timeout).
	RetryFor time.Duration
	// Connector names the cloud's connector ("" when none is configured);
	// Settings holds its settings by name, as strings.
	Connector string
	Settings  map[string]attr.Value

	// HTTP reaches the coordinator (the CA pinned when a fingerprint is
	// set). Tests swap it.
	HTTP *http.Client
	// Now is the clock (tests may swap it).
	Now func() time.Time

	agents     *agentCache
	nodeClouds *nodeCloudCache
	clouds     *cloudConnectors
	hooks      *hooks
}

func (p *slipstreamProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "slipstream"
	resp.Version = p.version
}

func (p *slipstreamProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	attrs := map[string]schema.Attribute{
		"coordinator_url": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Base URL of the SlipStream coordinator (`slipc serve`), e.g. `https://coordinator.example.com:8443`. Falls back on `" + EnvCoordinatorURL + "`.",
		},
		"token": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			MarkdownDescription: "Admin token for the coordinator. Falls back on `" + EnvToken + "`.",
		},
		"ca_fingerprint": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "SHA-256 fingerprint of the coordinator's CA certificate, pinned instead of the system roots (for `slipc serve --tls-self-signed`). Falls back on `" + EnvCAFingerprint + "`.",
		},
		"retry_timeout": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "How long each call to the coordinator keeps retrying while the coordinator cannot be reached or fails, " +
				"as a duration such as `30s` or `5m` (default `" + DefaultRetryTimeout.String() + "`). A plan or apply then fails with an error naming the coordinator " +
				"instead of hanging. Requests are retried only when that is safe: every request the provider makes is idempotent. Falls back on `" + EnvRetryTimeout + "`.",
			Validators: []validator.String{durationValidator{}},
		},
		"agent_coordinator_url": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "The coordinator's URL as the machines reach it, when it differs from `coordinator_url` (say, the provider reaches it on `127.0.0.1` and the machines on a private address). Falls back on `" + EnvAgentURL + "`, then on `coordinator_url`.",
		},
	}
	// One nested attribute per connector, built from the catalog the recipe
	// compiler checks against, so compiled provider blocks always match.
	// Planned connectors get none until their resource exists: a provider
	// block for one would validate and then have nothing to start machines.
	for _, name := range catalog.Implemented() {
		conn, _ := catalog.Lookup(name)
		nested := map[string]schema.Attribute{}
		for _, s := range conn.Settings {
			if s.Scope != catalog.ScopeProvider {
				continue
			}
			nested[s.Name] = settingAttribute(s)
		}
		attrs[name] = schema.SingleNestedAttribute{
			Optional:            true,
			MarkdownDescription: fmt.Sprintf("Settings of a cloud reached through the `%s` connector. Configure one connector per provider alias; slipc emits one alias per recipe cloud.", name),
			Attributes:          nested,
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The SlipStream provider starts coordinated multi-machine deployments compiled from SlipStream recipes by `slipc compile`, on any mix of clouds.",
		Attributes:          attrs,
	}
}

func settingAttribute(s catalog.Setting) schema.Attribute {
	desc := s.Description
	switch s.Type {
	case catalog.Number:
		return schema.NumberAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: desc}
	case catalog.Bool:
		return schema.BoolAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: desc}
	case catalog.ListString:
		return schema.ListAttribute{Optional: true, Sensitive: s.Sensitive, ElementType: types.StringType, MarkdownDescription: desc}
	case catalog.MapString:
		return schema.MapAttribute{Optional: true, Sensitive: s.Sensitive, ElementType: types.StringType, MarkdownDescription: desc}
	default:
		return schema.StringAttribute{Optional: true, Sensitive: s.Sensitive, MarkdownDescription: desc}
	}
}

func (p *slipstreamProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg Config
	var retry string
	for attrName, dst := range map[string]*string{"coordinator_url": &cfg.CoordinatorURL, "token": &cfg.Token, "ca_fingerprint": &cfg.CAFingerprint, "agent_coordinator_url": &cfg.AgentURL, "retry_timeout": &retry} {
		var v types.String
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(attrName), &v)...)
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(attrName), "Unknown provider setting",
				fmt.Sprintf("%s depends on a value known only after apply; the provider needs it to plan. Set it from a variable or the environment.", attrName))
			continue
		}
		*dst = v.ValueString()
	}
	if cfg.CoordinatorURL == "" {
		cfg.CoordinatorURL = os.Getenv(EnvCoordinatorURL)
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv(EnvToken)
	}
	if cfg.CAFingerprint == "" {
		cfg.CAFingerprint = os.Getenv(EnvCAFingerprint)
	}
	if cfg.AgentURL == "" {
		cfg.AgentURL = os.Getenv(EnvAgentURL)
	}
	if cfg.AgentURL == "" {
		cfg.AgentURL = cfg.CoordinatorURL
	}
	cfg.RetryFor = DefaultRetryTimeout
	if retry == "" {
		retry = os.Getenv(EnvRetryTimeout)
	}
	if retry != "" {
		d, err := time.ParseDuration(retry)
		if err != nil || d <= 0 {
			resp.Diagnostics.AddAttributeError(path.Root("retry_timeout"), "Invalid retry timeout",
				fmt.Sprintf("retry_timeout (or %s) is %q; it must be a positive duration such as 30s or 5m.", EnvRetryTimeout, retry))
		}
		cfg.RetryFor = d
	}
	cfg.HTTP = &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute,
	}}
	if cfg.CAFingerprint != "" {
		cfg.HTTP.Transport.(*http.Transport).TLSClientConfig = tlsutil.PinnedConfig(cfg.CAFingerprint)
	}
	cfg.Now = time.Now
	cfg.agents = &agentCache{}
	cfg.nodeClouds = &nodeCloudCache{}
	cfg.clouds = &cloudConnectors{}
	cfg.hooks = p.hooks
	var configured []string
	for _, name := range catalog.Implemented() {
		var obj types.Object
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), &obj)...)
		if obj.IsNull() {
			continue
		}
		configured = append(configured, name)
		cfg.Connector, cfg.Settings = name, obj.Attributes()
	}
	if len(configured) > 1 {
		resp.Diagnostics.AddError("Several connectors in one provider configuration",
			fmt.Sprintf("This provider configuration sets %s; each provider alias targets one cloud. Use one alias per cloud (slipc emits them that way).", strings.Join(configured, " and ")))
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.ResourceData = &cfg
	resp.DataSourceData = &cfg
	resp.EphemeralResourceData = &cfg
}

func (p *slipstreamProvider) Resources(context.Context) []func() resource.Resource {
	return append([]func() resource.Resource{
		NewDeploymentResource,
		NewDeploymentReadyResource,
		NewFixedHostResource,
	}, machineResources()...)
}

func (p *slipstreamProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{NewParameterEphemeralResource}
}

func (p *slipstreamProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewDeploymentDataSource,
		NewParametersDataSource,
	}
}

// durationValidator accepts a positive Go duration ("30s", "5m").
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "a positive duration such as 30s or 5m"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if d, err := time.ParseDuration(req.ConfigValue.ValueString()); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q is not a positive duration; write one such as 30s, 5m or 1h.", req.ConfigValue.ValueString()))
	}
}

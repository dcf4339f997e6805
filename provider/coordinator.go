package provider

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

// configure is what every resource's Configure does with the provider's
// data: nil before the provider is configured (validation), a *Config after.
func configure(providerData any, diags *diag.Diagnostics) *Config {
	if providerData == nil {
		return nil
	}
	cfg, ok := providerData.(*Config)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("Expected *provider.Config, got %T. This is a bug in the provider; please report it.", providerData))
		return nil
	}
	return cfg
}

// coordinator returns an admin client for one deployment, or a
// diagnostic when the provider was not told where the coordinator is.
func (c *Config) coordinator(deployment string, diags *diag.Diagnostics) *client.Client {
	if c == nil {
		diags.AddError("Provider not configured", "The slipstream provider was not configured before this resource was used. This is a bug in the provider; please report it.")
		return nil
	}
	if c.CoordinatorURL == "" || c.Token == "" {
		diags.AddError("No coordinator configured",
			"The slipstream provider needs the coordinator's URL and admin token: set coordinator_url and token in the provider block, or "+
				EnvCoordinatorURL+" and "+EnvToken+" in the environment. Start a coordinator with `slipc serve`.")
		return nil
	}
	return &client.Client{BaseURL: c.CoordinatorURL, Deployment: deployment, Token: c.Token, HTTP: c.HTTP,
		RetryFor: c.RetryFor, AttemptTimeout: attemptTimeout}
}

// agentCache keeps what the provider fetched from the coordinator once per
// run: the agents' checksums, the binaries (uploaded to fixed hosts) and
// the CA certificate (given to the bootstraps).
type agentCache struct {
	mu       sync.Mutex
	sums     map[string]string // arch → sha256
	binaries map[string][]byte
	gzipped  map[string][]byte // arch → the binary, gzip-compressed for uploads
	caPEM    *string
}

// agentSums returns the SHA-256 of each agent binary the coordinator
// serves, by architecture ("amd64").
func (c *Config) agentSums(ctx context.Context, cl *client.Client) (map[string]string, error) {
	c.agents.mu.Lock()
	defer c.agents.mu.Unlock()
	if c.agents.sums != nil {
		return c.agents.sums, nil
	}
	agents, err := cl.Agents(ctx)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for platform, a := range agents {
		if arch, ok := strings.CutPrefix(platform, "linux/"); ok {
			sums[arch] = a.SHA256
		}
	}
	if len(sums) == 0 {
		return nil, errors.New("the coordinator serves no agent binary (GET /v1/agent lists none): build them with `make build` (bin/agent/) or point `slipc serve -agent-dir` at them")
	}
	c.agents.sums = sums
	return sums, nil
}

// agentBinary returns the agent for linux/arch, downloaded once.
func (c *Config) agentBinary(ctx context.Context, cl *client.Client, arch string) ([]byte, error) {
	c.agents.mu.Lock()
	defer c.agents.mu.Unlock()
	if b, ok := c.agents.binaries[arch]; ok {
		return b, nil
	}
	b, _, err := cl.AgentBinary(ctx, arch)
	if err != nil {
		return nil, err
	}
	if c.agents.binaries == nil {
		c.agents.binaries = map[string][]byte{}
	}
	c.agents.binaries[arch] = b
	return b, nil
}

// agentBinaryGzip returns the agent for linux/arch compressed with gzip,
// compressed once: at BestSpeed it is less than half the bytes to send to
// each host, in about 0.15 s.
func (c *Config) agentBinaryGzip(ctx context.Context, cl *client.Client, arch string) ([]byte, error) {
	b, err := c.agentBinary(ctx, cl, arch)
	if err != nil {
		return nil, err
	}
	c.agents.mu.Lock()
	defer c.agents.mu.Unlock()
	if z, ok := c.agents.gzipped[arch]; ok {
		return z, nil
	}
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if c.agents.gzipped == nil {
		c.agents.gzipped = map[string][]byte{}
	}
	c.agents.gzipped[arch] = buf.Bytes()
	return buf.Bytes(), nil
}

// caPEM is the pinned CA's certificate ("" without a fingerprint).
func (c *Config) caPEM(ctx context.Context) (string, error) {
	if c.CAFingerprint == "" {
		return "", nil
	}
	c.agents.mu.Lock()
	defer c.agents.mu.Unlock()
	if c.agents.caPEM != nil {
		return *c.agents.caPEM, nil
	}
	pem, err := tlsutil.PinnedCAPEM(ctx, c.CoordinatorURL, c.CAFingerprint)
	if err != nil {
		return "", fmt.Errorf("reading the coordinator's CA certificate: %w", err)
	}
	c.agents.caPEM = &pem
	return pem, nil
}

// isNotFound tells a deployment that no longer exists at the coordinator.
func isNotFound(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == "not_found"
}

package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// The machine resources render their machine's bootstrap themselves, when
// they start the machine, and keep neither it nor its token in the state:
// a deployment's state then holds what is per node, and a machine's state
// what is per machine. The token is issued by the coordinator for that one
// machine (a one-time bootstrap token, see coordinator/tokens.go) and
// lives only in the machine's user-data or SSH session.
//
// A create renders the bootstrap twice over: first with placeholderToken,
// which makes the spec (and its LabelSpec hash) the same on every attempt,
// so that a machine an interrupted create left is recognised and adopted
// with the token it was started with; then, when a machine is really to be
// started, with a token issued for it (bootstrap.WithToken).

// placeholderToken stands for the token in a bootstrap rendered before the
// token is issued.
const placeholderToken = "tokenissuedatcreate"

// bootstrapKind is which of the two scripts a machine runs.
type bootstrapKind int

const (
	// userDataBootstrap is cloud-init user-data (cloud machines).
	userDataBootstrap bootstrapKind = iota
	// sshBootstrap is run over SSH, installing the agent uploaded before
	// (fixed hosts).
	sshBootstrap
)

// nodeCloudCache keeps each deployment's node → recipe cloud name, read
// once per provider process (SLIPSTREAM_CLOUD in the scripts' environment).
type nodeCloudCache struct {
	mu     sync.Mutex
	clouds map[string]map[string]string
}

// nodeCloud returns the recipe cloud of a node of the deployment cl is for.
func (c *Config) nodeCloud(ctx context.Context, cl *client.Client, node string) (string, error) {
	c.nodeClouds.mu.Lock()
	defer c.nodeClouds.mu.Unlock()
	if clouds, ok := c.nodeClouds.clouds[cl.Deployment]; ok {
		if cloud, ok := clouds[node]; ok {
			return cloud, nil
		}
	}
	run, err := cl.Run(ctx)
	if err != nil {
		return "", fmt.Errorf("reading deployment %s: %w", cl.Deployment, err)
	}
	if _, ok := run.Deployment.Nodes[node]; !ok {
		return "", fmt.Errorf("deployment %s has no node %q", cl.Deployment, node)
	}
	clouds := map[string]string{}
	for name, n := range run.Deployment.Nodes {
		clouds[name] = n.Cloud
	}
	if c.nodeClouds.clouds == nil {
		c.nodeClouds.clouds = map[string]map[string]string{}
	}
	c.nodeClouds.clouds[cl.Deployment] = clouds
	return clouds[node], nil
}

// machineBootstrap renders the bootstrap of one instance ("web.3") of the
// deployment cl is for, or, with instance empty, of a pool's machines of
// node, which learn their instance from the coordinator when they start.
// The token is placeholderToken: see issueToken.
func (c *Config) machineBootstrap(ctx context.Context, cl *client.Client, kind bootstrapKind, node, instance string) (string, error) {
	base, err := c.bootstrapBase(ctx, cl)
	if err != nil {
		return "", err
	}
	cloud, err := c.nodeCloud(ctx, cl, node)
	if err != nil {
		return "", err
	}
	b := base
	b.Deployment, b.Cloud, b.Token = cl.Deployment, cloud, placeholderToken
	if instance == "" {
		b.Node = node
	} else {
		b.Instance = instance
	}
	switch kind {
	case sshBootstrap:
		b.AgentPath = agentUploadPath(cl.Deployment, instance)
		return bootstrap.Script(b)
	default:
		return bootstrap.UserData(b)
	}
}

// issueToken gives instance a new one-time bootstrap token (revoking one
// it had that was never exchanged) and returns script with it in place of
// the placeholder.
func (c *Config) issueToken(ctx context.Context, cl *client.Client, instance, script string) (string, error) {
	issued, err := cl.ReissueTokens(ctx, []string{instance})
	if err != nil {
		return "", fmt.Errorf("issuing the bootstrap token of %s: %w", instance, err)
	}
	return bootstrap.WithToken(script, issued[instance])
}

// bootstrapBase is the part of every bootstrap that does not depend on the
// machine.
func (c *Config) bootstrapBase(ctx context.Context, cl *client.Client) (bootstrap.Config, error) {
	sums, err := c.agentSums(ctx, cl)
	if err != nil {
		return bootstrap.Config{}, err
	}
	ca, err := c.caPEM(ctx)
	if err != nil {
		return bootstrap.Config{}, err
	}
	return bootstrap.Config{ServiceURL: c.AgentURL, CAFingerprint: c.CAFingerprint, CAPEM: ca, AgentSHA256: sums}, nil
}

// added tells a test hook about instances a deployment gained.
func (c *Config) added(id string, instances []string) {
	if c.hooks != nil && c.hooks.instancesAdded != nil && len(instances) > 0 {
		c.hooks.instancesAdded(id, instances)
	}
}

// withTestHook lets a test change the script a machine runs (to make it
// fail); production runs it as rendered.
func (c *Config) withTestHook(deployment, instance, script string) string {
	if c.hooks != nil && c.hooks.bootstrapScript != nil {
		return c.hooks.bootstrapScript(deployment, instance, script)
	}
	return script
}

// nodeInstances lists instances from+1 … to of node.
func nodeInstances(node string, from, to int64) []string {
	var out []string
	for i := from + 1; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s.%d", node, i))
	}
	return out
}

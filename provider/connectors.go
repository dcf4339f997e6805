package provider

import (
	"context"
	"fmt"
	"math/big"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/registry"
)

// machineResources returns constructors of each cloud's instance, pool
// and image resources, in name order: one of each for every connector in
// connectors/registry, built from the catalog's settings and the shared
// implementation in instance_resource.go.
func machineResources() []func() resource.Resource {
	names := registry.Names()
	out := make([]func() resource.Resource, 0, 3*len(names))
	for _, name := range names {
		conn, ok := catalog.Lookup(name)
		if !ok {
			panic(fmt.Sprintf("provider: connector %s is registered but not in the catalog", name))
		}
		factory, _ := registry.Factory(name)
		out = append(out, func() resource.Resource { return newInstanceResource(conn, factory) })
		out = append(out, func() resource.Resource { return newPoolResource(conn, factory) })
		out = append(out, func() resource.Resource { return newImageResource(conn, factory) })
	}
	return out
}

// cloudConnectors keeps, per provider configuration, the connector its
// instance resources share (one SDK client, one cached list of offers).
type cloudConnectors struct {
	mu   sync.Mutex
	conn connectors.Connector
}

// machineConnector returns the configuration's connector, made on first
// use. A failure (say, credentials that cannot be found) is not cached:
// the next resource tries again and reports it too.
func (c *Config) machineConnector(ctx context.Context, name string, factory connectors.Factory) (connectors.Connector, error) {
	c.clouds.mu.Lock()
	defer c.clouds.mu.Unlock()
	if c.clouds.conn != nil {
		return c.clouds.conn, nil
	}
	conn, _ := catalog.Lookup(name)
	settings, err := settingsOf(conn, catalog.ScopeProvider, c.Settings)
	if err != nil {
		return nil, err
	}
	// Setting up may call the cloud (OpenStack logs in): a throttled or
	// busy API is waited out as for any call.
	var cc connectors.Connector
	err = connectors.Retry(ctx, connectors.DefaultBackoff, nil, func(ctx context.Context) error {
		var err error
		cc, err = factory(ctx, settings)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.clouds.conn = cc
	return cc, nil
}

// settingsOf converts the Terraform values of a connector's settings of
// one scope into connectors.Settings: null and unknown values are left
// out, numbers become int64.
func settingsOf(conn *catalog.Connector, scope catalog.Scope, values map[string]attr.Value) (connectors.Settings, error) {
	out := connectors.Settings{}
	for _, s := range conn.Settings {
		if s.Scope != scope {
			continue
		}
		v, ok := values[s.Name]
		if !ok || v == nil || v.IsNull() || v.IsUnknown() {
			continue
		}
		switch v := v.(type) {
		case types.String:
			out[s.Name] = v.ValueString()
		case types.Bool:
			out[s.Name] = v.ValueBool()
		case types.Int64:
			out[s.Name] = v.ValueInt64()
		case types.Number:
			i, acc := v.ValueBigFloat().Int64()
			if acc != big.Exact {
				return nil, fmt.Errorf("setting %s: %s is not a whole number", s.Name, v.ValueBigFloat().String())
			}
			out[s.Name] = i
		case types.List:
			var list []string
			for _, e := range v.Elements() {
				if sv, ok := e.(types.String); ok && !sv.IsNull() && !sv.IsUnknown() {
					list = append(list, sv.ValueString())
				}
			}
			out[s.Name] = list
		case types.Map:
			m := map[string]string{}
			for k, e := range v.Elements() {
				if sv, ok := e.(types.String); ok && !sv.IsNull() && !sv.IsUnknown() {
					m[k] = sv.ValueString()
				}
			}
			out[s.Name] = m
		default:
			return nil, fmt.Errorf("setting %s has Terraform type %T, which the provider does not convert; this is a bug in the provider", s.Name, v)
		}
	}
	return out, nil
}

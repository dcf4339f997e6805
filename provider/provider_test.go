package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

func providerSchema(t *testing.T) schema.Schema {
	t.Helper()
	var resp provider.SchemaResponse
	New("test")().Schema(context.Background(), provider.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("schema: %v", resp.Diagnostics)
	}
	if diags := resp.Schema.ValidateImplementation(context.Background()); diags.HasError() {
		t.Fatalf("schema implementation: %v", diags)
	}
	return resp.Schema
}

// TestProviderSchema_matchesCatalog checks that every implemented
// connector's cloud-wide settings from the catalog (what slipc puts in a
// provider alias) are in the provider schema, with their sensitivity, that
// nothing else is, and that a planned connector has no block at all (a
// configuration naming it would otherwise pass validation and then find no
// resource to start machines with).
func TestProviderSchema_matchesCatalog(t *testing.T) {
	s := providerSchema(t)
	for _, name := range []string{"coordinator_url", "token", "ca_fingerprint"} {
		a, ok := s.Attributes[name]
		if !ok || a.GetMarkdownDescription() == "" {
			t.Errorf("attribute %s missing or undocumented", name)
		}
	}
	if !s.Attributes["token"].IsSensitive() {
		t.Error("token must be sensitive")
	}
	for _, cname := range catalog.Planned() {
		if _, ok := s.Attributes[cname]; ok {
			t.Errorf("the provider schema offers a block for %s, a connector that is not yet available", cname)
		}
	}
	for _, cname := range catalog.Implemented() {
		conn, _ := catalog.Lookup(cname)
		nested, ok := s.Attributes[cname].(schema.SingleNestedAttribute)
		if !ok {
			t.Errorf("connector %s has no nested attribute", cname)
			continue
		}
		want := 0
		for _, setting := range conn.Settings {
			if setting.Scope != catalog.ScopeProvider {
				continue
			}
			want++
			a, ok := nested.Attributes[setting.Name]
			if !ok {
				t.Errorf("%s.%s missing from the provider schema", cname, setting.Name)
				continue
			}
			if a.IsSensitive() != setting.Sensitive {
				t.Errorf("%s.%s sensitive = %v, catalog says %v", cname, setting.Name, a.IsSensitive(), setting.Sensitive)
			}
			if a.GetMarkdownDescription() == "" {
				t.Errorf("%s.%s has no description", cname, setting.Name)
			}
		}
		if len(nested.Attributes) != want {
			t.Errorf("%s has %d attributes, the catalog %d cloud-wide settings", cname, len(nested.Attributes), want)
		}
	}
}

// TestCatalogImplementedMatchesResources: a connector is marked
// implemented in the catalog exactly when the provider has its resource, so
// nobody can flip the flag without the resource (slipc would then emit
// Terraform naming a resource type that does not exist) or ship a
// connector's resource that slipc still refuses to compile for.
func TestCatalogImplementedMatchesResources(t *testing.T) {
	have := implementedResourceTypes(t)
	for _, name := range catalog.Names() {
		conn, _ := catalog.Lookup(name)
		switch {
		case conn.Implemented && !have[conn.Resource]:
			t.Errorf("the catalog marks connector %s implemented, but the provider has no %s resource", name, conn.Resource)
		case !conn.Implemented && have[conn.Resource]:
			t.Errorf("the provider has %s, but the catalog still marks connector %s planned: set Implemented", conn.Resource, name)
		case conn.Implemented && conn.PoolResource != "" && !have[conn.PoolResource]:
			t.Errorf("the catalog marks connector %s implemented, but the provider has no %s resource", name, conn.PoolResource)
		case conn.Implemented && conn.ImageResource != "" && !have[conn.ImageResource]:
			t.Errorf("the catalog marks connector %s implemented, but the provider has no %s resource", name, conn.ImageResource)
		}
	}
	// Every machine resource belongs to a catalog connector.
	connectorOf := map[string]string{}
	for _, name := range catalog.Names() {
		conn, _ := catalog.Lookup(name)
		connectorOf[conn.Resource] = name
		for _, typ := range []string{conn.PoolResource, conn.ImageResource} {
			if typ != "" {
				connectorOf[typ] = name
			}
		}
	}
	for typ := range have {
		switch typ {
		case "slipstream_deployment", "slipstream_deployment_ready":
		default:
			if connectorOf[typ] == "" {
				t.Errorf("the provider has %s, which no catalog connector names as its Resource, PoolResource or ImageResource", typ)
			}
		}
	}
}

// implementedResourceTypes lists the resource type names the provider
// serves.
func implementedResourceTypes(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	types := map[string]bool{}
	for _, f := range New("test")().Resources(ctx) {
		var resp resource.MetadataResponse
		f().Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "slipstream"}, &resp)
		types[resp.TypeName] = true
	}
	return types
}

func TestProviderMetadata(t *testing.T) {
	var resp provider.MetadataResponse
	New("1.2.3")().Metadata(context.Background(), provider.MetadataRequest{}, &resp)
	if resp.TypeName != "slipstream" || resp.Version != "1.2.3" {
		t.Errorf("metadata %+v", resp)
	}
}

// TestResourceSchemas: every resource's schema is valid for the framework
// and documents every attribute, nested ones included (tfplugindocs
// renders these descriptions into docs/).
func TestResourceSchemas(t *testing.T) {
	ctx := context.Background()
	for _, newResource := range New("test")().Resources(ctx) {
		r := newResource()
		var meta resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "slipstream"}, &meta)
		var resp resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &resp)
		if resp.Diagnostics.HasError() {
			t.Fatalf("%s: %v", meta.TypeName, resp.Diagnostics)
		}
		if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Errorf("%s: %v", meta.TypeName, diags)
		}
		if resp.Schema.MarkdownDescription == "" {
			t.Errorf("%s has no description", meta.TypeName)
		}
		checkDescribed(t, meta.TypeName, resp.Schema.Attributes)
	}
}

func checkDescribed(t *testing.T, where string, attrs map[string]rschema.Attribute) {
	for name, a := range attrs {
		if name == "timeouts" {
			continue // described by terraform-plugin-framework-timeouts
		}
		if a.GetMarkdownDescription() == "" {
			t.Errorf("%s.%s has no description", where, name)
		}
		switch n := a.(type) {
		case rschema.SingleNestedAttribute:
			checkDescribed(t, where+"."+name, n.Attributes)
		case rschema.MapNestedAttribute:
			checkDescribed(t, where+"."+name, n.NestedObject.Attributes)
		}
	}
}

package provider

import (
	"context"
	"math/big"
	"reflect"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/registry"
)

// TestInstanceResources_matchCatalog: every implemented connector that
// creates machines has a resource of the catalog's name, which takes what
// slipc emits for a node (deployment_id, node, index, image_id,
// cpu, ram, disk) and every per-machine setting of the catalog, with its
// sensitivity; and every registered connector is one the catalog marks
// implemented.
func TestInstanceResources_matchCatalog(t *testing.T) {
	ctx := context.Background()
	byType := map[string]resource.Resource{}
	for _, f := range machineResources() {
		r := f()
		var meta resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "slipstream"}, &meta)
		byType[meta.TypeName] = r
	}
	for _, name := range registry.Names() {
		conn, ok := catalog.Lookup(name)
		if !ok || !conn.Implemented || !conn.Sized || !conn.NeedsImage || conn.Bootstrap != "user_data" {
			t.Errorf("registered connector %s: catalog entry %+v", name, conn)
		}
	}
	for _, name := range catalog.Implemented() {
		conn, _ := catalog.Lookup(name)
		if !conn.Sized {
			continue // adopts existing machines: its own resource
		}
		r, ok := byType[conn.Resource]
		if !ok {
			t.Errorf("connector %s creates machines but has no registered %s", name, conn.Resource)
			continue
		}
		var resp resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &resp)
		attrs := resp.Schema.Attributes
		for _, a := range []string{attrDeploymentID, attrNode, attrIndex, attrImageID, attrCPU, attrRAM, attrDisk} {
			if _, ok := attrs[a]; !ok {
				t.Errorf("%s has no %s, which slipc emits", conn.Resource, a)
			}
		}
		for _, s := range conn.Settings {
			a, ok := attrs[s.Name]
			switch {
			case s.Scope != catalog.ScopeInstance && ok:
				t.Errorf("%s has %s, a cloud-wide setting of the provider block", conn.Resource, s.Name)
			case s.Scope == catalog.ScopeInstance && !ok:
				t.Errorf("%s lacks the per-machine setting %s", conn.Resource, s.Name)
			case ok && a.IsSensitive() != s.Sensitive:
				t.Errorf("%s.%s sensitive = %v, catalog says %v", conn.Resource, s.Name, a.IsSensitive(), s.Sensitive)
			}
		}
		if conn.TypeSetting != "" && !attrs[conn.TypeSetting].IsComputed() {
			t.Errorf("%s.%s does not show the type chosen from the sizing", conn.Resource, conn.TypeSetting)
		}
	}
}

func TestSettingsOf(t *testing.T) {
	conn, _ := catalog.Lookup("ec2")
	in := map[string]attr.Value{
		"instance_type":       types.StringValue("t3.small"),
		"subnet_id":           types.StringNull(),
		"security_group_ids":  types.ListValueMust(types.StringType, []attr.Value{types.StringValue("sg-1"), types.StringValue("sg-2")}),
		"associate_public_ip": types.BoolValue(true),
		"tags":                types.MapValueMust(types.StringType, map[string]attr.Value{"team": types.StringValue("qa")}),
		"key_name":            types.StringUnknown(),
		"region":              types.StringValue("eu-west-1"), // provider scope: not taken
	}
	got, err := settingsOf(conn, catalog.ScopeInstance, in)
	if err != nil {
		t.Fatal(err)
	}
	want := connectors.Settings{"instance_type": "t3.small", "security_group_ids": []string{"sg-1", "sg-2"}, "associate_public_ip": true, "tags": map[string]string{"team": "qa"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settingsOf = %#v, want %#v", got, want)
	}
	if err := got.Check(); err != nil {
		t.Error(err)
	}
	fixed, _ := catalog.Lookup("fixed")
	got, err = settingsOf(fixed, catalog.ScopeProvider, map[string]attr.Value{"port": types.NumberValue(big.NewFloat(2222))})
	if err != nil || got.Int("port") != 2222 {
		t.Errorf("a number setting: %v, %v", got, err)
	}
	if _, err := settingsOf(fixed, catalog.ScopeProvider, map[string]attr.Value{"port": types.NumberValue(big.NewFloat(22.5))}); err == nil {
		t.Error("a fractional port: no error")
	}
}

// TestMachineResources_settingsShadowNothing: every machine resource of
// every registered cloud (instance, pool, image) builds its schema, which
// panics when a catalog setting has the name of one of the resource's own
// attributes (addInstanceSettings).
func TestMachineResources_settingsShadowNothing(t *testing.T) {
	ctx := context.Background()
	for _, f := range machineResources() {
		r := f()
		var meta resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "slipstream"}, &meta)
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: %v", meta.TypeName, p)
				}
			}()
			var resp resource.SchemaResponse
			r.Schema(ctx, resource.SchemaRequest{}, &resp)
		}()
	}
}

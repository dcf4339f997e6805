package fakeclouds

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/registry"
)

// TestEveryFakeReachesItsConnector: each fake, reached either through
// the provider settings it gives or only through the environment it
// gives (as the demo reaches it), starts a machine from an image with the
// id the caller chose, and every setting it names is one of the
// connector's.
func TestEveryFakeReachesItsConnector(t *testing.T) {
	// Every connector that creates machines has a fake.
	if got, want := strings.Join(Names(), ","), strings.Join(registry.Names(), ","); got != want {
		t.Errorf("the fakes are %s, the registered connectors %s", got, want)
	}
	for _, name := range Names() {
		for _, via := range []string{"settings", "environment"} {
			t.Run(name+"/"+via, func(t *testing.T) {
				f, err := Start(name, Options{Dir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				conn, _ := catalog.Lookup(name)
				settings := connectors.Settings{}
				for k, v := range f.Recipe {
					settings[k] = v
				}
				for k := range f.Settings {
					if s, ok := conn.Setting(k); !ok || s.Scope != catalog.ScopeProvider {
						t.Errorf("the fake names setting %q, not a cloud-wide setting of %s", k, name)
					}
				}
				for k := range f.Recipe {
					if _, ok := conn.Setting(k); !ok {
						t.Errorf("the fake names recipe setting %q, not a setting of %s", k, name)
					}
				}
				if via == "settings" {
					for k, v := range f.Settings {
						settings[k] = v
					}
				} else {
					for k, v := range f.Env {
						t.Setenv(k, v)
					}
					if name == "openstack" {
						settings["cloud"] = openstackCloudName
					}
				}
				imageID := f.ExampleImage
				if err := f.AddImage(imageID, "debian-12", nil); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				factory, ok := registry.Factory(name)
				if !ok {
					t.Fatalf("no connector registered for the fake %s", name)
				}
				c, err := factory(ctx, settings)
				if err != nil {
					t.Fatal(err)
				}
				offers, err := c.Offers(ctx)
				if err != nil {
					t.Fatal(err)
				}
				offer, err := connectors.PickOffer(name, offers, connectors.Size{CPU: 1, RAMGB: 1})
				if err != nil {
					t.Fatal(err)
				}
				spec := connectors.MachineSpec{Deployment: "d-1", Instance: "web.1", Name: "d-1-web-1", ImageID: imageID, UserData: "#!/bin/sh\n",
					Size: connectors.Size{CPU: 1, RAMGB: 1}, Labels: map[string]string{connectors.LabelDeployment: "d-1", connectors.LabelInstance: "web.1"}}
				if !offer.Free {
					spec.Type = offer.Name
				}
				if name == "openstack" {
					spec.Settings = connectors.Settings{"network": "shop-net"}
				}
				m, err := c.Create(ctx, spec)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Delete(ctx, m.ID); err != nil {
					t.Fatal(err)
				}
				if live := f.Cloud.Machines(nil); len(live) > 0 && live[0].State != "terminated" {
					t.Errorf("machines left: %+v", live)
				}
			})
		}
	}
	if _, err := Start("nowhere", Options{}); err == nil {
		t.Error("a cloud without a fake: no error")
	}
}

func TestProviderBlock(t *testing.T) {
	f := &Fake{Connector: "ec2", Recipe: map[string]string{"region": "us-east-1"}, Settings: map[string]string{"endpoint": "http://127.0.0.1:1"}}
	want := "provider \"slipstream\" {\n  alias = \"aws\"\n  ec2 = {\n    endpoint = \"http://127.0.0.1:1\"\n    region = \"us-east-1\"\n  }\n}\n"
	if got := f.ProviderBlock("aws"); got != want {
		t.Errorf("ProviderBlock:\n%s\nwant\n%s", got, want)
	}
}

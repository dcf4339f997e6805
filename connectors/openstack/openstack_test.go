package openstack

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

// TestMain clears the OS_* variables of whoever runs the tests, so that
// only what a test sets reaches New.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OS_") {
			os.Unsetenv(name)
		}
	}
	os.Exit(m.Run())
}

// newFake serves a fake OpenStack cloud for the test, with a base image.
func newFake(t *testing.T, opts openstackfake.Options) (*openstackfake.Fake, string) {
	return newFakeWith(t, opts, fakecloud.Options{})
}

// newFakeWith is newFake on a fakecloud made with cloudOpts.
func newFakeWith(t *testing.T, opts openstackfake.Options, cloudOpts fakecloud.Options) (*openstackfake.Fake, string) {
	t.Helper()
	cloudOpts.Name, cloudOpts.NewID = "openstack", openstackfake.NewID
	cloud, err := fakecloud.New(cloudOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	f, err := openstackfake.New(cloud, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Close)
	img, err := f.AddImage("debian-12")
	if err != nil {
		t.Fatal(err)
	}
	return f, img
}

// settingsFor are provider settings that log in to the fake.
func settingsFor(f *openstackfake.Fake) connectors.Settings {
	o := f.Options()
	return connectors.Settings{"auth_url": f.AuthURL(), "region": o.Region, "user_name": o.User,
		"password": o.Password, "project_name": o.Project, "domain_name": o.Domain}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func connectTo(t *testing.T, f *openstackfake.Fake, settings connectors.Settings) *Connector {
	t.Helper()
	conn, err := New(ctxFor(t), settings)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return conn.(*Connector)
}

// The conformance runs wait on the fake's clocks far more than they
// compute: they run side by side.
func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Run(t, func(t *testing.T) *connectortest.Harness {
		f, img := newFake(t, openstackfake.Options{})
		conn := connectTo(t, f, settingsFor(f))
		if conn.Microversion() != "2.96" {
			t.Errorf("microversion %q against a Nova of 2.1 to 2.96, want 2.96", conn.Microversion())
		}
		return &connectortest.Harness{Connector: conn, Cloud: f.Cloud(), ImageID: img, Name: cloudName}
	})
}

// An older Nova (no tags before 2.52, flavors by id before 2.47, the
// snapshot's id in the Location header before 2.45) and one without
// microversions at all pass the same suite: the connector falls back to
// listing by metadata and looking flavor names up.
func TestConformanceOlderNova(t *testing.T) {
	for _, max := range []string{"2.38", "2.1"} {
		t.Run(max, func(t *testing.T) {
			t.Parallel()
			connectortest.Run(t, func(t *testing.T) *connectortest.Harness {
				f, img := newFake(t, openstackfake.Options{MaxMicroversion: max})
				conn := connectTo(t, f, settingsFor(f))
				if conn.Microversion() != max {
					t.Errorf("microversion %q against a Nova of at most %s", conn.Microversion(), max)
				}
				return &connectortest.Harness{Connector: conn, Cloud: f.Cloud(), ImageID: img, Name: cloudName}
			})
		})
	}
}

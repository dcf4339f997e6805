package ec2

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

const (
	testRegion    = "eu-west-1"
	testAccessKey = "AKIDSLIPSTREAMTEST"
	testSecretKey = "slipstream-test-secret"
)

// fixture is a fake EC2 on a loopback server and the connector on it.
type fixture struct {
	cloud *fakecloud.Cloud
	srv   *ec2fake.Server
	url   string
	image string
	conn  *Connector
}

// isolate keeps the developer's AWS configuration and environment out of
// a test: no shared files, no profile, no credentials, no instance
// metadata service (it would be asked over the network).
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                 "", "AWS_DEFAULT_PROFILE": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CA_BUNDLE": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_EC2": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
}

// newFixture starts a fake EC2 (wrapped by wrap, if given) and the
// connector configured for it with static credentials.
func newFixture(t *testing.T, opts ec2fake.Options, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	return newFixtureOn(t, fakecloud.Options{}, opts, wrap)
}

// newFixtureOn is newFixture with the fake cloud's options (delays,
// retention).
func newFixtureOn(t *testing.T, cloudOpts fakecloud.Options, opts ec2fake.Options, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	isolate(t)
	cloudOpts.LayerDir = t.TempDir()
	cloud, err := ec2fake.NewCloud(cloudOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	opts.AccessKey, opts.SecretKey, opts.Region = testAccessKey, testSecretKey, testRegion
	srv := ec2fake.New(cloud, opts)
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	image, err := srv.AddImage(ec2fake.BaseImage{Name: "debian-12-amd64-20250101", RootDeviceName: "/dev/xvda", VolumeGB: 8, LoginUser: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{cloud: cloud, srv: srv, url: ts.URL, image: image}
	f.conn = f.connect(t, connectors.Settings{"access_key": testAccessKey, "secret_key": testSecretKey})
	return f
}

// connect makes a connector for the fixture's fake with these settings
// (region and endpoint added).
func (f *fixture) connect(t *testing.T, settings connectors.Settings) *Connector {
	t.Helper()
	settings["region"], settings["endpoint"] = testRegion, f.url
	conn, err := New(ctx(t), settings)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return conn.(*Connector)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// spec is a machine spec as the provider makes one.
func (f *fixture) spec(deployment, instance string) connectors.MachineSpec {
	spec := connectors.MachineSpec{
		Deployment: deployment, Instance: instance, Name: connectors.MachineName(deployment, instance),
		ImageID: f.image, UserData: "#!/bin/sh\necho hello\n", Type: "t3.micro",
		Labels: map[string]string{connectors.LabelDeployment: deployment, connectors.LabelInstance: instance},
	}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	return spec
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T) *connectortest.Harness {
		f := newFixture(t, ec2fake.Options{}, nil)
		return &connectortest.Harness{Connector: f.conn, Cloud: f.cloud, ImageID: f.image, Name: "ec2"}
	})
}

// TestConformanceAsEC2Behaves runs the suite on a fake that takes time as
// EC2 does (in small) and keeps terminated instances visible, as EC2 does
// for about an hour: waits, and terminated instances in answers, are
// exercised.
func TestConformanceAsEC2Behaves(t *testing.T) {
	connectortest.Run(t, func(t *testing.T) *connectortest.Harness {
		f := newFixtureOn(t, fakecloud.Options{
			BootDelay: 30 * time.Millisecond, StopDelay: 30 * time.Millisecond, TerminateDelay: 30 * time.Millisecond,
			ImageDelay: 50 * time.Millisecond, TerminatedRetention: time.Hour,
		}, ec2fake.Options{PageLimit: 5}, nil)
		return &connectortest.Harness{Connector: f.conn, Cloud: f.cloud, ImageID: f.image, Name: "ec2"}
	})
}

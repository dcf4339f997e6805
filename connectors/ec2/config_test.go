package ec2

import (
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// works checks that the connector's requests are signed as the fake
// wants: an id that names no instance is not found (and not AuthFailure).
func works(t *testing.T, c connectors.Connector) {
	t.Helper()
	if _, err := c.Describe(ctx(t), "i-00000000000000000"); !connectors.IsNotFound(err) {
		t.Errorf("Describe through the connector: %v, want not found", err)
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	t.Setenv("AWS_REGION", testRegion)
	c, err := New(ctx(t), connectors.Settings{"endpoint": f.url})
	if err != nil {
		t.Fatal(err)
	}
	works(t, c)
	// The endpoint, too, may come from the environment.
	t.Setenv("AWS_ENDPOINT_URL_EC2", f.url)
	if c, err = New(ctx(t), connectors.Settings{}); err != nil {
		t.Fatal(err)
	}
	works(t, c)
}

func TestCredentialsFromSharedFiles(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	dir := t.TempDir()
	creds, conf := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(creds, "[default]\naws_access_key_id = AKIDNOTTHISONE\naws_secret_access_key = nope\n\n"+
		"[slipstream]\naws_access_key_id = "+testAccessKey+"\naws_secret_access_key = "+testSecretKey+"\n")
	write(conf, "[default]\nregion = us-east-1\n\n[profile slipstream]\nregion = "+testRegion+"\n")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", conf)

	t.Run("profile setting", func(t *testing.T) {
		// The region comes from the profile too.
		c, err := New(ctx(t), connectors.Settings{"profile": "slipstream", "endpoint": f.url})
		if err != nil {
			t.Fatal(err)
		}
		works(t, c)
	})
	t.Run("AWS_PROFILE", func(t *testing.T) {
		t.Setenv("AWS_PROFILE", "slipstream")
		c, err := New(ctx(t), connectors.Settings{"endpoint": f.url})
		if err != nil {
			t.Fatal(err)
		}
		works(t, c)
	})
	t.Run("default profile", func(t *testing.T) {
		c, err := New(ctx(t), connectors.Settings{"region": testRegion, "endpoint": f.url})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Describe(ctx(t), "i-00000000000000000")
		if codeOf(err) != "AuthFailure" || connectors.KindOf(err) != connectors.KindPermanent {
			t.Errorf("the default profile's unknown key: %v, want a permanent AuthFailure", err)
		}
	})
	t.Run("unknown profile", func(t *testing.T) {
		_, err := New(ctx(t), connectors.Settings{"profile": "nobody", "endpoint": f.url})
		if err == nil || !strings.Contains(err.Error(), "nobody") {
			t.Errorf("an unknown profile: %v, want an error naming it", err)
		}
	})
}

func TestMissingCredentials(t *testing.T) {
	isolate(t)
	start := time.Now()
	_, err := New(ctx(t), connectors.Settings{"region": testRegion})
	if err == nil {
		t.Fatal("New without any credentials succeeded")
	}
	for _, want := range []string{"access_key", "secret_key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "profile", "AWS_PROFILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not name %s", err, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("finding no credentials took %v", d)
	}
}

func TestSettingsErrors(t *testing.T) {
	isolate(t)
	tests := []struct {
		name     string
		settings connectors.Settings
		want     []string
	}{
		{"access key alone", connectors.Settings{"region": testRegion, "access_key": "AKID"}, []string{"access_key", "secret_key"}},
		{"secret alone", connectors.Settings{"region": testRegion, "secret_key": "s3cr3t-never-shown"}, []string{"access_key", "secret_key"}},
		{"no region", connectors.Settings{"access_key": "AKID", "secret_key": "s3cr3t-never-shown"}, []string{"region", "AWS_REGION"}},
		{"wrong type", connectors.Settings{"region": 42}, []string{"region"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(ctx(t), tc.settings)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %s", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the secret: %q", err)
			}
		})
	}
}

func TestSignatureRejected(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	for _, tc := range []struct{ key, secret, code string }{
		{testAccessKey, "not-the-secret", "SignatureDoesNotMatch"},
		{"AKIDSOMEBODYELSE", testSecretKey, "AuthFailure"},
	} {
		c := f.connect(t, connectors.Settings{"access_key": tc.key, "secret_key": tc.secret})
		_, err := c.Create(ctx(t), f.spec("dep-auth", "web.1"))
		var ce *connectors.Error
		if !errors.As(err, &ce) || ce.Kind != connectors.KindPermanent || ce.Code != tc.code || !strings.Contains(err.Error(), "ec2") {
			t.Errorf("key %s: %v, want a permanent ec2 error with code %s", tc.key, err, tc.code)
		}
		if strings.Contains(err.Error(), tc.secret) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	if n := len(f.cloud.Machines(nil)); n != 0 {
		t.Errorf("unauthenticated creates made %d machines", n)
	}
}

func TestTLSEndpointWithCABundle(t *testing.T) {
	isolate(t)
	cloud, err := ec2fake.NewCloud(fakecloud.Options{LayerDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	srv := ec2fake.New(cloud, ec2fake.Options{AccessKey: testAccessKey, SecretKey: testSecretKey, Region: testRegion})
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	// Trust the server's certificate through AWS_CA_BUNDLE, as behind a
	// company's TLS proxy.
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	c, err := New(ctx(t), connectors.Settings{"region": testRegion, "endpoint": ts.URL, "access_key": testAccessKey, "secret_key": testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	works(t, c)
	if _, err := c.Offers(ctx(t)); err != nil {
		t.Errorf("Offers over TLS: %v", err)
	}
}

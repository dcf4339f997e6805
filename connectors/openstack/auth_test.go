package openstack

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

const opTokenCalls = "POST /v3/auth/tokens"

func TestWrongPasswordIsPermanentAndNamesKeystones401(t *testing.T) {
	f, _ := newFake(t, openstackfake.Options{})
	settings := settingsFor(f)
	settings["password"] = "not-the-password"
	_, err := New(ctxFor(t), settings)
	if err == nil {
		t.Fatal("New with a wrong password: no error")
	}
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Status != 401 || ce.Kind != connectors.KindPermanent {
		t.Fatalf("New with a wrong password: %v (%#v), want a permanent *connectors.Error with status 401", err, ce)
	}
	for _, want := range []string{"openstack", "401", "Keystone", "Unauthorized"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error shows the password: %q", err)
	}
}

func TestUnknownProjectIsRefused(t *testing.T) {
	f, _ := newFake(t, openstackfake.Options{})
	settings := settingsFor(f)
	settings["project_name"] = "someone-elses"
	if _, err := New(ctxFor(t), settings); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "401") {
		t.Errorf("New scoped to a project of someone else: %v, want Keystone's 401", err)
	}
}

// Tokens expire while the connector works: gophercloud logs in again, once
// for all the calls that found their token expired at the same time.
func TestTokenExpiryReauthenticates(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{TokenTTL: 400 * time.Millisecond})
	conn := connectTo(t, f, settingsFor(f))
	cloud := f.Cloud()
	spec := connectorSpec(img, "dep-reauth", "web.1")
	m, err := conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	logins := cloud.Calls(opTokenCalls)
	time.Sleep(500 * time.Millisecond) // the token runs out
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = conn.Describe(ctxFor(t), m.ID)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("Describe after the token expired: %v", err)
		}
	}
	if n := cloud.Calls(opTokenCalls) - logins; n != 1 {
		t.Errorf("%d logins after the token expired under 6 concurrent calls, want 1", n)
	}
	// And again, by the fake forgetting every token.
	f.ExpireTokens()
	if _, err := conn.List(ctxFor(t), "dep-reauth"); err != nil {
		t.Errorf("List after the tokens were revoked: %v", err)
	}
}

// When logging in again fails (the password was changed meanwhile), the
// error is Keystone's, permanent.
func TestFailedReauthenticationIsPermanent(t *testing.T) {
	f, _ := newFake(t, openstackfake.Options{})
	conn := connectTo(t, f, settingsFor(f))
	f.ExpireTokens()
	f.SetPassword("changed")
	_, err := conn.Describe(ctxFor(t), "00000000-0000-4000-8000-000000000000")
	if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "401") {
		t.Errorf("Describe when logging in again is refused: %v, want a permanent 401", err)
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{Region: "Zurich"})
	t.Setenv("OS_AUTH_URL", f.AuthURL())
	t.Setenv("OS_USERNAME", "demo")
	t.Setenv("OS_PASSWORD", "secret")
	t.Setenv("OS_TENANT_NAME", "demo") // the old name still works
	t.Setenv("OS_USER_DOMAIN_NAME", "Default")
	t.Setenv("OS_REGION_NAME", "Zurich")
	conn, err := New(ctxFor(t), connectors.Settings{})
	if err != nil {
		t.Fatalf("New from OS_* variables: %v", err)
	}
	if _, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-env", "web.1")); err != nil {
		t.Errorf("Create: %v", err)
	}
	// A setting wins over its variable.
	if _, err := New(ctxFor(t), connectors.Settings{"password": "wrong"}); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "401") {
		t.Errorf("a password setting did not win over OS_PASSWORD: %v", err)
	}
	// A region that is not in the catalog.
	t.Setenv("OS_REGION_NAME", "Atlantis")
	if _, err := New(ctxFor(t), connectors.Settings{}); err == nil || !strings.Contains(err.Error(), "Atlantis") {
		t.Errorf("New in a region the catalog does not have: %v", err)
	}
}

func TestApplicationCredential(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{ApplicationCredentialID: "ac-123", ApplicationCredentialSecret: "ac-secret"})
	// A user and password in the environment do not mix with it.
	t.Setenv("OS_USERNAME", "someone")
	t.Setenv("OS_PASSWORD", "wrong")
	conn, err := New(ctxFor(t), connectors.Settings{"auth_url": f.AuthURL(),
		"application_credential_id": "ac-123", "application_credential_secret": "ac-secret"})
	if err != nil {
		t.Fatalf("New with an application credential: %v", err)
	}
	if _, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-ac", "web.1")); err != nil {
		t.Errorf("Create: %v", err)
	}
	_, err = New(ctxFor(t), connectors.Settings{"auth_url": f.AuthURL(), "application_credential_id": "ac-123"})
	if err == nil || !strings.Contains(err.Error(), "application_credential_secret") || !strings.Contains(err.Error(), "OS_APPLICATION_CREDENTIAL_SECRET") {
		t.Errorf("an application credential without its secret: %v", err)
	}
}

func TestCredentialsFromCloudsYAML(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{})
	dir := t.TempDir()
	clouds := filepath.Join(dir, "clouds.yaml")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(clouds, `clouds:
  devstack:
    auth:
      auth_url: `+f.AuthURL()+`
      username: demo
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
  other:
    auth:
      auth_url: http://127.0.0.1:9/identity
`)
	// The password is kept apart, in secure.yaml beside it.
	write(filepath.Join(dir, "secure.yaml"), "clouds:\n  devstack:\n    auth:\n      password: secret\n")
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_PASSWORD", "wrong") // clouds.yaml wins over the environment

	t.Run("OS_CLOUD", func(t *testing.T) {
		t.Setenv("OS_CLOUD", "devstack")
		conn, err := New(ctxFor(t), connectors.Settings{})
		if err != nil {
			t.Fatalf("New from clouds.yaml named by OS_CLOUD: %v", err)
		}
		if _, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-yaml", "web.1")); err != nil {
			t.Errorf("Create: %v", err)
		}
	})
	t.Run("cloud setting", func(t *testing.T) {
		t.Setenv("OS_CLOUD", "other") // the setting wins
		if _, err := New(ctxFor(t), connectors.Settings{"cloud": "devstack"}); err != nil {
			t.Errorf("New from the clouds.yaml entry named by the cloud setting: %v", err)
		}
	})
	t.Run("settings win", func(t *testing.T) {
		_, err := New(ctxFor(t), connectors.Settings{"cloud": "devstack", "password": "also-wrong"})
		if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "401") {
			t.Errorf("a password setting did not win over clouds.yaml: %v", err)
		}
	})
	t.Run("unknown entry", func(t *testing.T) {
		_, err := New(ctxFor(t), connectors.Settings{"cloud": "nowhere"})
		if err == nil || !strings.Contains(err.Error(), "nowhere") || !strings.Contains(err.Error(), "OS_CLOUD") {
			t.Errorf("a cloud that clouds.yaml does not have: %v", err)
		}
	})
}

// A cloud whose certificate is signed by a private authority is trusted
// through OS_CACERT; without it, the failure is permanent.
func TestPrivateCertificateAuthority(t *testing.T) {
	cloud, err := fakecloud.New(fakecloud.Options{Name: "openstack", NewID: openstackfake.NewID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	f, err := openstackfake.New(cloud, openstackfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.StartTLS()
	t.Cleanup(f.Close)
	img, _ := f.AddImage("debian-12")
	if _, err := New(ctxFor(t), settingsFor(f)); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("New against an unknown certificate authority: %v, want a permanent certificate error", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CACERT", ca)
	conn, err := New(ctxFor(t), settingsFor(f))
	if err != nil {
		t.Fatalf("New trusting OS_CACERT: %v", err)
	}
	if _, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-tls", "web.1")); err != nil {
		t.Errorf("Create over TLS: %v", err)
	}
	t.Setenv("OS_CACERT", filepath.Join(t.TempDir(), "missing.pem"))
	if _, err := New(ctxFor(t), settingsFor(f)); err == nil || !strings.Contains(err.Error(), "OS_CACERT") {
		t.Errorf("New with a CA file that does not exist: %v", err)
	}
}

func TestMissingCredentialsNameTheSettingAndVariable(t *testing.T) {
	cases := []struct {
		settings   connectors.Settings
		wantName   string
		wantEnvVar string
	}{
		{connectors.Settings{}, "auth_url", "OS_AUTH_URL"},
		{connectors.Settings{"auth_url": "http://127.0.0.1:9/identity/v3"}, "user_name", "OS_USERNAME"},
		{connectors.Settings{"auth_url": "http://127.0.0.1:9/identity/v3", "user_name": "demo"}, "password", "OS_PASSWORD"},
		{connectors.Settings{"auth_url": "http://127.0.0.1:9/identity/v3", "user_name": "demo", "password": "x"}, "project_name", "OS_PROJECT_NAME"},
	}
	for _, tc := range cases {
		_, err := New(ctxFor(t), tc.settings)
		var ce *connectors.Error
		if !errors.As(err, &ce) || ce.Kind != connectors.KindPermanent ||
			!strings.Contains(err.Error(), tc.wantName) || !strings.Contains(err.Error(), tc.wantEnvVar) {
			t.Errorf("New(%v): %v, want a permanent error naming %s and %s", tc.settings, err, tc.wantName, tc.wantEnvVar)
		}
	}
}

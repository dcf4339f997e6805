package azure

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/azure/azurefake"
)

func asError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v (%T) is not a *connectors.Error", err, err)
	}
	return ce
}

// clearAzureEnv empties the variables the credential chain and the
// settings read, so that the machine's own environment plays no part.
func clearAzureEnv(t *testing.T) {
	for _, k := range []string{EnvSubscriptionID, EnvLocation, EnvTenantID, EnvClientID, "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", EnvEnvironment, EnvEndpoint, EnvAuthorityHost, EnvCAFile} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// TestServicePrincipalOverHTTPS: the client-secret credential of the
// provider settings gets its token from the fake's Entra ID, for the
// audience the endpoint's metadata names, and every request — token
// endpoint, Resource Manager, the pollers' follow-ups — goes to the
// server's own address.
func TestServicePrincipalOverHTTPS(t *testing.T) {
	clearAzureEnv(t)
	w := newWorld(t, overHTTPS)
	h := w.harness()
	m, err := w.conn.Create(ctxFor(t), h.Spec("dep-sp", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	scopes := w.fake.TokenScopes()
	if len(scopes) != 1 || scopes[0] != azurefake.FakeAudience+"/.default" {
		t.Errorf("tokens were asked for %q, want one for the metadata's audience %s/.default", scopes, azurefake.FakeAudience)
	}
	u, _ := url.Parse(w.srv.URL)
	hosts := w.fake.Hosts()
	if len(hosts) != 1 || hosts[u.Host] < 10 {
		t.Errorf("requests came to %v, want all of them (well over 10: token, group, network, interface, VM, polls) to %s", hosts, u.Host)
	}
	if w.cloud.Calls("poll") == 0 {
		t.Errorf("no operation was polled: the create and delete should have awaited the interface and the VM's deletion")
	}
}

// TestWrongSecret: Entra ID refuses the secret; the error is permanent,
// says what Entra ID said and what to set, and does not show the secret.
func TestWrongSecret(t *testing.T) {
	clearAzureEnv(t)
	for _, how := range []wiring{inProcess, overHTTPS} {
		t.Run(how.String(), func(t *testing.T) {
			w := newWorld(t, how)
			const secret = "not-the-secret-xyz"
			c := w.connector(w.settings(map[string]any{"client_secret": secret}))
			_, err := c.Offers(ctxFor(t))
			ce := asError(t, err)
			if ce.Kind != connectors.KindPermanent || ce.Code != "AuthenticationFailed" || ce.Status != 401 {
				t.Errorf("wrong secret: %v (kind %s, code %s, status %d), want a permanent AuthenticationFailed with status 401", err, ce.Kind, ce.Code, ce.Status)
			}
			for _, want := range []string{"AADSTS7000215", "client_secret", "az login", "service principal " + azurefake.DefaultClientID} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("wrong secret: %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("the error is several lines (the raw answer?): %q", err)
			}
			// Create fails the same way, and makes nothing.
			_, err = c.Create(ctxFor(t), w.harness().Spec("dep-auth", "web.1"))
			if connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "AADSTS7000215") {
				t.Errorf("create with a wrong secret: %v", err)
			}
			if groups := w.fake.ResourceGroups(); len(groups) != 0 {
				t.Errorf("a create that could not authenticate made resource groups %v", groups)
			}
		})
	}
}

// TestEnvironmentCredential: without client_secret in the settings, the
// chain's first credential reads AZURE_TENANT_ID, AZURE_CLIENT_ID and
// AZURE_CLIENT_SECRET; a wrong one there fails with Entra ID's answer.
func TestEnvironmentCredential(t *testing.T) {
	for _, how := range []wiring{inProcess, overHTTPS} {
		t.Run(how.String(), func(t *testing.T) {
			clearAzureEnv(t)
			w := newWorld(t, how)
			t.Setenv(EnvTenantID, azurefake.DefaultTenantID)
			t.Setenv(EnvClientID, azurefake.DefaultClientID)
			t.Setenv("AZURE_CLIENT_SECRET", azurefake.DefaultClientSecret)
			settings := w.settings(map[string]any{"tenant_id": nil, "client_id": nil, "client_secret": nil})
			c := w.connector(settings)
			if !strings.Contains(c.cred.source, "environment") {
				t.Errorf("the credential is %s, want the chain starting with the environment", c.cred.source)
			}
			if offers, err := c.Offers(ctxFor(t)); err != nil || len(offers) == 0 {
				t.Fatalf("Offers through the environment's credential: %v, %v", offers, err)
			}
			t.Setenv("AZURE_CLIENT_SECRET", "wrong")
			_, err := w.connector(settings).Offers(ctxFor(t))
			if ce := asError(t, err); ce.Kind != connectors.KindPermanent || !strings.Contains(err.Error(), "AADSTS7000215") || !strings.Contains(err.Error(), "AZURE_CLIENT_SECRET") {
				t.Errorf("a wrong AZURE_CLIENT_SECRET: %v", err)
			}
		})
	}
}

// TestWorkloadIdentity: AZURE_FEDERATED_TOKEN_FILE's token is the client
// assertion the token endpoint takes; the environment credential, which
// has no secret then, is left out of the chain.
func TestWorkloadIdentity(t *testing.T) {
	for _, how := range []wiring{inProcess, overHTTPS} {
		t.Run(how.String(), func(t *testing.T) {
			clearAzureEnv(t)
			w := newWorld(t, how)
			file := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(file, []byte(azurefake.DefaultFederatedToken), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv(EnvTenantID, azurefake.DefaultTenantID)
			t.Setenv(EnvClientID, azurefake.DefaultClientID)
			t.Setenv("AZURE_FEDERATED_TOKEN_FILE", file)
			settings := w.settings(map[string]any{"tenant_id": nil, "client_id": nil, "client_secret": nil})
			c := w.connector(settings)
			if !strings.Contains(c.cred.source, "workload identity") || strings.Contains(c.cred.source, "environment") {
				t.Errorf("the credential is %s, want workload identity without the environment's", c.cred.source)
			}
			h := w.harness()
			h.Connector = c
			m, err := c.Create(ctxFor(t), h.Spec("dep-wi", "web.1"))
			if err != nil {
				t.Fatalf("create with workload identity: %v", err)
			}
			if err := c.Delete(ctxFor(t), m.ID); err != nil {
				t.Fatal(err)
			}
			// A token Kubernetes did not issue is refused.
			if err := os.WriteFile(file, []byte("eyJhbGciOiJub25lIn0.eyJzdWIiOiJzb21lb25lLWVsc2UifQ."), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = w.connector(settings).Offers(ctxFor(t))
			if ce := asError(t, err); ce.Kind != connectors.KindPermanent || !strings.Contains(err.Error(), "AADSTS70021") {
				t.Errorf("a foreign federated token: %v", err)
			}
		})
	}
}

// fakeAz writes an `az` on a PATH of its own that answers `az account
// get-access-token -o json` as the Azure CLI does, with token, and records
// its arguments; with token empty it fails as a CLI that is not logged in
// does.
func fakeAz(t *testing.T, token string) (argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	var script string
	if token == "" {
		script = "#!/bin/sh\necho \"$@\" > " + argsFile + "\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n"
	} else {
		exp := time.Now().Add(time.Hour)
		script = fmt.Sprintf("#!/bin/sh\necho \"$@\" > %s\ncat <<'JSON'\n"+
			`{"accessToken": %q, "expiresOn": %q, "expires_on": %d, "subscription": %q, "tenant": %q, "tokenType": "Bearer"}`+"\nJSON\n",
			argsFile, token, exp.Format("2006-01-02 15:04:05.000000"), exp.Unix(), azurefake.DefaultSubscriptionID, azurefake.DefaultTenantID)
	}
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o700); err != nil { // #nosec G306 -- the test's own fake az must be executable
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return argsFile
}

// TestAzureCLICredential: with nothing in the settings or the
// environment, the token comes from `az account get-access-token`, for
// Resource Manager's audience and the subscription; a CLI that is not
// logged in gives a permanent error that says to log in.
func TestAzureCLICredential(t *testing.T) {
	clearAzureEnv(t)
	w := newWorld(t, inProcess)
	args := fakeAz(t, w.fake.IssueToken())
	settings := w.settings(map[string]any{"tenant_id": nil, "client_id": nil, "client_secret": nil})
	c := w.connector(settings)
	if !strings.HasSuffix(c.cred.source, "the Azure CLI (az login)") || strings.Contains(c.cred.source, "environment") {
		t.Errorf("the credential is %s, want the chain with the Azure CLI only", c.cred.source)
	}
	h := w.harness()
	h.Connector = c
	m, err := c.Create(ctxFor(t), h.Spec("dep-cli", "web.1"))
	if err != nil {
		t.Fatalf("create with the Azure CLI's token: %v", err)
	}
	if err := c.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(args) // #nosec G304 -- the test's own file
	if err != nil {
		t.Fatal(err)
	}
	want := "account get-access-token -o json --resource " + strings.TrimSuffix(azurefake.PublicAudience, "/")
	if !strings.HasPrefix(string(got), want) || !strings.Contains(string(got), "--subscription "+azurefake.DefaultSubscriptionID) {
		t.Errorf("az was run with %q, want %q … --subscription %s", got, want, azurefake.DefaultSubscriptionID)
	}
	if len(w.fake.TokenScopes()) != 0 {
		t.Errorf("the token endpoint was asked %v; the CLI's token should have been used", w.fake.TokenScopes())
	}

	fakeAz(t, "")
	_, err = w.connector(settings).Offers(ctxFor(t))
	if ce := asError(t, err); ce.Kind != connectors.KindPermanent || !strings.Contains(err.Error(), "az login") || !strings.Contains(err.Error(), "AzureCLICredential") {
		t.Errorf("a CLI that is not logged in: %v", err)
	}
}

// TestNoCredentialAnywhere: no settings, no environment, no az: the
// error lists where credentials may come from.
func TestNoCredentialAnywhere(t *testing.T) {
	clearAzureEnv(t)
	t.Setenv("PATH", t.TempDir())
	w := newWorld(t, inProcess)
	_, err := w.connector(w.settings(map[string]any{"tenant_id": nil, "client_id": nil, "client_secret": nil})).Offers(ctxFor(t))
	ce := asError(t, err)
	if ce.Kind != connectors.KindPermanent {
		t.Errorf("no credentials: %v is %s, want permanent", err, ce.Kind)
	}
	for _, want := range []string{"client_secret", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "az login"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no credentials: %q does not mention %s", err, want)
		}
	}
}

// TestSettings: the environment variables stand in for settings left
// out, and wrong settings fail New with a message naming them.
func TestSettings(t *testing.T) {
	clearAzureEnv(t)
	w := newWorld(t, inProcess)
	t.Setenv(EnvSubscriptionID, azurefake.DefaultSubscriptionID)
	t.Setenv(EnvLocation, azurefake.DefaultLocation)
	c := w.connector(w.settings(map[string]any{"subscription_id": nil, "location": nil}))
	if c.subscription != azurefake.DefaultSubscriptionID || c.location != azurefake.DefaultLocation {
		t.Errorf("from the environment: subscription %q, location %q", c.subscription, c.location)
	}
	if _, err := c.Offers(ctxFor(t)); err != nil {
		t.Errorf("Offers with the subscription and location of the environment: %v", err)
	}
	clearAzureEnv(t)
	missingCA := filepath.Join(t.TempDir(), "none.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  []string
	}{
		{"no subscription", map[string]any{"subscription_id": nil}, []string{`"subscription_id"`, EnvSubscriptionID}},
		{"no location", map[string]any{"location": nil}, []string{`"location"`, EnvLocation}},
		{"unknown environment", map[string]any{"environment": "mars"}, []string{"mars", "usgovernment"}},
		{"plain http endpoint", map[string]any{"endpoint": "http://127.0.0.1:1"}, []string{"endpoint", "https"}},
		{"plain http authority", map[string]any{"authority_host": "http://127.0.0.1:1"}, []string{"authority_host", "https"}},
		{"gallery not a gallery", map[string]any{"gallery": "/subscriptions/x/resourceGroups/y"}, []string{"gallery", "Microsoft.Compute/galleries"}},
		{"secret without tenant", map[string]any{"tenant_id": nil}, []string{"tenant_id", EnvTenantID}},
		{"bad setting type", map[string]any{"location": 3.5}, []string{"location"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.newConnector(w.settings(tc.extra))
			if err == nil {
				t.Fatalf("no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
	// The CA file is read by the real transport only.
	for _, ca := range []string{missingCA, notPEM} {
		_, err := New(ctxFor(t), connectors.Settings{"subscription_id": "s", "location": "l", "ca_file": ca})
		if err == nil || !strings.Contains(err.Error(), "ca_file") {
			t.Errorf("ca_file %s: %v, want an error naming ca_file", ca, err)
		}
	}
	// The environments' clouds.
	for env, host := range map[string]string{"usgovernment": "login.microsoftonline.us", "china": "login.chinacloudapi.cn", "": "login.microsoftonline.com"} {
		c, err := New(ctxFor(t), connectors.Settings{"subscription_id": "s", "location": "l", "environment": env})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.(*Connector).armOpts.Cloud.ActiveDirectoryAuthorityHost; !strings.Contains(got, host) {
			t.Errorf("environment %q: authority %s, want %s", env, got, host)
		}
	}
}

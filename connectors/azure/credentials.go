package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// credentialHint says where credentials may come from, for errors.
const credentialHint = "set tenant_id, client_id and client_secret in the provider block; or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; " +
	"or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (workload identity); or log in with `az login`"

// credential is the connector's token credential: the one it chose, with
// what it is, so that a failure to get a token says which credential
// failed and what to set.
type credential struct {
	inner  azcore.TokenCredential
	source string
}

// credentialError is a failure to get a token.
type credentialError struct {
	source string
	err    error
}

func (e *credentialError) Error() string {
	return "getting a token from " + e.source + ": " + e.err.Error()
}
func (e *credentialError) Unwrap() error { return e.err }

func (c *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.inner.GetToken(ctx, opts)
	if err != nil {
		return tok, &credentialError{source: c.source, err: err}
	}
	return tok, nil
}

// newCredential chooses the credential: a service principal's client
// secret when the settings give one, the chain of environment, workload
// identity and Azure CLI (the order DefaultAzureCredential has them, less
// managed identity, which a provider does not run under) otherwise.
// noDiscovery skips MSAL's instance discovery, for an authority that is
// not one of the public clouds'.
func newCredential(settings connectors.Settings, subscription string, copts azcore.ClientOptions, noDiscovery bool) (*credential, error) {
	tenant, client := settings.String("tenant_id"), settings.String("client_id")
	if secret := settings.String("client_secret"); secret != "" {
		if tenant == "" {
			tenant = os.Getenv(EnvTenantID)
		}
		if client == "" {
			client = os.Getenv(EnvClientID)
		}
		if tenant == "" || client == "" {
			return nil, fmt.Errorf("client_secret needs tenant_id and client_id (or %s and %s)", EnvTenantID, EnvClientID)
		}
		cred, err := azidentity.NewClientSecretCredential(tenant, client, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, fmt.Errorf("the service principal of the provider settings: %w", err)
		}
		return &credential{inner: cred, source: "the service principal " + client + " of the provider settings (tenant_id, client_id, client_secret)"}, nil
	}
	var chain []azcore.TokenCredential
	var names []string
	if env, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: noDiscovery}); err == nil {
		chain, names = append(chain, env), append(names, "environment ("+EnvClientID+")")
	}
	if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "" {
		wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: copts, ClientID: client, TenantID: tenant, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return nil, fmt.Errorf("workload identity (AZURE_FEDERATED_TOKEN_FILE is set): %w", err)
		}
		chain, names = append(chain, wi), append(names, "workload identity (AZURE_FEDERATED_TOKEN_FILE)")
	}
	cli, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenant, Subscription: subscription})
	if err != nil {
		return nil, fmt.Errorf("the Azure CLI credential: %w", err)
	}
	chain, names = append(chain, cli), append(names, "the Azure CLI (az login)")
	cred, err := azidentity.NewChainedTokenCredential(chain, nil)
	if err != nil {
		return nil, err
	}
	return &credential{inner: cred, source: "the credential chain: " + strings.Join(names, ", ")}, nil
}

// credentialFailure classifies a failure to get a token: permanent (the
// credentials are wrong or missing: the message says what to set), or
// transient when Entra ID itself failed or could not be reached.
func credentialFailure(ctx context.Context, op string, ce *credentialError) *connectors.Error {
	e := &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindPermanent, Code: "CredentialUnavailable", Err: ce}
	summary := firstLines(ce.err.Error())
	var af *azidentity.AuthenticationFailedError
	if errors.As(ce.err, &af) {
		e.Code = "AuthenticationFailed"
		if af.RawResponse != nil {
			e.Status = af.RawResponse.StatusCode
			if code, desc := entraErrorOf(af.RawResponse); desc != "" {
				summary = code + ": " + desc
			}
			if e.Status == http.StatusTooManyRequests || e.Status >= 500 {
				e.Kind = connectors.KindTransient
			}
		}
	}
	hint := "To authenticate, " + credentialHint
	switch {
	case isTLSError(ce.err) || strings.Contains(ce.err.Error(), "x509: "):
		// MSAL keeps only the text of the TLS failure.
		e.Code, e.Kind, hint = "TLSError", connectors.KindPermanent, "Set ca_file to the CA that signs the authority's certificate"
	case ctx.Err() == nil && isNetError(ce.err):
		e.Kind = connectors.KindTransient
	}
	e.Message = fmt.Sprintf("getting a token from %s failed: %s. %s", ce.source, strings.TrimRight(summary, ". "), hint)
	return e
}

// entraErrorOf reads Entra ID's error answer: its code and the first
// sentence of its description (without the trace ids).
func entraErrorOf(resp *http.Response) (code, desc string) {
	// Payload keeps the body for azidentity's own Error, which reads it too.
	body, err := runtime.Payload(resp)
	if err != nil {
		return "", ""
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", ""
	}
	desc = e.Description
	if i := strings.Index(desc, " Trace ID:"); i > 0 {
		desc = desc[:i]
	}
	return e.Error, strings.TrimSpace(strings.ReplaceAll(desc, "\r\n", " "))
}

// firstLines keeps an error's text short: azidentity's errors end with
// the raw request and answer and a troubleshooting link.
func firstLines(s string) string {
	var keep []string
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") || strings.HasPrefix(line, "To troubleshoot") || strings.HasPrefix(line, "POST ") || strings.HasPrefix(line, "RESPONSE") {
			if len(keep) > 0 {
				break
			}
			continue
		}
		keep = append(keep, line)
		if len(keep) == 4 {
			break
		}
	}
	return strings.Join(keep, " ")
}

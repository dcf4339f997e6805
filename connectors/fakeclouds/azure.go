package fakeclouds

import (
	"errors"
	"path/filepath"

	"github.com/slipstream/terraform-provider-slipstream/connectors/azure/azurefake"
)

// startAzure serves a fake Azure subscription (Resource Manager and an
// Entra ID tenant) over HTTPS on loopback, with a CA of its own that
// Files writes for ca_file: the connector reaches it as it reaches an
// Azure Stack Hub, through endpoint, authority_host and ca_file, with the
// fake's service principal.
func startAzure(opts Options) (*Fake, error) {
	if opts.Dir == "" {
		return nil, errors.New("fakeclouds: the azure fake needs Options.Dir for its CA certificate")
	}
	api, err := azurefake.New(azurefake.Options{Cloud: opts.Cloud, Location: opts.Region})
	if err != nil {
		return nil, err
	}
	srv, err := api.StartTLS()
	if err != nil {
		return nil, errors.Join(err, api.Close())
	}
	o := api.Options()
	ca := filepath.Join(opts.Dir, "azure-ca.pem")
	return &Fake{
		Connector: "azure", Cloud: api.Cloud(), URL: srv.URL,
		Settings: map[string]string{"endpoint": srv.URL, "authority_host": srv.URL, "ca_file": ca,
			"tenant_id": o.TenantID, "client_id": o.ClientID, "client_secret": o.ClientSecret},
		Recipe: map[string]string{"subscription_id": o.SubscriptionID, "location": o.Location},
		// As a user's environment reaches Azure Stack Hub: the service
		// principal for azidentity's EnvironmentCredential, the endpoint
		// as its tools name it, the CA as the Azure CLI reads it.
		Env: map[string]string{"ARM_ENDPOINT": srv.URL, "AZURE_AUTHORITY_HOST": srv.URL, "REQUESTS_CA_BUNDLE": ca,
			"AZURE_TENANT_ID": o.TenantID, "AZURE_CLIENT_ID": o.ClientID, "AZURE_CLIENT_SECRET": o.ClientSecret,
			"AZURE_SUBSCRIPTION_ID": o.SubscriptionID, "AZURE_LOCATION": o.Location},
		Files:    map[string]string{ca: string(srv.CAPEM)},
		addImage: api.AddImage,
		close:    srv.Close,
	}, nil
}

package catalog

// The Apache CloudStack connector's settings.
func init() {
	register(&Connector{
		Name: "cloudstack", Title: "Apache CloudStack", ImageHint: "a template id", IDExample: "a VM uuid", Sized: true,
		Resource: "slipstream_cloudstack_instance", PoolResource: "slipstream_cloudstack_pool", ImageResource: "slipstream_cloudstack_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "service_offering",
		Settings: []Setting{
			{Name: "api_url", Type: String, Scope: ScopeProvider, Description: "API URL, e.g. `https://cloud.example.com/client/api` (a URL without a path gets `/client/api`); default `CLOUDSTACK_API_URL`."},
			{Name: "api_key", Type: String, Scope: ScopeProvider, Description: "API key; default `CLOUDSTACK_API_KEY`."},
			{Name: "secret_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Secret key; default `CLOUDSTACK_SECRET_KEY`."},
			{Name: "ca_file", Type: String, Scope: ScopeProvider, Description: "PEM file of the CA certificates to trust for the API's TLS (a private cloud's own CA); default the system's."},
			{Name: "zone", Type: String, Scope: ScopeInstance, Description: "Zone (name or id); by default the cloud's only zone."},
			{Name: "service_offering", Type: String, Scope: ScopeInstance, Description: "Service offering (name or id); by default the smallest that fits the component's cpu and ram."},
			{Name: "network_ids", Type: ListString, Scope: ScopeInstance, Description: "Networks to attach (ids), the first the default; by default the account's only network in the zone."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, registered as an SSH key pair named after its fingerprint."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags, beside the `slipstream-*` tags that name the deployment and instance."},
		},
	})
}

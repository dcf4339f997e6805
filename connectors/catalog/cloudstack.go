package catalog

// The Apache CloudStack connector's settings.
func init() {
	register(&Connector{
		Name: "cloudstack", Title: "Apache CloudStack", ImageHint: "a template id", IDExample: "a VM uuid", Sized: true,
		Resource: "slipstream_cloudstack_instance", PoolResource: "slipstream_cloudstack_pool", ImageResource: "slipstream_cloudstack_image", NeedsImage: true, Bootstrap: "user_data", TypeSetting: "service_offering",
		Settings: []Setting{
			{Name: "api_url", Type: String, Scope: ScopeProvider, Required: true, Description: "API URL, e.g. `https://cloud.example.com/client/api`."},
			{Name: "api_key", Type: String, Scope: ScopeProvider, Description: "API key; default `CLOUDSTACK_API_KEY`."},
			{Name: "secret_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Secret key; default `CLOUDSTACK_SECRET_KEY`."},
			{Name: "zone", Type: String, Scope: ScopeInstance, Description: "Zone (name or id)."},
			{Name: "service_offering", Type: String, Scope: ScopeInstance, Description: "Service offering; by default the smallest that fits cpu and ram."},
			{Name: "network_ids", Type: ListString, Scope: ScopeInstance, Description: "Networks to attach."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, registered as an SSH key pair."},
		},
	})
}

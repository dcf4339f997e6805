package catalog

// The CloudSigma connector's settings.
func init() {
	register(&Connector{
		Name: "cloudsigma", Title: "CloudSigma", ImageHint: "the uuid of a library drive, or of one of the account's drives, cloned for the machine", IDExample: "a server uuid", Sized: true, Resource: "slipstream_cloudsigma_server", PoolResource: "slipstream_cloudsigma_pool", ImageResource: "slipstream_cloudsigma_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "location", Type: String, Scope: ScopeProvider, Required: true, Description: "Location code, e.g. `zrh`: the API is `https://<location>.cloudsigma.com/api/2.0/`."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "Account e-mail; default `CLOUDSIGMA_USERNAME`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Account password; default `CLOUDSIGMA_PASSWORD`."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "API endpoint override; default `CLOUDSIGMA_ENDPOINT`, then the location's."},
			{Name: "vlan", Type: String, Scope: ScopeInstance, Description: "Private VLAN uuid to attach, beside the public DHCP interface."},
			{Name: "tags", Type: ListString, Scope: ScopeInstance, Description: "Tag names to put the server under."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, imported as a key pair named after its fingerprint."},
		},
	})
}

package catalog

// The OpenNebula connector's settings.
func init() {
	register(&Connector{
		Name: "opennebula", Title: "OpenNebula", ImageHint: "a template or image id", IDExample: "a VM id", Sized: true,
		Resource: "slipstream_opennebula_vm", PoolResource: "slipstream_opennebula_pool", ImageResource: "slipstream_opennebula_image", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Required: true, Description: "XML-RPC endpoint, e.g. `https://one.example.com:2633/RPC2`."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "User name; default `ONE_USERNAME`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password or login token; default `ONE_PASSWORD`."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Virtual network (name or id) to attach."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key put in the VM's context."},
		},
	})
}

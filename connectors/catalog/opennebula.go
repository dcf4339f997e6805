package catalog

// The OpenNebula connector's settings (connectors/opennebula).
func init() {
	register(&Connector{
		Name: "opennebula", Title: "OpenNebula", ImageHint: "an image id (a number), or `template:<id>` to instantiate a VM template", IDExample: "a VM id, such as `42`", Sized: true,
		Resource: "slipstream_opennebula_vm", PoolResource: "slipstream_opennebula_pool", ImageResource: "slipstream_opennebula_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "XML-RPC endpoint, e.g. `https://one.example.com:2633/RPC2`; default `OPENNEBULA_ENDPOINT`, then `ONE_XMLRPC`, then `http://localhost:2633/RPC2`."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "User name; default `OPENNEBULA_USERNAME`, then the `ONE_AUTH` file (`~/.one/one_auth`, `user:password`)."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password or login token; default `OPENNEBULA_PASSWORD`, then the `ONE_AUTH` file."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Virtual network (name or id) of the VM's NIC; by default the one network the user can use. A VM template keeps its own NICs unless this is set."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for root and the image's login user, in the VM's context (`SSH_PUBLIC_KEY`)."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra labels in the VM's user template, beside the `slipstream-*` ones; keys are lower-case letters, digits and dashes."},
		},
	})
}

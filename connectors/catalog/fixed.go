package catalog

// The existing hosts over SSH connector's settings.
func init() {
	register(&Connector{
		Name: "fixed", Title: "existing hosts", Resource: "slipstream_fixed_host", Implemented: true, NeedsImage: false, Bootstrap: "ssh_bootstrap",
		Settings: []Setting{
			{Name: "hosts", Type: ListString, Scope: ScopePool, Required: true, Description: "Addresses (host or host:port) of the existing machines, each node's own: a map from node name to its list, or one list when one node uses the cloud."},
			{Name: "user", Type: String, Scope: ScopeProvider, Description: "SSH login user (default root)."},
			{Name: "port", Type: Number, Scope: ScopeProvider, Description: "SSH port when a host gives none (default 22)."},
			{Name: "private_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "PEM private key for SSH login."},
			{Name: "private_key_file", Type: String, Scope: ScopeProvider, Description: "Path of the private key file for SSH login."},
			{Name: "known_hosts", Type: String, Scope: ScopeProvider, Description: "known_hosts lines pinning the hosts' keys."},
			{Name: "bastion_host", Type: String, Scope: ScopeProvider, Description: "Jump host to reach the hosts through."},
			{Name: "bastion_user", Type: String, Scope: ScopeProvider, Description: "Login user on the jump host."},
		},
	})
}

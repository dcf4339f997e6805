package catalog

// The OCCI connector's settings: planned (a SlipStream connector not yet
// rebuilt; docs/connectors.md).
func init() {
	register(&Connector{
		Name: "occi", Title: "OCCI 1.2 clouds", ImageHint: "an `os_tpl` mixin", IDExample: "a compute resource's location", Sized: true,
		Resource: "slipstream_occi_compute", NeedsImage: true, Bootstrap: "user_data", TypeSetting: "resource_tpl",
		Settings: []Setting{
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Required: true, Description: "OCCI endpoint, e.g. `https://occi.example.com:11443/`."},
			{Name: "token", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Keystone token or bearer token."},
			{Name: "resource_tpl", Type: String, Scope: ScopeInstance, Description: "`resource_tpl` mixin (size); by default the smallest that fits cpu and ram."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key given through the `ssh_key` mixin."},
		},
	})
}

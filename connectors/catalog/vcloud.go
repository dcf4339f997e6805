package catalog

// The VMware vCloud Director connector's settings: planned (a SlipStream
// connector not yet rebuilt; docs/connectors.md).
func init() {
	register(&Connector{
		Name: "vcloud", Title: "VMware vCloud Director", ImageHint: "a catalog's vApp template", IDExample: "a vApp id", Sized: true,
		Resource: "slipstream_vcloud_vapp", ImageResource: "slipstream_vcloud_image", NeedsImage: true, Bootstrap: "user_data",
		Settings: []Setting{
			{Name: "url", Type: String, Scope: ScopeProvider, Required: true, Description: "API URL, e.g. `https://vcd.example.com/api`."},
			{Name: "org", Type: String, Scope: ScopeProvider, Required: true, Description: "Organization."},
			{Name: "vdc", Type: String, Scope: ScopeProvider, Description: "Virtual data center; default the organization's only one."},
			{Name: "user", Type: String, Scope: ScopeProvider, Description: "User name; default `VCD_USER`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password; default `VCD_PASSWORD`."},
			{Name: "catalog", Type: String, Scope: ScopeInstance, Description: "Catalog holding the vApp templates."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Organization network to connect."},
		},
	})
}

package catalog

// The Microsoft Azure connector's settings.
func init() {
	register(&Connector{
		Name: "azure", Title: "Microsoft Azure", ImageHint: "an image id or `publisher:offer:sku:version`", IDExample: "a VM resource id", Sized: true,
		Resource: "slipstream_azure_vm", PoolResource: "slipstream_azure_pool", ImageResource: "slipstream_azure_image", NeedsImage: true, Bootstrap: "user_data", TypeSetting: "vm_size",
		Settings: []Setting{
			{Name: "subscription_id", Type: String, Scope: ScopeProvider, Required: true, Description: "Subscription to create the machines in."},
			{Name: "location", Type: String, Scope: ScopeProvider, Required: true, Description: "Azure region, e.g. `westeurope`."},
			{Name: "tenant_id", Type: String, Scope: ScopeProvider, Description: "Directory (tenant) of the service principal; default the credential chain's."},
			{Name: "client_id", Type: String, Scope: ScopeProvider, Description: "Service principal's application id; default the credential chain (environment, workload identity, Azure CLI)."},
			{Name: "client_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Service principal's secret."},
			{Name: "resource_group", Type: String, Scope: ScopeInstance, Description: "Resource group; by default one named after the deployment, deleted with it."},
			{Name: "vm_size", Type: String, Scope: ScopeInstance, Description: "VM size, e.g. `Standard_B2s`; by default the smallest that fits cpu and ram."},
			{Name: "subnet_id", Type: String, Scope: ScopeInstance, Description: "Subnet to attach; by default a virtual network made for the deployment."},
			{Name: "public_ip", Type: Bool, Scope: ScopeInstance, Description: "Give the VM a public address."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags."},
		},
	})
}

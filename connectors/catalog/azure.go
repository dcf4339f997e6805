package catalog

// The Microsoft Azure connector's settings.
func init() {
	register(&Connector{
		Name: "azure", Title: "Microsoft Azure", ImageHint: "a managed image or gallery image version id, or a marketplace URN `publisher:offer:sku:version`", IDExample: "a VM resource id, `/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/virtualMachines/NAME`", Sized: true,
		Resource: "slipstream_azure_vm", PoolResource: "slipstream_azure_pool", ImageResource: "slipstream_azure_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "vm_size",
		Settings: []Setting{
			{Name: "subscription_id", Type: String, Scope: ScopeProvider, Required: true, Description: "Subscription to create the machines in; default `AZURE_SUBSCRIPTION_ID`."},
			{Name: "location", Type: String, Scope: ScopeProvider, Required: true, Description: "Azure region, e.g. `westeurope`; default `AZURE_LOCATION`."},
			{Name: "tenant_id", Type: String, Scope: ScopeProvider, Description: "Directory (tenant) of the service principal; default `AZURE_TENANT_ID`."},
			{Name: "client_id", Type: String, Scope: ScopeProvider, Description: "Service principal's application id; default `AZURE_CLIENT_ID`. Without `client_secret`, the credential chain is used: environment (`AZURE_CLIENT_SECRET`…), workload identity (`AZURE_FEDERATED_TOKEN_FILE`), Azure CLI (`az login`)."},
			{Name: "client_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Service principal's secret, with `tenant_id` and `client_id`."},
			{Name: "environment", Type: String, Scope: ScopeProvider, Description: "Azure cloud: `public` (default), `usgovernment` or `china`; default `AZURE_ENVIRONMENT`."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "Resource Manager URL override (Azure Stack Hub, a test double), whose `/metadata/endpoints` gives the token audience and login endpoint; default `ARM_ENDPOINT`."},
			{Name: "authority_host", Type: String, Scope: ScopeProvider, Description: "Microsoft Entra ID authority override, e.g. `https://login.microsoftonline.com/`; default `AZURE_AUTHORITY_HOST`, then the endpoint's or environment's."},
			{Name: "ca_file", Type: String, Scope: ScopeProvider, Description: "PEM file of CA certificates to trust for Resource Manager and Entra ID (an Azure Stack Hub with a private CA); default `REQUESTS_CA_BUNDLE`."},
			{Name: "gallery", Type: String, Scope: ScopeProvider, Description: "Resource id of a compute gallery: images are captured as versions of an image definition in it (made when missing) instead of managed images."},
			{Name: "image_resource_group", Type: String, Scope: ScopeProvider, Description: "Resource group of the managed images SlipStream captures (default `slipstream-images`, made when missing and never deleted by SlipStream)."},
			{Name: "resource_group", Type: String, Scope: ScopeInstance, Description: "Existing resource group to create the VM in, never deleted; by default `slipstream-<deployment>`, made for the deployment and deleted with its last VM."},
			{Name: "vm_size", Type: String, Scope: ScopeInstance, Description: "VM size, e.g. `Standard_B2s`; by default the smallest size of the location that fits cpu and ram."},
			{Name: "subnet_id", Type: String, Scope: ScopeInstance, Description: "Resource id of an existing subnet to attach; by default a virtual network made for the deployment in the VM's resource group, deleted with its last VM."},
			{Name: "associate_public_ip", Type: Bool, Scope: ScopeInstance, Description: "Give the VM a Standard static public address (deleted with the VM)."},
			{Name: "admin_username", Type: String, Scope: ScopeInstance, Description: "Login user the SSH key is authorized for (default `azureuser`)."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the login user, in the VM's Linux configuration."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags, beside the `slipstream-*` tags that name the deployment and instance."},
		},
	})
}

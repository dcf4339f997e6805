package catalog

// The OpenStack connector's settings.
func init() {
	register(&Connector{
		Name: "openstack", Title: "OpenStack", ImageHint: "a Glance image id", IDExample: "a server uuid", Sized: true, Resource: "slipstream_openstack_instance", PoolResource: "slipstream_openstack_pool", ImageResource: "slipstream_openstack_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "flavor",
		Settings: []Setting{
			{Name: "auth_url", Type: String, Scope: ScopeProvider, Description: "Keystone v3 URL; default `OS_AUTH_URL` or the `clouds.yaml` entry."},
			{Name: "cloud", Type: String, Scope: ScopeProvider, Description: "Entry of `clouds.yaml` to take the credentials from; default `OS_CLOUD`."},
			{Name: "region", Type: String, Scope: ScopeProvider, Description: "Region name; default `OS_REGION_NAME`."},
			{Name: "user_name", Type: String, Scope: ScopeProvider, Description: "User name; default `OS_USERNAME`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password; default `OS_PASSWORD`."},
			{Name: "project_name", Type: String, Scope: ScopeProvider, Description: "Project (tenant) name; default `OS_PROJECT_NAME`."},
			{Name: "domain_name", Type: String, Scope: ScopeProvider, Description: "Domain of the user and project; default `OS_USER_DOMAIN_NAME`, then `Default`."},
			{Name: "application_credential_id", Type: String, Scope: ScopeProvider, Description: "Application credential id (instead of a password); default `OS_APPLICATION_CREDENTIAL_ID`."},
			{Name: "application_credential_secret", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Application credential secret; default `OS_APPLICATION_CREDENTIAL_SECRET`."},
			{Name: "flavor", Type: String, Scope: ScopeInstance, Description: "Flavor name; by default the smallest flavor that fits the component's cpu, ram and disk."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Network (name or id) to attach; by default the project's only network."},
			{Name: "floating_ip_pool", Type: String, Scope: ScopeInstance, Description: "External network to take a floating address from, once the server has a port."},
			{Name: "security_groups", Type: ListString, Scope: ScopeInstance, Description: "Security groups (names); they must let the machine reach the coordinator."},
			{Name: "availability_zone", Type: String, Scope: ScopeInstance, Description: "Availability zone."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, imported as a key pair named after its fingerprint."},
		},
	})
}

package catalog

// The Amazon EC2 connector's settings.
func init() {
	register(&Connector{
		Name: "ec2", Title: "Amazon EC2", ImageHint: "an AMI id, `ami-…`", IDExample: "`i-0123456789abcdef0`", Sized: true, Resource: "slipstream_ec2_instance", PoolResource: "slipstream_ec2_pool", ImageResource: "slipstream_ec2_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "instance_type",
		Settings: []Setting{
			{Name: "region", Type: String, Scope: ScopeProvider, Required: true, Description: "AWS region, e.g. `eu-west-1`."},
			{Name: "profile", Type: String, Scope: ScopeProvider, Description: "Profile of the shared configuration and credentials files (`~/.aws/config`, `~/.aws/credentials`); default `AWS_PROFILE`, then `default`."},
			{Name: "access_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Access key id; by default the standard AWS chain (environment, shared files, profile, instance role)."},
			{Name: "secret_key", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Secret access key, with `access_key`."},
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "EC2 API endpoint override (a private endpoint, or a test double)."},
			{Name: "instance_type", Type: String, Scope: ScopeInstance, Description: "Instance type, e.g. `t3.small`; by default the smallest type that fits the component's cpu and ram."},
			{Name: "subnet_id", Type: String, Scope: ScopeInstance, Description: "Subnet to start in; by default the default VPC's subnet of the region's default zone."},
			{Name: "security_group_ids", Type: ListString, Scope: ScopeInstance, Description: "Security groups; they must let the machine reach the coordinator."},
			{Name: "key_name", Type: String, Scope: ScopeInstance, Description: "Existing key pair for the image's login user (instead of `ssh_public_key`)."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for the image's login user, imported as a key pair named after its fingerprint."},
			{Name: "associate_public_ip", Type: Bool, Scope: ScopeInstance, Description: "Give the instance a public address."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra tags, beside the `slipstream-*` tags that name the deployment and instance."},
		},
	})
}

package catalog

// StratusLab (2010–2014) ran OpenNebula behind an authenticating proxy;
// its connector is the OpenNebula one with StratusLab's defaults
// (opennebula.NewStratusLab): a migration path for recipes written for
// StratusLab, onto the OpenNebula cloud that took its place. Its settings
// are OpenNebula's, with StratusLab's defaults, and its instance types.
func init() {
	register(&Connector{
		Name: "stratuslab", Title: "StratusLab", ImageHint: "an OpenNebula image id, `template:<id>`, or a StratusLab Marketplace identifier of an image imported with `STRATUSLAB_MARKETPLACE_ID` in its template", IDExample: "a VM id, such as `42`", Sized: true,
		Resource: "slipstream_stratuslab_vm", PoolResource: "slipstream_stratuslab_pool", ImageResource: "slipstream_stratuslab_image", Implemented: true, NeedsImage: true, Bootstrap: "user_data", TypeSetting: "instance_type",
		Settings: []Setting{
			{Name: "endpoint", Type: String, Scope: ScopeProvider, Description: "The front-end: a host name (StratusLab's proxy at `https://<host>:2634/xmlrpc`) or a URL; an `…/xmlrpc` URL is StratusLab's proxy, an `…/RPC2` one OpenNebula's own. Default `STRATUSLAB_ENDPOINT`, then `endpoint` of `~/.stratuslab/stratuslab-user.cfg`."},
			{Name: "username", Type: String, Scope: ScopeProvider, Description: "User name; default `STRATUSLAB_USERNAME`, then `username` of `~/.stratuslab/stratuslab-user.cfg`."},
			{Name: "password", Type: String, Scope: ScopeProvider, Sensitive: true, Description: "Password; default `STRATUSLAB_PASSWORD`, then `password` of `~/.stratuslab/stratuslab-user.cfg`."},
			{Name: "instance_type", Type: String, Scope: ScopeInstance, Description: "StratusLab instance type (`t1.micro`, `m1.small`, `m1.medium`, `m1.large`, `m1.xlarge`, `c1.medium`, `c1.xlarge`, or one of the configuration file's `[instance_types]`); by default the smallest that fits cpu and ram."},
			{Name: "network", Type: String, Scope: ScopeInstance, Description: "Virtual network (name or id) of the VM's NIC; default `public`, as StratusLab's."},
			{Name: "ssh_public_key", Type: String, Scope: ScopeInstance, Description: "Public key for root, in the VM's context (`PUBLIC_KEY` and cloud-init's `CLOUD_INIT_AUTHORIZED_KEYS`)."},
			{Name: "tags", Type: MapString, Scope: ScopeInstance, Description: "Extra labels in the VM's user template, beside the `slipstream-*` ones; keys are lower-case letters, digits and dashes."},
		},
	})
}

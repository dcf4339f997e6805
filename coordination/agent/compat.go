package agent

// What SlipStream's machine side gave a deployment's scripts, and what this
// agent gives in its place: the environment variables its node executor
// set for them, and the commands of its client they could call. An
// importer of SlipStream modules names, in its report, what a script uses
// that is not provided (see docs/ss-commands.md, which has the same
// tables). Sources: SlipStreamClient (github.com/slipstream/SlipStreamClient
// at ab86ef1a242131fb728c1c18fc31a263f2dd9d58), client/src/main/python and
// client/src/main/scripts; SlipStreamServer at
// 3ee5c516877699746c61c48fc72779fe3d4e4652,
// jar-connector/src/main/java/com/sixsq/slipstream/connector/CliConnectorBase.java.

// ScriptVariable is an environment variable a script run by SlipStream's
// node executor could read.
type ScriptVariable struct {
	Name string
	// SlipStream is what it held there, and for which scripts.
	SlipStream string
	// Provided: this agent sets it, with the same meaning.
	Provided bool
	// Here is what it holds under this agent, or why it is not set.
	Here string
	// Caveat, when set, is how a script that relies on more than the
	// meaning (an exact value, another service behind a URL) may behave
	// differently.
	Caveat string
}

// SlipStreamVariables are the variables SlipStream's scripts could read:
// those the server exported in a machine's user-data (CliConnectorBase's
// contextualization environment, passed on by the orchestrator), which a
// node executor started directly handed down, and those the executor set
// itself (NodeDeploymentExecutor: the report and scale targets' exports;
// /etc/default/slipstream-node). Variables whose name starts with "__"
// were the bootstrap's own and are left out.
var SlipStreamVariables = []ScriptVariable{
	{Name: "SLIPSTREAM_DIID", Provided: true,
		SlipStream: "the run's UUID (user-data)",
		Here:       "the deployment's id, in every script"},
	{Name: "SLIPSTREAM_SERVICEURL", Provided: true,
		SlipStream: "the SlipStream server's URL (user-data)",
		Here:       "the coordinator's URL, in every script",
		Caveat:     "the coordinator's API is not SlipStream's: a script that called SlipStream's REST API there (curl .../run/...) fails; ss-get and ss-set work"},
	{Name: "SLIPSTREAM_NODE_INSTANCE_NAME", Provided: true,
		SlipStream: "this instance's name, node.N (user-data)",
		Here:       "this instance's name, node.N, in every script"},
	{Name: "SLIPSTREAM_CLOUD", Provided: true,
		SlipStream: "the cloud (connector instance) the machine runs on (user-data)",
		Here:       "the recipe's name of the cloud the machine runs on, in every script",
		Caveat:     "the name is the recipe's, which may differ from the SlipStream connector's name"},
	{Name: "SLIPSTREAM_CONNECTOR_INSTANCE", Provided: true,
		SlipStream: "the connector instance (the cloud) the machine runs on (/etc/default/slipstream-node, in every script)",
		Here:       "the same as SLIPSTREAM_CLOUD, in every script",
		Caveat:     "the name is the recipe's, which may differ from the SlipStream connector's name"},
	{Name: "SLIPSTREAM_REPORT_DIR", Provided: true,
		SlipStream: "/var/log/slipstream/client, whose files are sent as the instance's reports (the report target's export; every script under older servers)",
		Here:       "the agent's reports folder, in every script: its files are sent as the instance's reports with the scripts' logs; empty when the instance starts, then kept across reports"},
	{Name: "SLIPSTREAM_SCALING_NODE", Provided: true,
		SlipStream: "the node being scaled (onvmadd, onvmremove, prescale, postscale)",
		Here:       "the node being scaled, in on_vm_add and on_vm_remove",
		Caveat:     "there is no prescale or postscale phase"},
	{Name: "SLIPSTREAM_SCALING_VMS", Provided: true,
		SlipStream: "the instances added or removed, space-separated names (onvmadd, onvmremove, prescale, postscale)",
		Here:       "the instances added or removed, space-separated names, in on_vm_add and on_vm_remove",
		Caveat:     "there is no prescale or postscale phase"},
	{Name: "SLIPSTREAM_SCALING_ACTION", Provided: true,
		SlipStream: "the scale action of this instance's own scale state (vm_create, vm_remove, vm_resize, disk_attach, disk_detach): empty on the instances that run onvmadd and onvmremove, which are operational (BaseWrapper.get_scale_action)",
		Here:       "the deployment's scale action, vm_add or vm_remove, in on_vm_add and on_vm_remove",
		Caveat:     "the values differ: vm_add where SlipStream would have said vm_create; SlipStream's hooks saw it empty"},
	{Name: "SLIPSTREAM_USERNAME",
		SlipStream: "the SlipStream user who deployed (user-data)",
		Here:       "not set: the coordinator has no user accounts, so a deployment has no user name"},
	{Name: "SLIPSTREAM_API_KEY",
		SlipStream: "the deploying user's API key, valid for everything the user may do (user-data)",
		Here:       "not set: a machine holds only its own instance's token, in a root-only file (SLIPSTREAM_TOKEN_FILE) the ss-* commands read; no script gets a credential in its environment"},
	{Name: "SLIPSTREAM_API_SECRET",
		SlipStream: "the secret of SLIPSTREAM_API_KEY (user-data)",
		Here:       "not set: see SLIPSTREAM_API_KEY"},
	{Name: "SLIPSTREAM_COOKIE",
		SlipStream: "a session cookie of the deploying user (user-data, older servers)",
		Here:       "not set: see SLIPSTREAM_API_KEY"},
	{Name: "SLIPSTREAM_BUNDLE_URL",
		SlipStream: "where the machine downloaded SlipStream's client (user-data)",
		Here:       "not set: there is no client to download; the bootstrap installs the agent, whose links are the ss-* commands"},
	{Name: "SLIPSTREAM_BOOTSTRAP_BIN",
		SlipStream: "where the machine downloaded SlipStream's bootstrap script (user-data)",
		Here:       "not set: the bootstrap comes in the user-data or over SSH, not from a URL"},
	{Name: "SLIPSTREAM_SS_CACHE_KEY",
		SlipStream: "the client's HTTP cache key (user-data)",
		Here:       "not set: the commands keep no cache"},
	{Name: "SLIPSTREAM_VERBOSITY_LEVEL",
		SlipStream: "the node executor's verbosity, 0 to 3 (user-data)",
		Here:       "not set: the agent logs at one level; the ss-* commands take -v"},
	{Name: "SLIPSTREAM_DEPLOYMENT_CREDENTIAL_IDS",
		SlipStream: "the ids of the deployment's cloud credentials (user-data, newer servers)",
		Here:       "not set: cloud credentials stay with whoever runs Terraform"},
	{Name: "SLIPSTREAM_HOME",
		SlipStream: "/opt/slipstream/client/sbin, where the client was installed (a node executor started directly)",
		Here:       "not set: there is no client installation; the ss-* commands are first on the scripts' PATH"},
	{Name: "SLIPSTREAM_CATEGORY",
		SlipStream: "the run's category, Deployment, Image or Machine (user-data, older servers)",
		Here:       "not set: a script learns its phase from SLIPSTREAM_PHASE"},
	{Name: "SLIPSTREAM_NODENAME",
		SlipStream: "the name of the machine the bootstrap ran on, \"machine\" or the orchestrator's (user-data, older servers)",
		Here:       "not set: there is no orchestrator; SLIPSTREAM_NODE_NAME is the node's name"},
}

// MissingVariable returns the SlipStream variable called name when the
// agent does not set it; ok is false for a variable it sets, or one that
// is not SlipStream's.
func MissingVariable(name string) (v ScriptVariable, ok bool) {
	for _, v := range SlipStreamVariables {
		if v.Name == name && !v.Provided {
			return v, true
		}
	}
	return ScriptVariable{}, false
}

// ClientCommand is a command of SlipStream's client a script on a machine
// could call.
type ClientCommand struct {
	Name string
	// Provided: the agent answers to this name (it links it on the
	// scripts' PATH), accepting SlipStream's options and exit codes.
	Provided bool
	// Here is why it is missing, and what to do instead.
	Here string
}

// userSide is why SlipStream's user-side commands are missing: they acted
// as the deploying user, with the API key every machine held.
const userSide = "not provided: it acted as the deploying user, whose credentials no machine holds here; from outside, "

// SlipStreamCommands are the ss-* commands of SlipStream's client
// (client/src/main/python/ss-*.py).
var SlipStreamCommands = []ClientCommand{
	{Name: "ss-get", Provided: true},
	{Name: "ss-get-all", Provided: true},
	{Name: "ss-set", Provided: true},
	{Name: "ss-display", Provided: true},
	{Name: "ss-random", Provided: true},
	{Name: "ss-abort", Provided: true},
	{Name: "ss-cancel-abort", Provided: true},
	{Name: "ss-node-add", Here: userSide + "raise the node's multiplicity in the recipe and apply it (the deployment scales in place)"},
	{Name: "ss-node-remove", Here: userSide + "lower the node's multiplicity in the recipe and apply it"},
	{Name: "ss-scale-resize", Here: userSide + "change the node's cpu, ram or instance_type in the recipe and apply it"},
	{Name: "ss-scale-disk", Here: userSide + "change the node's disk in the recipe and apply it"},
	{Name: "ss-execute", Here: userSide + "deploy with terraform apply"},
	{Name: "ss-terminate", Here: userSide + "terraform destroy (a script ends its own run with ss-abort)"},
	{Name: "ss-run-get", Here: userSide + "slipc status"},
	{Name: "ss-reports-get", Here: userSide + "download them from the coordinator's web view (GET /v1/deployments/{id}/reports/{instance}, with the admin token)"},
	{Name: "ss-login", Here: userSide + "there is nothing to log in to"},
	{Name: "ss-logout", Here: userSide + "there is nothing to log in to"},
	{Name: "ss-config-dump", Here: userSide + "the server's configuration has no counterpart"},
	{Name: "ss-module-get", Here: userSide + "modules are recipe files"},
	{Name: "ss-module-put", Here: userSide + "modules are recipe files"},
	{Name: "ss-module-delete", Here: userSide + "modules are recipe files"},
	{Name: "ss-module-download", Here: userSide + "modules are recipe files"},
	{Name: "ss-module-upload", Here: userSide + "modules are recipe files"},
	{Name: "ss-user-get", Here: userSide + "there are no user accounts"},
	{Name: "ss-user-put", Here: userSide + "there are no user accounts"},
}

// MissingCommand returns SlipStream's command called name when the agent
// does not provide it; ok is false for one it provides, or a name that is
// not SlipStream's.
func MissingCommand(name string) (c ClientCommand, ok bool) {
	for _, c := range SlipStreamCommands {
		if c.Name == name && !c.Provided {
			return c, true
		}
	}
	return ClientCommand{}, false
}

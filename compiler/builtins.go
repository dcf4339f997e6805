package compiler

// builtinParams are the runtime parameters the agent and coordinator keep on
// every instance (SlipStream's built-ins). Scripts may read them without
// declaring them.
var builtinParams = map[string]bool{
	"hostname": true, "instanceid": true, "statecustom": true, "vmstate": true, "abort": true,
	"complete": true, "url.ssh": true, "url.service": true, "scale.state": true, "nodename": true,
	"id": true, "cloudservice": true, "image.id": true, "state": true,
}

// builtinPreset are the built-ins that hold a value before any script of the
// instance runs; a wait on one of them never blocks for long. url.service and
// statecustom are written by the user's scripts and so are not preset.
var builtinPreset = map[string]bool{
	"hostname": true, "instanceid": true, "vmstate": true, "abort": true, "complete": true,
	"url.ssh": true, "scale.state": true, "nodename": true, "id": true, "cloudservice": true,
	"image.id": true, "state": true,
}

// builtinOutputs are the built-ins every component publishes as outputs, as
// SlipStream's default image outputs did.
var builtinOutputs = []string{"hostname", "instanceid"}

// emittedBuiltinOutputs are the built-ins slipc also makes Terraform
// outputs of: every node's addresses are what users look for first. The
// other built-ins stay reachable through slipstream_deployment_ready's
// outputs map, without an output block per node each.
var emittedBuiltinOutputs = []string{"hostname"}

package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// Schema version 1 of the deployment, machine and ready resources (issue
// 11: state that grows with nodes, not instances). Version 0 kept every
// instance's token and rendered bootstraps in slipstream_deployment
// (tokens, user_data, ssh_bootstrap, instances) and passed each machine
// its bootstrap (the machine resources' bootstrap attribute); version 1
// keeps per-node multiplicities there, and the machine resources render
// their machine's bootstrap themselves when they start it.
//
// The upgrades edit the stored JSON: what version 0 held and version 1
// does not is dropped, what version 1 adds is derived from what was
// there. Nothing runs on the machines: they keep the agents and tokens
// they were started with, and a plan after the upgrade (with the
// configuration slipc compiles now) is empty.

// jsonStateUpgrade returns the upgrader from version 0 that applies edit
// to the resource's attributes as stored.
func jsonStateUpgrade(edit func(attrs map[string]json.RawMessage) error) map[int64]resource.StateUpgrader {
	return map[int64]resource.StateUpgrader{0: {
		StateUpgrader: func(ctx context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
			if req.RawState == nil || req.RawState.JSON == nil {
				resp.Diagnostics.AddError("Cannot upgrade the state", "The stored state of this resource (schema version 0) is not JSON; it cannot be upgraded. Remove it with `terraform state rm` and import the resource.")
				return
			}
			var attrs map[string]json.RawMessage
			if err := json.Unmarshal(req.RawState.JSON, &attrs); err != nil {
				resp.Diagnostics.AddError("Cannot upgrade the state", fmt.Sprintf("Reading the stored state (schema version 0): %v", err))
				return
			}
			if err := edit(attrs); err != nil {
				resp.Diagnostics.AddError("Cannot upgrade the state", fmt.Sprintf("Upgrading the stored state from schema version 0: %v", err))
				return
			}
			b, err := json.Marshal(attrs)
			if err != nil {
				resp.Diagnostics.AddError("Cannot upgrade the state", err.Error())
				return
			}
			resp.DynamicValue = &tfprotov6.DynamicValue{JSON: b}
		},
	}}
}

// upgradeDeploymentV0 drops the per-instance attributes and derives each
// node's multiplicity.
func upgradeDeploymentV0(attrs map[string]json.RawMessage) error {
	for _, gone := range []string{"tokens", "user_data", "ssh_bootstrap", "instances"} {
		delete(attrs, gone)
	}
	var nodes map[string]struct {
		Multiplicity *int64 `json:"multiplicity"`
	}
	if raw, ok := attrs["nodes"]; ok {
		if err := json.Unmarshal(raw, &nodes); err != nil {
			return fmt.Errorf("nodes: %v", err)
		}
	}
	counts := map[string]int64{}
	for name, n := range nodes {
		if n.Multiplicity != nil {
			counts[name] = *n.Multiplicity
		}
	}
	b, _ := json.Marshal(counts)
	attrs["multiplicities"] = b
	return nil
}

// upgradeMachineV0 drops the bootstrap a machine resource was given.
func upgradeMachineV0(attrs map[string]json.RawMessage) error {
	delete(attrs, "bootstrap")
	return nil
}

// upgradeReadyV0 turns the list of instances the wait was for into the
// multiplicities it is given now.
func upgradeReadyV0(attrs map[string]json.RawMessage) error {
	var instances []string
	if raw, ok := attrs["instances"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &instances); err != nil {
			return fmt.Errorf("instances: %v", err)
		}
	}
	attrs["instances"] = json.RawMessage("null")
	attrs["compact"] = json.RawMessage("false")
	attrs["store_sensitive"] = json.RawMessage("null")
	attrs["outputs_json"] = json.RawMessage("null")
	attrs["sensitive_outputs_json"] = json.RawMessage("null")
	if instances == nil {
		attrs["multiplicities"] = json.RawMessage("null")
		return nil
	}
	counts := map[string]int64{}
	for _, inst := range instances {
		node, _, _ := strings.Cut(inst, ".")
		counts[node]++
	}
	b, _ := json.Marshal(counts)
	attrs["multiplicities"] = b
	return nil
}

package ec2

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// instanceNotFound are DescribeInstances' and TerminateInstances' codes
// for an id that names no instance.
var instanceNotFound = []string{"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}

// Describe returns the instance's state; a terminated one is not found.
func (c *Connector) Describe(ctx context.Context, id string) (*connectors.Machine, error) {
	out, err := c.api.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return nil, apiError(ctx, "DescribeInstances", err, instanceNotFound...)
	}
	for _, res := range out.Reservations {
		for _, inst := range res.Instances {
			if aws.ToString(inst.InstanceId) != id {
				continue
			}
			m := machineOf(inst)
			if m.State == connectors.StateTerminated {
				break
			}
			return m, nil
		}
	}
	return nil, connectors.NotFound(cloudName, "DescribeInstances", "instance", id)
}

// List returns the deployment's instances that are not terminated, all
// pages of them.
func (c *Connector) List(ctx context.Context, deployment string) ([]*connectors.Machine, error) {
	pages := awsec2.NewDescribeInstancesPaginator(c.api, &awsec2.DescribeInstancesInput{
		Filters: []types.Filter{
			{Name: aws.String("tag:" + connectors.LabelDeployment), Values: []string{deployment}},
			{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"}},
		},
		MaxResults: aws.Int32(1000),
	})
	var out []*connectors.Machine
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apiError(ctx, "DescribeInstances", err)
		}
		for _, res := range page.Reservations {
			for _, inst := range res.Instances {
				out = append(out, machineOf(inst))
			}
		}
	}
	return out, nil
}

// states are EC2's instance states in connectors' words.
var states = map[types.InstanceStateName]connectors.State{
	types.InstanceStateNamePending:      connectors.StatePending,
	types.InstanceStateNameRunning:      connectors.StateRunning,
	types.InstanceStateNameStopping:     connectors.StateStopping,
	types.InstanceStateNameStopped:      connectors.StateStopped,
	types.InstanceStateNameShuttingDown: connectors.StateTerminating,
	types.InstanceStateNameTerminated:   connectors.StateTerminated,
}

// machineOf is an instance as a connectors.Machine: its tags are its
// labels, but for Name, which is its name.
func machineOf(inst types.Instance) *connectors.Machine {
	m := &connectors.Machine{
		ID:        aws.ToString(inst.InstanceId),
		Type:      string(inst.InstanceType),
		ImageID:   aws.ToString(inst.ImageId),
		PrivateIP: aws.ToString(inst.PrivateIpAddress),
		PublicIP:  aws.ToString(inst.PublicIpAddress),
		Created:   aws.ToTime(inst.LaunchTime),
		Labels:    map[string]string{},
		Settings:  connectors.Settings{},
	}
	for _, t := range inst.Tags {
		if k := aws.ToString(t.Key); k == "Name" {
			m.Name = aws.ToString(t.Value)
		} else {
			m.Labels[k] = aws.ToString(t.Value)
		}
	}
	m.State = connectors.StatePending
	if inst.State != nil {
		if s, ok := states[inst.State.Name]; ok {
			m.State = s
		}
	}
	if r := inst.StateReason; r != nil && m.State != connectors.StatePending && m.State != connectors.StateRunning {
		code := aws.ToString(r.Code)
		switch {
		case strings.HasPrefix(code, "Server.") && (m.State == connectors.StateStopped || m.State == connectors.StateStopping):
			// EC2 stopped it (an internal error, no capacity, a failed
			// host): it has given up on the machine.
			m.State, m.Reason = connectors.StateError, reasonOf(r)
		case code != "Client.UserInitiatedShutdown":
			m.Reason = reasonOf(r) // stopped, but not by us
		}
	}
	if s := aws.ToString(inst.SubnetId); s != "" {
		m.Settings["subnet_id"] = s
	}
	var groups []string
	for _, g := range inst.SecurityGroups {
		groups = append(groups, aws.ToString(g.GroupId))
	}
	if len(groups) > 0 {
		m.Settings["security_group_ids"] = groups
	}
	if k := aws.ToString(inst.KeyName); k != "" {
		m.Settings["key_name"] = k
	}
	return m
}

// reasonOf is EC2's message on a state, which starts with its code.
func reasonOf(r *types.StateReason) string {
	if msg := aws.ToString(r.Message); msg != "" {
		return msg
	}
	return aws.ToString(r.Code)
}

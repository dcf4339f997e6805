package ec2

import (
	"context"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Delete terminates the instance and waits until it is terminated or
// gone. An instance that does not exist is deleted already.
func (c *Connector) Delete(ctx context.Context, id string) error {
	_, err := c.api.TerminateInstances(ctx, &awsec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err = apiError(ctx, "TerminateInstances", err, instanceNotFound...); connectors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	return connectors.WaitFor(ctx, connectors.PollBackoff, "instance "+id+" to terminate", func(ctx context.Context) (bool, string, error) {
		m, err := c.Describe(ctx, id) // terminated is not found
		if connectors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		return false, string(m.State), nil
	})
}

package ec2

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Snapshot stops the instance (if it runs), makes an AMI of it named
// name and tagged with labels (its root snapshot too), and waits until
// the AMI is available. When it fails after EC2 accepted the image, it
// returns the image's id with the error, for the caller to delete.
func (c *Connector) Snapshot(ctx context.Context, id, name string, labels map[string]string) (string, error) {
	if err := c.stop(ctx, id); err != nil {
		return "", err
	}
	in := &awsec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String(name), NoReboot: aws.Bool(true)}
	if len(labels) > 0 {
		var tags []types.Tag
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(labels[k])})
		}
		in.TagSpecifications = []types.TagSpecification{
			{ResourceType: types.ResourceTypeImage, Tags: tags},
			{ResourceType: types.ResourceTypeSnapshot, Tags: tags},
		}
	}
	out, err := c.api.CreateImage(ctx, in)
	var imageID string
	switch err = apiError(ctx, "CreateImage", err); {
	case err == nil:
		imageID = aws.ToString(out.ImageId)
	case codeOf(err) == "InvalidAMIName.Duplicate":
		// A retried Snapshot whose first CreateImage was accepted but
		// its answer lost: the image of that name is ours if it was made
		// from this instance.
		if imageID = c.imageMadeFrom(ctx, name, id); imageID == "" {
			return "", err
		}
	default:
		return "", err
	}
	err = connectors.WaitFor(ctx, connectors.PollBackoff, "image "+imageID+" to be available", func(ctx context.Context) (bool, string, error) {
		out, err := c.api.DescribeImages(ctx, &awsec2.DescribeImagesInput{ImageIds: []string{imageID}})
		if err = apiError(ctx, "DescribeImages", err, "InvalidAMIID.NotFound"); connectors.IsNotFound(err) {
			return false, "not visible yet", nil // EC2 is eventually consistent
		} else if err != nil {
			return false, "", err
		}
		if len(out.Images) == 0 {
			return false, "not visible yet", nil
		}
		img := out.Images[0]
		switch img.State {
		case types.ImageStateAvailable:
			return true, "", nil
		case types.ImageStatePending:
			return false, string(img.State), nil
		}
		msg := fmt.Sprintf("the image %s of instance %s is %s", imageID, id, img.State)
		if r := img.StateReason; r != nil {
			msg += ": " + reasonOf(r)
		}
		return false, "", &connectors.Error{Cloud: cloudName, Op: "CreateImage", Kind: connectors.KindPermanent, Code: "ImageFailed", Message: msg}
	})
	return imageID, err
}

// stop stops the instance and waits until it is stopped.
func (c *Connector) stop(ctx context.Context, id string) error {
	return connectors.WaitFor(ctx, connectors.PollBackoff, "instance "+id+" to stop", func(ctx context.Context) (bool, string, error) {
		m, err := c.Describe(ctx, id)
		if err != nil {
			return false, "", err
		}
		switch m.State {
		case connectors.StateStopped:
			return true, "", nil
		case connectors.StateRunning:
			_, err := c.api.StopInstances(ctx, &awsec2.StopInstancesInput{InstanceIds: []string{id}})
			return false, "stopping", apiError(ctx, "StopInstances", err) // IncorrectInstanceState: asked again
		case connectors.StatePending, connectors.StateStopping:
			return false, string(m.State), nil // EC2 stops an instance only once it runs
		case connectors.StateError:
			return false, "", &connectors.Error{Cloud: cloudName, Op: "CreateImage", Kind: connectors.KindPermanent, Code: "InstanceFailed",
				Message: fmt.Sprintf("instance %s failed (%s); there is nothing to image", id, m.Reason)}
		}
		return false, "", &connectors.Error{Cloud: cloudName, Op: "CreateImage", Kind: connectors.KindPermanent, Code: "IncorrectInstanceState",
			Message: fmt.Sprintf("instance %s is %s; there is nothing to image", id, m.State)}
	})
}

// imageMadeFrom is the id of this account's image named name if it was
// made from the instance, or "".
func (c *Connector) imageMadeFrom(ctx context.Context, name, instanceID string) string {
	out, err := c.api.DescribeImages(ctx, &awsec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []types.Filter{{Name: aws.String("name"), Values: []string{name}}},
	})
	if err != nil {
		return ""
	}
	for _, img := range out.Images {
		if aws.ToString(img.Name) == name && aws.ToString(img.SourceInstanceId) == instanceID {
			return aws.ToString(img.ImageId)
		}
	}
	return ""
}

// DeleteImage deregisters the AMI and deletes the EBS snapshots behind
// it. An image that does not exist is deleted already. The snapshots are
// deleted with retries here: once the image is deregistered, a later
// DeleteImage would not find them again.
func (c *Connector) DeleteImage(ctx context.Context, imageID string) error {
	out, err := c.api.DescribeImages(ctx, &awsec2.DescribeImagesInput{ImageIds: []string{imageID}})
	if err = apiError(ctx, "DescribeImages", err, "InvalidAMIID.NotFound", "InvalidAMIID.Malformed"); connectors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	var snapshots []string
	for _, img := range out.Images {
		for _, bd := range img.BlockDeviceMappings {
			if bd.Ebs != nil && aws.ToString(bd.Ebs.SnapshotId) != "" {
				snapshots = append(snapshots, aws.ToString(bd.Ebs.SnapshotId))
			}
		}
	}
	if len(out.Images) > 0 {
		_, err = c.api.DeregisterImage(ctx, &awsec2.DeregisterImageInput{ImageId: aws.String(imageID)})
		if err = apiError(ctx, "DeregisterImage", err, "InvalidAMIID.NotFound"); err != nil && !connectors.IsNotFound(err) {
			return err
		}
	}
	for _, snap := range snapshots {
		err := connectors.Retry(ctx, connectors.PollBackoff, nil, func(ctx context.Context) error {
			_, err := c.api.DeleteSnapshot(ctx, &awsec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
			err = apiError(ctx, "DeleteSnapshot", err, "InvalidSnapshot.NotFound")
			if codeOf(err) == "InvalidSnapshot.InUse" {
				// Still held by the image EC2 is deregistering.
				err.(*connectors.Error).Kind = connectors.KindTransient
			}
			if connectors.IsNotFound(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("deleting snapshot %s of image %s: %w", snap, imageID, err)
		}
	}
	return nil
}

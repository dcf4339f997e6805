package ec2

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// imageRoot is an AMI's root device and the size of its snapshot.
type imageRoot struct {
	device string
	sizeGB int
}

// imageRoot returns the root device of an AMI, which a root volume of
// another size must name.
func (c *Connector) imageRoot(ctx context.Context, id string) (imageRoot, error) {
	c.imageMu.Lock()
	root, ok := c.roots[id]
	c.imageMu.Unlock()
	if ok {
		return root, nil
	}
	out, err := c.api.DescribeImages(ctx, &awsec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		// An unknown image is a permanent error of the create.
		return imageRoot{}, apiError(ctx, "DescribeImages", err)
	}
	if len(out.Images) == 0 {
		return imageRoot{}, &connectors.Error{Cloud: cloudName, Op: "DescribeImages", Kind: connectors.KindPermanent, Code: "InvalidAMIID.NotFound",
			Message: fmt.Sprintf("the image %s does not exist (or is not shared with this account)", id)}
	}
	img := out.Images[0]
	root.device = aws.ToString(img.RootDeviceName)
	if root.device == "" {
		return imageRoot{}, &connectors.Error{Cloud: cloudName, Op: "DescribeImages", Kind: connectors.KindPermanent, Code: "NoRootDevice",
			Message: fmt.Sprintf("the image %s names no root device, so its root volume cannot be sized", id)}
	}
	for _, bd := range img.BlockDeviceMappings {
		if aws.ToString(bd.DeviceName) == root.device && bd.Ebs != nil {
			root.sizeGB = int(aws.ToInt32(bd.Ebs.VolumeSize))
		}
	}
	c.imageMu.Lock()
	c.roots[id] = root
	c.imageMu.Unlock()
	return root, nil
}

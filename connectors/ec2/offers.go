package ec2

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Offers lists the region's x86_64 instance types, asked once for the
// connector's life. Arm (Graviton) types are left out: generic sizing
// does not know the image's architecture, and an arm type is often the
// smallest fit for an x86 image that it cannot boot. An explicit
// instance_type reaches them.
func (c *Connector) Offers(ctx context.Context) ([]connectors.Offer, error) {
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	if c.offers != nil {
		return slices.Clone(c.offers), nil
	}
	pages := awsec2.NewDescribeInstanceTypesPaginator(c.api, &awsec2.DescribeInstanceTypesInput{
		Filters:    []types.Filter{{Name: aws.String("processor-info.supported-architecture"), Values: []string{"x86_64"}}},
		MaxResults: aws.Int32(100),
	})
	var offers []connectors.Offer
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, apiError(ctx, "DescribeInstanceTypes", err)
		}
		for _, t := range page.InstanceTypes {
			o := connectors.Offer{Name: string(t.InstanceType)}
			if t.VCpuInfo != nil {
				o.CPU = int(aws.ToInt32(t.VCpuInfo.DefaultVCpus))
			}
			if t.MemoryInfo != nil {
				o.RAMMB = int(aws.ToInt64(t.MemoryInfo.SizeInMiB))
			}
			// DiskGB 0: the root volume is EBS, sized on its own.
			offers = append(offers, o)
		}
	}
	slices.SortFunc(offers, func(a, b connectors.Offer) int { return strings.Compare(a.Name, b.Name) })
	c.offers = offers
	return slices.Clone(offers), nil
}

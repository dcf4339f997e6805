// Package ec2 is the connector for Amazon EC2, on the AWS SDK for Go v2:
// instances started with RunInstances (idempotent through a client token
// derived from the spec), found by their slipstream-* tags, imaged with
// CreateImage, and sized from DescribeInstanceTypes.
//
// It is tested against connectors/ec2/ec2fake, a fake EC2 that the real
// SDK talks to over HTTP, signatures and all.
package ec2

import (
	"sync"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// cloudName names the connector in errors.
const cloudName = "ec2"

// Connector is EC2 in one account and region.
type Connector struct {
	api *awsec2.Client

	keyMu sync.Mutex
	keys  map[string]bool // key pairs known to exist, by name

	imageMu sync.Mutex
	roots   map[string]imageRoot // root devices of AMIs, by id (an AMI never changes)

	offerMu sync.Mutex
	offers  []connectors.Offer // DescribeInstanceTypes, once
}

var (
	_ connectors.Connector = (*Connector)(nil)
	_ connectors.Factory   = New
)

func newConnector(api *awsec2.Client) *Connector {
	return &Connector{api: api, keys: map[string]bool{}, roots: map[string]imageRoot{}}
}

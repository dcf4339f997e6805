package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// maxUserData is EC2's limit on user-data, before base64.
const maxUserData = 16 * 1024

// maxTokenGenerations bounds the chain of client tokens one spec goes
// through when its earlier machines were terminated (see run).
const maxTokenGenerations = 50

// Create starts one machine with RunInstances and returns as soon as EC2
// has accepted it.
func (c *Connector) Create(ctx context.Context, spec connectors.MachineSpec) (*connectors.Machine, error) {
	ms, err := c.run(ctx, spec, 1, clientToken(spec, ""))
	if len(ms) > 0 {
		return ms[0], err
	}
	return nil, err
}

// CreateBatch starts count identical machines with one RunInstances and
// one client token.
func (c *Connector) CreateBatch(ctx context.Context, spec connectors.MachineSpec, count int) ([]*connectors.Machine, error) {
	if count < 1 || count > 1000 {
		return nil, &connectors.Error{Cloud: cloudName, Op: "RunInstances", Kind: connectors.KindPermanent, Code: "InvalidParameterValue",
			Message: fmt.Sprintf("a batch is 1 to 1000 machines, not %d", count)}
	}
	return c.run(ctx, spec, count, clientToken(spec, fmt.Sprintf("batch of %d", count)))
}

// clientToken is RunInstances' idempotency token for a spec: the same for
// every try of one create, so that a retry after a lost answer gets the
// machine the first try started rather than a second one. salt tells a
// batch from a single machine. The user-data is in it as well as the spec
// label: the provider hashes the spec with a placeholder token and then
// starts each machine (each batch) with a bootstrap token of its own, so
// two creates of one spec differ by their user-data alone.
func clientToken(spec connectors.MachineSpec, salt string) string {
	specHash := spec.Labels[connectors.LabelSpec]
	if specHash == "" {
		specHash = connectors.SpecHash(spec)
	}
	ud := sha256.Sum256([]byte(spec.UserData))
	return tokenOf(spec.Deployment, spec.Instance, specHash, hex.EncodeToString(ud[:]), salt)
}

// tokenOf hashes its parts into a token of 51 ASCII characters (EC2 takes
// up to 64).
func tokenOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "slipstream-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// run starts count machines of spec.
//
// EC2 keeps a client token for at least a day after its instances are
// terminated, and answers it with those instances. A spec created again
// after its machine was deleted (a replacement, or a machine terminated
// behind our back) would get the dead machine back. So when every
// instance of the answer is gone, run derives the next token from the
// previous one and the dead instance's id and asks again: the chain is
// the same on every try, so idempotency holds along it.
func (c *Connector) run(ctx context.Context, spec connectors.MachineSpec, count int, token string) ([]*connectors.Machine, error) {
	if len(spec.UserData) > maxUserData {
		return nil, &connectors.Error{Cloud: cloudName, Op: "RunInstances", Kind: connectors.KindPermanent, Code: "UserDataTooLarge",
			Message: fmt.Sprintf("the user-data is %d bytes; EC2 takes at most %d bytes (before base64)", len(spec.UserData), maxUserData)}
	}
	in, keyName, err := c.runInput(ctx, spec, count)
	if err != nil {
		return nil, err
	}
	for range maxTokenGenerations {
		in.ClientToken = aws.String(token)
		out, err := c.api.RunInstances(ctx, in)
		if err != nil {
			e := apiError(ctx, "RunInstances", err)
			if codeOf(e) == "InvalidKeyPair.NotFound" && keyName != "" {
				// The key pair we imported was deleted since: import it
				// again on the next try.
				c.forgetKeyPair(keyName)
				e.(*connectors.Error).Kind = connectors.KindTransient
			}
			return nil, e
		}
		if len(out.Instances) == 0 {
			return nil, &connectors.Error{Cloud: cloudName, Op: "RunInstances", Kind: connectors.KindTransient, Code: "NoInstances",
				Message: "EC2 accepted the request but returned no instances"}
		}
		if !allGone(out.Instances) {
			ms := make([]*connectors.Machine, len(out.Instances))
			for i, inst := range out.Instances {
				ms[i] = machineOf(inst)
			}
			return ms, nil
		}
		token = tokenOf(token, aws.ToString(out.Instances[0].InstanceId))
	}
	return nil, &connectors.Error{Cloud: cloudName, Op: "RunInstances", Kind: connectors.KindPermanent, Code: "ClientTokensExhausted",
		Message: fmt.Sprintf("%d machines of this spec were created and terminated within EC2's client-token retention; change the spec or wait a day", maxTokenGenerations)}
}

// allGone reports whether every instance is terminated or being so.
func allGone(insts []types.Instance) bool {
	for _, inst := range insts {
		if inst.State == nil || (inst.State.Name != types.InstanceStateNameTerminated && inst.State.Name != types.InstanceStateNameShuttingDown) {
			return false
		}
	}
	return true
}

// runInput builds RunInstances' request for spec: instance type, key
// pair, root volume, network and tags. keyName is the key pair it
// imported, if any.
func (c *Connector) runInput(ctx context.Context, spec connectors.MachineSpec, count int) (in *awsec2.RunInstancesInput, keyName string, err error) {
	typ := spec.Type
	if typ == "" {
		typ = spec.Settings.String("instance_type")
	}
	if typ == "" {
		offers, err := c.Offers(ctx)
		if err != nil {
			return nil, "", err
		}
		offer, err := connectors.PickOffer(cloudName, offers, spec.Size)
		if err != nil {
			return nil, "", err
		}
		typ = offer.Name
	}
	// The API's counts and sizes are 32-bit: a larger number from the
	// configuration must fail, not wrap.
	if count < 0 || count > math.MaxInt32 {
		return nil, "", fmt.Errorf("ec2: %d machines do not fit in one RunInstances request", count)
	}
	in = &awsec2.RunInstancesInput{
		ImageId:      aws.String(spec.ImageID),
		InstanceType: types.InstanceType(typ),
		MinCount:     aws.Int32(int32(count)),
		MaxCount:     aws.Int32(int32(count)),
	}
	if spec.UserData != "" {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(spec.UserData)))
	}
	if name := spec.Settings.String("key_name"); name != "" {
		in.KeyName = aws.String(name)
	} else if key := sshKeyOf(spec); key != "" {
		if keyName, err = c.ensureKeyPair(ctx, key); err != nil {
			return nil, "", err
		}
		in.KeyName = aws.String(keyName)
	}
	if spec.Size.DiskGB > 0 {
		root, err := c.imageRoot(ctx, spec.ImageID)
		if err != nil {
			return nil, "", err
		}
		// The size asked for is a minimum: EC2 refuses a root volume
		// smaller than the image's snapshot.
		disk := max(spec.Size.DiskGB, root.sizeGB)
		if disk > math.MaxInt32 {
			return nil, "", fmt.Errorf("ec2: a root volume of %d GiB is larger than EC2's API can ask for", disk)
		}
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{
			DeviceName: aws.String(root.device),
			Ebs:        &types.EbsBlockDevice{VolumeSize: aws.Int32(int32(disk)), DeleteOnTermination: aws.Bool(true)},
		}}
	}
	subnet, groups := spec.Settings.String("subnet_id"), spec.Settings.Strings("security_group_ids")
	if spec.Settings.Bool("associate_public_ip") {
		// A public address is asked for on the network interface, and
		// then the subnet and groups must be given there too.
		ni := types.InstanceNetworkInterfaceSpecification{DeviceIndex: aws.Int32(0), AssociatePublicIpAddress: aws.Bool(true),
			DeleteOnTermination: aws.Bool(true), Groups: groups}
		if subnet != "" {
			ni.SubnetId = aws.String(subnet)
		}
		in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{ni}
	} else {
		if subnet != "" {
			in.SubnetId = aws.String(subnet)
		}
		in.SecurityGroupIds = groups
	}
	tags := tagsOf(spec)
	in.TagSpecifications = []types.TagSpecification{
		{ResourceType: types.ResourceTypeInstance, Tags: tags},
		{ResourceType: types.ResourceTypeVolume, Tags: tags},
	}
	return in, keyName, nil
}

// sshKeyOf is the spec's public key (the per-machine ssh_public_key
// setting when the spec carries none).
func sshKeyOf(spec connectors.MachineSpec) string {
	if spec.SSHPublicKey != "" {
		return spec.SSHPublicKey
	}
	return spec.Settings.String("ssh_public_key")
}

// tagsOf is a machine's tags, sorted by key so that a retried request is
// the same request: the tags setting, then the spec's labels (which win),
// and Name.
func tagsOf(spec connectors.MachineSpec) []types.Tag {
	all := maps.Clone(spec.Settings.Map("tags"))
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, spec.Labels)
	if spec.Name != "" {
		all["Name"] = spec.Name
	}
	tags := make([]types.Tag, 0, len(all))
	for _, k := range slices.Sorted(maps.Keys(all)) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(all[k])})
	}
	return tags
}

package ec2fake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// maxUserData is EC2's limit on user-data, before base64.
const maxUserData = 16 * 1024

// runParams are the RunInstances parameters the fake acts on. Others that
// EC2 takes (Monitoring, Placement, MetadataOptions, …) are accepted and
// ignored.
type runParams struct {
	ImageID          string
	InstanceType     string
	MinCount         int
	MaxCount         int
	KeyName          string
	UserData         []byte
	SubnetID         string
	SecurityGroupIDs []string
	SecurityGroups   []string // by name
	Interfaces       []netInterface
	BlockDevices     []blockDevice
	Tags             map[string]map[string]string // by resource type
	ClientToken      string
}

type netInterface struct {
	DeviceIndex       string
	SubnetID          string
	SecurityGroupIDs  []string
	AssociatePublicIP bool
}

type blockDevice struct {
	DeviceName string
	VolumeSize int // GiB, 0: the snapshot's
	VolumeType string
	NoDevice   bool
}

// runInstancesParams are RunInstances' top-level parameters in the SDK's
// serializer: all accepted, those above acted on.
var runInstancesParams = []string{
	"AdditionalInfo", "BlockDeviceMapping", "CapacityReservationSpecification", "ClientToken", "CpuOptions",
	"CreditSpecification", "DisableApiStop", "DisableApiTermination", "EbsOptimized", "ElasticGpuSpecification",
	"ElasticInferenceAccelerator", "EnablePrimaryIpv6", "EnclaveOptions", "HibernationOptions", "IamInstanceProfile",
	"ImageId", "InstanceInitiatedShutdownBehavior", "InstanceMarketOptions", "InstanceType", "Ipv6AddressCount",
	"Ipv6Address", "KernelId", "KeyName", "LaunchTemplate", "LicenseSpecification", "MaintenanceOptions", "MaxCount",
	"MetadataOptions", "MinCount", "Monitoring", "NetworkInterface", "NetworkPerformanceOptions", "Operator",
	"Placement", "PrivateDnsNameOptions", "PrivateIpAddress", "RamdiskId", "SecondaryInterface", "SecurityGroupId",
	"SecurityGroup", "SubnetId", "TagSpecification", "UserData",
}

// parseRun reads and checks RunInstances' parameters as EC2 does before
// it looks at any resource.
func parseRun(p params) (runParams, *apiError) {
	var r runParams
	var e *apiError
	r.ImageID = p.get("ImageId")
	if r.ImageID == "" {
		return r, missingParameter("ImageId")
	}
	if !validID("ami", r.ImageID) {
		return r, malformedImageID(r.ImageID)
	}
	r.InstanceType = p.get("InstanceType")
	if r.InstanceType == "" {
		r.InstanceType = defaultInstanceType
	}
	if _, ok := lookupInstanceType(r.InstanceType); !ok {
		return r, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", r.InstanceType)
	}
	var ok bool
	if r.MinCount, ok, e = p.integer("MinCount", 1, 1000); e != nil {
		return r, e
	} else if !ok {
		return r, missingParameter("MinCount")
	}
	if r.MaxCount, ok, e = p.integer("MaxCount", 1, 1000); e != nil {
		return r, e
	} else if !ok {
		return r, missingParameter("MaxCount")
	}
	if r.MinCount > r.MaxCount {
		return r, errorf(http.StatusBadRequest, "InvalidParameterValue", "MinCount (%d) must not be greater than MaxCount (%d).", r.MinCount, r.MaxCount)
	}
	r.KeyName = p.get("KeyName")
	if ud, has := p["UserData"]; has {
		if r.UserData, e = decodeUserData(ud); e != nil {
			return r, e
		}
	}
	r.SubnetID = p.get("SubnetId")
	if r.SubnetID != "" && !validID("subnet", r.SubnetID) {
		return r, errorf(http.StatusBadRequest, "InvalidSubnetID.Malformed", "Invalid id: \"%s\" (expecting \"subnet-...\")", r.SubnetID)
	}
	if r.SecurityGroupIDs, e = securityGroupIDs(p, "SecurityGroupId"); e != nil {
		return r, e
	}
	if r.SecurityGroups, e = p.strings("SecurityGroup"); e != nil {
		return r, e
	}
	if r.Interfaces, e = parseInterfaces(p); e != nil {
		return r, e
	}
	if len(r.Interfaces) > 0 && r.SubnetID != "" {
		return r, invalidCombination("Network interfaces and an instance-level subnet ID may not be specified on the same request")
	}
	if len(r.Interfaces) > 0 && len(r.SecurityGroupIDs)+len(r.SecurityGroups) > 0 {
		return r, invalidCombination("Network interfaces and an instance-level security groups may not be specified on the same request")
	}
	if r.BlockDevices, e = parseBlockDevices(p); e != nil {
		return r, e
	}
	if r.Tags, e = parseTagSpecs(p, "instance", "volume", "network-interface", "spot-instances-request", "elastic-gpu"); e != nil {
		return r, e
	}
	r.ClientToken = p.get("ClientToken")
	if len(r.ClientToken) > 64 {
		return r, errorf(http.StatusBadRequest, "InvalidParameterValue", "The client token must be 64 characters or less.")
	}
	for i := 0; i < len(r.ClientToken); i++ {
		if r.ClientToken[i] > 0x7e || r.ClientToken[i] < 0x20 {
			return r, errorf(http.StatusBadRequest, "InvalidParameterValue", "The client token must be printable ASCII.")
		}
	}
	return r, nil
}

// decodeUserData undoes the base64 that the API wants user-data in, and
// applies EC2's limit to what it decodes to.
func decodeUserData(ud string) ([]byte, *apiError) {
	raw, err := base64.StdEncoding.DecodeString(ud)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid BASE64 encoding of user data.")
	}
	if len(raw) > maxUserData {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "User data is limited to %d bytes", maxUserData)
	}
	return raw, nil
}

func securityGroupIDs(p params, prefix string) ([]string, *apiError) {
	ids, e := p.strings(prefix)
	if e != nil {
		return nil, e
	}
	for _, id := range ids {
		if !validID("sg", id) {
			return nil, errorf(http.StatusBadRequest, "InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id)
		}
	}
	return ids, nil
}

func parseInterfaces(p params) ([]netInterface, *apiError) {
	ms, e := p.members("NetworkInterface")
	if e != nil {
		return nil, e
	}
	var out []netInterface
	for _, m := range ms {
		ni := netInterface{DeviceIndex: m["DeviceIndex"], SubnetID: m["SubnetId"]}
		if ni.DeviceIndex == "" && m["NetworkInterfaceId"] == "" {
			return nil, missingParameter("NetworkInterface.N.DeviceIndex")
		}
		if ni.SubnetID != "" && !validID("subnet", ni.SubnetID) {
			return nil, errorf(http.StatusBadRequest, "InvalidSubnetID.Malformed", "Invalid id: \"%s\" (expecting \"subnet-...\")", ni.SubnetID)
		}
		if ni.SecurityGroupIDs, e = securityGroupIDs(m, "SecurityGroupId"); e != nil {
			return nil, e
		}
		if ni.AssociatePublicIP, e = m.boolean("AssociatePublicIpAddress"); e != nil {
			return nil, e
		}
		out = append(out, ni)
	}
	if len(out) > 1 && slices.ContainsFunc(out, func(ni netInterface) bool { return ni.AssociatePublicIP }) {
		return nil, invalidCombination("The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.")
	}
	return out, nil
}

func parseBlockDevices(p params) ([]blockDevice, *apiError) {
	ms, e := p.members("BlockDeviceMapping")
	if e != nil {
		return nil, e
	}
	var out []blockDevice
	for _, m := range ms {
		bd := blockDevice{DeviceName: m["DeviceName"], VolumeType: m["Ebs.VolumeType"]}
		if bd.DeviceName == "" {
			return nil, missingParameter("BlockDeviceMapping.N.DeviceName")
		}
		if bd.VolumeSize, _, e = m.integer("Ebs.VolumeSize", 1, 65536); e != nil {
			return nil, e
		}
		_, bd.NoDevice = m["NoDevice"]
		out = append(out, bd)
	}
	return out, nil
}

// hash is a digest of everything but the client token: a retry with the
// token must ask for the same thing. Lists whose order means nothing are
// sorted, and maps marshal sorted.
func (r runParams) hash() string {
	c := r
	c.ClientToken = ""
	c.SecurityGroupIDs = slices.Sorted(slices.Values(r.SecurityGroupIDs))
	c.SecurityGroups = slices.Sorted(slices.Values(r.SecurityGroups))
	b, _ := json.Marshal(c) // #nosec G117 -- ClientToken is EC2's idempotency token, not a secret, and it is blanked above
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// tagsFor returns the tags asked for a resource type (a copy).
func (r runParams) tagsFor(rt string) map[string]string {
	out := map[string]string{}
	for k, v := range r.Tags[rt] {
		out[k] = v
	}
	return out
}

// publicIP reports whether the primary interface asks for a public
// address.
func (r runParams) publicIP() bool {
	return len(r.Interfaces) > 0 && r.Interfaces[0].AssociatePublicIP
}

// subnetAndGroups are where the primary interface goes.
func (r runParams) subnetAndGroups() (subnet string, groups []string) {
	subnet, groups = r.SubnetID, r.SecurityGroupIDs
	if len(r.Interfaces) > 0 {
		subnet, groups = r.Interfaces[0].SubnetID, r.Interfaces[0].SecurityGroupIDs
	}
	return subnet, groups
}

// joinIDs lists ids in an error message.
func joinIDs(ids []string) string { return strings.Join(ids, ", ") }

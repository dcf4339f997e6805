package ec2fake

import (
	"net/http"
	"slices"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// What the fake keeps in fakecloud.Machine.Extra: what only EC2 knows of
// an instance.
const (
	exReservation = "reservationId"
	exSubnet      = "subnetId"
	exVPC         = "vpcId"
	exGroups      = "securityGroupIds" // []string
	exRootDevice  = "rootDeviceName"
	exClientToken = "clientToken"
	exArch        = "architecture"
)

// The account's default network: where an instance goes when
// RunInstances names no subnet or security group.
const (
	defaultSubnet    = "subnet-0d5f1a2b3c4d5e6f7"
	defaultVPC       = "vpc-0a9b8c7d6e5f40312"
	defaultGroup     = "sg-0e1d2c3b4a5960718"
	defaultGroupName = "default"
)

// EC2's instance state codes.
var stateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

// ec2State is EC2's name for a fake machine's state. EC2 has no error
// state: a machine the cloud gave up on shows as stopped, with a
// Server.* state reason.
func ec2State(m fakecloud.Machine) string {
	switch m.State {
	case fakecloud.Pending:
		return "pending"
	case fakecloud.Running:
		return "running"
	case fakecloud.Stopping:
		return "stopping"
	case fakecloud.Stopped, fakecloud.Failed:
		return "stopped"
	case fakecloud.Terminating:
		return "shutting-down"
	}
	return "terminated"
}

// stateReason is EC2's word on why an instance is in its state.
func stateReason(m fakecloud.Machine) *stateReasonXML {
	switch m.State {
	case fakecloud.Pending:
		return &stateReasonXML{"pending", "pending"}
	case fakecloud.Failed:
		if m.Reason == fakecloud.ReasonNoCapacity {
			return &stateReasonXML{"Server.InsufficientInstanceCapacity", "Server.InsufficientInstanceCapacity: Insufficient capacity to satisfy the instance request"}
		}
		msg := "Server.InternalError: Internal error on launch"
		if m.Reason != "" {
			msg = "Server.InternalError: " + m.Reason
		}
		return &stateReasonXML{"Server.InternalError", msg}
	case fakecloud.Stopping, fakecloud.Stopped, fakecloud.Terminating, fakecloud.Terminated:
		return &stateReasonXML{"Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown"}
	}
	return nil
}

type instanceStateXML struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type groupXML struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type instanceBlockDeviceXML struct {
	DeviceName string `xml:"deviceName"`
	Ebs        struct {
		VolumeID            string `xml:"volumeId"`
		Status              string `xml:"status"`
		AttachTime          string `xml:"attachTime"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
	} `xml:"ebs"`
}

type instanceXML struct {
	InstanceID         string                   `xml:"instanceId"`
	ImageID            string                   `xml:"imageId"`
	State              instanceStateXML         `xml:"instanceState"`
	PrivateDNSName     string                   `xml:"privateDnsName"`
	DNSName            string                   `xml:"dnsName"`
	Reason             string                   `xml:"reason"`
	KeyName            string                   `xml:"keyName,omitempty"`
	AmiLaunchIndex     int                      `xml:"amiLaunchIndex"`
	InstanceType       string                   `xml:"instanceType"`
	LaunchTime         string                   `xml:"launchTime"`
	AvailabilityZone   string                   `xml:"placement>availabilityZone"`
	Tenancy            string                   `xml:"placement>tenancy"`
	Monitoring         string                   `xml:"monitoring>state"`
	SubnetID           string                   `xml:"subnetId"`
	VPCID              string                   `xml:"vpcId"`
	PrivateIP          string                   `xml:"privateIpAddress,omitempty"`
	PublicIP           string                   `xml:"ipAddress,omitempty"`
	SourceDestCheck    bool                     `xml:"sourceDestCheck"`
	Groups             []groupXML               `xml:"groupSet>item"`
	StateReason        *stateReasonXML          `xml:"stateReason,omitempty"`
	Architecture       string                   `xml:"architecture"`
	RootDeviceType     string                   `xml:"rootDeviceType"`
	RootDeviceName     string                   `xml:"rootDeviceName"`
	BlockDevices       []instanceBlockDeviceXML `xml:"blockDeviceMapping>item"`
	VirtualizationType string                   `xml:"virtualizationType"`
	ClientToken        string                   `xml:"clientToken,omitempty"`
	Tags               []tagXML                 `xml:"tagSet>item,omitempty"`
	Hypervisor         string                   `xml:"hypervisor"`
	EbsOptimized       bool                     `xml:"ebsOptimized"`
	EnaSupport         bool                     `xml:"enaSupport"`
}

func extraString(m fakecloud.Machine, k string) string {
	v, _ := m.Extra[k].(string)
	return v
}

// volumeID is the id of an instance's root volume, derived from the
// instance's so that it is stable without being stored.
func volumeID(instanceID string) string { return "vol-" + strings.TrimPrefix(instanceID, "i-") }

// dashedIP is an address as EC2's host names spell it ("10-0-0-1").
func dashedIP(ip string) string { return strings.ReplaceAll(ip, ".", "-") }

// instanceXML is a machine as DescribeInstances shows it; s.mu is held
// (the launch index comes from the reservation).
func (s *Server) instanceXML(m fakecloud.Machine) instanceXML {
	name := ec2State(m)
	x := instanceXML{
		InstanceID: m.ID, ImageID: m.ImageID, State: instanceStateXML{stateCodes[name], name},
		KeyName: m.KeyName, InstanceType: m.Type, LaunchTime: timestamp(m.Created),
		AvailabilityZone: s.opts.Region + "a", Tenancy: "default", Monitoring: "disabled",
		SubnetID: extraString(m, exSubnet), VPCID: extraString(m, exVPC), SourceDestCheck: true,
		StateReason: stateReason(m), Architecture: extraString(m, exArch), RootDeviceType: "ebs",
		RootDeviceName: extraString(m, exRootDevice), VirtualizationType: "hvm", ClientToken: extraString(m, exClientToken),
		Tags: tagSet(m.Labels), Hypervisor: "xen", EbsOptimized: false, EnaSupport: true,
	}
	if !m.Launched.IsZero() {
		x.LaunchTime = timestamp(m.Launched)
	}
	x.AmiLaunchIndex = max(slices.Index(s.reservations[extraString(m, exReservation)], m.ID), 0)
	if name != "terminated" {
		// A terminated instance has left its network.
		x.PrivateIP = m.PrivateIP
		if m.PrivateIP != "" {
			x.PrivateDNSName = "ip-" + dashedIP(m.PrivateIP) + "." + s.opts.Region + ".compute.internal"
		}
		groups, _ := m.Extra[exGroups].([]string)
		for _, g := range groups {
			gx := groupXML{GroupID: g}
			if g == defaultGroup {
				gx.GroupName = defaultGroupName
			}
			x.Groups = append(x.Groups, gx)
		}
		var bd instanceBlockDeviceXML
		bd.DeviceName = x.RootDeviceName
		bd.Ebs.VolumeID, bd.Ebs.Status, bd.Ebs.AttachTime, bd.Ebs.DeleteOnTermination = volumeID(m.ID), "attached", timestamp(m.Created), true
		x.BlockDevices = []instanceBlockDeviceXML{bd}
	} else {
		x.SubnetID, x.VPCID = "", ""
	}
	if name == "running" && m.PublicIP != "" {
		// EC2 gives the public address at boot and takes it back at stop.
		x.PublicIP = m.PublicIP
		x.DNSName = "ec2-" + dashedIP(m.PublicIP) + "." + s.opts.Region + ".compute.amazonaws.com"
	}
	if name == "stopped" || name == "terminated" {
		x.Reason = "User initiated"
		if m.State == fakecloud.Failed {
			x.Reason = "Server initiated"
		}
	}
	return x
}

// reservationXML is one reservation of DescribeInstances and the body of
// RunInstances' answer.
type reservationXML struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Groups        []groupXML    `xml:"groupSet>item"`
	Instances     []instanceXML `xml:"instancesSet>item"`
}

// reservations groups machines (in order) into their reservations; s.mu
// is held.
func (s *Server) reservationsOf(ms []fakecloud.Machine) []reservationXML {
	var out []reservationXML
	for _, m := range ms {
		rid := extraString(m, exReservation)
		if n := len(out); n > 0 && out[n-1].ReservationID == rid {
			out[n-1].Instances = append(out[n-1].Instances, s.instanceXML(m))
			continue
		}
		out = append(out, reservationXML{ReservationID: rid, OwnerID: s.opts.AccountID, Instances: []instanceXML{s.instanceXML(m)}})
	}
	return out
}

func malformedInstanceID(id string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
}

func instanceNotFound(ids ...string) *apiError {
	if len(ids) == 1 {
		return errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ids[0])
	}
	return errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", joinIDs(ids))
}

func incorrectInstanceState(id, state, what string) *apiError {
	return errorf(http.StatusBadRequest, "IncorrectInstanceState", "The instance '%s' is not in a state from which it can be %s (it is %s).", id, what, state)
}

package ec2fake

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

var instanceFilters = knownFilters("instance-id", "image-id", "instance-state-name", "instance-state-code",
	"instance-type", "key-name", "subnet-id", "vpc-id", "reservation-id", "client-token", "private-ip-address",
	"ip-address", "availability-zone", "instance.group-id")

// instanceField answers DescribeInstances' filters for one machine.
func (s *Server) instanceField(m fakecloud.Machine) func(string) []string {
	return func(name string) []string {
		if vals, ok := tagField(name, m.Labels); ok {
			return vals
		}
		x := s.instanceXML(m)
		switch name {
		case "instance-id":
			return []string{m.ID}
		case "image-id":
			return []string{m.ImageID}
		case "instance-state-name":
			return []string{x.State.Name}
		case "instance-state-code":
			return []string{strconv.Itoa(x.State.Code)}
		case "instance-type":
			return []string{m.Type}
		case "key-name":
			return []string{m.KeyName}
		case "subnet-id":
			return []string{x.SubnetID}
		case "vpc-id":
			return []string{x.VPCID}
		case "reservation-id":
			return []string{extraString(m, exReservation)}
		case "client-token":
			return []string{x.ClientToken}
		case "private-ip-address":
			return []string{x.PrivateIP}
		case "ip-address":
			return []string{x.PublicIP}
		case "availability-zone":
			return []string{x.AvailabilityZone}
		case "instance.group-id":
			var ids []string
			for _, g := range x.Groups {
				ids = append(ids, g.GroupID)
			}
			return ids
		}
		return nil
	}
}

// instanceKey orders instances for paging as the cloud lists them: by
// creation, then id.
func instanceKey(m fakecloud.Machine) string {
	return fmt.Sprintf("%020d/%s", m.Created.UnixNano(), m.ID)
}

var describeInstancesAction = action{
	params: []string{"Filter", "IncludeManagedResources", "InstanceId", "MaxResults", "NextToken"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		ids, e := p.strings("InstanceId")
		if e != nil {
			return nil, e
		}
		filters, e := parseFilters(p, instanceFilters)
		if e != nil {
			return nil, e
		}
		max, after, e := pageParams(p, "DescribeInstances", 5, 1000)
		if e != nil {
			return nil, e
		}
		if max > 0 && len(ids) > 0 {
			return nil, invalidCombination("The parameter instancesSet cannot be used with the parameter maxResults")
		}
		var missing []string
		for _, id := range ids {
			if !validID("i", id) {
				return nil, malformedInstanceID(id)
			}
			if _, err := s.cloud.Machine(id); err != nil {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return nil, instanceNotFound(missing...)
		}
		all := s.cloud.Machines(func(m *fakecloud.Machine) bool { return len(ids) == 0 || slices.Contains(ids, m.ID) })
		s.mu.Lock()
		defer s.mu.Unlock()
		var match []fakecloud.Machine
		for _, m := range all {
			if matchAll(filters, s.instanceField(m)) {
				match = append(match, m)
			}
		}
		got, next := page(match, instanceKey, "DescribeInstances", after, max, s.opts.PageLimit)
		return &describeInstancesResponse{Reservations: s.reservationsOf(got), NextToken: next}, nil
	},
}

type describeInstancesResponse struct {
	Reservations []reservationXML `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

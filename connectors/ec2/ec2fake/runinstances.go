package ec2fake

import (
	"context"
	"errors"
	"net/http"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// runRecord is what a RunInstances with a client token did, so that a
// retry with the token answers the same reservation instead of starting
// machines again. EC2 keeps tokens for at least a day after the instances
// are terminated; the fake keeps them for its life.
type runRecord struct {
	hash          string
	reservationID string
	machines      []fakecloud.Machine // as first answered, for machines since gone
}

var runInstancesAction = action{
	params: runInstancesParams,
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		r, e := parseRun(p)
		if e != nil {
			return nil, e
		}
		// One RunInstances at a time: a token's check and its record
		// must not interleave with a concurrent retry of the same token.
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.ClientToken != "" {
			if rec, ok := s.tokens[r.ClientToken]; ok {
				if rec.hash != r.hash() {
					return nil, errorf(http.StatusBadRequest, "IdempotentParameterMismatch",
						"Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
				}
				return s.replay(rec), nil
			}
		}
		req, e := s.runRequest(r)
		if e != nil {
			return nil, e
		}
		ms, err := s.cloud.Run(req)
		switch {
		case errors.Is(err, fakecloud.ErrImageNotFound):
			return nil, imageNotFound(r.ImageID)
		case errors.Is(err, fakecloud.ErrImageNotReady):
			return nil, errorf(http.StatusBadRequest, "InvalidAMIID.Unavailable", "The image id '[%s]' is not available: it is pending or deregistered.", r.ImageID)
		case err != nil:
			return nil, cloudError(err)
		}
		rid := extraString(ms[0], exReservation)
		for _, m := range ms {
			s.reservations[rid] = append(s.reservations[rid], m.ID)
		}
		if r.ClientToken != "" {
			s.tokens[r.ClientToken] = &runRecord{hash: r.hash(), reservationID: rid, machines: ms}
		}
		// RunInstances answers one reservation: its fields are the answer.
		res := s.reservationsOf(ms)[0]
		return &res, nil
	},
}

// runRequest resolves what RunInstances names (image, key pair, security
// groups) into the fake cloud's request; s.mu is held.
func (s *Server) runRequest(r runParams) (fakecloud.RunRequest, *apiError) {
	img, err := s.cloud.Image(r.ImageID)
	if err != nil {
		return fakecloud.RunRequest{}, imageNotFound(r.ImageID)
	}
	info := s.imageInfo(img)
	disk := info.VolumeGB
	for _, bd := range r.BlockDevices {
		if bd.DeviceName != info.RootDevice || bd.VolumeSize == 0 {
			continue
		}
		if bd.VolumeSize < info.VolumeGB {
			return fakecloud.RunRequest{}, errorf(http.StatusBadRequest, "InvalidBlockDeviceMapping",
				"Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", bd.VolumeSize, info.SnapshotID, info.VolumeGB)
		}
		disk = bd.VolumeSize
	}
	var keys []string
	if r.KeyName != "" {
		k, err := s.cloud.Key(r.KeyName)
		if err != nil {
			return fakecloud.RunRequest{}, keyPairNotFound(r.KeyName)
		}
		keys = []string{k.PublicKey}
	}
	subnet, groups := r.subnetAndGroups()
	for _, name := range r.SecurityGroups {
		if name != defaultGroupName {
			return fakecloud.RunRequest{}, errorf(http.StatusBadRequest, "InvalidGroup.NotFound",
				"The security group '%s' does not exist in default VPC '%s'", name, defaultVPC)
		}
		groups = append(groups, defaultGroup)
	}
	if subnet == "" {
		subnet = defaultSubnet
	}
	if len(groups) == 0 {
		groups = []string{defaultGroup}
	}
	t, _ := lookupInstanceType(r.InstanceType) // parseRun checked it
	tags := r.tagsFor("instance")
	return fakecloud.RunRequest{
		Op: "RunInstances", Name: tags["Name"], ImageID: r.ImageID, Type: t.Name, CPU: t.VCPUs, RAMMB: t.MemMiB,
		DiskGB: disk, UserData: r.UserData, SSHKeys: keys, KeyName: r.KeyName, Labels: tags, PublicIP: r.publicIP(),
		Count: r.MaxCount,
		Extra: map[string]any{
			exReservation: newID("r"), exSubnet: subnet, exVPC: defaultVPC, exGroups: groups,
			exRootDevice: info.RootDevice, exClientToken: r.ClientToken, exArch: info.Architecture,
		},
	}, nil
}

// replay answers a repeated client token: the first answer's reservation,
// with its machines as they are now; s.mu is held.
func (s *Server) replay(rec *runRecord) response {
	ms := make([]fakecloud.Machine, len(rec.machines))
	for i, first := range rec.machines {
		m, err := s.cloud.Machine(first.ID)
		if err != nil {
			// Gone from the cloud: it was terminated long ago.
			m = first
			m.State = fakecloud.Terminated
		}
		ms[i] = m
	}
	res := s.reservationsOf(ms)[0]
	return &res
}

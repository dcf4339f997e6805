package ec2fake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// CreateImage and DeregisterImage: AMIs made from instances, with the
// snapshot of their root volume, and their removal.

// amiName is what EC2 allows in an AMI name.
var amiName = regexp.MustCompile(`^[a-zA-Z0-9()\[\] ./\-'@_]{3,128}$`)

var createImageAction = action{
	params: []string{"BlockDeviceMapping", "BootModeOverride", "Description", "InstanceId", "Name", "NoReboot", "SnapshotLocation", "TagSpecification"},
	run: func(s *Server, ctx context.Context, p params) (response, *apiError) {
		id, name := p.get("InstanceId"), p.get("Name")
		switch {
		case id == "":
			return nil, missingParameter("InstanceId")
		case name == "":
			return nil, missingParameter("Name")
		case !validID("i", id):
			return nil, malformedInstanceID(id)
		case !amiName.MatchString(name):
			return nil, errorf(http.StatusBadRequest, "InvalidAMIName.Malformed",
				"AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ' ', '@' and '''")
		}
		if _, e := p.boolean("NoReboot"); e != nil {
			return nil, e
		}
		tags, e := parseTagSpecs(p, "image", "snapshot")
		if e != nil {
			return nil, e
		}
		m, err := s.cloud.Machine(id)
		if err != nil {
			return nil, instanceNotFound(id)
		}
		if e := s.checkAMIName(name); e != nil {
			return nil, e
		}
		restart := false
		switch m.State {
		case fakecloud.Stopped:
		case fakecloud.Running:
			// EC2 reboots a running instance for a consistent image (or,
			// with NoReboot, copies its disk as it is): the fake's
			// machines are imaged stopped, so it stops and restarts it.
			if m, err = s.stopAndWait(ctx, id); err != nil {
				return nil, cloudError(err)
			}
			restart = true
		default:
			return nil, incorrectInstanceState(id, ec2State(m), "imaged")
		}
		imgID, e := s.snapshotMachine(m, name, p.get("Description"), tags)
		if restart {
			// The image is made either way; a machine that cannot start
			// again (terminated meanwhile) shows its state to
			// DescribeInstances, as it would on EC2.
			_, _ = s.cloud.Start(id)
		}
		if e != nil {
			return nil, e
		}
		return &createImageResponse{ImageID: imgID}, nil
	},
}

type createImageResponse struct {
	ImageID string `xml:"imageId"`
}

// checkAMIName refuses a name another AMI of the account has.
func (s *Server) checkAMIName(name string) *apiError {
	for _, img := range s.cloud.Images() {
		if img.Name == name && s.imageInfo(img).OwnerID == s.opts.AccountID {
			return errorf(http.StatusBadRequest, "InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, img.ID)
		}
	}
	return nil
}

// stopAndWait stops a machine and waits until it is stopped.
func (s *Server) stopAndWait(ctx context.Context, id string) (fakecloud.Machine, error) {
	if _, err := s.cloud.Stop(id); err != nil {
		return fakecloud.Machine{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s.cloud.WaitMachine(ctx, id, func(m fakecloud.Machine) bool { return m.State != fakecloud.Stopping })
}

// snapshotMachine makes the image of a stopped machine and the snapshot
// of its root volume.
func (s *Server) snapshotMachine(m fakecloud.Machine, name, desc string, tags map[string]map[string]string) (string, *apiError) {
	info := imageInfo{RootDevice: extraString(m, exRootDevice), VolumeGB: m.DiskGB, SnapshotID: newID("snap"),
		Architecture: extraString(m, exArch), Description: desc}.withDefaults(s.opts.AccountID)
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.cloud.Snapshot(m.ID, name, tags["image"], info.extra())
	switch {
	case errors.Is(err, fakecloud.ErrDuplicate):
		return "", errorf(http.StatusBadRequest, "InvalidAMIName.Duplicate", "AMI name %s is already in use", name)
	case errors.Is(err, fakecloud.ErrIncorrectState):
		return "", incorrectInstanceState(m.ID, ec2State(m), "imaged")
	case errors.Is(err, fakecloud.ErrNotFound):
		return "", instanceNotFound(m.ID)
	case err != nil:
		return "", cloudError(err)
	}
	snapTags := tags["snapshot"]
	if snapTags == nil {
		snapTags = map[string]string{}
	}
	s.snapshots[info.SnapshotID] = &snapshot{ID: info.SnapshotID, ImageID: img.ID, VolumeGB: info.VolumeGB, OwnerID: s.opts.AccountID,
		VolumeID: volumeID(m.ID), Description: fmt.Sprintf("Created by CreateImage(%s) for %s", m.ID, img.ID),
		Started: img.Created, Tags: maps.Clone(snapTags)}
	return img.ID, nil
}

var deregisterImageAction = action{
	params: []string{"DeleteAssociatedSnapshots", "ImageId"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		id := p.get("ImageId")
		switch {
		case id == "":
			return nil, missingParameter("ImageId")
		case !validID("ami", id):
			return nil, malformedImageID(id)
		}
		withSnapshots, e := p.boolean("DeleteAssociatedSnapshots")
		if e != nil {
			return nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		img, err := s.cloud.Image(id)
		if err != nil {
			return nil, imageNotFound(id)
		}
		switch err := s.cloud.DeleteImage(id); {
		case errors.Is(err, fakecloud.ErrImageNotFound):
			return nil, imageNotFound(id)
		case errors.Is(err, fakecloud.ErrIncorrectState):
			// EC2 would deregister it; the fake's images are layers under
			// the machines and images made from them, and go only after
			// those. IncorrectState is EC2's word for "not now".
			return nil, errorf(http.StatusBadRequest, "IncorrectState", "The image %s cannot be deregistered yet: %v", id, err)
		case err != nil:
			return nil, cloudError(err)
		}
		delete(s.imageTags, id)
		out := &deregisterImageResponse{Return: true}
		if snap := s.imageInfo(img).SnapshotID; withSnapshots && s.snapshots[snap] != nil {
			delete(s.snapshots, snap)
			out.Deleted = append(out.Deleted, deletedSnapshotXML{SnapshotID: snap, ReturnCode: "success"})
		}
		return out, nil
	},
}

type deletedSnapshotXML struct {
	SnapshotID string `xml:"snapshotId"`
	ReturnCode string `xml:"returnCode"`
}

type deregisterImageResponse struct {
	Return  bool                 `xml:"return"`
	Deleted []deletedSnapshotXML `xml:"deleteSnapshotResultSet>item,omitempty"`
}

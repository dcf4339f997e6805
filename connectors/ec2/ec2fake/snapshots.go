package ec2fake

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// snapshot is the EBS snapshot behind an AMI's root volume. It outlives
// its image, as in EC2: DeregisterImage leaves it, DeleteSnapshot removes
// it once no image uses it.
type snapshot struct {
	ID          string
	ImageID     string
	VolumeID    string
	VolumeGB    int
	OwnerID     string
	Description string
	Started     time.Time
	Tags        map[string]string
}

// status is the snapshot's EBS status: its image's progress while the
// image exists, "completed" once the image is gone.
func (s *Server) snapshotStatus(snap *snapshot) string {
	img, err := s.cloud.Image(snap.ImageID)
	if err != nil {
		return "completed"
	}
	switch img.State {
	case "pending":
		return "pending"
	case "failed":
		return "error"
	}
	return "completed"
}

type snapshotXML struct {
	SnapshotID  string   `xml:"snapshotId"`
	VolumeID    string   `xml:"volumeId"`
	Status      string   `xml:"status"`
	StartTime   string   `xml:"startTime"`
	Progress    string   `xml:"progress"`
	OwnerID     string   `xml:"ownerId"`
	VolumeSize  int      `xml:"volumeSize"`
	Description string   `xml:"description"`
	Encrypted   bool     `xml:"encrypted"`
	StorageTier string   `xml:"storageTier"`
	Tags        []tagXML `xml:"tagSet>item,omitempty"`
}

// snapshotXML is a snapshot as DescribeSnapshots shows it; s.mu is held.
func (s *Server) snapshotXML(snap *snapshot) snapshotXML {
	x := snapshotXML{SnapshotID: snap.ID, VolumeID: snap.VolumeID, Status: s.snapshotStatus(snap), StartTime: timestamp(snap.Started),
		Progress: "100%", OwnerID: snap.OwnerID, VolumeSize: snap.VolumeGB, Description: snap.Description, StorageTier: "standard",
		Tags: tagSet(snap.Tags)}
	if x.VolumeID == "" {
		x.VolumeID = "vol-ffffffff" // EC2's placeholder for a snapshot not taken from a volume of the account
	}
	if x.Status == "pending" {
		x.Progress = "0%"
	}
	return x
}

func snapshotNotFound(ids ...string) *apiError {
	word := "snapshot"
	if len(ids) > 1 {
		word = "snapshots"
	}
	return errorf(http.StatusBadRequest, "InvalidSnapshot.NotFound", "The %s '%s' does not exist.", word, joinIDs(ids))
}

func malformedSnapshotID(id string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidSnapshotID.Malformed", "Invalid id: \"%s\" (expecting \"snap-...\")", id)
}

var snapshotFilters = knownFilters("snapshot-id", "status", "owner-id", "volume-id", "volume-size", "description")

func (s *Server) snapshotField(snap *snapshot) func(string) []string {
	return func(name string) []string {
		if vals, ok := tagField(name, snap.Tags); ok {
			return vals
		}
		x := s.snapshotXML(snap)
		switch name {
		case "snapshot-id":
			return []string{x.SnapshotID}
		case "status":
			return []string{x.Status}
		case "owner-id":
			return []string{x.OwnerID}
		case "volume-id":
			return []string{x.VolumeID}
		case "volume-size":
			return []string{strconv.Itoa(x.VolumeSize)}
		case "description":
			return []string{x.Description}
		}
		return nil
	}
}

var describeSnapshotsAction = action{
	params: []string{"Filter", "MaxResults", "NextToken", "Owner", "RestorableBy", "SnapshotId"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		ids, e := p.strings("SnapshotId")
		if e != nil {
			return nil, e
		}
		owners, e := p.strings("Owner")
		if e != nil {
			return nil, e
		}
		filters, e := parseFilters(p, snapshotFilters)
		if e != nil {
			return nil, e
		}
		max, after, e := pageParams(p, "DescribeSnapshots", 5, 1000)
		if e != nil {
			return nil, e
		}
		if max > 0 && len(ids) > 0 {
			return nil, invalidCombination("The parameter SnapshotIds cannot be used with the parameter MaxResults")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var missing []string
		for _, id := range ids {
			if !validID("snap", id) {
				return nil, malformedSnapshotID(id)
			}
			if s.snapshots[id] == nil {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return nil, snapshotNotFound(missing...)
		}
		var match []*snapshot
		for _, id := range slices.Sorted(maps.Keys(s.snapshots)) {
			snap := s.snapshots[id]
			if len(ids) > 0 && !slices.Contains(ids, id) {
				continue
			}
			if len(owners) > 0 && !slices.ContainsFunc(owners, func(o string) bool {
				return o == snap.OwnerID || o == "self" && snap.OwnerID == s.opts.AccountID
			}) {
				continue
			}
			if matchAll(filters, s.snapshotField(snap)) {
				match = append(match, snap)
			}
		}
		got, next := page(match, func(snap *snapshot) string { return snap.ID }, "DescribeSnapshots", after, max, s.opts.PageLimit)
		out := &describeSnapshotsResponse{NextToken: next}
		for _, snap := range got {
			out.Snapshots = append(out.Snapshots, s.snapshotXML(snap))
		}
		return out, nil
	},
}

type describeSnapshotsResponse struct {
	Snapshots []snapshotXML `xml:"snapshotSet>item"`
	NextToken string        `xml:"nextToken,omitempty"`
}

var deleteSnapshotAction = action{
	params: []string{"SnapshotId"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		id := p.get("SnapshotId")
		switch {
		case id == "":
			return nil, missingParameter("SnapshotId")
		case !validID("snap", id):
			return nil, malformedSnapshotID(id)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		snap := s.snapshots[id]
		if snap == nil {
			return nil, snapshotNotFound(id)
		}
		if _, err := s.cloud.Image(snap.ImageID); err == nil {
			return nil, errorf(http.StatusBadRequest, "InvalidSnapshot.InUse", "The snapshot %s is currently in use by %s", id, snap.ImageID)
		}
		delete(s.snapshots, id)
		return &returnResponse{Return: true}, nil
	},
}

package ec2fake

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// What the fake keeps in fakecloud.Image.Extra: the AMI's EBS root.
const (
	exImageRootDevice = "rootDeviceName"
	exImageVolumeGB   = "volumeSize"
	exImageSnapshot   = "snapshotId"
	exImageOwner      = "ownerId"
	exImageOwnerAlias = "ownerAlias"
	exImageArch       = "architecture"
	exImageDesc       = "description"
)

// BaseImage is an AMI to start machines from, registered with AddImage.
type BaseImage struct {
	// ID is the AMI id; default a new "ami-…".
	ID          string
	Name        string
	Description string
	// RootDeviceName is the device of the root volume (default
	// "/dev/xvda"): a RunInstances block device mapping on it resizes
	// the root volume.
	RootDeviceName string
	// VolumeGB is the size of the root snapshot (default 8); a root
	// volume may not be smaller.
	VolumeGB int
	// Architecture is "x86_64" (default) or "arm64".
	Architecture string
	// OwnerID owns the image (default the fake's account, so that
	// Owner=self finds it); OwnerAlias is "amazon" for AWS's own.
	OwnerID    string
	OwnerAlias string
	// Layers and LoginUser are the fakecloud image's (see
	// fakecloud.Image).
	Layers    []string
	LoginUser string
	Tags      map[string]string
}

// AddImage registers an available AMI, with the EBS snapshot behind its
// root volume, and returns its id.
func (s *Server) AddImage(b BaseImage) (string, error) {
	if b.ID != "" && !validID("ami", b.ID) {
		return "", fmt.Errorf("ec2fake: image id %q is not shaped like an AMI id (ami- and 8 or 17 hex digits)", b.ID)
	}
	info := imageInfo{RootDevice: b.RootDeviceName, VolumeGB: b.VolumeGB, SnapshotID: newID("snap"), OwnerID: b.OwnerID,
		OwnerAlias: b.OwnerAlias, Architecture: b.Architecture, Description: b.Description}.withDefaults(s.opts.AccountID)
	img, err := s.cloud.AddImage(fakecloud.Image{ID: b.ID, Name: b.Name, Layers: b.Layers, LoginUser: b.LoginUser, Labels: b.Tags, Extra: info.extra()})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots[info.SnapshotID] = &snapshot{ID: info.SnapshotID, ImageID: img.ID, VolumeGB: info.VolumeGB, OwnerID: info.OwnerID,
		Description: "Root volume of " + img.ID, Started: img.Created, Tags: map[string]string{}}
	return img.ID, nil
}

// imageInfo is what EC2 says of an AMI beyond the fake cloud's image.
type imageInfo struct {
	RootDevice   string
	VolumeGB     int
	SnapshotID   string
	OwnerID      string
	OwnerAlias   string
	Architecture string
	Description  string
}

func (i imageInfo) withDefaults(account string) imageInfo {
	if i.RootDevice == "" {
		i.RootDevice = "/dev/xvda"
	}
	if i.VolumeGB <= 0 {
		i.VolumeGB = 8
	}
	if i.OwnerID == "" {
		i.OwnerID = account
	}
	if i.Architecture == "" {
		i.Architecture = "x86_64"
	}
	return i
}

func (i imageInfo) extra() map[string]any {
	return map[string]any{
		exImageRootDevice: i.RootDevice, exImageVolumeGB: i.VolumeGB, exImageSnapshot: i.SnapshotID,
		exImageOwner: i.OwnerID, exImageOwnerAlias: i.OwnerAlias, exImageArch: i.Architecture, exImageDesc: i.Description,
	}
}

// imageInfo reads an image's EC2 data (defaults for an image registered
// on the cloud directly rather than with AddImage).
func (s *Server) imageInfo(img fakecloud.Image) imageInfo {
	str := func(k string) string { v, _ := img.Extra[k].(string); return v }
	size, _ := img.Extra[exImageVolumeGB].(int)
	return imageInfo{RootDevice: str(exImageRootDevice), VolumeGB: size, SnapshotID: str(exImageSnapshot), OwnerID: str(exImageOwner),
		OwnerAlias: str(exImageOwnerAlias), Architecture: str(exImageArch), Description: str(exImageDesc)}.withDefaults(s.opts.AccountID)
}

// imageTagsOf is an image's tags: as made, unless CreateTags or
// DeleteTags changed them since; s.mu is held.
func (s *Server) imageTagsOf(img fakecloud.Image) map[string]string {
	if t, ok := s.imageTags[img.ID]; ok {
		return t
	}
	return img.Labels
}

type imageBlockDeviceXML struct {
	DeviceName string `xml:"deviceName"`
	Ebs        struct {
		SnapshotID          string `xml:"snapshotId"`
		VolumeSize          int    `xml:"volumeSize"`
		DeleteOnTermination bool   `xml:"deleteOnTermination"`
		VolumeType          string `xml:"volumeType"`
		Encrypted           bool   `xml:"encrypted"`
	} `xml:"ebs"`
}

type imageXML struct {
	ImageID            string                `xml:"imageId"`
	ImageLocation      string                `xml:"imageLocation"`
	ImageState         string                `xml:"imageState"`
	ImageOwnerID       string                `xml:"imageOwnerId"`
	CreationDate       string                `xml:"creationDate"`
	IsPublic           bool                  `xml:"isPublic"`
	Architecture       string                `xml:"architecture"`
	ImageType          string                `xml:"imageType"`
	ImageOwnerAlias    string                `xml:"imageOwnerAlias,omitempty"`
	Name               string                `xml:"name"`
	Description        string                `xml:"description,omitempty"`
	RootDeviceType     string                `xml:"rootDeviceType"`
	RootDeviceName     string                `xml:"rootDeviceName"`
	BlockDevices       []imageBlockDeviceXML `xml:"blockDeviceMapping>item"`
	VirtualizationType string                `xml:"virtualizationType"`
	Tags               []tagXML              `xml:"tagSet>item,omitempty"`
	StateReason        *stateReasonXML       `xml:"stateReason,omitempty"`
	Hypervisor         string                `xml:"hypervisor"`
	EnaSupport         bool                  `xml:"enaSupport"`
	SourceInstanceID   string                `xml:"sourceInstanceId,omitempty"`
}

// imageXML is an image as DescribeImages shows it; s.mu is held.
func (s *Server) imageXML(img fakecloud.Image) imageXML {
	info := s.imageInfo(img)
	x := imageXML{
		ImageID: img.ID, ImageLocation: info.OwnerID + "/" + img.Name, ImageState: img.State, ImageOwnerID: info.OwnerID,
		CreationDate: timestamp(img.Created), Architecture: info.Architecture, ImageType: "machine", ImageOwnerAlias: info.OwnerAlias,
		Name: img.Name, Description: info.Description, RootDeviceType: "ebs", RootDeviceName: info.RootDevice,
		VirtualizationType: "hvm", Tags: tagSet(s.imageTagsOf(img)), Hypervisor: "xen", EnaSupport: true, SourceInstanceID: img.Source,
	}
	var bd imageBlockDeviceXML
	bd.DeviceName = info.RootDevice
	bd.Ebs.SnapshotID, bd.Ebs.VolumeSize, bd.Ebs.DeleteOnTermination, bd.Ebs.VolumeType = info.SnapshotID, info.VolumeGB, true, "gp3"
	x.BlockDevices = []imageBlockDeviceXML{bd}
	if img.State == "failed" {
		x.StateReason = &stateReasonXML{"Client.InternalError", "Client.InternalError: Snapshot of the instance's volume failed"}
	}
	return x
}

func malformedImageID(id string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
}

func imageNotFound(ids ...string) *apiError {
	return errorf(http.StatusBadRequest, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", joinIDs(ids))
}

var imageFilters = knownFilters("image-id", "name", "state", "owner-id", "owner-alias", "architecture",
	"root-device-name", "root-device-type", "is-public", "image-type", "description", "block-device-mapping.snapshot-id")

func (s *Server) imageField(img fakecloud.Image) func(string) []string {
	return func(name string) []string {
		if vals, ok := tagField(name, s.imageTagsOf(img)); ok {
			return vals
		}
		x := s.imageXML(img)
		switch name {
		case "image-id":
			return []string{x.ImageID}
		case "name":
			return []string{x.Name}
		case "state":
			return []string{x.ImageState}
		case "owner-id":
			return []string{x.ImageOwnerID}
		case "owner-alias":
			return []string{x.ImageOwnerAlias}
		case "architecture":
			return []string{x.Architecture}
		case "root-device-name":
			return []string{x.RootDeviceName}
		case "root-device-type":
			return []string{x.RootDeviceType}
		case "is-public":
			return []string{strconv.FormatBool(x.IsPublic)}
		case "image-type":
			return []string{x.ImageType}
		case "description":
			return []string{x.Description}
		case "block-device-mapping.snapshot-id":
			return []string{x.BlockDevices[0].Ebs.SnapshotID}
		}
		return nil
	}
}

// ownedBy reports whether an image matches DescribeImages' Owner.N: an
// account id, "self", or an alias such as "amazon".
func (s *Server) ownedBy(img fakecloud.Image, owners []string) bool {
	if len(owners) == 0 {
		return true
	}
	info := s.imageInfo(img)
	for _, o := range owners {
		if o == info.OwnerID || o == "self" && info.OwnerID == s.opts.AccountID || o != "" && o == info.OwnerAlias {
			return true
		}
	}
	return false
}

var describeImagesAction = action{
	params: []string{"ExecutableBy", "Filter", "ImageId", "IncludeDeprecated", "IncludeDisabled", "MaxResults", "NextToken", "Owner"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		ids, e := p.strings("ImageId")
		if e != nil {
			return nil, e
		}
		owners, e := p.strings("Owner")
		if e != nil {
			return nil, e
		}
		filters, e := parseFilters(p, imageFilters)
		if e != nil {
			return nil, e
		}
		max, after, e := pageParams(p, "DescribeImages", 5, 1000)
		if e != nil {
			return nil, e
		}
		if max > 0 && len(ids) > 0 {
			return nil, invalidCombination("The parameter ImageIds cannot be used with the parameter MaxResults")
		}
		var missing []string
		for _, id := range ids {
			if !validID("ami", id) {
				return nil, malformedImageID(id)
			}
			if _, err := s.cloud.Image(id); err != nil {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return nil, imageNotFound(missing...)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var match []fakecloud.Image
		for _, img := range s.cloud.Images() { // sorted by id
			if (len(ids) == 0 || slices.Contains(ids, img.ID)) && s.ownedBy(img, owners) && matchAll(filters, s.imageField(img)) {
				match = append(match, img)
			}
		}
		got, next := page(match, func(img fakecloud.Image) string { return img.ID }, "DescribeImages", after, max, s.opts.PageLimit)
		out := &describeImagesResponse{NextToken: next}
		for _, img := range got {
			out.Images = append(out.Images, s.imageXML(img))
		}
		return out, nil
	},
}

type describeImagesResponse struct {
	Images    []imageXML `xml:"imagesSet>item"`
	NextToken string     `xml:"nextToken,omitempty"`
}

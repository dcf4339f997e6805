package azure

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// labelImage is the label the image factory gives a snapshot: the
// recipe's image name, which names the gallery image definition.
const labelImage = "slipstream-image"

// imageGroupTag marks the resource group of images the connector made:
// managed by SlipStream, but no deployment's, so never released.
const imageGroupTag = "images"

// Snapshot deallocates the VM (and waits), generalizes it, and captures
// it: as a managed image named name in the image resource group, or, with
// a gallery configured, as a version of the gallery image definition
// named after the recipe's image. It waits until the image is ready and
// returns its id.
func (c *Connector) Snapshot(ctx context.Context, id, name string, labels map[string]string) (string, error) {
	ref, ok := parseRef(id, typeVM)
	if !ok {
		return "", &connectors.Error{Cloud: Name, Op: "VirtualMachines.Deallocate", Kind: connectors.KindNotFound, Code: "NotFound",
			Message: fmt.Sprintf("%q is not a virtual machine's resource id", id)}
	}
	const deallocate = "VirtualMachines.Deallocate"
	p, err := c.vms.BeginDeallocate(ctx, ref.group, ref.name, nil)
	if err != nil {
		return "", apiError(ctx, deallocate, err)
	}
	if _, err := await(ctx, c, deallocate, p); err != nil {
		return "", err
	}
	if _, err := c.vms.Generalize(ctx, ref.group, ref.name, nil); err != nil {
		return "", apiError(ctx, "VirtualMachines.Generalize", err)
	}
	gen, err := c.hyperVGeneration(ctx, ref)
	if err != nil {
		return "", err
	}
	tags := map[string]*string{}
	for k, v := range labels {
		tags[k] = &v
	}
	if c.gallery != nil {
		def := labels[labelImage]
		if def == "" {
			def = name
		}
		return c.captureVersion(ctx, ref.id, safeName(def, 80), versionOf(name), gen, tags)
	}
	return c.captureImage(ctx, ref.id, safeName(name, 80), gen, tags)
}

// hyperVGeneration is the VM's Hyper-V generation, which its image must
// be declared with.
func (c *Connector) hyperVGeneration(ctx context.Context, ref resourceRef) (armcompute.HyperVGenerationTypes, error) {
	expand := armcompute.InstanceViewTypesInstanceView
	vm, err := c.vms.Get(ctx, ref.group, ref.name, &armcompute.VirtualMachinesClientGetOptions{Expand: &expand})
	if err != nil {
		return "", apiError(ctx, "VirtualMachines.Get", err)
	}
	if p := vm.Properties; p != nil && p.InstanceView != nil && p.InstanceView.HyperVGeneration != nil {
		return armcompute.HyperVGenerationTypes(*p.InstanceView.HyperVGeneration), nil
	}
	return armcompute.HyperVGenerationTypesV1, nil
}

// captureImage makes a managed image of the VM in the image resource
// group (made when missing) and waits until it is ready.
func (c *Connector) captureImage(ctx context.Context, vmID, name string, gen armcompute.HyperVGenerationTypes, tags map[string]*string) (string, error) {
	if err := c.ensureImageGroup(ctx); err != nil {
		return "", err
	}
	const op = "Images.CreateOrUpdate"
	body := armcompute.Image{Location: &c.location, Tags: tags,
		Properties: &armcompute.ImageProperties{SourceVirtualMachine: &armcompute.SubResource{ID: &vmID}, HyperVGeneration: &gen}}
	p, err := c.images.BeginCreateOrUpdate(ctx, c.imageGroup, name, body, nil)
	if err != nil {
		return "", apiError(ctx, op, err)
	}
	img, err := await(ctx, c, op, p)
	if err != nil {
		return "", err
	}
	if id := str(img.ID); id != "" {
		return id, nil
	}
	return c.resourceID(c.imageGroup, "Microsoft.Compute/images", name), nil
}

// ensureImageGroup makes the resource group of images when it is missing.
func (c *Connector) ensureImageGroup(ctx context.Context) error {
	_, err := c.groups.Get(ctx, c.imageGroup, nil)
	if err := apiError(ctx, "ResourceGroups.Get", err); !connectors.IsNotFound(err) {
		return err
	}
	_, err = c.groups.CreateOrUpdate(ctx, c.imageGroup, armresources.ResourceGroup{Location: &c.location,
		Tags: map[string]*string{tagManaged: new(imageGroupTag)}}, nil)
	return apiError(ctx, "ResourceGroups.CreateOrUpdate", err)
}

// captureVersion makes a gallery image version of the VM in the image
// definition def (made when missing, Linux, generalized) and waits until
// it is ready.
func (c *Connector) captureVersion(ctx context.Context, vmID, def, version string, gen armcompute.HyperVGenerationTypes, tags map[string]*string) (string, error) {
	g := c.gallery
	_, err := c.defs.Get(ctx, g.group, g.name, def, nil)
	switch err := apiError(ctx, "GalleryImages.Get", err); {
	case connectors.IsNotFound(err):
		const op = "GalleryImages.CreateOrUpdate"
		linux, generalized, hv := armcompute.OperatingSystemTypesLinux, armcompute.OperatingSystemStateTypesGeneralized, armcompute.HyperVGeneration(gen)
		body := armcompute.GalleryImage{Location: &c.location, Tags: map[string]*string{tagManaged: new(imageGroupTag)},
			Properties: &armcompute.GalleryImageProperties{OSType: &linux, OSState: &generalized, HyperVGeneration: &hv,
				Identifier: &armcompute.GalleryImageIdentifier{Publisher: new("slipstream"), Offer: &def, SKU: &def}}}
		p, err := c.defs.BeginCreateOrUpdate(ctx, g.group, g.name, def, body, nil)
		if err != nil {
			return "", notFoundAsPermanent(apiError(ctx, op, err))
		}
		if _, err := await(ctx, c, op, p); err != nil {
			return "", notFoundAsPermanent(err)
		}
	case err != nil:
		return "", err
	}
	const op = "GalleryImageVersions.CreateOrUpdate"
	body := armcompute.GalleryImageVersion{Location: &c.location, Tags: tags,
		Properties: &armcompute.GalleryImageVersionProperties{
			StorageProfile:    &armcompute.GalleryImageVersionStorageProfile{Source: &armcompute.GalleryArtifactVersionFullSource{VirtualMachineID: &vmID}},
			PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{{Name: &c.location, RegionalReplicaCount: new(int32(1))}}},
		}}
	p, err := c.versions.BeginCreateOrUpdate(ctx, g.group, g.name, def, version, body, nil)
	if err != nil {
		return "", notFoundAsPermanent(apiError(ctx, op, err))
	}
	v, err := await(ctx, c, op, p)
	if err != nil {
		return "", err
	}
	if id := str(v.ID); id != "" {
		return id, nil
	}
	return g.id + "/images/" + def + "/versions/" + version, nil
}

// versionOf is the gallery image version of a snapshot: derived from its
// name, so that a retried snapshot makes the same version rather than a
// second one.
func versionOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return fmt.Sprintf("1.%d.%d", binary.BigEndian.Uint32(sum[0:4])%100000, binary.BigEndian.Uint32(sum[4:8])%100000)
}

// DeleteImage deletes a managed image or gallery image version made by
// Snapshot, and waits until it is gone.
func (c *Connector) DeleteImage(ctx context.Context, imageID string) error {
	if ref, ok := parseRef(imageID, typeImage); ok {
		images := c.images
		if !strings.EqualFold(ref.subscription, c.subscription) {
			var err error
			if images, err = armcompute.NewImagesClient(ref.subscription, c.cred, c.armOpts); err != nil {
				return fmt.Errorf("%s: %w", Name, err)
			}
		}
		return deleteAndAwait(ctx, c, "Images.Delete", func(ctx context.Context) (*runtime.Poller[armcompute.ImagesClientDeleteResponse], error) {
			return images.BeginDelete(ctx, ref.group, ref.name, nil)
		})
	}
	if ref, ok := parseRef(imageID, typeGalleryVersion); ok {
		versions, err := armcompute.NewGalleryImageVersionsClient(ref.subscription, c.cred, c.armOpts)
		if err != nil {
			return fmt.Errorf("%s: %w", Name, err)
		}
		return deleteAndAwait(ctx, c, "GalleryImageVersions.Delete", func(ctx context.Context) (*runtime.Poller[armcompute.GalleryImageVersionsClientDeleteResponse], error) {
			return versions.BeginDelete(ctx, ref.group, ref.grandparent, ref.parent, ref.name, nil)
		})
	}
	return &connectors.Error{Cloud: Name, Op: "DeleteImage", Kind: connectors.KindPermanent, Code: "InvalidImageID",
		Message: fmt.Sprintf("%q is not a managed image or gallery image version id: SlipStream deletes only the images it made", imageID)}
}

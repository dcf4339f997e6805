package azurefake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	armcomputefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func (f *Fake) imagesServer() armcomputefake.ImagesServer {
	return armcomputefake.ImagesServer{BeginCreateOrUpdate: f.createImage, Get: f.getImage, BeginDelete: f.deleteImage}
}

// capturable finds the VM a capture names and checks it can be captured:
// generalized and deallocated; f.mu is held.
func (f *Fake) capturable(op, vmID string) (*vm, *apiError) {
	v, ok := f.vms[strings.ToLower(vmID)]
	if !ok {
		return nil, invalidParameter("sourceVirtualMachine", "Source virtual machine '%s' specified in the request does not exist.", vmID)
	}
	if !v.generalized {
		return nil, &apiError{Status: 409, Code: "OperationNotAllowed", Message: fmt.Sprintf("Operation '%s' is not allowed on VM '%s' since the VM is not generalized.", op, v.name)}
	}
	return v, nil
}

// snapshot makes the fake cloud image of a capture, with id; f.mu is
// held.
func (f *Fake) snapshot(op string, v *vm, id string, tags map[string]string) *apiError {
	err := f.withID(id, func() error {
		_, err := f.cloud.Snapshot(v.id, id, tags, map[string]any{"resourceId": id})
		return err
	})
	switch {
	case errors.Is(err, fakecloud.ErrIncorrectState):
		return &apiError{Status: 409, Code: "OperationNotAllowed", Message: fmt.Sprintf("Operation '%s' is not allowed on VM '%s' since the VM is running. Deallocate it first.", op, v.name)}
	case err != nil:
		return faultError(err, op)
	}
	return nil
}

// captureState is a capture's progress: done once the fake cloud's
// image is available.
func (f *Fake) captureState(cloudID string, model func() any) func() lroState {
	return func() lroState {
		img, err := f.cloud.Image(cloudID)
		switch {
		case err != nil:
			return failed(&apiError{Code: "OperationPreempted", Message: "The image was deleted while it was being created."})
		case img.State == "failed":
			return failed(&apiError{Code: "InternalOperationError", Message: "Capturing the virtual machine's disk failed."})
		case img.State != "available":
			return inProgress()
		}
		return succeeded(http.StatusOK, model())
	}
}

func (f *Fake) createImage(ctx context.Context, group, name string, body armcompute.Image, _ *armcompute.ImagesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.ImagesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg, err := f.group(group)
	if err != nil {
		errResp.SetError(err)
		return
	}
	if e := f.checkLocation(body.Location); e != nil {
		errResp.SetError(e)
		return
	}
	id := f.rid(rg.name, "Microsoft.Compute/images", name)
	source := ""
	if body.Properties != nil && body.Properties.SourceVirtualMachine != nil {
		source = str(body.Properties.SourceVirtualMachine.ID)
	}
	if img, ok := f.images[strings.ToLower(id)]; ok {
		if !strings.EqualFold(img.sourceVM, source) {
			errResp.SetError(&apiError{Status: 409, Code: "PropertyChangeNotAllowed", Message: "Changing property 'sourceVirtualMachine' is not allowed. Target: 'sourceVirtualMachine'."})
			return
		}
		resp.AddNonTerminalResponse(http.StatusOK, nil)
		f.track(ctx, f.captureState(img.cloudID, func() any { return f.imageModel(img) }))
		return
	}
	if source == "" {
		errResp.SetError(invalidParameter("sourceVirtualMachine", "The fake makes managed images from a virtual machine only: properties.sourceVirtualMachine.id is required."))
		return
	}
	v, e := f.capturable("CreateImage", source)
	if e != nil {
		errResp.SetError(e)
		return
	}
	if e := f.snapshot("CreateImage", v, id, tagsIn(body.Tags)); e != nil {
		errResp.SetError(e)
		return
	}
	hv := "V1"
	if body.Properties.HyperVGeneration != nil {
		hv = string(*body.Properties.HyperVGeneration)
	}
	img := &image{id: id, group: rg.name, name: name, location: f.opts.Location, tags: tagsIn(body.Tags), sourceVM: v.id, cloudID: id, hyperV: hv}
	f.images[strings.ToLower(id)] = img
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	f.track(ctx, f.captureState(id, func() any { return f.imageModel(img) }))
	return
}

// imageModel is a managed image as compute describes it; f.mu is held.
func (f *Fake) imageModel(img *image) armcompute.Image {
	state := "Succeeded"
	if ci, err := f.cloud.Image(img.cloudID); err == nil && ci.State == "pending" {
		state = "Creating"
	}
	hv := armcompute.HyperVGenerationTypes(img.hyperV)
	out := armcompute.Image{ID: &img.id, Name: &img.name, Type: new("Microsoft.Compute/images"), Location: &img.location, Tags: tagsOut(img.tags),
		Properties: &armcompute.ImageProperties{HyperVGeneration: &hv, ProvisioningState: &state}}
	if img.sourceVM != "" {
		out.Properties.SourceVirtualMachine = &armcompute.SubResource{ID: &img.sourceVM}
	}
	return out
}

func (f *Fake) getImage(_ context.Context, group, name string, _ *armcompute.ImagesClientGetOptions) (resp azfake.Responder[armcompute.ImagesClientGetResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, err := lookupIn(f, f.images, group, "Microsoft.Compute/images", name, f.rid(group, "Microsoft.Compute/images", name))
	if err != nil {
		errResp.SetError(err)
		return
	}
	resp.SetResponse(http.StatusOK, armcompute.ImagesClientGetResponse{Image: f.imageModel(img)}, nil)
	return
}

func (f *Fake) deleteImage(ctx context.Context, group, name string, _ *armcompute.ImagesClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.ImagesClientDeleteResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[strings.ToLower(group)]; !ok {
		errResp.SetError(errGroupNotFound(group))
		return
	}
	key := strings.ToLower(f.rid(group, "Microsoft.Compute/images", name))
	img, ok := f.images[key]
	if !ok {
		resp.SetTerminalResponse(http.StatusNoContent, armcompute.ImagesClientDeleteResponse{}, nil)
		return
	}
	if err := f.cloud.DeleteImage(img.cloudID); err != nil && !errors.Is(err, fakecloud.ErrImageNotFound) {
		errResp.SetError(&apiError{Status: 409, Code: "OperationNotAllowed", Message: fmt.Sprintf("The image %s cannot be deleted: %v.", img.id, err)})
		return
	}
	delete(f.images, key)
	resp.AddNonTerminalResponse(http.StatusAccepted, nil)
	f.track(ctx, done(http.StatusNoContent, nil))
	return
}

// ---- compute galleries ----

func (f *Fake) galleriesServer() armcomputefake.GalleriesServer {
	return armcomputefake.GalleriesServer{
		BeginCreateOrUpdate: func(ctx context.Context, group, name string, body armcompute.Gallery, _ *armcompute.GalleriesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.GalleriesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			rg, err := f.group(group)
			if err != nil {
				errResp.SetError(err)
				return
			}
			if e := f.checkLocation(body.Location); e != nil {
				errResp.SetError(e)
				return
			}
			g := f.ensureGallery(rg.name, name)
			g.tags = tagsIn(body.Tags)
			resp.AddNonTerminalResponse(http.StatusCreated, nil)
			f.track(ctx, done(http.StatusOK, func() any { return galleryModel(g) }))
			return
		},
		Get: func(_ context.Context, group, name string, _ *armcompute.GalleriesClientGetOptions) (resp azfake.Responder[armcompute.GalleriesClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			g, err := lookupIn(f, f.galleries, group, "Microsoft.Compute/galleries", name, f.rid(group, "Microsoft.Compute/galleries", name))
			if err != nil {
				errResp.SetError(err)
				return
			}
			resp.SetResponse(http.StatusOK, armcompute.GalleriesClientGetResponse{Gallery: galleryModel(g)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, group, name string, _ *armcompute.GalleriesClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.GalleriesClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			key := strings.ToLower(f.rid(group, "Microsoft.Compute/galleries", name))
			g, ok := f.galleries[key]
			if !ok {
				resp.SetTerminalResponse(http.StatusNoContent, armcompute.GalleriesClientDeleteResponse{}, nil)
				return
			}
			for _, d := range f.imageDefs {
				if strings.EqualFold(d.gallery, g.id) {
					errResp.SetError(errNested(g.id))
					return
				}
			}
			delete(f.galleries, key)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			f.track(ctx, done(http.StatusNoContent, nil))
			return
		},
	}
}

func errNested(id string) *apiError {
	return &apiError{Status: 409, Code: "CannotDeleteResource", Message: fmt.Sprintf("Can not delete resource before nested resources are deleted: %s.", id)}
}

func errParentNotFound(id string) *apiError {
	return &apiError{Status: 404, Code: "ParentResourceNotFound", Message: fmt.Sprintf("Can not perform requested operation on nested resource. Parent resource '%s' not found.", id)}
}

func galleryModel(g *gallery) armcompute.Gallery {
	state := armcompute.GalleryProvisioningStateSucceeded
	return armcompute.Gallery{ID: &g.id, Name: &g.name, Type: new("Microsoft.Compute/galleries"), Location: &g.location, Tags: tagsOut(g.tags),
		Properties: &armcompute.GalleryProperties{ProvisioningState: &state}}
}

func (f *Fake) galleryImagesServer() armcomputefake.GalleryImagesServer {
	return armcomputefake.GalleryImagesServer{
		BeginCreateOrUpdate: func(ctx context.Context, group, galleryName, name string, body armcompute.GalleryImage, _ *armcompute.GalleryImagesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.GalleryImagesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			gid := f.rid(group, "Microsoft.Compute/galleries", galleryName)
			g, ok := f.galleries[strings.ToLower(gid)]
			if !ok {
				errResp.SetError(errParentNotFound(gid))
				return
			}
			if e := f.checkLocation(body.Location); e != nil {
				errResp.SetError(e)
				return
			}
			p := body.Properties
			if p == nil || p.Identifier == nil || str(p.Identifier.Publisher) == "" || str(p.Identifier.Offer) == "" || str(p.Identifier.SKU) == "" || p.OSType == nil || p.OSState == nil {
				errResp.SetError(invalidParameter("galleryImage.properties", "An image definition needs an identifier (publisher, offer, sku), an osType and an osState."))
				return
			}
			d := f.ensureImageDef(g, name)
			d.tags, d.osType, d.osState = tagsIn(body.Tags), string(*p.OSType), string(*p.OSState)
			d.publisher, d.offer, d.sku = *p.Identifier.Publisher, *p.Identifier.Offer, *p.Identifier.SKU
			if p.HyperVGeneration != nil {
				d.hyperV = string(*p.HyperVGeneration)
			}
			resp.AddNonTerminalResponse(http.StatusCreated, nil)
			f.track(ctx, done(http.StatusOK, func() any { return imageDefModel(d) }))
			return
		},
		Get: func(_ context.Context, group, galleryName, name string, _ *armcompute.GalleryImagesClientGetOptions) (resp azfake.Responder[armcompute.GalleryImagesClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			id := f.rid(group, "Microsoft.Compute/galleries", galleryName, "images", name)
			d, err := lookupIn(f, f.imageDefs, group, "Microsoft.Compute/galleries/images", galleryName+"/"+name, id)
			if err != nil {
				errResp.SetError(err)
				return
			}
			resp.SetResponse(http.StatusOK, armcompute.GalleryImagesClientGetResponse{GalleryImage: imageDefModel(d)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, group, galleryName, name string, _ *armcompute.GalleryImagesClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.GalleryImagesClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			key := strings.ToLower(f.rid(group, "Microsoft.Compute/galleries", galleryName, "images", name))
			d, ok := f.imageDefs[key]
			if !ok {
				resp.SetTerminalResponse(http.StatusNoContent, armcompute.GalleryImagesClientDeleteResponse{}, nil)
				return
			}
			for _, v := range f.versions {
				if strings.EqualFold(v.def, d.id) {
					errResp.SetError(errNested(d.id))
					return
				}
			}
			delete(f.imageDefs, key)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			f.track(ctx, done(http.StatusNoContent, nil))
			return
		},
	}
}

func imageDefModel(d *galleryImage) armcompute.GalleryImage {
	state := armcompute.GalleryProvisioningStateSucceeded
	osType, osState, hv := armcompute.OperatingSystemTypes(d.osType), armcompute.OperatingSystemStateTypes(d.osState), armcompute.HyperVGeneration(d.hyperV)
	return armcompute.GalleryImage{ID: &d.id, Name: &d.name, Type: new("Microsoft.Compute/galleries/images"), Location: &d.location, Tags: tagsOut(d.tags),
		Properties: &armcompute.GalleryImageProperties{OSType: &osType, OSState: &osState, HyperVGeneration: &hv, ProvisioningState: &state,
			Identifier: &armcompute.GalleryImageIdentifier{Publisher: &d.publisher, Offer: &d.offer, SKU: &d.sku}}}
}

// versionName is a gallery image version's name: three 32-bit numbers.
var versionName = regexp.MustCompile(`^\d{1,10}\.\d{1,10}\.\d{1,10}$`)

func (f *Fake) galleryVersionsServer() armcomputefake.GalleryImageVersionsServer {
	return armcomputefake.GalleryImageVersionsServer{
		BeginCreateOrUpdate: f.createVersion,
		Get: func(_ context.Context, group, galleryName, imageName, name string, _ *armcompute.GalleryImageVersionsClientGetOptions) (resp azfake.Responder[armcompute.GalleryImageVersionsClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			id := f.rid(group, "Microsoft.Compute/galleries", galleryName, "images", imageName, "versions", name)
			v, err := lookupIn(f, f.versions, group, "Microsoft.Compute/galleries/images/versions", galleryName+"/"+imageName+"/"+name, id)
			if err != nil {
				errResp.SetError(err)
				return
			}
			resp.SetResponse(http.StatusOK, armcompute.GalleryImageVersionsClientGetResponse{GalleryImageVersion: f.versionModel(v)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, group, galleryName, imageName, name string, _ *armcompute.GalleryImageVersionsClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.GalleryImageVersionsClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			key := strings.ToLower(f.rid(group, "Microsoft.Compute/galleries", galleryName, "images", imageName, "versions", name))
			v, ok := f.versions[key]
			if !ok {
				resp.SetTerminalResponse(http.StatusNoContent, armcompute.GalleryImageVersionsClientDeleteResponse{}, nil)
				return
			}
			if err := f.cloud.DeleteImage(v.cloudID); err != nil && !errors.Is(err, fakecloud.ErrImageNotFound) {
				errResp.SetError(&apiError{Status: 409, Code: "OperationNotAllowed", Message: fmt.Sprintf("The image version %s cannot be deleted: %v.", v.id, err)})
				return
			}
			delete(f.versions, key)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			f.track(ctx, done(http.StatusNoContent, nil))
			return
		},
	}
}

func (f *Fake) createVersion(ctx context.Context, group, galleryName, imageName, name string, body armcompute.GalleryImageVersion, _ *armcompute.GalleryImageVersionsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.GalleryImageVersionsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defID := f.rid(group, "Microsoft.Compute/galleries", galleryName, "images", imageName)
	d, ok := f.imageDefs[strings.ToLower(defID)]
	if !ok {
		errResp.SetError(errParentNotFound(defID))
		return
	}
	if !versionName.MatchString(name) {
		errResp.SetError(invalidParameter("galleryImageVersionName", "The gallery image version name '%s' is invalid. The version name must follow Major(int32).Minor(int32).Patch(int32) format, e.g. 1.0.0.", name))
		return
	}
	if e := f.checkLocation(body.Location); e != nil {
		errResp.SetError(e)
		return
	}
	source := ""
	if p := body.Properties; p != nil && p.StorageProfile != nil && p.StorageProfile.Source != nil {
		src := p.StorageProfile.Source
		if src.VirtualMachineID == nil && src.ID != nil {
			errResp.SetError(invalidParameter("storageProfile.source", "The fake captures gallery image versions from a virtual machine only (source.virtualMachineId), not from %s.", *src.ID))
			return
		}
		source = str(src.VirtualMachineID)
	}
	id := d.id + "/versions/" + name
	if v, ok := f.versions[strings.ToLower(id)]; ok {
		if !strings.EqualFold(v.sourceVM, source) {
			errResp.SetError(&apiError{Status: 409, Code: "PropertyChangeNotAllowed", Message: "Changing property 'storageProfile.source' is not allowed. Target: 'source'."})
			return
		}
		resp.AddNonTerminalResponse(http.StatusOK, nil)
		f.track(ctx, f.captureState(v.cloudID, func() any { return f.versionModel(v) }))
		return
	}
	if source == "" {
		errResp.SetError(invalidParameter("storageProfile.source", "Required parameter 'storageProfile.source.virtualMachineId' is missing (null)."))
		return
	}
	vmr, e := f.capturable("CreateGalleryImageVersion", source)
	if e != nil {
		errResp.SetError(e)
		return
	}
	if e := f.snapshot("CreateGalleryImageVersion", vmr, id, tagsIn(body.Tags)); e != nil {
		errResp.SetError(e)
		return
	}
	v := &galleryVersion{id: id, def: d.id, name: name, location: f.opts.Location, tags: tagsIn(body.Tags), sourceVM: vmr.id, cloudID: id}
	f.versions[strings.ToLower(id)] = v
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	f.track(ctx, f.captureState(id, func() any { return f.versionModel(v) }))
	return
}

// versionModel is a gallery image version as compute describes it; f.mu
// is held.
func (f *Fake) versionModel(v *galleryVersion) armcompute.GalleryImageVersion {
	state := armcompute.GalleryProvisioningStateSucceeded
	if ci, err := f.cloud.Image(v.cloudID); err == nil && ci.State == "pending" {
		state = armcompute.GalleryProvisioningStateCreating
	}
	out := armcompute.GalleryImageVersion{ID: &v.id, Name: &v.name, Type: new("Microsoft.Compute/galleries/images/versions"), Location: &v.location, Tags: tagsOut(v.tags),
		Properties: &armcompute.GalleryImageVersionProperties{ProvisioningState: &state,
			PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: []*armcompute.TargetRegion{{Name: &v.location}}}}}
	if v.sourceVM != "" {
		out.Properties.StorageProfile = &armcompute.GalleryImageVersionStorageProfile{Source: &armcompute.GalleryArtifactVersionFullSource{VirtualMachineID: &v.sourceVM}}
	}
	return out
}

// latestVersion is an image definition's highest version; f.mu is held.
func (f *Fake) latestVersion(defID string) *galleryVersion {
	var best *galleryVersion
	for _, v := range f.versions {
		if strings.EqualFold(v.def, defID) && (best == nil || versionLess(":"+best.name, ":"+v.name)) {
			best = v
		}
	}
	return best
}

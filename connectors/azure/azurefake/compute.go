package azurefake

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	armcomputefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// maxCustomData is Azure's limit on osProfile.customData, in base64
// characters (64 KiB before encoding).
const maxCustomData = 87380

// defaultOSDiskGB is the OS disk of a VM whose request sizes none, as a
// marketplace Linux image's is.
const defaultOSDiskGB = 30

// capacityFailDelay is how long a VM accepted under an injected capacity
// fault with Options.CapacityFailsLater stays creating before it fails.
const capacityFailDelay = 150 * time.Millisecond

func (f *Fake) virtualMachinesServer() armcomputefake.VirtualMachinesServer {
	return armcomputefake.VirtualMachinesServer{
		BeginCreateOrUpdate: f.createVM,
		Get:                 f.getVM,
		BeginDelete:         f.deleteVM,
		BeginDeallocate:     f.deallocateVM,
		Generalize:          f.generalizeVM,
		NewListPager:        f.listVMs,
	}
}

// vmSpec is a VM PUT's body, checked.
type vmSpec struct {
	size     Size
	image    imageRef
	diskName string
	diskGB   int32
	diskDel  string
	admin    string
	computer string
	userData []byte
	keys     []sshKey
	nics     []nicRef
}

func (f *Fake) createVM(ctx context.Context, group, name string, body armcompute.VirtualMachine, _ *armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rg, err := f.group(group)
	if err != nil {
		errResp.SetError(err)
		return
	}
	id := f.rid(rg.name, "Microsoft.Compute/virtualMachines", name)
	if v, ok := f.vms[strings.ToLower(id)]; ok {
		if e := f.updateVM(v, body); e != nil {
			errResp.SetError(e)
			return
		}
		resp.AddNonTerminalResponse(http.StatusOK, nil)
		f.track(ctx, f.vmCreateState(v))
		return
	}
	spec, e := f.checkVM(rg, name, body)
	if e != nil {
		errResp.SetError(e)
		return
	}
	tags := tagsIn(body.Tags)
	// The VM's vmId is what its cloud-init knows it by (Azure's
	// datasource reads it from the platform), as on Azure.
	vmGUID := newGUID()
	req := fakecloud.RunRequest{Op: callOf(ctx).api, Name: spec.computer, InstanceID: vmGUID, ImageID: spec.image.cloudID, Type: spec.size.Name,
		CPU: int(spec.size.Cores), RAMMB: int(spec.size.MemoryMB), DiskGB: int(spec.diskGB), UserData: spec.userData,
		Labels: tags, Extra: map[string]any{"resourceGroup": rg.name}}
	for _, k := range spec.keys {
		req.SSHKeys = append(req.SSHKeys, k.data)
	}
	if f.opts.CapacityFailsLater {
		req.FailLater = capacityFailDelay
	}
	err = f.withID(id, func() error {
		_, err := f.cloud.Run(req)
		return err
	})
	if err != nil {
		errResp.SetError(f.runError(err, spec.image, req.Op))
		return
	}
	for _, k := range spec.keys {
		f.recordKey(k.data)
	}
	diskID := f.rid(rg.name, "Microsoft.Compute/disks", spec.diskName)
	f.disks[strings.ToLower(diskID)] = &disk{id: diskID, group: rg.name, name: spec.diskName, location: f.opts.Location,
		vmID: id, sizeGB: spec.diskGB, deleteOption: spec.diskDel}
	for _, ref := range spec.nics {
		f.nics[strings.ToLower(ref.id)].vmID = id
	}
	v := &vm{id: id, group: rg.name, name: name, location: f.opts.Location, tags: tags, size: spec.size.Name, image: spec.image,
		adminUser: spec.admin, computerName: spec.computer, keys: spec.keys, nics: spec.nics, diskID: diskID,
		vmGUID: vmGUID, created: time.Now().UTC()}
	f.vms[strings.ToLower(id)] = v
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	f.track(ctx, f.vmCreateState(v))
	return
}

// updateVM is a PUT on an existing VM: the same VM again (a retried
// create) is accepted, with its tags updated; customData cannot change,
// as on Azure; f.mu is held.
func (f *Fake) updateVM(v *vm, body armcompute.VirtualMachine) *apiError {
	if v.deleting {
		return &apiError{Status: 409, Code: "OperationNotAllowed",
			Message: fmt.Sprintf("Operation 'PUT' is not allowed on VM '%s' since the VM is marked for deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).", v.name)}
	}
	if p := body.Properties; p != nil && p.OSProfile != nil && p.OSProfile.CustomData != nil {
		data, err := base64.StdEncoding.DecodeString(*p.OSProfile.CustomData)
		m, merr := f.cloud.Machine(v.id)
		if err != nil || merr != nil || string(data) != string(m.UserData) {
			return &apiError{Status: 409, Code: "PropertyChangeNotAllowed", Message: "Changing property 'customData' is not allowed. Target: 'customData'."}
		}
	}
	if body.Tags != nil {
		tags := tagsIn(body.Tags)
		clear := map[string]string{}
		for k := range v.tags {
			if _, keep := tags[k]; !keep {
				clear[k] = ""
			}
		}
		for k, val := range tags {
			clear[k] = val
		}
		if err := f.cloud.SetLabels(v.id, clear); err != nil {
			return faultError(err, "VirtualMachinesClient.BeginCreateOrUpdate")
		}
		v.tags = tags
	}
	return nil
}

// checkVM checks a new VM's body as compute does, and resolves its size,
// image and network interfaces; f.mu is held.
func (f *Fake) checkVM(rg *resourceGroup, name string, body armcompute.VirtualMachine) (vmSpec, *apiError) {
	var spec vmSpec
	if e := f.checkLocation(body.Location); e != nil {
		return spec, e
	}
	p := body.Properties
	if p == nil || p.HardwareProfile == nil || p.StorageProfile == nil || p.OSProfile == nil || p.NetworkProfile == nil {
		return spec, invalidParameter("properties", "The virtual machine needs a hardwareProfile, storageProfile, osProfile and networkProfile.")
	}
	sizeName := ""
	if p.HardwareProfile.VMSize != nil {
		sizeName = string(*p.HardwareProfile.VMSize)
	}
	i := slices.IndexFunc(f.opts.Sizes, func(s Size) bool { return strings.EqualFold(s.Name, sizeName) })
	if i < 0 {
		return spec, invalidParameter("vmSize", "The value %s provided for the VM size is not valid. The valid sizes in the current region are: %s.", sizeName, strings.Join(f.sizeNames(), ","))
	}
	spec.size = f.opts.Sizes[i]
	if slices.ContainsFunc(f.opts.UnavailableSizes, func(s string) bool { return strings.EqualFold(s, sizeName) }) {
		return spec, &apiError{Status: 409, Code: "SkuNotAvailable",
			Message: fmt.Sprintf("The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: %s' is currently not available in location '%s'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.", sizeName, f.opts.Location)}
	}
	img, e := f.resolveImage(p.StorageProfile.ImageReference)
	if e != nil {
		return spec, e
	}
	spec.image = img
	spec.diskName, spec.diskGB, spec.diskDel = name+"_OsDisk_1_"+randomHex(16), defaultOSDiskGB, deleteOptionDetach
	if d := p.StorageProfile.OSDisk; d != nil {
		if d.CreateOption != nil && *d.CreateOption != armcompute.DiskCreateOptionTypesFromImage {
			return spec, invalidParameter("osDisk.createOption", "The fake creates OS disks from images only; createOption %s is not supported.", *d.CreateOption)
		}
		if d.Name != nil && *d.Name != "" {
			spec.diskName = *d.Name
		}
		if d.DiskSizeGB != nil {
			if *d.DiskSizeGB < defaultOSDiskGB || *d.DiskSizeGB > 4095 {
				return spec, invalidParameter("osDisk.diskSizeGB", "The specified disk size %d GB is smaller than the size of the corresponding disk in the VM image: %d GB, or larger than 4095 GB.", *d.DiskSizeGB, defaultOSDiskGB)
			}
			spec.diskGB = *d.DiskSizeGB
		}
		if d.DeleteOption != nil {
			spec.diskDel = string(*d.DeleteOption)
		}
	}
	os := p.OSProfile
	spec.admin, spec.computer = str(os.AdminUsername), str(os.ComputerName)
	if spec.computer == "" {
		spec.computer = name
	}
	if spec.admin == "" {
		return spec, invalidParameter("adminUsername", "Required parameter 'adminUsername' is missing (null).")
	}
	if os.CustomData != nil {
		if len(*os.CustomData) > maxCustomData {
			return spec, invalidParameter("customData", "Custom data in OSProfile must be in Base64 encoding and with a maximum length of %d characters.", maxCustomData)
		}
		data, err := base64.StdEncoding.DecodeString(*os.CustomData)
		if err != nil {
			return spec, invalidParameter("customData", "Custom data in OSProfile must be in Base64 encoding and with a maximum length of %d characters.", maxCustomData)
		}
		spec.userData = data
	}
	passwordOff := true
	if lc := os.LinuxConfiguration; lc != nil {
		if lc.DisablePasswordAuthentication != nil {
			passwordOff = *lc.DisablePasswordAuthentication
		}
		if lc.SSH != nil {
			want := "/home/" + spec.admin + "/.ssh/authorized_keys"
			for _, k := range lc.SSH.PublicKeys {
				if k == nil || str(k.KeyData) == "" {
					return spec, invalidParameter("linuxConfiguration.ssh.publicKeys.keyData", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.")
				}
				if str(k.Path) != want {
					return spec, invalidParameter("linuxConfiguration.ssh.publicKeys.path",
						"Destination path for SSH public keys is currently limited to its default value %s due to a known issue in Linux provisioning agent.", want)
				}
				if e := checkSSHKey(*k.KeyData); e != nil {
					return spec, e
				}
				spec.keys = append(spec.keys, sshKey{path: *k.Path, data: *k.KeyData})
			}
		}
	}
	if passwordOff && len(spec.keys) == 0 {
		return spec, invalidParameter("linuxConfiguration", "Authentication using either SSH or by user name and password must be enabled in Linux profile.")
	}
	if !passwordOff && str(os.AdminPassword) == "" {
		return spec, invalidParameter("adminPassword", "Required parameter 'adminPassword' is missing (null).")
	}
	if len(p.NetworkProfile.NetworkInterfaces) == 0 {
		return spec, invalidParameter("networkProfile", "Virtual machine %s must have at least one network interface.", name)
	}
	vmID := f.rid(rg.name, "Microsoft.Compute/virtualMachines", name)
	for i, ref := range p.NetworkProfile.NetworkInterfaces {
		if ref == nil {
			return spec, invalidParameter("networkProfile.networkInterfaces", "A network interface reference of virtual machine %s is null.", name)
		}
		n, ok := f.nics[strings.ToLower(str(ref.ID))]
		if !ok {
			return spec, &apiError{Status: 400, Code: "InvalidResourceReference",
				Message: fmt.Sprintf("Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", str(ref.ID), vmID)}
		}
		if n.vmID != "" && !strings.EqualFold(n.vmID, vmID) {
			return spec, &apiError{Status: 400, Code: "NicInUse", Message: fmt.Sprintf("Network interface %s is already used by virtual machine %s.", n.id, n.vmID)}
		}
		nr := nicRef{id: n.id, deleteOption: deleteOptionDetach, primary: i == 0}
		if pr := ref.Properties; pr != nil {
			if pr.DeleteOption != nil {
				nr.deleteOption = string(*pr.DeleteOption)
			}
			if pr.Primary != nil {
				nr.primary = *pr.Primary
			}
		}
		spec.nics = append(spec.nics, nr)
	}
	return spec, nil
}

// checkSSHKey refuses what is not an OpenSSH public key line, as the
// provisioning agent would.
func checkSSHKey(key string) *apiError {
	fields := strings.Fields(key)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "ssh-") && !strings.HasPrefix(fields[0], "ecdsa-") {
		return invalidParameter("linuxConfiguration.ssh.publicKeys.keyData", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.")
	}
	if _, err := base64.StdEncoding.DecodeString(fields[1]); err != nil {
		return invalidParameter("linuxConfiguration.ssh.publicKeys.keyData", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.")
	}
	return nil
}

// recordKey keeps a key the VMs are given as a key pair of the fake
// cloud, named after its fingerprint: Azure stores the key in each VM,
// and the fake cloud counts the distinct keys it holds; f.mu is held.
func (f *Fake) recordKey(key string) {
	fields := strings.Fields(key)
	blob, _ := base64.StdEncoding.DecodeString(fields[1])
	sum := sha256.Sum256(blob)
	fp := "SHA256:" + strings.TrimRight(base64.StdEncoding.EncodeToString(sum[:]), "=")
	_, err := f.cloud.ImportKey(fakecloud.KeyPair{Name: "ssh-" + hex.EncodeToString(sum[:8]), PublicKey: strings.Join(fields[:2], " "), Fingerprint: fp})
	if err != nil && !errors.Is(err, fakecloud.ErrDuplicate) {
		f.logf("recording SSH key %s: %v", fp, err)
	}
}

func (f *Fake) sizeNames() []string {
	var out []string
	for _, s := range f.opts.Sizes {
		out = append(out, s.Name)
	}
	return out
}

// checkLocation refuses a missing location or one the fake has no
// capacity in.
func (f *Fake) checkLocation(loc *string) *apiError {
	if loc == nil || *loc == "" {
		return &apiError{Status: 400, Code: "LocationRequired", Message: "The location property is required for this definition."}
	}
	if normLocation(*loc) != normLocation(f.opts.Location) {
		return &apiError{Status: 400, Code: "LocationNotAvailableForResourceType",
			Message: fmt.Sprintf("The provided location '%s' is not available for resource type. List of available regions for the resource type is '%s'.", *loc, f.opts.Location)}
	}
	return nil
}

// normLocation compares locations as ARM does: "West Europe" is
// westeurope.
func normLocation(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

// resolveImage finds the fake cloud image of an imageReference: a
// managed image, a gallery image version (or a definition's latest), or
// a marketplace URN; f.mu is held.
func (f *Fake) resolveImage(ref *armcompute.ImageReference) (imageRef, *apiError) {
	if ref == nil {
		return imageRef{}, invalidParameter("imageReference", "Required parameter 'imageReference' is missing (null).")
	}
	if id := str(ref.ID); id != "" {
		out := imageRef{id: id}
		if img, ok := f.images[strings.ToLower(id)]; ok {
			out.cloudID = img.cloudID
			return out, nil
		}
		if v, ok := f.versions[strings.ToLower(id)]; ok {
			out.cloudID = v.cloudID
			return out, nil
		}
		if _, ok := f.imageDefs[strings.ToLower(id)]; ok {
			if v := f.latestVersion(id); v != nil {
				out.cloudID = v.cloudID
				return out, nil
			}
		}
		return imageRef{}, &apiError{Status: 404, Code: "ImageNotFound",
			Message: fmt.Sprintf("The Image '%s' cannot be found in '%s' region.", id, f.opts.Location)}
	}
	out := imageRef{publisher: str(ref.Publisher), offer: str(ref.Offer), sku: str(ref.SKU), version: str(ref.Version)}
	urn := strings.Join([]string{out.publisher, out.offer, out.sku, out.version}, ":")
	if out.publisher == "" || out.offer == "" || out.sku == "" || out.version == "" {
		return imageRef{}, invalidParameter("imageReference", "The image reference needs an id, or a publisher, offer, sku and version; got '%s'.", urn)
	}
	if id, ok := f.marketImg[strings.ToLower(urn)]; ok {
		out.cloudID = id
		return out, nil
	}
	if strings.EqualFold(out.version, "latest") {
		prefix := strings.ToLower(strings.Join([]string{out.publisher, out.offer, out.sku}, ":") + ":")
		var best string
		for k, id := range f.marketImg {
			if strings.HasPrefix(k, prefix) && (best == "" || versionLess(f.marketImg[best], id)) {
				best = k
			}
		}
		if best != "" {
			out.cloudID = f.marketImg[best]
			return out, nil
		}
	}
	return imageRef{}, &apiError{Status: 404, Code: "PlatformImageNotFound",
		Message: fmt.Sprintf("The platform image '%s' is not available. Verify that all fields in the storage profile are correct. For more details about storage profile information, please refer to https://aka.ms/storageprofile", urn)}
}

// versionLess orders marketplace URNs by their version's numbers.
func versionLess(a, b string) bool {
	va, vb := a[strings.LastIndex(a, ":")+1:], b[strings.LastIndex(b, ":")+1:]
	pa, pb := strings.Split(va, "."), strings.Split(vb, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) < len(pb[i])
		}
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

// runError is Azure's answer when the fake cloud refuses a VM.
func (f *Fake) runError(err error, img imageRef, op string) *apiError {
	switch {
	case errors.Is(err, fakecloud.ErrImageNotFound):
		return &apiError{Status: 404, Code: "ImageNotFound", Message: fmt.Sprintf("The Image '%s' cannot be found in '%s' region.", img.cloudID, f.opts.Location)}
	case errors.Is(err, fakecloud.ErrImageNotReady):
		return invalidParameter("imageReference", "The image '%s' is not ready to create virtual machines from: %v.", img.cloudID, err)
	}
	return faultError(err, op)
}

// vmCreateState is a VM create's progress: done when its machine runs,
// failed when the fake cloud gave up on it.
func (f *Fake) vmCreateState(v *vm) func() lroState {
	return func() lroState {
		m, err := f.cloud.Machine(v.id)
		switch {
		case err != nil || m.State == fakecloud.Terminated || m.State == fakecloud.Terminating:
			return failed(&apiError{Code: "OperationPreempted", Message: "The operation was preempted by a delete of the virtual machine."})
		case m.State == fakecloud.Failed:
			code, msg := failureOf(m)
			return failed(&apiError{Code: code, Message: msg})
		case m.State == fakecloud.Pending:
			return inProgress()
		}
		return succeeded(http.StatusOK, f.vmModel(v, false))
	}
}

// failureOf is Azure's provisioning error code and message for a failed
// machine.
func failureOf(m fakecloud.Machine) (code, msg string) {
	if m.Reason == fakecloud.ReasonNoCapacity {
		return "AllocationFailed", "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance"
	}
	return "OSProvisioningInternalError", "OS Provisioning failed for VM '" + m.Name + "' due to an internal error: " + m.Reason
}

func (f *Fake) getVM(ctx context.Context, group, name string, opts *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := lookupIn(f, f.vms, group, "Microsoft.Compute/virtualMachines", name, f.rid(group, "Microsoft.Compute/virtualMachines", name))
	if err != nil {
		errResp.SetError(err)
		return
	}
	withView := opts != nil && opts.Expand != nil && strings.EqualFold(string(*opts.Expand), string(armcompute.InstanceViewTypesInstanceView))
	resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: f.vmModel(v, withView)}, nil)
	return
}

// powerAndProvisioning are a machine's provisioning state and power
// state code, as compute reports them.
func powerAndProvisioning(m fakecloud.Machine, v *vm) (prov, power string) {
	switch m.State {
	case fakecloud.Pending:
		return "Creating", "starting"
	case fakecloud.Running:
		return "Succeeded", "running"
	case fakecloud.Stopping:
		if v.deallocated {
			return "Updating", "deallocating"
		}
		return "Updating", "stopping"
	case fakecloud.Stopped:
		if v.deallocated {
			return "Succeeded", "deallocated"
		}
		return "Succeeded", "stopped"
	case fakecloud.Terminating, fakecloud.Terminated:
		return "Deleting", "deallocating"
	}
	return "Failed", ""
}

// vmModel is a VM as compute describes it; f.mu is held.
func (f *Fake) vmModel(v *vm, withView bool) armcompute.VirtualMachine {
	m, _ := f.cloud.Machine(v.id)
	prov, power := powerAndProvisioning(m, v)
	if v.deleting {
		prov = "Deleting"
	}
	typ := armcompute.VirtualMachineSizeTypes(v.size)
	img := &armcompute.ImageReference{}
	if v.image.id != "" {
		img.ID = &v.image.id
	} else {
		exact := v.image.version
		if strings.EqualFold(exact, "latest") {
			exact = v.image.cloudID[strings.LastIndex(v.image.cloudID, ":")+1:]
		}
		img.Publisher, img.Offer, img.SKU, img.Version, img.ExactVersion = &v.image.publisher, &v.image.offer, &v.image.sku, &v.image.version, &exact
	}
	linux, createFrom := armcompute.OperatingSystemTypesLinux, armcompute.DiskCreateOptionTypesFromImage
	osDisk := &armcompute.OSDisk{OSType: &linux, CreateOption: &createFrom, ManagedDisk: &armcompute.ManagedDiskParameters{ID: &v.diskID}}
	if d, ok := f.disks[strings.ToLower(v.diskID)]; ok {
		del := armcompute.DiskDeleteOptionTypes(d.deleteOption)
		osDisk.Name, osDisk.DiskSizeGB, osDisk.DeleteOption = &d.name, &d.sizeGB, &del
	}
	var keys []*armcompute.SSHPublicKey
	for _, k := range v.keys {
		keys = append(keys, &armcompute.SSHPublicKey{Path: &k.path, KeyData: &k.data})
	}
	var nics []*armcompute.NetworkInterfaceReference
	for _, n := range v.nics {
		del := armcompute.DeleteOptions(n.deleteOption)
		nics = append(nics, &armcompute.NetworkInterfaceReference{ID: &n.id, Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: &n.primary, DeleteOption: &del}})
	}
	disablePassword := true
	created := v.created
	out := armcompute.VirtualMachine{
		ID: &v.id, Name: &v.name, Type: new("Microsoft.Compute/virtualMachines"), Location: &v.location, Tags: tagsOut(v.tags),
		Properties: &armcompute.VirtualMachineProperties{
			VMID:            &v.vmGUID,
			HardwareProfile: &armcompute.HardwareProfile{VMSize: &typ},
			StorageProfile:  &armcompute.StorageProfile{ImageReference: img, OSDisk: osDisk},
			OSProfile: &armcompute.OSProfile{ComputerName: &v.computerName, AdminUsername: &v.adminUser,
				LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: &disablePassword, SSH: &armcompute.SSHConfiguration{PublicKeys: keys}}},
			NetworkProfile:    &armcompute.NetworkProfile{NetworkInterfaces: nics},
			ProvisioningState: &prov,
			TimeCreated:       &created,
		},
	}
	if withView {
		out.Properties.InstanceView = instanceView(m, v, prov, power)
	}
	return out
}

// instanceView is a VM's instance view: its provisioning and power
// states as statuses, and whether it is generalized.
func instanceView(m fakecloud.Machine, v *vm, prov, power string) *armcompute.VirtualMachineInstanceView {
	info, errLevel := armcompute.StatusLevelTypesInfo, armcompute.StatusLevelTypesError
	gen := armcompute.HyperVGenerationTypeV2
	view := &armcompute.VirtualMachineInstanceView{ComputerName: &v.computerName, HyperVGeneration: &gen, OSName: new("debian")}
	if prov == "Failed" {
		code, msg := failureOf(m)
		view.Statuses = append(view.Statuses, &armcompute.InstanceViewStatus{Code: new("ProvisioningState/failed/" + code), Level: &errLevel,
			DisplayStatus: new("Provisioning failed"), Message: &msg})
	} else {
		view.Statuses = append(view.Statuses, &armcompute.InstanceViewStatus{Code: new("ProvisioningState/" + strings.ToLower(prov)), Level: &info,
			DisplayStatus: new("Provisioning " + strings.ToLower(prov))})
	}
	if power != "" {
		view.Statuses = append(view.Statuses, &armcompute.InstanceViewStatus{Code: new("PowerState/" + power), Level: &info, DisplayStatus: new("VM " + power)})
	}
	if v.generalized {
		view.Statuses = append(view.Statuses, &armcompute.InstanceViewStatus{Code: new("OSState/generalized"), Level: &info, DisplayStatus: new("VM generalized")})
	}
	return view
}

func (f *Fake) deleteVM(ctx context.Context, group, name string, _ *armcompute.VirtualMachinesClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientDeleteResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[strings.ToLower(group)]; !ok {
		errResp.SetError(errGroupNotFound(group))
		return
	}
	v, ok := f.vms[strings.ToLower(f.rid(group, "Microsoft.Compute/virtualMachines", name))]
	if !ok {
		// Deleting what is not there succeeds at once, as ARM's DELETE does.
		resp.SetTerminalResponse(http.StatusNoContent, armcompute.VirtualMachinesClientDeleteResponse{}, nil)
		return
	}
	v.deleting = true
	if _, err := f.cloud.Terminate(v.id); err != nil && !errors.Is(err, fakecloud.ErrNotFound) {
		errResp.SetError(faultError(err, callOf(ctx).api))
		return
	}
	resp.AddNonTerminalResponse(http.StatusAccepted, nil)
	f.track(ctx, func() lroState {
		if _, still := f.vms[strings.ToLower(v.id)]; still {
			return inProgress()
		}
		return succeeded(http.StatusNoContent, nil)
	})
	return
}

func (f *Fake) deallocateVM(ctx context.Context, group, name string, _ *armcompute.VirtualMachinesClientBeginDeallocateOptions) (resp azfake.PollerResponder[armcompute.VirtualMachinesClientDeallocateResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := lookupIn(f, f.vms, group, "Microsoft.Compute/virtualMachines", name, f.rid(group, "Microsoft.Compute/virtualMachines", name))
	if err != nil {
		errResp.SetError(err)
		return
	}
	if v.deleting {
		errResp.SetError(&apiError{Status: 409, Code: "OperationNotAllowed", Message: fmt.Sprintf("Operation 'deallocate' is not allowed on VM '%s' since the VM is marked for deletion.", v.name)})
		return
	}
	if _, err := f.cloud.Stop(v.id); err != nil {
		errResp.SetError(&apiError{Status: 409, Code: "OperationNotAllowed", Message: fmt.Sprintf("Operation 'deallocate' is not allowed on VM '%s': %v.", v.name, err)})
		return
	}
	v.deallocated = true
	resp.AddNonTerminalResponse(http.StatusAccepted, nil)
	f.track(ctx, func() lroState {
		m, err := f.cloud.Machine(v.id)
		switch {
		case err != nil || m.State == fakecloud.Terminated || m.State == fakecloud.Terminating:
			return failed(&apiError{Code: "OperationPreempted", Message: "The operation was preempted by a delete of the virtual machine."})
		case m.State == fakecloud.Stopped:
			return succeeded(http.StatusNoContent, nil)
		}
		return inProgress()
	})
	return
}

func (f *Fake) generalizeVM(_ context.Context, group, name string, _ *armcompute.VirtualMachinesClientGeneralizeOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGeneralizeResponse], errResp azfake.ErrorResponder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, err := lookupIn(f, f.vms, group, "Microsoft.Compute/virtualMachines", name, f.rid(group, "Microsoft.Compute/virtualMachines", name))
	if err != nil {
		errResp.SetError(err)
		return
	}
	if m, err := f.cloud.Machine(v.id); err != nil || m.State != fakecloud.Stopped {
		errResp.SetError(&apiError{Status: 409, Code: "OperationNotAllowed",
			Message: fmt.Sprintf("Operation 'generalize' is not allowed on VM '%s' since the VM is %s. Deallocate the VM first.", v.name, m.State)})
		return
	}
	v.generalized = true
	resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGeneralizeResponse{}, nil)
	return
}

func (f *Fake) listVMs(group string, _ *armcompute.VirtualMachinesClientListOptions) (resp azfake.PagerResponder[armcompute.VirtualMachinesClientListResponse]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A missing group was answered by precheck; one deleted since lists
	// nothing.
	page := armcompute.VirtualMachinesClientListResponse{}
	for _, v := range f.vms {
		if strings.EqualFold(v.group, group) {
			vmv := f.vmModel(v, false)
			page.Value = append(page.Value, &vmv)
		}
	}
	slices.SortFunc(page.Value, func(a, b *armcompute.VirtualMachine) int { return strings.Compare(*a.ID, *b.ID) })
	resp.AddPage(http.StatusOK, page, nil)
	return
}

func (f *Fake) sizesServer() armcomputefake.VirtualMachineSizesServer {
	return armcomputefake.VirtualMachineSizesServer{
		// An unknown location was answered by precheck.
		NewListPager: func(string, *armcompute.VirtualMachineSizesClientListOptions) (resp azfake.PagerResponder[armcompute.VirtualMachineSizesClientListResponse]) {
			page := armcompute.VirtualMachineSizesClientListResponse{}
			for _, s := range f.opts.Sizes {
				page.Value = append(page.Value, &armcompute.VirtualMachineSize{Name: new(s.Name), NumberOfCores: new(s.Cores), MemoryInMB: new(s.MemoryMB),
					OSDiskSizeInMB: new(int32(1047552)), ResourceDiskSizeInMB: new(s.MemoryMB * 2), MaxDataDiskCount: new(s.Cores * 2)})
			}
			resp.AddPage(http.StatusOK, page, nil)
			return
		},
	}
}

package azure

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// maxUserData is Azure's limit on osProfile.customData, before base64.
const maxUserData = 64 * 1024

// minOSDiskGB is the OS disk of Azure's Linux images; a smaller disk
// asked for is the image's own.
const minOSDiskGB = 30

// maxVMName is the longest name of a Linux VM (and its host name).
const maxVMName = 64

// batchParallel bounds the creates of one CreateBatch in flight at once.
const batchParallel = 4

// Create makes one VM (with its network interface, and public address
// when asked) and returns once Azure accepted the VM's PUT. The VM's
// computer name (its hostname) is the spec's name; its resource name adds
// a random suffix, so that a machine replacing one of the same instance
// (found gone or failed, or create_before_destroy) is a VM of its own and
// never the old one's resource id.
func (c *Connector) Create(ctx context.Context, spec connectors.MachineSpec) (*connectors.Machine, error) {
	host := spec.Name
	if host == "" {
		host = connectors.MachineName(spec.Deployment, spec.Instance)
	}
	return c.create(ctx, spec, connectors.BatchNames(host, 1, maxVMName)[0], host)
}

// CreateBatch makes count VMs of spec, each named after the spec's name
// and a random suffix: Azure has no call that makes several VMs (short of
// scale sets), so the batch is count creates, a few at a time.
func (c *Connector) CreateBatch(ctx context.Context, spec connectors.MachineSpec, count int) ([]*connectors.Machine, error) {
	if count < 1 || count > 1000 {
		return nil, &connectors.Error{Cloud: Name, Op: "VirtualMachines.CreateOrUpdate", Kind: connectors.KindPermanent, Code: "InvalidParameter",
			Message: fmt.Sprintf("a batch is 1 to 1000 machines, not %d", count)}
	}
	base := spec.Name
	if base == "" {
		base = connectors.MachineName(spec.Deployment, spec.Labels[connectors.LabelPool])
	}
	names := connectors.BatchNames(base, count, maxVMName)
	machines := make([]*connectors.Machine, count)
	errs := make([]error, count)
	sem := make(chan struct{}, batchParallel)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			machines[i], errs[i] = c.create(ctx, spec, names[i], names[i])
			if machines[i] != nil && errs[i] == nil {
				errs[i] = c.learnInstanceID(ctx, machines[i])
			}
		}()
	}
	wg.Wait()
	var out []*connectors.Machine
	for _, m := range machines {
		if m != nil {
			out = append(out, m)
		}
	}
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// learnInstanceID reads a new VM's vmId into m.InstanceID: a pool's
// machine claims its instance by what its cloud-init knows it by, which
// on Azure is the vmId, not the resource id (the PUT's poller does not
// hand back the first answer's body, so it is one GET). The VM exists, so
// a failure is returned with it, for the caller to record or delete.
func (c *Connector) learnInstanceID(ctx context.Context, m *connectors.Machine) error {
	ref, ok := parseRef(m.ID, typeVM)
	if !ok {
		return fmt.Errorf("azure: %s is not a VM resource id", m.ID)
	}
	const op = "VirtualMachines.Get"
	return c.step(ctx, true, op, func(ctx context.Context) error {
		resp, err := c.vms.Get(ctx, ref.group, ref.name, nil)
		if err != nil {
			return apiError(ctx, op, err)
		}
		if resp.Properties != nil {
			m.InstanceID = str(resp.Properties.VMID)
		}
		return nil
	})
}

// create makes the VM name of spec, whose computer name (hostname) is
// computer.
func (c *Connector) create(ctx context.Context, spec connectors.MachineSpec, name, computer string) (*connectors.Machine, error) {
	const op = "VirtualMachines.CreateOrUpdate"
	if len(spec.UserData) > maxUserData {
		return nil, &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindPermanent, Code: "UserDataTooLarge",
			Message: fmt.Sprintf("the user-data is %d bytes; Azure takes at most %d bytes (before base64)", len(spec.UserData), maxUserData)}
	}
	if len(name) > maxVMName {
		return nil, &connectors.Error{Cloud: Name, Op: op, Kind: connectors.KindPermanent, Code: "InvalidParameter",
			Message: fmt.Sprintf("the VM name %q is longer than Azure's %d characters", name, maxVMName)}
	}
	img, err := imageReference(spec.ImageID)
	if err != nil {
		return nil, err
	}
	size, err := c.sizeOf(ctx, spec)
	if err != nil {
		return nil, err
	}
	key, err := c.sshKeyOf(spec)
	if err != nil {
		return nil, err
	}
	group, own := spec.Settings.String("resource_group"), false
	if group == "" {
		group, own = groupNameOf(spec.Deployment), true
	}
	d := c.deploymentOf(spec.Deployment, group, own)
	d.rw.RLock()
	m, made, err := c.createIn(ctx, d, spec, name, computer, img, size, key)
	d.rw.RUnlock()
	if err != nil && m == nil && made && !connectors.IsTransient(err) {
		// The create failed for good and left no VM: if no machine of
		// the deployment is left either, neither is its network. (A
		// transient failure is retried by the caller, which reuses them.)
		cctx, cancel := c.cleanupContext(ctx)
		defer cancel()
		_ = c.release(cctx, d) // the next Delete in the deployment releases what this could not
	}
	return m, err
}

// createIn makes the VM in d's group: the shared resources when missing,
// then its public address, network interface and the VM. made reports
// whether the shared resources were made or were known to exist, so that
// a failure knows whether there is anything to release.
func (c *Connector) createIn(ctx context.Context, d *deployment, spec connectors.MachineSpec, name, computer string, img *armcompute.ImageReference, size, key string) (m *connectors.Machine, made bool, err error) {
	created := false // something was created: later steps are retried while they fail transiently
	// A step that finds the deployment's own group gone (another process
	// released it meanwhile) is retried by the caller, which makes the
	// group again; any other missing thing is the request's fault. d.mu
	// is not held.
	missing := func(err error) error {
		if d.own && codeOf(err) == "ResourceGroupNotFound" {
			d.mu.Lock()
			d.forget()
			d.mu.Unlock()
			if ce, ok := errors.AsType[*connectors.Error](err); ok {
				ce.Kind = connectors.KindTransient
			}
			return err
		}
		return notFoundAsPermanent(err)
	}
	d.mu.Lock()
	err = c.ensureGroup(ctx, d, &created)
	subnetID := spec.Settings.String("subnet_id")
	if err == nil && subnetID == "" {
		subnetID, err = c.ensureNetwork(ctx, d, &created)
	}
	made = d.groupReady || d.subnetID != ""
	d.mu.Unlock()
	if err != nil {
		return nil, made, missing(err)
	}
	tags := tagsOf(spec)
	nicName, pipName := name+"-nic", ""
	pipID := ""
	if spec.Settings.Bool("associate_public_ip") {
		pipName = name + "-ip"
		if pipID, err = c.createPublicIP(ctx, d.group, pipName, tags, created); err != nil {
			return nil, made, c.undo(ctx, d, missing(err), nicName, pipName)
		}
		created = true
	}
	nicID, err := c.createNIC(ctx, d.group, nicName, subnetID, pipID, tags, created)
	if err != nil {
		return nil, made, c.undo(ctx, d, missing(err), nicName, pipName)
	}
	admin := spec.Settings.String("admin_username")
	if admin == "" {
		admin = defaultAdminUser
	}
	vm := c.vmBody(spec, name, computer, img, size, key, admin, nicID, tags)
	const op = "VirtualMachines.CreateOrUpdate"
	err = c.step(ctx, true, op, func(ctx context.Context) error {
		_, err := c.vms.BeginCreateOrUpdate(ctx, d.group, name, vm, nil)
		return apiError(ctx, op, err)
	})
	if err != nil {
		err = missing(err)
		if ctx.Err() != nil || connectors.IsTransient(err) {
			// The PUT may have reached Azure though its answer did not
			// come back: a VM that exists is returned with the error, for
			// the caller to record or delete.
			cctx, cancel := c.cleanupContext(ctx)
			defer cancel()
			if _, gerr := c.vms.Get(cctx, d.group, name, nil); gerr == nil {
				return c.newMachine(spec, name, computer, d.group, size, tags), made, err
			}
		}
		return nil, made, c.undo(ctx, d, err, nicName, pipName)
	}
	return c.newMachine(spec, name, computer, d.group, size, tags), made, nil
}

// undo deletes the network interface and public address a create made
// for a VM Azure did not take, and returns err.
func (c *Connector) undo(ctx context.Context, d *deployment, err error, nicName, pipName string) error {
	cctx, cancel := c.cleanupContext(ctx)
	defer cancel()
	cerr := deleteAndAwait(cctx, c, "NetworkInterfaces.Delete", func(ctx context.Context) (*runtime.Poller[armnetwork.InterfacesClientDeleteResponse], error) {
		return c.nics.BeginDelete(ctx, d.group, nicName, nil)
	})
	if pipName != "" && cerr == nil {
		cerr = deleteAndAwait(cctx, c, "PublicIPAddresses.Delete", func(ctx context.Context) (*runtime.Poller[armnetwork.PublicIPAddressesClientDeleteResponse], error) {
			return c.pips.BeginDelete(ctx, d.group, pipName, nil)
		})
	}
	if cerr != nil && !connectors.IsNotFound(cerr) {
		return fmt.Errorf("%w (and removing the network interface %s made for it failed: %v)", err, nicName, cerr)
	}
	return err
}

// createPublicIP makes a Standard static public address that goes with
// its VM, and waits until it exists.
func (c *Connector) createPublicIP(ctx context.Context, group, name string, tags map[string]*string, retry bool) (string, error) {
	const op = "PublicIPAddresses.CreateOrUpdate"
	std, regional := armnetwork.PublicIPAddressSKUNameStandard, armnetwork.PublicIPAddressSKUTierRegional
	static, v4, del := armnetwork.IPAllocationMethodStatic, armnetwork.IPVersionIPv4, armnetwork.DeleteOptionsDelete
	body := armnetwork.PublicIPAddress{Location: &c.location, Tags: tags, SKU: &armnetwork.PublicIPAddressSKU{Name: &std, Tier: &regional},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{PublicIPAllocationMethod: &static, PublicIPAddressVersion: &v4, DeleteOption: &del}}
	var id string
	err := c.step(ctx, retry, op, func(ctx context.Context) error {
		p, err := c.pips.BeginCreateOrUpdate(ctx, group, name, body, nil)
		if err != nil {
			return apiError(ctx, op, err)
		}
		res, err := await(ctx, c, op, p)
		id = str(res.ID)
		return err
	})
	if id == "" {
		id = c.resourceID(group, "Microsoft.Network/publicIPAddresses", name)
	}
	return id, err
}

// createNIC makes the VM's network interface in subnetID, with the public
// address pipID when there is one, and waits until it exists: the VM's
// PUT names it.
func (c *Connector) createNIC(ctx context.Context, group, name, subnetID, pipID string, tags map[string]*string, retry bool) (string, error) {
	const op = "NetworkInterfaces.CreateOrUpdate"
	dynamic := armnetwork.IPAllocationMethodDynamic
	ipc := &armnetwork.InterfaceIPConfigurationPropertiesFormat{Primary: new(true), PrivateIPAllocationMethod: &dynamic, Subnet: &armnetwork.Subnet{ID: &subnetID}}
	if pipID != "" {
		ipc.PublicIPAddress = &armnetwork.PublicIPAddress{ID: &pipID}
	}
	body := armnetwork.Interface{Location: &c.location, Tags: tags,
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Name: new("ipconfig1"), Properties: ipc}}}}
	var id string
	err := c.step(ctx, retry, op, func(ctx context.Context) error {
		p, err := c.nics.BeginCreateOrUpdate(ctx, group, name, body, nil)
		if err != nil {
			return apiError(ctx, op, err)
		}
		res, err := await(ctx, c, op, p)
		id = str(res.ID)
		return err
	})
	if id == "" {
		id = c.resourceID(group, "Microsoft.Network/networkInterfaces", name)
	}
	return id, err
}

// vmBody is the VM's PUT.
func (c *Connector) vmBody(spec connectors.MachineSpec, name, computer string, img *armcompute.ImageReference, size, key, admin, nicID string, tags map[string]*string) armcompute.VirtualMachine {
	vmSize := armcompute.VirtualMachineSizeTypes(size)
	fromImage, diskDelete, nicDelete := armcompute.DiskCreateOptionTypesFromImage, armcompute.DiskDeleteOptionTypesDelete, armcompute.DeleteOptionsDelete
	osDisk := &armcompute.OSDisk{Name: new(name + "-osdisk"), CreateOption: &fromImage, DeleteOption: &diskDelete}
	if spec.Size.DiskGB > minOSDiskGB {
		osDisk.DiskSizeGB = new(int32(min(spec.Size.DiskGB, 4095)))
	}
	osProfile := &armcompute.OSProfile{ComputerName: &computer, AdminUsername: &admin,
		LinuxConfiguration: &armcompute.LinuxConfiguration{DisablePasswordAuthentication: new(true),
			SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{Path: new("/home/" + admin + "/.ssh/authorized_keys"), KeyData: &key}}}}}
	if spec.UserData != "" {
		osProfile.CustomData = new(base64.StdEncoding.EncodeToString([]byte(spec.UserData)))
	}
	return armcompute.VirtualMachine{Location: &c.location, Tags: tags,
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: &vmSize},
			StorageProfile:  &armcompute.StorageProfile{ImageReference: img, OSDisk: osDisk},
			OSProfile:       osProfile,
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: &nicID,
				Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: new(true), DeleteOption: &nicDelete}}}},
		}}
}

// newMachine is the machine Create returns: pending, as Azure just took
// it.
func (c *Connector) newMachine(spec connectors.MachineSpec, name, computer, group, size string, tags map[string]*string) *connectors.Machine {
	labels := map[string]string{}
	for k, v := range tags {
		labels[k] = str(v)
	}
	return &connectors.Machine{ID: c.vmID(group, name), Name: computer, State: connectors.StatePending, Type: size, ImageID: spec.ImageID,
		Labels: labels, Created: time.Now().UTC(), Settings: settingsOf(spec.Deployment, group, spec.Settings.String("subnet_id"), spec.Settings.Bool("associate_public_ip"), spec.Settings.String("admin_username"))}
}

// tagsOf is a VM's tags: the tags setting, then the spec's labels, which
// win.
func tagsOf(spec connectors.MachineSpec) map[string]*string {
	all := maps.Clone(spec.Settings.Map("tags"))
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, spec.Labels)
	out := make(map[string]*string, len(all))
	for k, v := range all {
		out[k] = &v
	}
	return out
}

// imageReference reads an image id: a managed image, gallery image
// version or gallery image definition (its latest version) by resource
// id, or a marketplace URN publisher:offer:sku:version.
func imageReference(id string) (*armcompute.ImageReference, error) {
	if strings.HasPrefix(id, "/") {
		for _, t := range []string{typeImage, typeGalleryVersion, typeGalleryImage} {
			if _, ok := parseRef(id, t); ok {
				return &armcompute.ImageReference{ID: &id}, nil
			}
		}
	} else if parts := strings.Split(id, ":"); len(parts) == 4 && !slicesContainEmpty(parts) {
		return &armcompute.ImageReference{Publisher: &parts[0], Offer: &parts[1], SKU: &parts[2], Version: &parts[3]}, nil
	}
	return nil, &connectors.Error{Cloud: Name, Op: "VirtualMachines.CreateOrUpdate", Kind: connectors.KindPermanent, Code: "InvalidImageID",
		Message: fmt.Sprintf("image id %q is neither a managed image or gallery image version id (/subscriptions/…/providers/Microsoft.Compute/images/NAME, …/galleries/G/images/D/versions/V) nor a marketplace URN publisher:offer:sku:version", id)}
}

func slicesContainEmpty(parts []string) bool {
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return true
		}
	}
	return false
}

// sizeOf is the VM size: the spec's type, the vm_size setting, or the
// smallest size of the location that fits the generic sizing.
func (c *Connector) sizeOf(ctx context.Context, spec connectors.MachineSpec) (string, error) {
	if spec.Type != "" {
		return spec.Type, nil
	}
	if s := spec.Settings.String("vm_size"); s != "" {
		return s, nil
	}
	offers, err := c.Offers(ctx)
	if err != nil {
		return "", err
	}
	offer, err := connectors.PickOffer(Name, offers, spec.Size)
	if err != nil {
		return "", err
	}
	return offer.Name, nil
}

// sshKeyOf is the public key the VM's login user gets: the spec's, the
// ssh_public_key setting, or the connector's throw-away key (Azure takes
// no Linux VM without a key or a password; the machine's own user-data is
// how SlipStream reaches it).
func (c *Connector) sshKeyOf(spec connectors.MachineSpec) (string, error) {
	key := strings.TrimSpace(spec.SSHPublicKey)
	if key == "" {
		key = strings.TrimSpace(spec.Settings.String("ssh_public_key"))
	}
	if key != "" {
		return key, nil
	}
	c.keyOnce.Do(func() { c.key, c.keyErr = throwAwayKey() })
	if c.keyErr != nil {
		return "", fmt.Errorf("%s: making a throw-away SSH key: %w", Name, c.keyErr)
	}
	return c.key, nil
}

// throwAwayKey is an ed25519 public key in OpenSSH's format whose private
// key is dropped at once.
func throwAwayKey() (string, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	const typ = "ssh-ed25519"
	blob := binary.BigEndian.AppendUint32(nil, uint32(len(typ)))
	blob = append(blob, typ...)
	blob = binary.BigEndian.AppendUint32(blob, ed25519.PublicKeySize)
	blob = append(blob, pub...)
	return typ + " " + base64.StdEncoding.EncodeToString(blob) + " slipstream-no-login", nil
}

// settingsOf are the per-machine settings an import can recover, those
// that differ from what the connector does unasked.
func settingsOf(deployment, group, subnetID string, publicIP bool, admin string) connectors.Settings {
	s := connectors.Settings{}
	if !strings.EqualFold(group, groupNameOf(deployment)) {
		s["resource_group"] = group
	}
	if subnetID != "" && !strings.Contains(strings.ToLower(subnetID), "/virtualnetworks/"+strings.ToLower(vnetNameOf(deployment))+"/") {
		s["subnet_id"] = subnetID
	}
	if publicIP {
		s["associate_public_ip"] = true
	}
	if admin != "" && admin != defaultAdminUser {
		s["admin_username"] = admin
	}
	return s
}

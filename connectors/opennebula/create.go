package opennebula

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	dyn "github.com/OpenNebula/one/src/oca/go/src/goca/dynamic"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/image"
	"golang.org/x/crypto/ssh"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// XML-RPC methods, as errors name them.
const (
	opAllocate    = "one.vm.allocate"
	opInstantiate = "one.template.instantiate"
	opTemplate    = "one.template.info"
	opImage       = "one.image.info"
	opImages      = "one.imagepool.info"
	opNetworks    = "one.vnpool.info"
	opVM          = "one.vm.info"
	opVMs         = "one.vmpool.infoextended"
	opAction      = "one.vm.action"
	opSaveas      = "one.vm.disksaveas"
	opImageUpdate = "one.image.update"
	opImageDelete = "one.image.delete"
	opUser        = "one.user.info"
)

// Create makes one machine (see create).
func (c *Connector) Create(ctx context.Context, spec connectors.MachineSpec) (*connectors.Machine, error) {
	ms, err := c.create(ctx, spec, []string{spec.Name})
	if len(ms) > 0 {
		return ms[0], err
	}
	return nil, err
}

// CreateBatch makes count machines of one spec, named <spec.Name>-1 …
// -count. OpenNebula allocates one VM per call, so they are allocated one
// after the other from one template.
func (c *Connector) CreateBatch(ctx context.Context, spec connectors.MachineSpec, count int) ([]*connectors.Machine, error) {
	if count < 1 {
		return nil, c.permanent(opAllocate, "InvalidCount", "a batch makes at least one machine, not %d", count)
	}
	return c.create(ctx, spec, connectors.BatchNames(spec.Name, count, 63))
}

// create plans the VMs (checks the spec, reads the image or template and
// the network: nothing is made yet) and allocates one per name. It
// returns the machines made, with the error that stopped it.
func (c *Connector) create(ctx context.Context, spec connectors.MachineSpec, names []string) ([]*connectors.Machine, error) {
	p, err := c.plan(ctx, spec)
	if err != nil {
		return nil, err
	}
	var ms []*connectors.Machine
	for _, name := range names {
		m, err := c.allocate(ctx, p, name)
		if m != nil {
			ms = append(ms, m)
		}
		if err != nil {
			return ms, err
		}
	}
	return ms, nil
}

// plan is what every VM of a create is made from.
type plan struct {
	spec connectors.MachineSpec
	// template is the VM template instantiated, or -1 for an allocate.
	template int
	// body is the template (allocate) or extra template (instantiate),
	// without the VM's name and request id.
	body string
	// typeName, labels and settings are what the machine reports.
	typeName string
	labels   map[string]string
	settings connectors.Settings
}

func (p *plan) op() string {
	if p.template >= 0 {
		return opInstantiate
	}
	return opAllocate
}

// plan checks the spec and writes the VMs' template:
//   - labels (the spec's and the tags setting's) and the SSH key are
//     checked;
//   - the image (one.image.info) or VM template (one.template.info) is
//     read, the network is resolved to its id (one.vnpool.info);
//   - the size is the spec's (or its instance type's);
//   - the CONTEXT is the flavor's.
func (c *Connector) plan(ctx context.Context, spec connectors.MachineSpec) (*plan, error) {
	op := opAllocate
	if spec.Name == "" {
		return nil, c.permanent(op, "InvalidName", "the machine has no name")
	}
	labels := map[string]string{}
	maps.Copy(labels, spec.Settings.Map("tags"))
	maps.Copy(labels, spec.Labels)
	if err := c.checkLabels(op, labels); err != nil {
		return nil, err
	}
	key := spec.SSHPublicKey
	if key == "" {
		key = spec.Settings.String("ssh_public_key")
	}
	if key != "" {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err != nil {
			return nil, c.permanent(op, "InvalidKey", "ssh_public_key is not an OpenSSH public key line: %v", err)
		}
	}
	ref, err := c.imageRef(ctx, spec.ImageID)
	if err != nil {
		return nil, err
	}
	if ref.template >= 0 {
		op = opInstantiate
	}
	size, err := c.sizeOf(op, spec, ref.template >= 0)
	if err != nil {
		return nil, err
	}
	network := spec.Settings.String("network")
	nic, netName, err := c.nic(ctx, network, ref.template < 0)
	if err != nil {
		return nil, err
	}
	ctxVars, err := c.flavor.context(machineContext{Hostname: spec.Name, UserData: spec.UserData, SSHKey: key})
	if err != nil {
		return nil, c.permanent(op, "InvalidUserData", "%v", err)
	}

	t := &templateText{}
	if size.cpu > 0 {
		t.single("CPU", strconv.Itoa(size.cpu))
		t.single("VCPU", strconv.Itoa(size.cpu))
	}
	if size.memoryMB > 0 {
		t.single("MEMORY", strconv.Itoa(size.memoryMB))
	}
	if ref.template < 0 {
		disk := []pair{{"IMAGE_ID", strconv.Itoa(ref.image)}}
		if mb := spec.Size.DiskGB * 1024; mb > ref.imageMB {
			disk = append(disk, pair{"SIZE", strconv.Itoa(mb)})
		}
		t.vector("DISK", disk)
	} else {
		disks, err := c.templateDisks(ctx, ref, spec.Size.DiskGB*1024, size.swapMB > 0)
		if err != nil {
			return nil, err
		}
		for _, d := range disks {
			t.vector("DISK", d)
		}
		ctxVars = mergeContext(vectorPairs(ref.vmTemplate, "CONTEXT"), ctxVars)
	}
	if size.swapMB > 0 {
		t.vector("DISK", []pair{{"TYPE", "swap"}, {"SIZE", strconv.Itoa(size.swapMB)}})
	}
	t.vector("NIC", nic)
	t.vector("CONTEXT", ctxVars)
	t.vector(attrLabels, labelPairs(labels))
	t.single(attrImage, spec.ImageID)
	if size.typeName != "" {
		t.single(attrType, size.typeName)
	}
	body, err := t.String()
	if err != nil {
		return nil, c.permanent(op, "InvalidSpec", "the VM's template cannot be written: %v", err)
	}
	settings := connectors.Settings{}
	if netName != "" {
		settings["network"] = netName
	}
	if key != "" {
		settings["ssh_public_key"] = key
	}
	if tags := userTags(labels); len(tags) > 0 {
		settings["tags"] = tags
	}
	return &plan{spec: spec, template: ref.template, body: body, typeName: size.typeName, labels: labels, settings: settings}, nil
}

// allocate makes one VM of the plan. The VM carries a request id of its
// own; when the call fails without a refusal (no answer, a 5xx, an answer
// that cannot be read, the context ended), the VM may exist nonetheless
// and is looked for by it: adopted when the caller still waits, deleted
// when the caller has gone (its context ended), so that a cancelled create
// leaves nothing behind.
func (c *Connector) allocate(ctx context.Context, p *plan, name string) (*connectors.Machine, error) {
	token, err := requestID()
	if err != nil {
		return nil, err
	}
	t := &templateText{}
	if p.template < 0 {
		t.single("NAME", name)
	}
	t.single(attrRequest, token)
	tail, err := t.String()
	if err != nil {
		return nil, c.permanent(p.op(), "InvalidName", "machine name %q: %v", name, err)
	}
	body := p.body + tail
	id, err := guard(c, p.op(), func() (int, error) {
		if p.template >= 0 {
			return c.one.Template(p.template).InstantiateContext(ctx, name, false, body, false)
		}
		return c.one.VMs().CreateContext(ctx, body, false)
	})
	if err == nil {
		return c.newMachine(p, id, name), nil
	}
	if rejected(err) {
		return nil, asPermanent(err)
	}
	cctx, cancel := c.cleanupContext(ctx)
	defer cancel()
	found, ferr := c.findRequest(cctx, token)
	switch {
	case ferr != nil:
		return nil, errors.Join(err, fmt.Errorf("looking for a VM the failed create may have made: %w", ferr))
	case found < 0:
		return nil, err
	case ctx.Err() == nil:
		// The answer was lost, the VM was made: it is this create's.
		return c.newMachine(p, found, name), nil
	}
	if derr := c.Delete(cctx, strconv.Itoa(found)); derr != nil {
		return c.newMachine(p, found, name), errors.Join(err, fmt.Errorf("deleting VM %d, made by the create that was cancelled: %w", found, derr))
	}
	return nil, err
}

// newMachine is a VM just accepted, as Create reports it.
func (c *Connector) newMachine(p *plan, id int, name string) *connectors.Machine {
	return &connectors.Machine{ID: strconv.Itoa(id), Name: name, State: connectors.StatePending, Type: p.typeName,
		ImageID: p.spec.ImageID, Labels: maps.Clone(p.labels), Settings: maps.Clone(p.settings)}
}

// requestID is a random id for one allocate.
func requestID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a request id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// findRequest looks, for up to c.settle, for the VM of an allocate by its
// request id; -1 when there is none.
func (c *Connector) findRequest(ctx context.Context, token string) (int, error) {
	found := -1
	wctx, cancel := context.WithTimeout(ctx, c.settle)
	defer cancel()
	err := connectors.WaitFor(wctx, c.poll, "the VM of request "+token, func(ctx context.Context) (bool, string, error) {
		pool, err := c.vmPool(ctx)
		if err != nil {
			return false, "", err
		}
		for i := range pool {
			if v, _ := pool[i].UserTemplate.GetStr(attrRequest); v == token {
				found = pool[i].ID
				return true, "", nil
			}
		}
		return false, "not found", nil
	})
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return -1, nil // looked long enough: there is none
	}
	return found, err
}

// imageRef is what a machine starts from.
type imageRef struct {
	// image is the image (allocate); imageMB its size.
	image   int
	imageMB int
	// template is the VM template (instantiate), -1 for an image.
	template   int
	vmTemplate *dyn.Template
}

// templatePrefix marks a VM template id as image id.
const templatePrefix = "template:"

// imageRef reads the image or VM template an image id names. What does
// not exist is a permanent error: the machine is not what is missing.
func (c *Connector) imageRef(ctx context.Context, imageID string) (imageRef, error) {
	if rest, ok := strings.CutPrefix(imageID, templatePrefix); ok {
		id, err := strconv.Atoi(rest)
		if err != nil || id < 0 {
			return imageRef{}, c.permanent(opTemplate, "InvalidImage", "image id %q: %s is followed by a VM template id, a number", imageID, templatePrefix)
		}
		tpl, err := guard(c, opTemplate, func() (*dyn.Template, error) {
			t, err := c.one.Template(id).InfoContext(ctx, false, false)
			if err != nil {
				return nil, err
			}
			return &t.Template.Template, nil
		})
		if err != nil {
			return imageRef{}, asPermanent(err)
		}
		return imageRef{image: -1, template: id, vmTemplate: tpl}, nil
	}
	id, err := strconv.Atoi(imageID)
	if err != nil || id < 0 {
		if c.flavor.marketplace && isMarketplaceID(imageID) {
			if id, err = c.marketplaceImage(ctx, imageID); err != nil {
				return imageRef{}, err
			}
		} else {
			return imageRef{}, c.permanent(opImage, "InvalidImage", "image id %q is neither an OpenNebula image id (a number) nor %s<VM template id>%s",
				imageID, templatePrefix, c.flavor.imageHint())
		}
	}
	img, err := c.imageInfo(ctx, id)
	if err != nil {
		return imageRef{}, asPermanent(err)
	}
	if err := c.usable(img); err != nil {
		return imageRef{}, err
	}
	return imageRef{image: id, imageMB: img.Size, template: -1}, nil
}

func (c *Connector) imageInfo(ctx context.Context, id int) (*image.Image, error) {
	return guard(c, opImage, func() (*image.Image, error) { return c.one.Image(id).InfoContext(ctx, false) })
}

// usable refuses an image no VM can start from: failed, disabled or being
// deleted (permanent), or still being made or copied (transient: it will
// be ready).
func (c *Connector) usable(img *image.Image) error {
	state := image.State(img.StateRaw)
	switch state {
	case image.Ready, image.Used, image.UsedPers:
		return nil
	case image.Init, image.Locked, image.Clone, image.LockUsed, image.LockUsedPers:
		return &connectors.Error{Cloud: c.name, Op: opImage, Code: "ImageNotReady", Kind: connectors.KindTransient,
			Message: fmt.Sprintf("image %d (%s) is %s: it is being made or copied; machines start from it once it is READY", img.ID, img.Name, state)}
	}
	return c.permanent(opImage, "ImageNotUsable", "image %d (%s) is %s: no machine can start from it", img.ID, img.Name, imageStateName(img.StateRaw))
}

func imageStateName(raw int) string {
	if raw >= int(image.Init) && raw <= int(image.LockUsedPers) {
		return image.State(raw).String()
	}
	return fmt.Sprintf("in state %d", raw)
}

// templateDisks are the disks an instantiation gives the VM beside a swap
// disk: OpenNebula replaces the DISKs of a template with those of the
// extra template, so the template's disks are given again when the extra
// template has one (addingDisk) or when the disk asked for is larger than
// the template's first disk, which is then resized. Otherwise none: the
// template's own stay.
func (c *Connector) templateDisks(ctx context.Context, ref imageRef, wantMB int, addingDisk bool) ([][]pair, error) {
	vecs := ref.vmTemplate.GetVectors("DISK")
	if len(vecs) == 0 || wantMB <= 0 && !addingDisk {
		return nil, nil
	}
	first := vecs[0]
	have := -1 // unknown: an image by name, or a volatile disk, sized as the template says
	if s, err := first.GetInt("SIZE"); err == nil {
		have = s
	} else if iid, err := first.GetInt("IMAGE_ID"); err == nil && wantMB > 0 {
		img, err := c.imageInfo(ctx, iid)
		if err != nil {
			return nil, asPermanent(err)
		}
		have = img.Size
	}
	resize := have >= 0 && wantMB > have
	if !resize && !addingDisk {
		return nil, nil
	}
	out := make([][]pair, 0, len(vecs))
	for i, v := range vecs {
		var ps []pair
		for _, p := range v.Pairs {
			if i == 0 && resize && p.Key() == "SIZE" {
				continue
			}
			ps = append(ps, pair{p.Key(), p.Value})
		}
		if i == 0 && resize {
			ps = append(ps, pair{"SIZE", strconv.Itoa(wantMB)})
		}
		out = append(out, ps)
	}
	return out, nil
}

// vectorPairs are the pairs of a template's vector attribute (the first
// of that name).
func vectorPairs(t *dyn.Template, name string) []pair {
	if t == nil {
		return nil
	}
	vecs := t.GetVectors(name)
	if len(vecs) == 0 {
		return nil
	}
	out := make([]pair, 0, len(vecs[0].Pairs))
	for _, p := range vecs[0].Pairs {
		out = append(out, pair{p.Key(), p.Value})
	}
	return out
}

// size is what a VM is given.
type size struct {
	cpu      int // CPU and VCPU; 0: the template's
	memoryMB int // 0: the template's
	swapMB   int
	typeName string // the instance type, if any
}

// sizeOf is the size of a VM: its instance type's when the flavor has
// instance types (the flavor's default type for a spec of no size, else
// the smallest that fits); else the spec's size, at least 1 core and 1 GB as
// PickOffer gives them — for a VM template, only what the spec asks for,
// the template giving the rest.
func (c *Connector) sizeOf(op string, spec connectors.MachineSpec, fromTemplate bool) (size, error) {
	if len(c.flavor.instanceTypes) > 0 {
		name := spec.Type
		if name == "" && spec.Size == (connectors.Size{}) {
			name = c.flavor.defaultType
		}
		if name == "" {
			offer, err := connectors.PickOffer(c.name, c.flavor.offers(), spec.Size)
			if err != nil {
				return size{}, err
			}
			name = offer.Name
		}
		it, ok := c.flavor.instanceType(name)
		if !ok {
			return size{}, c.permanent(op, "InvalidInstanceType", "instance type %q is not one of %s", name, c.flavor.instanceTypeNames())
		}
		return size{cpu: it.CPU, memoryMB: it.RAMMB, swapMB: it.SwapMB, typeName: it.Name}, nil
	}
	if spec.Type != "" {
		return size{}, c.permanent(op, "InvalidInstanceType", "OpenNebula has no instance types (%q): a VM gets the cpu and ram asked for", spec.Type)
	}
	ram := int(math.Ceil(spec.Size.RAMGB * 1024))
	if fromTemplate {
		return size{cpu: spec.Size.CPU, memoryMB: ram}, nil
	}
	return size{cpu: max(spec.Size.CPU, 1), memoryMB: max(ram, 1024)}, nil
}

// userTags are the labels that are not SlipStream's own: the tags setting
// an import reads back.
func userTags(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if !strings.HasPrefix(k, "slipstream-") {
			out[k] = v
		}
	}
	return out
}

// Package fakecloud is the cloud-independent half of every fake cloud
// that the connectors are tested against: machines with a life cycle
// (pending → running → stopping/stopped → terminating → terminated),
// images, key pairs, labels, and failures injected on demand. A wire fake
// (connectors/ec2/ec2fake, connectors/openstack/openstackfake,
// connectors/cloudsigma/cloudsigmafake) is an http.Handler that speaks one
// cloud's real protocol to the real SDK or client, and calls a Cloud for
// everything that is not protocol. A new cloud's fake is its protocol
// only.
//
// What a machine runs on is the Runtime's business: Instant (nothing, for
// API tests) or connectors/fakecloud/guest (a real Debian root in its own
// namespaces, booted by the real cloud-init from the user-data the API
// received).
package fakecloud

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
)

// State is a fake machine's state, in the words of connectors.State;
// wire fakes map it to their cloud's own (EC2 "shutting-down", Nova
// "BUILD"/"ACTIVE"/"SHUTOFF", …).
type State string

const (
	Pending     State = "pending"
	Running     State = "running"
	Stopping    State = "stopping"
	Stopped     State = "stopped"
	Terminating State = "terminating"
	Terminated  State = "terminated"
	Failed      State = "error"
)

// Options configure a Cloud. The zero value is a usable cloud with the
// Instant runtime and no delays.
type Options struct {
	// Name names the cloud in errors and logs ("ec2").
	Name string
	// Runtime runs the machines; default a new &Instant{}. A Runtime
	// given here may be shared by several clouds (one network for the
	// fakes of a multi-cloud test): Close leaves it to its owner.
	Runtime Runtime
	// BootDelay is how long a machine stays pending before it boots, as
	// a real cloud takes to schedule and start it (Faults.BootDelay
	// overrides it).
	BootDelay time.Duration
	// StopDelay and TerminateDelay are how long stopping and terminating
	// take, after the guest has been stopped or destroyed.
	StopDelay      time.Duration
	TerminateDelay time.Duration
	// ImageDelay is how long a new image stays pending after its layer
	// was written.
	ImageDelay time.Duration
	// TerminatedRetention is how long a terminated machine stays visible
	// (EC2 shows them for about an hour); 0 removes it at once.
	TerminatedRetention time.Duration
	// LayerDir holds the layers of images made by Snapshot; default a
	// temporary folder removed by Close.
	LayerDir string
	// NewID makes ids for "machine" and "image" (default: 16 hex
	// digits); wire fakes give their cloud's shapes ("i-…", UUIDs).
	NewID func(kind string) string
	// Log, when set, hears each state change (for test logs).
	Log func(format string, args ...any)
}

// Machine is a fake machine. Wire fakes read it through Machine copies
// (Cloud.Machine, Cloud.Machines); only the Cloud changes it.
type Machine struct {
	ID string
	// InstanceID is cloud-init's instance-id when the cloud tells it
	// apart from ID (Azure's vmId); empty means ID.
	InstanceID string
	Name       string
	ImageID    string
	Type       string
	CPU        int
	RAMMB      int
	DiskGB     int
	UserData   []byte
	SSHKeys    []string
	KeyName    string
	Labels     map[string]string
	State      State
	Reason     string // why it failed or stopped unasked; "" otherwise
	PrivateIP  string
	PublicIP   string
	Created    time.Time
	Launched   time.Time // last boot
	// Extra holds what only one cloud's protocol needs (EC2 subnet and
	// security groups, Nova networks); the Cloud keeps it as given.
	Extra map[string]any

	guest   Guest
	gen     int // bumped on each state change a goroutine may race with
	deleted time.Time
}

// Image is an image machines start from.
type Image struct {
	ID      string
	Name    string
	State   string // "pending", "available", "failed"
	Layers  []string
	Labels  map[string]string
	Created time.Time
	// Source is the machine a snapshot was made from; "" for a base image.
	Source string
	// Extra is the wire fake's own data about the image.
	Extra map[string]any
	// LoginUser is the image's login user (informative).
	LoginUser string
	owned     bool // the layer was made by Snapshot: removed with the image
}

// KeyPair is an imported public key.
type KeyPair struct {
	Name        string
	PublicKey   string
	Fingerprint string
	ID          string
}

// RunRequest asks for machines.
type RunRequest struct {
	Op       string // the API operation, for faults and errors
	Name     string
	ImageID  string
	Type     string
	CPU      int
	RAMMB    int
	DiskGB   int
	UserData []byte
	SSHKeys  []string
	KeyName  string
	// InstanceID is cloud-init's instance-id of the machine, for a cloud
	// whose machines know themselves by another id than the API's (Azure's
	// vmId); only with Count 1. Empty: the machine's ID.
	InstanceID string
	Labels     map[string]string
	PublicIP   bool
	Extra      map[string]any
	Count      int // default 1
	// Stopped creates the machines stopped, as CloudSigma's servers are
	// until started.
	Stopped bool
	// FailLater models clouds that take a machine first and find out
	// later that they have no room for it (Nova: the server goes to ERROR
	// with "No valid host was found"): when a capacity fault is due, the
	// machines are accepted and fail this long after, with Reason
	// ReasonNoCapacity. Zero: the capacity fault fails the call.
	FailLater time.Duration
}

// ReasonNoCapacity is the Reason of a machine failed by a capacity fault
// with RunRequest.FailLater.
const ReasonNoCapacity = "no capacity"

// Errors the Cloud returns besides *Fault; wire fakes map them to their
// cloud's codes.
var (
	ErrNotFound       = errors.New("not found")
	ErrImageNotFound  = errors.New("image not found")
	ErrImageNotReady  = errors.New("image not available")
	ErrIncorrectState = errors.New("incorrect state")
	ErrDuplicate      = errors.New("already exists")
	ErrClosed         = errors.New("the fake cloud is closed")
)

// Cloud is one fake cloud (one account, one region).
type Cloud struct {
	Faults Faults

	opts     Options
	runtime  Runtime
	ownsRT   bool
	layerDir string
	ownsDir  bool

	mu       sync.Mutex
	machines map[string]*Machine
	images   map[string]*Image
	keys     map[string]*KeyPair
	calls    map[string]int
	closed   bool
	changed  chan struct{} // closed and replaced on every change
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// New returns a cloud with no machines and no images.
func New(opts Options) (*Cloud, error) {
	c := &Cloud{opts: opts, runtime: opts.Runtime, machines: map[string]*Machine{}, images: map[string]*Image{},
		keys: map[string]*KeyPair{}, calls: map[string]int{}, changed: make(chan struct{})}
	if c.runtime == nil {
		c.runtime, c.ownsRT = &Instant{}, true
	}
	if c.opts.Name == "" {
		c.opts.Name = "fake"
	}
	c.layerDir = opts.LayerDir
	if c.layerDir == "" {
		dir, err := os.MkdirTemp("", "fakecloud-layers-")
		if err != nil {
			return nil, err
		}
		c.layerDir, c.ownsDir = dir, true
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Name is the cloud's name.
func (c *Cloud) Name() string { return c.opts.Name }

func (c *Cloud) logf(format string, args ...any) {
	if c.opts.Log != nil {
		c.opts.Log(c.opts.Name+": "+format, args...)
	}
}

func (c *Cloud) newID(kind string) string {
	if c.opts.NewID != nil {
		return c.opts.NewID(kind)
	}
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// notify wakes WaitMachine; c.mu is held.
func (c *Cloud) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Enter starts one API call: it counts it, waits out the injected
// latency, and returns the throttle or unavailable fault due, if any.
// Wire fakes call it first thing for every request, with the operation's
// name.
func (c *Cloud) Enter(ctx context.Context, op string) error {
	c.mu.Lock()
	c.calls[op]++
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	latency, fault := c.Faults.enter(op)
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if fault != nil {
		return fault
	}
	return nil
}

// Calls returns how many calls of op were made (all ops with op "").
func (c *Cloud) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op != "" {
		return c.calls[op]
	}
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// AddImage registers an image (a base image: its layers are the caller's
// and are never removed by the Cloud). An empty ID gets a new one.
func (c *Cloud) AddImage(img Image) (Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if img.ID == "" {
		img.ID = c.newID("image")
	}
	if _, dup := c.images[img.ID]; dup {
		return Image{}, fmt.Errorf("%w: image %s", ErrDuplicate, img.ID)
	}
	if img.State == "" {
		img.State = "available"
	}
	if img.Created.IsZero() {
		img.Created = time.Now().UTC()
	}
	img.Labels = maps.Clone(img.Labels)
	img.owned = false
	c.images[img.ID] = &img
	c.notify()
	return img, nil
}

// Image returns a copy of the image.
func (c *Cloud) Image(id string) (Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, ok := c.images[id]
	if !ok {
		return Image{}, fmt.Errorf("%w: %s", ErrImageNotFound, id)
	}
	return copyImage(img), nil
}

// Images returns copies of every image, sorted by id.
func (c *Cloud) Images() []Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Image, 0, len(c.images))
	for _, img := range c.images {
		out = append(out, copyImage(img))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func copyImage(img *Image) Image {
	cp := *img
	cp.Layers = slices.Clone(img.Layers)
	cp.Labels = maps.Clone(img.Labels)
	cp.Extra = maps.Clone(img.Extra)
	return cp
}

// Run accepts req.Count machines (pending, or stopped with req.Stopped)
// and boots them in the background. It checks the image and the injected
// capacity and quota faults first: on error nothing was created.
func (c *Cloud) Run(req RunRequest) ([]Machine, error) {
	if req.Count <= 0 {
		req.Count = 1
	}
	if req.InstanceID != "" && req.Count > 1 {
		return nil, fmt.Errorf("fakecloud: an InstanceID names one machine, not %d", req.Count)
	}
	f := c.Faults.creating(req.Op)
	failLater := f != nil && f.Kind == FaultCapacity && req.FailLater > 0
	if f != nil && !failLater {
		return nil, f
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	img, ok := c.images[req.ImageID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrImageNotFound, req.ImageID)
	}
	if img.State != "available" {
		return nil, fmt.Errorf("%w: image %s is %s", ErrImageNotReady, req.ImageID, img.State)
	}
	now := time.Now().UTC()
	out := make([]Machine, 0, req.Count)
	for range req.Count {
		m := &Machine{
			ID: c.newID("machine"), InstanceID: req.InstanceID, Name: req.Name, ImageID: req.ImageID, Type: req.Type,
			CPU: req.CPU, RAMMB: req.RAMMB, DiskGB: req.DiskGB,
			UserData: slices.Clone(req.UserData), SSHKeys: slices.Clone(req.SSHKeys), KeyName: req.KeyName,
			Labels: maps.Clone(req.Labels), Extra: maps.Clone(req.Extra),
			State: Pending, Created: now,
		}
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		if req.PublicIP {
			m.PublicIP = fakePublicIP()
		}
		c.machines[m.ID] = m
		switch {
		case failLater:
			c.failAfter(m, req.FailLater, ReasonNoCapacity)
		case req.Stopped:
			m.State = Stopped
		default:
			c.startBoot(m, img.Layers)
		}
		c.logf("machine %s (%s) accepted from image %s", m.ID, m.Name, req.ImageID)
		out = append(out, copyMachine(m))
	}
	c.notify()
	return out, nil
}

// fakePublicIP is an address from 203.0.113.0/24 (documentation range):
// shown as the machine's public address, never reachable.
func fakePublicIP() string {
	var b [1]byte
	rand.Read(b[:])
	return fmt.Sprintf("203.0.113.%d", 1+int(b[0])%254)
}

// startBoot boots m in the background after the boot delay, as its fate
// decides; c.mu is held.
func (c *Cloud) startBoot(m *Machine, layers []string) {
	stuck, die, dies, delay := c.Faults.fate(c.opts.BootDelay)
	m.gen++
	gen := m.gen
	spec := BootSpec{ID: cmp.Or(m.InstanceID, m.ID), Hostname: m.Name, Layers: slices.Clone(layers), UserData: slices.Clone(m.UserData), SSHKeys: slices.Clone(m.SSHKeys)}
	if spec.Hostname == "" {
		spec.Hostname = m.ID
	}
	existing := m.guest
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if stuck {
			c.logf("machine %s stays pending (injected fault)", m.ID)
			return
		}
		if !c.sleep(delay) {
			return
		}
		var g Guest
		var err error
		if existing != nil {
			g, err = existing, existing.Start(c.ctx)
		} else {
			g, err = c.runtime.Boot(c.ctx, spec)
		}
		c.mu.Lock()
		if m.gen != gen || m.State != Pending {
			// Stopped or terminated while it booted.
			c.mu.Unlock()
			if err == nil && existing == nil {
				if err := g.Destroy(context.Background()); err != nil {
					c.logf("machine %s: destroying the guest of a boot no longer wanted: %v", m.ID, err)
				}
			}
			return
		}
		if err != nil {
			m.State, m.Reason = Failed, "boot failed: "+err.Error()
			c.logf("machine %s failed to boot: %v", m.ID, err)
			c.notify()
			c.mu.Unlock()
			return
		}
		m.guest, m.State, m.PrivateIP, m.Launched = g, Running, g.PrivateIP(), time.Now().UTC()
		c.logf("machine %s running at %s", m.ID, m.PrivateIP)
		c.notify()
		c.mu.Unlock()
		c.watch(m, g, gen, die, dies)
	}()
}

// failAfter marks a pending m failed after d; c.mu is held.
func (c *Cloud) failAfter(m *Machine, d time.Duration, reason string) {
	m.gen++
	gen := m.gen
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if !c.sleep(d) {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if m.gen == gen && m.State == Pending {
			m.State, m.Reason = Failed, reason
			c.logf("machine %s failed: %s", m.ID, reason)
			c.notify()
		}
	}()
}

// watch marks m failed when its guest ends by itself, or kills it after
// die when it is fated to die.
func (c *Cloud) watch(m *Machine, g Guest, gen int, die time.Duration, dies bool) {
	var timer <-chan time.Time
	if dies {
		timer = time.After(die)
	}
	select {
	case <-c.ctx.Done():
		return
	case <-g.Done():
	case <-timer:
		c.logf("machine %s dies (injected fault)", m.ID)
		if err := g.Stop(context.Background()); err != nil {
			c.logf("machine %s: stopping its guest: %v", m.ID, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.gen == gen && m.State == Running {
		m.State, m.Reason = Failed, "the machine stopped unexpectedly"
		c.notify()
	}
}

func (c *Cloud) sleep(d time.Duration) bool {
	if d <= 0 {
		return c.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Machine returns a copy of the machine (terminated ones too, while they
// are retained).
func (c *Cloud) Machine(id string) (Machine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(id)
	if err != nil {
		return Machine{}, err
	}
	return copyMachine(m), nil
}

// lookup finds a machine that exists (terminated ones while retained);
// c.mu is held.
func (c *Cloud) lookup(id string) (*Machine, error) {
	m, ok := c.machines[id]
	if !ok || c.expired(m) {
		return nil, fmt.Errorf("%w: machine %s", ErrNotFound, id)
	}
	return m, nil
}

func (c *Cloud) expired(m *Machine) bool {
	return m.State == Terminated && time.Since(m.deleted) >= c.opts.TerminatedRetention
}

// Machines returns copies of the machines that keep returns true for
// (all with keep nil), terminated ones while retained, sorted by creation
// then id.
func (c *Cloud) Machines(keep func(*Machine) bool) []Machine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Machine
	for _, m := range c.machines {
		if c.expired(m) {
			continue
		}
		if keep == nil || keep(m) {
			out = append(out, copyMachine(m))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// WithLabel keeps the machines whose label k is v.
func WithLabel(k, v string) func(*Machine) bool {
	return func(m *Machine) bool { return m.Labels[k] == v }
}

// Live keeps machines that are not terminated.
func Live(m *Machine) bool { return m.State != Terminated }

func copyMachine(m *Machine) Machine {
	cp := *m
	cp.UserData = slices.Clone(m.UserData)
	cp.SSHKeys = slices.Clone(m.SSHKeys)
	cp.Labels = maps.Clone(m.Labels)
	cp.Extra = maps.Clone(m.Extra)
	cp.guest = nil
	return cp
}

// SetLabels adds (or with an empty value, removes) labels of a machine.
func (c *Cloud) SetLabels(id string, labels map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.machines[id]
	if !ok || m.State == Terminated {
		return fmt.Errorf("%w: machine %s", ErrNotFound, id)
	}
	for k, v := range labels {
		if v == "" {
			delete(m.Labels, k)
		} else {
			m.Labels[k] = v
		}
	}
	c.notify()
	return nil
}

// Terminate terminates a machine: terminating at once, terminated once
// its guest is destroyed (and TerminateDelay has passed). Terminating a
// terminated machine is not an error.
func (c *Cloud) Terminate(id string) (Machine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(id)
	if err != nil {
		return Machine{}, err
	}
	if m.State == Terminated || m.State == Terminating {
		return copyMachine(m), nil
	}
	m.State = Terminating
	m.gen++
	g := m.guest
	m.guest = nil
	c.notify()
	c.logf("machine %s terminating", m.ID)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if g != nil {
			if err := g.Destroy(context.Background()); err != nil {
				c.logf("machine %s: destroying its guest: %v", m.ID, err)
			}
		}
		c.sleep(c.opts.TerminateDelay)
		c.mu.Lock()
		defer c.mu.Unlock()
		m.State, m.deleted = Terminated, time.Now()
		c.logf("machine %s terminated", m.ID)
		c.notify()
	}()
	return copyMachine(m), nil
}

// Stop stops a running (or failed, or pending) machine and keeps its
// disk: stopping at once, stopped once its guest has stopped.
func (c *Cloud) Stop(id string) (Machine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(id)
	if err != nil {
		return Machine{}, err
	}
	switch m.State {
	case Stopped, Stopping:
		return copyMachine(m), nil
	case Terminating, Terminated:
		return Machine{}, fmt.Errorf("%w: machine %s is %s", ErrIncorrectState, id, m.State)
	}
	m.State = Stopping
	m.gen++
	g := m.guest
	c.notify()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if g != nil {
			if err := g.Stop(context.Background()); err != nil {
				c.logf("machine %s: stopping its guest: %v", m.ID, err)
			}
		}
		c.sleep(c.opts.StopDelay)
		c.mu.Lock()
		defer c.mu.Unlock()
		if m.State == Stopping {
			m.State = Stopped
			c.notify()
		}
	}()
	return copyMachine(m), nil
}

// Start boots a stopped machine again (from its disk when it has booted
// before, from its image otherwise).
func (c *Cloud) Start(id string) (Machine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(id)
	if err != nil {
		return Machine{}, err
	}
	switch m.State {
	case Pending, Running:
		return copyMachine(m), nil
	case Stopped:
	default:
		return Machine{}, fmt.Errorf("%w: machine %s is %s", ErrIncorrectState, id, m.State)
	}
	var layers []string
	if img, ok := c.images[m.ImageID]; ok {
		layers = img.Layers
	} else if m.guest == nil {
		return Machine{}, fmt.Errorf("%w: %s (of machine %s)", ErrImageNotFound, m.ImageID, id)
	}
	m.State, m.Reason = Pending, ""
	c.startBoot(m, layers)
	c.notify()
	return copyMachine(m), nil
}

// Snapshot makes an image of a stopped machine: pending at once (its id
// is returned), available once the machine's changes are written as a new
// layer over its image's layers and ImageDelay has passed.
func (c *Cloud) Snapshot(id, name string, labels map[string]string, extra map[string]any) (Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(id)
	if err != nil {
		return Image{}, err
	}
	if m.State != Stopped {
		return Image{}, fmt.Errorf("%w: machine %s is %s; it must be stopped", ErrIncorrectState, id, m.State)
	}
	parent, ok := c.images[m.ImageID]
	if !ok {
		return Image{}, fmt.Errorf("%w: %s (of machine %s)", ErrImageNotFound, m.ImageID, id)
	}
	for _, img := range c.images {
		if img.Name == name && name != "" {
			return Image{}, fmt.Errorf("%w: an image named %q", ErrDuplicate, name)
		}
	}
	img := &Image{ID: c.newID("image"), Name: name, State: "pending", Labels: maps.Clone(labels), Extra: maps.Clone(extra),
		Created: time.Now().UTC(), Source: id, LoginUser: parent.LoginUser, owned: true}
	layer := filepath.Join(c.layerDir, img.ID)
	img.Layers = append([]string{layer}, parent.Layers...)
	c.images[img.ID] = img
	g := m.guest
	c.notify()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := os.MkdirAll(layer, 0o750) // g.Snapshot gives it the guest's own root mode
		if err == nil && g != nil {
			err = g.Snapshot(c.ctx, layer)
		}
		c.sleep(c.opts.ImageDelay)
		c.mu.Lock()
		defer c.mu.Unlock()
		if img.State != "pending" {
			return // deleted meanwhile
		}
		img.State = "available"
		if err != nil {
			img.State = "failed"
			c.logf("image %s failed: %v", img.ID, err)
		}
		c.notify()
	}()
	return copyImage(img), nil
}

// DeleteImage removes an image and, for one made by Snapshot, its layer.
// Machines started from it keep running. An image that other images were
// made from (its layer is below theirs) cannot be deleted.
func (c *Cloud) DeleteImage(id string) error {
	c.mu.Lock()
	img, ok := c.images[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrImageNotFound, id)
	}
	for _, other := range c.images {
		if img.owned && other != img && len(img.Layers) > 0 && len(other.Layers) > 1 && slices.Contains(other.Layers[1:], img.Layers[0]) {
			c.mu.Unlock()
			return fmt.Errorf("%w: image %s is the parent of image %s", ErrIncorrectState, id, other.ID)
		}
	}
	for _, m := range c.machines {
		if m.ImageID == id && m.State != Terminated && img.owned {
			c.mu.Unlock()
			return fmt.Errorf("%w: image %s is used by machine %s", ErrIncorrectState, id, m.ID)
		}
	}
	delete(c.images, id)
	img.State = "deleted"
	c.notify()
	c.mu.Unlock()
	if img.owned && len(img.Layers) > 0 {
		return os.RemoveAll(img.Layers[0])
	}
	return nil
}

// ImportKey registers a key pair; a name in use is ErrDuplicate.
func (c *Cloud) ImportKey(k KeyPair) (KeyPair, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.keys[k.Name]; dup {
		return KeyPair{}, fmt.Errorf("%w: key pair %s", ErrDuplicate, k.Name)
	}
	if k.ID == "" {
		k.ID = c.newID("key")
	}
	c.keys[k.Name] = &k
	return k, nil
}

// Key returns a key pair by name.
func (c *Cloud) Key(name string) (KeyPair, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[name]
	if !ok {
		return KeyPair{}, fmt.Errorf("%w: key pair %s", ErrNotFound, name)
	}
	return *k, nil
}

// Keys returns every key pair, sorted by name.
func (c *Cloud) Keys() []KeyPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]KeyPair, 0, len(c.keys))
	for _, k := range c.keys {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteKey removes a key pair; a missing one is not an error.
func (c *Cloud) DeleteKey(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, name)
}

// WaitMachine waits until cond holds for machine id (or the machine is
// gone, which is ErrNotFound), or ctx ends. For tests and the demo.
func (c *Cloud) WaitMachine(ctx context.Context, id string, cond func(Machine) bool) (Machine, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		m, ok := c.machines[id]
		var cp Machine
		if ok && !c.expired(m) {
			cp = copyMachine(m)
		}
		c.mu.Unlock()
		if !ok || cp.ID == "" {
			return Machine{}, fmt.Errorf("%w: machine %s", ErrNotFound, id)
		}
		if cond(cp) {
			return cp, nil
		}
		select {
		case <-ctx.Done():
			return cp, fmt.Errorf("machine %s is %s: %w", id, cp.State, ctx.Err())
		case <-ch:
		case <-time.After(time.Second): // retention expiry changes nothing
		}
	}
}

// Close terminates every machine (destroying their guests), closes the
// runtime if the Cloud made it, and removes the layers of images made by
// Snapshot. The Cloud answers no more calls.
func (c *Cloud) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	var guests []Guest
	for _, m := range c.machines {
		if m.guest != nil {
			guests = append(guests, m.guest)
			m.guest = nil
		}
		if m.State != Terminated {
			m.State, m.deleted = Terminated, time.Now()
		}
	}
	c.cancel()
	c.notify()
	c.mu.Unlock()
	var errs []error
	for _, g := range guests {
		if err := g.Destroy(context.Background()); err != nil {
			errs = append(errs, err)
		}
	}
	c.wg.Wait()
	if c.ownsRT {
		if err := c.runtime.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ownsDir {
		errs = append(errs, os.RemoveAll(c.layerDir))
	} else {
		c.mu.Lock()
		for _, img := range c.images {
			if img.owned && len(img.Layers) > 0 {
				errs = append(errs, os.RemoveAll(img.Layers[0]))
			}
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

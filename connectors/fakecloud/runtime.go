package fakecloud

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
)

// Runtime gives a fake cloud's machines something to run on. The Cloud
// decides when a machine boots, stops or goes away; the Runtime makes it
// happen. Two exist: Instant (below: no guest at all, the machine only
// changes state, for API-level tests) and the guest runtime
// (connectors/fakecloud/guest: a Debian root file system in its own
// namespaces where the real cloud-init runs the user-data).
type Runtime interface {
	// Boot starts a machine and returns once its guest is up (for the
	// guest runtime: its namespaces exist, its address is set and
	// cloud-init has started). It is called once per machine; a stopped
	// machine boots again with Guest.Start.
	Boot(ctx context.Context, spec BootSpec) (Guest, error)
	// Close removes whatever the runtime still holds (every guest,
	// networks, temporary layers). Images' layers given to AddImage are
	// left alone.
	Close() error
}

// BootSpec is what a machine boots from.
type BootSpec struct {
	ID       string // cloud-init's instance-id: the machine's InstanceID, else its ID
	Hostname string
	// Layers is the image's root file system, top layer first: a base
	// image is one folder, a snapshot adds the folder of its changes on
	// top of its parent's layers.
	Layers []string
	// UserData is given to cloud-init as the API received it (decoded
	// from base64 where the API encodes it).
	UserData []byte
	// SSHKeys are authorized for root (cloud-init's public-keys).
	SSHKeys []string
}

// Guest is one booted machine.
type Guest interface {
	// PrivateIP is the machine's address, reachable from this host.
	PrivateIP() string
	// Done is closed when the machine ends without being asked to (its
	// processes died): the Cloud then marks it failed.
	Done() <-chan struct{}
	// Stop ends every process of the machine and keeps its disk.
	Stop(ctx context.Context) error
	// Start boots a stopped machine again from its disk; cloud-init sees
	// the same instance id and does not run per-instance modules again.
	Start(ctx context.Context) error
	// Snapshot writes the machine's changes to its image (its upper
	// layer) into dir, which becomes the top layer of a new image. The
	// machine is stopped.
	Snapshot(ctx context.Context, dir string) error
	// Destroy ends the machine's processes and removes its disk and
	// network. It may be called on a stopped machine, and more than once.
	Destroy(ctx context.Context) error
}

// Instant is the Runtime of API-level tests: a machine "boots" at once,
// gets an address from 198.18.0.0/15 (the benchmarking range, never
// routed) and runs nothing. Its user-data is kept by the Cloud for tests
// to look at.
type Instant struct {
	mu   sync.Mutex
	next netip.Addr
}

var _ Runtime = (*Instant)(nil)

func (r *Instant) Boot(_ context.Context, spec BootSpec) (Guest, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.next.IsValid() {
		r.next = netip.MustParseAddr("198.18.0.1")
	}
	ip := r.next
	r.next = r.next.Next()
	if !netip.MustParsePrefix("198.18.0.0/15").Contains(r.next) {
		return nil, fmt.Errorf("fakecloud: the instant runtime ran out of addresses")
	}
	return &instantGuest{ip: ip.String(), done: make(chan struct{})}, nil
}

func (r *Instant) Close() error { return nil }

type instantGuest struct {
	ip   string
	done chan struct{}
}

func (g *instantGuest) PrivateIP() string                          { return g.ip }
func (g *instantGuest) Done() <-chan struct{}                      { return g.done }
func (g *instantGuest) Stop(context.Context) error                 { return nil }
func (g *instantGuest) Start(context.Context) error                { return nil }
func (g *instantGuest) Snapshot(_ context.Context, _ string) error { return nil }
func (g *instantGuest) Destroy(context.Context) error              { return nil }

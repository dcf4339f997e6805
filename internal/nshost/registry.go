package nshost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/internal/hostfs"
)

// registryDir holds the machine-wide lock and one entry per pool: who made
// it and where it was saved, so that CleanupStale can tell a pool in use
// from one left by an interrupted run.
var registryDir = "/run/nshost"

type entry struct {
	ID           string   `json:"id"`
	Prefix       string   `json:"prefix"`
	OwnerPID     int      `json:"owner_pid"`
	OwnerStart   uint64   `json:"owner_start"`
	Bridge       string   `json:"bridge"`
	Subnet       string   `json:"subnet"`
	StateDir     string   `json:"state_dir"`
	OwnsStateDir bool     `json:"owns_state_dir,omitempty"`
	ForwardRule  bool     `json:"forward_rule,omitempty"`
	Saved        []string `json:"saved,omitempty"`
}

// lockMachine takes the machine-wide lock (an flock, released if the
// process dies).
func lockMachine(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(registryDir, 0o700); err != nil {
		return nil, fmt.Errorf("nshost: %w", err)
	}
	unlock, err := hostfs.Lock(ctx, filepath.Join(registryDir, "lock"), 10*time.Millisecond, "another process is making or removing hosts")
	if err != nil {
		return nil, fmt.Errorf("nshost: %w", err)
	}
	return unlock, nil
}

func entryPath(id string) string { return filepath.Join(registryDir, id+".json") }

// register writes (or rewrites) the pool's entry, owned by this process
// unless an entry already names another owner (a loaded pool).
func (p *Pool) register() error {
	p.mu.Lock()
	e := entry{ID: p.ID, Prefix: p.Prefix, Bridge: p.Bridge, Subnet: p.Subnet,
		StateDir: p.StateDir, OwnsStateDir: p.OwnsStateDir, ForwardRule: p.ForwardRule,
		Saved: append([]string(nil), p.saved...)}
	p.mu.Unlock()
	e.OwnerPID, e.OwnerStart = os.Getpid(), procStart(os.Getpid())
	if old, err := readEntry(e.ID); err == nil && old.OwnerPID != 0 && old.OwnerPID != e.OwnerPID {
		e.OwnerPID, e.OwnerStart = old.OwnerPID, old.OwnerStart
		for _, s := range old.Saved {
			if !slices.Contains(e.Saved, s) {
				e.Saved = append(e.Saved, s)
			}
		}
	}
	return saveEntry(&e)
}

// saveEntry writes a registry entry (of a Pool or a Network).
func saveEntry(e *entry) error {
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(registryDir, 0o700); err != nil {
		return fmt.Errorf("nshost: %w", err)
	}
	if err := writeFileAtomic(entryPath(e.ID), data, 0o600); err != nil {
		return fmt.Errorf("nshost: registering %s: %w", e.ID, err)
	}
	return nil
}

// unregister is best effort: an entry left behind names a pool whose
// process is gone, which CleanupStale finds stale and removes again.
func unregister(id string) { _ = os.Remove(entryPath(id)) }

func readEntry(id string) (*entry, error) {
	data, err := os.ReadFile(entryPath(id))
	if err != nil {
		return nil, err
	}
	e := new(entry)
	if err := json.Unmarshal(data, e); err != nil {
		return nil, err
	}
	if e.ID != id {
		return nil, fmt.Errorf("registry entry %s names pool %q", entryPath(id), e.ID)
	}
	return e, nil
}

func readEntries() []*entry {
	files, _ := filepath.Glob(filepath.Join(registryDir, "*.json"))
	var es []*entry
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		if checkPoolID(id) != nil {
			continue
		}
		if e, err := readEntry(id); err == nil {
			es = append(es, e)
		}
	}
	return es
}

// live says whether a pool is in use: its creating process still runs,
// or a pool file it was saved to still describes it.
func (e *entry) live() bool {
	if e.OwnerPID > 0 && e.OwnerStart != 0 && procStart(e.OwnerPID) == e.OwnerStart {
		return true
	}
	for _, path := range e.Saved {
		if q, err := readPoolFile(path); err == nil && q.ID == e.ID {
			return true
		}
	}
	return false
}

// CleanupStale removes the pools with this prefix that an interrupted run
// left behind: it kills their processes and deletes their namespaces,
// veths, bridges, iptables rule and state files. A pool is left alone
// while the process that made it runs, or while a pool file it was saved
// to (Save) still exists; so concurrent test runs, and a pool made by
// `nshosts up`, are safe from each other's CleanupStale. Namespaces and
// links named like a pool but unknown to the registry are removed.
// Networks (NewNetwork) are pools too: the same applies to them, and their
// state folder goes with them.
func CleanupStale(prefix string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	// Removing needs no sshd: NetworkAvailable, not Available, so that
	// Networks are cleaned up on machines without OpenSSH too.
	if err := NetworkAvailable(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := lockMachine(ctx)
	if err != nil {
		return err
	}
	defer unlock()

	ids := map[string]bool{}
	links, err := linkNames()
	if err != nil {
		return err
	}
	for _, name := range append(links, netnsNames()...) {
		if id := poolIDOf(prefix, name); id != "" {
			ids[id] = true
		}
	}
	for _, e := range readEntries() {
		if e.Prefix == prefix {
			ids[e.ID] = true
		}
	}
	var errs []error
	for id := range ids {
		e, err := readEntry(id)
		if err == nil && e.live() {
			continue
		}
		if err != nil {
			e = &entry{ID: id}
		}
		if err := removePoolNet(id, e.Bridge); err != nil {
			errs = append(errs, err)
			continue
		}
		if e.StateDir != "" {
			p := &Pool{ID: id, StateDir: e.StateDir, OwnsStateDir: e.OwnsStateDir}
			if err := p.removeFiles(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		unregister(id)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nshost: removing stale pools with prefix %q: %w", prefix, err)
	}
	return nil
}

// PoolStatus describes a pool known to this machine, for `nshosts ls`.
type PoolStatus struct {
	ID       string `json:"id"`
	Subnet   string `json:"subnet,omitempty"`
	StateDir string `json:"state_dir,omitempty"`
	OwnerPID int    `json:"owner_pid,omitempty"`
	Live     bool   `json:"live"` // its maker runs, or a pool file describes it
	Hosts    int    `json:"hosts"`
}

// ListPools lists the pools with this prefix found on this machine
// (namespaces, links, registry entries).
func ListPools(prefix string) ([]PoolStatus, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	byID := map[string]*PoolStatus{}
	get := func(id string) *PoolStatus {
		if byID[id] == nil {
			byID[id] = &PoolStatus{ID: id}
		}
		return byID[id]
	}
	for _, ns := range netnsNames() {
		if id := poolIDOf(prefix, ns); id != "" {
			get(id).Hosts++
		}
	}
	links, _ := linkNames()
	for _, l := range links {
		if id := poolIDOf(prefix, l); id != "" {
			get(id)
		}
	}
	for _, e := range readEntries() {
		if e.Prefix != prefix {
			continue
		}
		s := get(e.ID)
		s.Subnet, s.StateDir, s.OwnerPID, s.Live = e.Subnet, e.StateDir, e.OwnerPID, e.live()
	}
	var out []PoolStatus
	for _, s := range byID {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

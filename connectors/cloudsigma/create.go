package cloudsigma

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// Create makes one machine: a drive cloned from spec.ImageID, a server
// booting from it, started. See create.
func (c *Connector) Create(ctx context.Context, spec connectors.MachineSpec) (*connectors.Machine, error) {
	ms, err := c.create(ctx, spec, []string{spec.Name})
	if len(ms) > 0 {
		return ms[0], err
	}
	return nil, err
}

// CreateBatch makes count machines of one spec: count clones, one POST
// /servers/ listing count servers (Servers, "Creating": "Creates a new
// virtual server or multiple servers"), and a start of each. The servers
// are named <spec.Name>-1 … -count.
func (c *Connector) CreateBatch(ctx context.Context, spec connectors.MachineSpec, count int) ([]*connectors.Machine, error) {
	if count < 1 {
		return nil, permanent("POST /servers/", "InvalidCount", "a batch makes at least one machine, not %d", count)
	}
	return c.create(ctx, spec, connectors.BatchNames(spec.Name, count, 63))
}

// create makes one server per name, in these steps:
//
//  1. check the spec (labels, key) and read the image: nothing is made
//     yet, nothing is retried;
//  2. clone the image once per server, and wait for the clones;
//  3. find or import the SSH key pair, find or make the tags;
//  4. create the servers, stopped, in one call;
//  5. start each.
//
// Steps after the first clone are retried while they fail transiently. If
// the servers could not be created, the clones are deleted (even when ctx
// has ended). A server that was created but could not be started is
// returned with the error, so the caller records or deletes it, unless
// CloudSigma refused the start for good (no room, over the account's
// limits): then it is deleted, with its drive, and only the error is
// returned, as nothing is left of the machine.
func (c *Connector) create(ctx context.Context, spec connectors.MachineSpec, names []string) ([]*connectors.Machine, error) {
	const op = "POST /servers/"
	if spec.Name == "" {
		return nil, permanent(op, "InvalidName", "the machine has no name")
	}
	if err := checkLabels(op, spec.Labels); err != nil {
		return nil, err
	}
	var key *sshKey
	line := spec.SSHPublicKey
	if line == "" {
		line = spec.Settings.String("ssh_public_key")
	}
	if line != "" {
		k, err := parseSSHKey(op, line)
		if err != nil {
			return nil, err
		}
		key = k
	}
	img, err := c.imageOf(ctx, spec.ImageID)
	if err != nil {
		return nil, err
	}

	var drives []string
	var unsure []string // names of clones asked for whose answer was lost
	fail := func(err error, servers ...csapi.Server) ([]*connectors.Machine, error) {
		if len(unsure) > 0 {
			cctx, cancel := c.cleanupContext(ctx)
			drives = append(drives, c.findClones(cctx, unsure, driveMeta(spec), drives)...)
			cancel()
		}
		return nil, c.takeBack(ctx, err, servers, drives)
	}
	for i, name := range names {
		var d *csapi.Drive
		cloneOne := func(ctx context.Context) error {
			var err error
			d, err = c.clone(ctx, img, name, diskBytes(spec.Size), driveMeta(spec))
			if err != nil && !rejected(err) && !slices.Contains(unsure, name) {
				unsure = append(unsure, name)
			}
			return err
		}
		if i == 0 {
			err = cloneOne(ctx) // the first step that makes something: the caller retries it
		} else {
			err = connectors.Retry(ctx, c.retry, nil, cloneOne)
		}
		if err != nil {
			return fail(err)
		}
		drives = append(drives, d.UUID)
	}
	for _, id := range drives {
		if err := c.waitDrive(ctx, id); err != nil {
			return fail(err)
		}
	}
	var keyID string
	if key != nil {
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
			var err error
			keyID, err = c.keypair(ctx, key)
			return err
		})
		if err != nil {
			return fail(err)
		}
	}
	var tagIDs []string
	if tags := spec.Settings.Strings("tags"); len(tags) > 0 {
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
			var err error
			tagIDs, err = c.tagUUIDs(ctx, tags)
			return err
		})
		if err != nil {
			return fail(err)
		}
	}
	defs := make([]csapi.Server, len(names))
	for i, name := range names {
		defs[i] = serverDefinition(spec, name, drives[i], keyID, tagIDs, key)
	}
	servers, err := c.createServers(ctx, defs)
	if err != nil {
		return fail(err, servers...)
	}
	ms, err := c.startAll(ctx, servers)
	if tags := spec.Settings.Strings("tags"); len(tags) > 0 {
		names := slices.Compact(slices.Sorted(slices.Values(tags)))
		for _, m := range ms {
			m.Settings["tags"] = names
		}
	}
	return ms, err
}

// serverDefinition is the POST /servers/ object of one machine (Servers,
// "Creating", full request): its size, a random VNC password, its drive
// booted first over virtio, a public NIC by DHCP (and a private one on
// the vlan setting's VLAN), its key pair, tags, and meta.
func serverDefinition(spec connectors.MachineSpec, name, drive, keyID string, tagIDs []string, key *sshKey) csapi.Server {
	sz := serverSize(spec.Size)
	keyLine := ""
	if key != nil {
		// As given, so that an import reads back the setting unchanged
		// (a key read with Terraform's file() ends in a newline).
		keyLine = key.given
	}
	s := csapi.Server{
		Name: name, CPU: sz.cpu, SMP: sz.smp, Mem: sz.mem, VNCPassword: randomPassword(),
		Drives: []csapi.ServerDrive{{BootOrder: 1, DevChannel: "0:0", Device: "virtio", Drive: csapi.Ref{UUID: drive}}},
		NICs:   []csapi.NIC{{IPv4Conf: &csapi.IPConf{Conf: "dhcp"}, Model: "virtio"}},
		Meta:   serverMeta(spec, keyLine),
		Tags:   csapi.Refs(tagIDs...),
	}
	if vlan := spec.Settings.String("vlan"); vlan != "" {
		s.NICs = append(s.NICs, csapi.NIC{VLAN: &csapi.Ref{UUID: vlan}, Model: "virtio"})
	}
	if keyID != "" {
		s.Pubkeys = csapi.Refs(keyID)
	}
	return s
}

// randomPassword is a server's VNC password: nobody is meant to use the
// console, and each server's is its own.
func randomPassword() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startAll starts the new servers. It returns a machine for each server
// that exists, with the errors of those that did not start.
func (c *Connector) startAll(ctx context.Context, servers []csapi.Server) ([]*connectors.Machine, error) {
	var ms []*connectors.Machine
	var errs []error
	for _, s := range servers {
		done := c.startInFlight(s.UUID)
		err := c.start(ctx, s.UUID)
		done()
		if err == nil {
			s.Status = csapi.StatusStarting
			ms = append(ms, c.machine(&s, nil))
			continue
		}
		errs = append(errs, err)
		if !connectors.IsTransient(err) && ctx.Err() == nil {
			// Refused for good: nothing will start it, take it back.
			cctx, cancel := c.cleanupContext(ctx)
			derr := c.deleteServer(cctx, s.UUID)
			cancel()
			if derr == nil {
				continue
			}
			errs = append(errs, fmt.Errorf("deleting the server that did not start: %w", derr))
		}
		ms = append(ms, c.machine(&s, nil))
	}
	return ms, joinErrors(errs)
}

// start starts a server (Servers, "Start": POST
// /servers/{uuid}/action/?do=start), retried while it fails transiently.
// A start whose answer was lost may have worked: when a later attempt is
// refused, the server's status tells whether it is starting already.
func (c *Connector) start(ctx context.Context, id string) error {
	return connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
		_, err := c.api.ServerAction(ctx, id, csapi.ActionStart)
		if err == nil {
			return nil
		}
		werr := apiErr(err)
		if connectors.IsTransient(werr) || !rejected(err) || gone(err) {
			return werr
		}
		if s, gerr := c.api.GetServer(ctx, id); gerr == nil && (s.Status == csapi.StatusStarting || s.Status == csapi.StatusRunning) {
			return nil
		}
		return werr
	})
}

// takeBack deletes what a create made before it failed with err (servers,
// then the drives left), and returns err, with what could not be deleted.
func (c *Connector) takeBack(ctx context.Context, err error, servers []csapi.Server, drives []string) error {
	cctx, cancel := c.cleanupContext(ctx)
	defer cancel()
	var left []error
	for _, s := range servers {
		if derr := c.deleteServer(cctx, s.UUID); derr != nil {
			left = append(left, derr)
		}
	}
	if derr := c.deleteDrives(cctx, drives); derr != nil {
		left = append(left, derr)
	}
	if len(left) == 0 {
		return err
	}
	return errors.Join(err, fmt.Errorf("taking back what the create made: %w", joinErrors(left)))
}

// joinErrors is nil, the one error, or all of them joined.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

package openstack

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const (
	opCreate = "POST /servers"
	opGet    = "GET /servers/{id}"

	// metaFloatingPool is the server metadata key that says the server
	// wants a floating IP from this pool (as the setting gave it).
	metaFloatingPool = "slipstream-floating-ip-pool"

	// schedulingWait bounds how long Create waits for Nova to place a
	// server: usually a second or two. Past it, Create returns the server
	// pending and Describe reports what becomes of it.
	schedulingWait = time.Minute
)

// schedulingBackoff polls a new server until Nova has placed it: the
// scheduler usually answers within a second.
var schedulingBackoff = connectors.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second}

// plan is a machine spec checked and resolved to Nova's ids, ready to
// send.
type plan struct {
	opts    servers.CreateOptsBuilder
	flavor  flavors.Flavor
	network netInfo
	pool    *netInfo // the floating IP pool, when one is wanted
	keyName string
	imageID string
}

// createOpts adds to gophercloud's create request what its CreateOpts do
// not carry: the key pair, and return_reservation_id for a batch.
type createOpts struct {
	servers.CreateOpts
	keyName     string
	reservation bool
}

func (o createOpts) ToServerCreateMap() (map[string]any, error) {
	b, err := o.CreateOpts.ToServerCreateMap()
	if err != nil {
		return nil, err
	}
	s, _ := b["server"].(map[string]any)
	if s == nil {
		return nil, fmt.Errorf("gophercloud made a create request without a server")
	}
	if o.keyName != "" {
		s["key_name"] = o.keyName
	}
	if o.reservation {
		s["return_reservation_id"] = true
	}
	return b, nil
}

// deploymentTag is the server tag of a deployment, when the id fits in a
// Nova tag (at most 60 characters, no '/' or ',').
func deploymentTag(deployment string) (string, bool) {
	tag := connectors.LabelDeployment + "=" + deployment
	return tag, deployment != "" && len(tag) <= 60 && !strings.ContainsAny(tag, "/,")
}

// plan resolves the spec: flavor, network, key pair, floating IP pool,
// labels checked against Nova's limits. Nothing is created but the key
// pair (which is shared by every machine with that key).
func (c *Connector) plan(ctx context.Context, spec connectors.MachineSpec, count int) (*plan, error) {
	invalid := func(format string, args ...any) error {
		return &connectors.Error{Cloud: cloudName, Op: opCreate, Code: "InvalidSpec", Kind: connectors.KindPermanent,
			Message: fmt.Sprintf(format, args...)}
	}
	if spec.ImageID == "" {
		return nil, invalid("no image: the machine spec names no Glance image id")
	}
	if spec.Name == "" {
		return nil, invalid("no name: the machine spec names no server name")
	}
	metadata := map[string]string{}
	for k, v := range spec.Labels {
		if len(k) == 0 || len(k) > 255 || len(v) > 255 {
			return nil, invalid("label %q: Nova metadata keys are 1 to 255 characters and values at most 255", k)
		}
		metadata[k] = v
	}
	p := &plan{imageID: spec.ImageID}
	var err error
	if p.flavor, err = c.flavorFor(ctx, spec); err != nil {
		return nil, err
	}
	if p.network, err = c.networkFor(ctx, spec.Settings.String("network")); err != nil {
		return nil, err
	}
	if pool := spec.Settings.String("floating_ip_pool"); pool != "" {
		n, err := c.poolFor(ctx, pool)
		if err != nil {
			return nil, err
		}
		p.pool = &n
		metadata[metaFloatingPool] = pool
	}
	if key := coalesce(spec.SSHPublicKey, spec.Settings.String("ssh_public_key")); key != "" {
		if p.keyName, err = c.keyPair(ctx, key); err != nil {
			return nil, err
		}
	}
	opts := servers.CreateOpts{
		Name: spec.Name, ImageRef: spec.ImageID, FlavorRef: p.flavor.ID,
		SecurityGroups:   spec.Settings.Strings("security_groups"),
		AvailabilityZone: spec.Settings.String("availability_zone"),
		Networks:         []servers.Network{{UUID: p.network.ID}},
		Metadata:         metadata,
	}
	if spec.UserData != "" {
		// Encoded here: gophercloud sends user-data that already looks
		// like base64 as it is, and Nova would decode a script that
		// happens to be valid base64.
		opts.UserData = []byte(base64.StdEncoding.EncodeToString([]byte(spec.UserData)))
	}
	deployment := coalesce(spec.Labels[connectors.LabelDeployment], spec.Deployment)
	if tag, ok := deploymentTag(deployment); ok && c.atLeast(52) {
		opts.Tags = []string{tag}
	}
	if count > 1 {
		opts.Min, opts.Max = count, count
	}
	p.opts = createOpts{CreateOpts: opts, keyName: p.keyName, reservation: count > 1}
	return p, nil
}

// createError classifies the error of POST /servers. Something the
// request names that does not exist (an image, a flavor) is permanent,
// and says what was asked for.
func (c *Connector) createError(err error, p *plan) error {
	e := apiError(opCreate, err).(*connectors.Error)
	lower := strings.ToLower(e.Message)
	switch {
	case e.Kind == connectors.KindNotFound:
		e.Kind = connectors.KindPermanent
		e.Message += fmt.Sprintf(" (image %s, flavor %s, network %s)", p.imageID, p.flavor.Name, p.network.Name)
	case e.Status == http.StatusBadRequest && strings.Contains(lower, "image"):
		e.Message += " (image " + p.imageID + ")"
	case e.Status == http.StatusBadRequest && strings.Contains(lower, "key_name"):
		c.forgetKeyPair(p.keyName)
	}
	return e
}

// Create makes one server and waits until Nova has placed it (not until
// it boots). A server Nova accepted but could not place (ERROR, "No valid
// host was found") is deleted again and Create fails permanently with
// Nova's fault. With floating_ip_pool, Create allocates the floating IP
// and associates it when the server's port exists.
func (c *Connector) Create(ctx context.Context, spec connectors.MachineSpec) (*connectors.Machine, error) {
	p, err := c.plan(ctx, spec, 1)
	if err != nil {
		return nil, err
	}
	srv, err := servers.Create(ctx, c.compute, p.opts, nil).Extract()
	if err != nil {
		return nil, c.createError(err, p)
	}
	return c.settle(ctx, srv.ID, p)
}

// settle follows an accepted server through scheduling and gives it its
// floating IP. On an error after acceptance it returns the machine with
// the error, so that the caller knows it, unless the server was deleted.
func (c *Connector) settle(ctx context.Context, id string, p *plan) (*connectors.Machine, error) {
	srv, err := c.waitScheduled(ctx, id)
	if err != nil {
		return &connectors.Machine{ID: id, State: connectors.StatePending}, err
	}
	if srv.Status == "ERROR" {
		return c.failedBuild(ctx, srv)
	}
	m := c.machineOf(ctx, srv)
	if p.pool != nil {
		err := connectors.Retry(ctx, connectors.DefaultBackoff, nil, func(ctx context.Context) error {
			ip, err := c.ensureFloatingIP(ctx, id, p.pool.ID)
			if ip != "" {
				m.PublicIP = ip
			}
			return err
		})
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// stillScheduling reports whether Nova has yet to place the server.
func stillScheduling(s *servers.Server) bool {
	return s.Status == "BUILD" && s.TaskState == "scheduling"
}

// waitScheduled polls the server until it has left the scheduling step.
func (c *Connector) waitScheduled(ctx context.Context, id string) (*servers.Server, error) {
	wctx, cancel := context.WithTimeout(ctx, schedulingWait)
	defer cancel()
	var last *servers.Server
	err := connectors.WaitFor(wctx, schedulingBackoff, "server "+id+" to be scheduled", func(ctx context.Context) (bool, string, error) {
		srv, err := servers.Get(ctx, c.compute, id).Extract()
		if err != nil {
			e := apiError(opGet, err)
			if connectors.IsNotFound(e) {
				return false, "", &connectors.Error{Cloud: cloudName, Op: opGet, Code: "ServerVanished", Kind: connectors.KindPermanent,
					Message: fmt.Sprintf("server %s was deleted while Nova placed it", id)}
			}
			return false, "", e
		}
		last = srv
		return !stillScheduling(srv), srv.Status + " " + srv.TaskState, nil
	})
	if err != nil && last != nil && ctx.Err() == nil && wctx.Err() != nil {
		return last, nil // placing takes long: the server is accepted, Describe follows it
	}
	return last, err
}

// failedBuild deletes a server Nova could not build and returns Nova's
// fault as a permanent error (with the machine, if it could not be
// deleted).
func (c *Connector) failedBuild(ctx context.Context, srv *servers.Server) (*connectors.Machine, error) {
	msg := coalesce(srv.Fault.Message, "Nova put the server in ERROR without a fault message")
	code := "BuildFailed"
	if strings.Contains(msg, "No valid host") {
		code = "NoValidHost"
	}
	e := &connectors.Error{Cloud: cloudName, Op: opCreate, Code: code, Kind: connectors.KindPermanent,
		Message: fmt.Sprintf("server %s went to ERROR: %s", srv.ID, msg)}
	if err := c.deleteAndWait(ctx, srv.ID); err != nil {
		e.Message += "; deleting it failed: " + err.Error()
		return &connectors.Machine{ID: srv.ID, Name: srv.Name, State: connectors.StateError, Reason: msg}, e
	}
	return nil, e
}

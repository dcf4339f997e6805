// Package coordinator is the run-time heart of SlipStream: deployments,
// runtime parameters with SlipStream's names and blocking gets, mappings
// pushed from outputs to inputs, the run state machine's barriers, and
// abort. It keeps all state in a store.Store, so the embedded bbolt file
// and a shared etcd serve it alike; blocking gets are woken by the store's
// Watch (never by polling), which is also how replicas sharing one etcd
// wake each other's waiters.
package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// The run states, in order (SlipStream's), and the two terminal ones.
const (
	Initializing   = "Initializing"
	Provisioning   = "Provisioning"
	Executing      = "Executing"
	SendingReports = "SendingReports"
	Ready          = "Ready"
	Finalizing     = "Finalizing"
	Done           = "Done"
	Aborted        = "Aborted"
)

// nextState is the state the run moves to when every instance has
// completed the current one. Ready is left by Finalize, not by a barrier.
var nextState = map[string]string{
	Initializing: Provisioning, Provisioning: Executing, Executing: SendingReports,
	SendingReports: Ready, Finalizing: Done,
}

// Errors callers tell apart; the HTTP API maps them to status codes and the
// agent to SlipStream's exit codes.
var (
	ErrNotFound  = errors.New("no such deployment")
	ErrExists    = errors.New("deployment already exists")
	ErrForbidden = errors.New("forbidden")
	ErrUnknown   = errors.New("no such parameter")
	ErrNotSet    = errors.New("parameter not set")
	ErrTimeout   = errors.New("timed out waiting for the parameter")
	ErrTooLarge  = errors.New("value too large")
	ErrState     = errors.New("the run is not in that state")
	// ErrClosed: the coordinator is shutting down (its store may be
	// fine); waits end with it, and clients ask the next process.
	ErrClosed = errors.New("the coordinator is shutting down")
)

// runTimeout is WaitRun's timeout: an ErrTimeout that names the run.
type runTimeout struct{ state string }

func (e runTimeout) Error() string        { return "timed out: the run is still " + e.state }
func (e runTimeout) Is(target error) bool { return target == ErrTimeout }

// AbortError is returned by gets and sets while the run is aborted.
type AbortError struct{ Message string }

func (e *AbortError) Error() string { return "run aborted: " + e.Message }

// Deployment is what the provider registers.
type Deployment struct {
	ID    string           `json:"id"`
	Nodes map[string]*Node `json:"nodes"`
	// KeepRunning is SlipStream's keep-running policy: what the run does
	// once it is Ready, or aborted (policy.go). "" is "on-success".
	KeepRunning string `json:"keep_running,omitempty"`
	// Meta is kept for the provider as it is given (its own description of
	// the deployment, so an import can rebuild the resource).
	Meta json.RawMessage `json:"meta,omitempty"`
}

// Node is one node: how many instances, its parameters, the values its
// inputs start with, its inputs mapped from other nodes' outputs
// ("db:password" feeds every instance from db.1), and what its agents run.
type Node struct {
	Multiplicity int               `json:"multiplicity"`
	Params       map[string]Param  `json:"params"`
	Inputs       map[string]string `json:"inputs,omitempty"`
	Mappings     map[string]string `json:"mappings,omitempty"`
	// Cloud is the connector the node runs on (SLIPSTREAM_CLOUD).
	Cloud string `json:"cloud,omitempty"`
	// Packages are installed with the machine's package manager between
	// pre_install and post_install (the union over the image chain).
	Packages []string `json:"packages,omitempty"`
	// Scripts are the node's scripts by phase (see Phases), each phase's
	// in the order they run: the image chain's root first.
	Scripts map[string][]string `json:"scripts,omitempty"`
	// MaxProvisioningFailures is how many of the node's instances may fail
	// to start (InstanceFailed) without aborting the run; the barriers then
	// go on without them, as SlipStream's did.
	MaxProvisioningFailures int `json:"max_provisioning_failures,omitempty"`
	// Build, when set, makes the node's machines image builders: once the
	// run is being finalized, each agent records the build steps it ran in
	// the image manifest and cleans the machine for a snapshot (see
	// coordination/agent/image.go), before it completes Finalizing.
	Build *Build `json:"build,omitempty"`
}

// Build names the image a builder node's machines are made into.
type Build struct {
	// Image is the recipe's image name; ContentHash the hash of all that
	// goes into it (its parent, the scripts of its chain, its packages).
	Image       string `json:"image"`
	ContentHash string `json:"content_hash"`
}

// Phases are the script phases an agent runs, in SlipStream's terms:
// the image's build steps, the component's deploy ("execute") and report
// scripts, and the hooks run when the deployment is scaled.
var Phases = []string{"pre_install", "post_install", "deploy", "report", "on_vm_add", "on_vm_remove"}

// Param declares a parameter.
type Param struct {
	Output    bool `json:"output,omitempty"`
	Sensitive bool `json:"sensitive,omitempty"`
}

// isSensitive reports whether a qualified key ("web.2:password") names a
// sensitive parameter (see ParamSensitive).
func (d *Deployment) isSensitive(key string) bool {
	k, err := Qualify(key, nil)
	if err != nil {
		return false
	}
	inst, ok := k.Instance()
	return ok && d.ParamSensitive(inst.Node, k.Name)
}

// ParamSensitive reports whether a node's parameter is sensitive: declared
// so, or an input mapped from a sensitive output (the value is the same
// secret, so it is kept out of listings and the event stream alike).
func (d *Deployment) ParamSensitive(node, name string) bool {
	// A chain of mappings is followed at most as far as there are nodes:
	// validate does not forbid a cycle of inputs mapped from inputs.
	for range len(d.Nodes) + 1 {
		n := d.Nodes[node]
		if n == nil {
			return false
		}
		if n.Params[name].Sensitive {
			return true
		}
		from, mapped := n.Mappings[name]
		if !mapped {
			return false
		}
		node, name, _ = strings.Cut(from, ":")
	}
	return false
}

// Source is the parameter whose value a key takes: the key itself, or
// for an input mapped from another node's output that output, followed
// through inputs mapped from inputs (at most as far as there are nodes).
func (d *Deployment) Source(k Key) Key {
	for range len(d.Nodes) + 1 {
		inst, ok := k.Instance()
		if !ok || d.Nodes[inst.Node] == nil {
			return k
		}
		from, mapped := d.Nodes[inst.Node].Mappings[k.Name]
		if !mapped {
			return k
		}
		src, err := Qualify(from, nil)
		if err != nil {
			return k
		}
		k = src
	}
	return k
}

// mayRead reports whether an instance may read a key: anything not
// sensitive; of the sensitive values, its own instance's, the inputs of
// its own node, and the outputs its node's inputs are mapped from
// (web reads db.1:password when it maps db_password = db:password). A
// machine's token, or a script on it, gets no other secret of the
// deployment.
func (d *Deployment) mayRead(caller Instance, k Key) bool {
	inst, ok := k.Instance()
	if !ok || !d.ParamSensitive(inst.Node, k.Name) || inst == caller {
		return true
	}
	n := d.Nodes[caller.Node]
	if n == nil {
		return false
	}
	if inst.Node == caller.Node {
		p, declared := n.Params[k.Name]
		return declared && !p.Output
	}
	for _, from := range n.Mappings {
		if src, err := Qualify(from, nil); err == nil && src == k {
			return true
		}
	}
	return false
}

// builtins are the parameters every instance has; the settable ones are
// written by the agent or by scripts (ss-display sets statecustom).
var builtins = map[string]bool{
	"hostname": true, "instanceid": true, "statecustom": true, "url.ssh": true, "url.service": true,
	"vmstate": true, "scale.state": true, "addresses": true, "abort": false, "complete": false, "state": false,
}

// Builtin reports whether name is a parameter every instance has, declared
// by its node or not (hostname, url.service, complete, …).
func Builtin(name string) bool {
	_, ok := builtins[name]
	return ok
}

// Options tune a Coordinator.
type Options struct {
	// MaxValue bounds a parameter value in bytes (SlipStream's was 4,096).
	MaxValue int
}

// Coordinator serves deployments kept in a store.
type Coordinator struct {
	st   store.Store
	opts Options

	mu      sync.Mutex
	watches map[string]*depWatch
	closed  chan struct{}
	specs   sync.Map // deployment id → cachedSpec
}

// New returns a Coordinator over st.
func New(st store.Store, opts Options) *Coordinator {
	if opts.MaxValue <= 0 {
		opts.MaxValue = 256 << 10
	}
	return &Coordinator{st: st, opts: opts, watches: map[string]*depWatch{}, closed: make(chan struct{})}
}

// Close stops the coordinator's watches (not the store).
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
	default:
		close(c.closed)
		for _, w := range c.watches {
			w.cancel()
			// Blocking gets see closed; parked ones (Park) hold no
			// goroutine to see it: wake them, so that each answers
			// (the coordinator is closed) instead of waiting out its
			// time on a coordinator that will never wake it.
			w.deliverAll(wakeup{reread: true, rewatch: true})
		}
	}
}

func ns(id string) string { return "dep/" + id }

// storage keys inside a deployment's namespace
const specKey = "spec"

func pkey(k Key) string { return "p/" + k.String() }

// The run's own keys: its state, and its abort message (which wakes every
// waiter of the deployment: gets fail at once on abort). WaitRun follows
// both.
var (
	stateKey = pkey(Key{"ss", "state"})
	abortKey = pkey(Key{"ss", "abort"})
)

// CreateDeployment registers a deployment: its spec, the node-wide
// parameters, every input's starting value, state Initializing, and the
// hashes of its instances' tokens (instance name → hex SHA-256; see
// InstanceForToken).
func (c *Coordinator) CreateDeployment(ctx context.Context, d Deployment, tokenHashes map[string]string) error {
	return c.create(ctx, d, tokenHashes, false)
}

// RegisterDeployment registers a deployment as CreateDeployment does but
// issues no token: each instance's machine resource asks for its
// instance's token when it creates the machine (ReissueTokens), and a
// pool of machines gets a pool token (RegisterPool). The same
// registration again (the same spec under the same id) succeeds and
// changes nothing, so a create whose answer was lost is retried safely;
// another spec under the id is ErrExists.
func (c *Coordinator) RegisterDeployment(ctx context.Context, d Deployment) error {
	return c.create(ctx, d, nil, true)
}

func (c *Coordinator) create(ctx context.Context, d Deployment, tokenHashes map[string]string, deferTokens bool) error {
	if err := validate(d); err != nil {
		return &InvalidError{err}
	}
	spec, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = c.st.Update(ctx, ns(d.ID), func(tx store.Tx) error {
		if kv, ok := tx.Get(specKey); ok {
			// The same registration again is the retry of a create whose
			// answer was lost: it succeeds, changing nothing. Anything
			// else under this id is another deployment.
			if kv.Value == string(spec) && (deferTokens || len(tokenHashes) > 0 && tokensHeld(tx, tokenHashes)) {
				return nil
			}
			return ErrExists
		}
		tx.Put(specKey, string(spec))
		for name, n := range d.Nodes {
			ids := make([]string, n.Multiplicity)
			for i := range ids {
				ids[i] = strconv.Itoa(i + 1)
			}
			tx.Put(pkey(Key{name, "multiplicity"}), strconv.Itoa(n.Multiplicity))
			tx.Put(pkey(Key{name, "ids"}), strings.Join(ids, ","))
			for i := 1; i <= n.Multiplicity; i++ {
				for in, v := range n.Inputs {
					tx.Put(pkey(Key{Instance{name, i}.String(), in}), v)
				}
			}
		}
		tx.Put(stateKey, Initializing)
		tx.Put(createdKey, time.Now().UTC().Format(time.RFC3339Nano))
		settle(&d, tx) // a deployment without instances is Ready at once
		for inst, hash := range tokenHashes {
			tx.Put("t/"+hash, inst)
		}
		return nil
	})
	return err
}

// InstanceForToken returns the instance whose agent token has the given
// hex SHA-256 hash, or ErrNotFound. Only hashes are stored, so a copy of
// the store does not hand out working tokens. A bootstrap token is
// ErrBootstrapToken (it can only be exchanged: see Exchange), a spent one
// ErrTokenExchanged, a pool token ErrPoolToken.
func (c *Coordinator) InstanceForToken(ctx context.Context, id, hash string) (*Instance, error) {
	rec, err := c.Token(ctx, id, hash)
	if err != nil {
		return nil, err
	}
	switch rec.Kind {
	case TokenBootstrap:
		return nil, ErrBootstrapToken
	case TokenUsed:
		return nil, ErrTokenExchanged
	case TokenPool:
		return nil, ErrPoolToken
	}
	return &rec.Instance, nil
}

// Spec returns a deployment's registration and the run's state.
func (c *Coordinator) Spec(ctx context.Context, id string) (*Deployment, string, error) {
	var d *Deployment
	var state string
	_, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
		var err error
		d, err = c.spec(id, tx)
		kv, _ := tx.Get(stateKey)
		state = kv.Value
		return err
	})
	return d, state, err
}

// DeleteDeployment removes a deployment and everything kept for it.
func (c *Coordinator) DeleteDeployment(ctx context.Context, id string) error {
	rev, err := c.st.DeleteNamespace(ctx, ns(id))
	c.specs.Delete(id)
	if err == nil && rev == 0 {
		return ErrNotFound
	}
	return err
}

// packageRE accepts the package names of apt, dnf, apk and zypper,
// optionally with a version (nginx=1.24*, python3-pip) but no options or
// shell syntax: names reach the package manager's command line.
var packageRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_:~=*<>-]*$`)

// InvalidError is a deployment that cannot be registered as it is: the
// caller's mistake, unlike the store's errors.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

func validate(d Deployment) error {
	if !nodeRE.MatchString(d.ID) && !nameRE.MatchString(d.ID) {
		return fmt.Errorf("invalid deployment id %q", d.ID)
	}
	if !keepRunningPolicies[d.KeepRunning] {
		return fmt.Errorf("invalid keep_running %q (want always, on-success, on-error or never)", d.KeepRunning)
	}
	for name, n := range d.Nodes {
		if !nodeRE.MatchString(name) {
			return fmt.Errorf("invalid node name %q", name)
		}
		if n.Multiplicity < 0 {
			return fmt.Errorf("node %s: multiplicity %d is negative", name, n.Multiplicity)
		}
		if n.MaxProvisioningFailures < 0 {
			return fmt.Errorf("node %s: max_provisioning_failures %d is negative", name, n.MaxProvisioningFailures)
		}
		for p := range n.Params {
			if !nameRE.MatchString(p) {
				return fmt.Errorf("node %s: invalid parameter name %q", name, p)
			}
		}
		for phase := range n.Scripts {
			if !slices.Contains(Phases, phase) {
				return fmt.Errorf("node %s: unknown script phase %q (want one of %s)", name, phase, strings.Join(Phases, ", "))
			}
		}
		for _, p := range n.Packages {
			if !packageRE.MatchString(p) {
				return fmt.Errorf("node %s: invalid package name %q", name, p)
			}
		}
		for in, src := range n.Mappings {
			node, out, ok := strings.Cut(src, ":")
			if _, declared := n.Params[in]; !declared {
				return fmt.Errorf("node %s: mapping into undeclared input %q", name, in)
			}
			srcNode, exists := d.Nodes[node]
			if !ok || !exists {
				return fmt.Errorf("node %s: input %s is mapped from %q, which names no node", name, in, src)
			}
			if _, declared := srcNode.Params[out]; !declared && !builtins[out] {
				return fmt.Errorf("node %s: input %s is mapped from %q, which node %s does not declare", name, in, src, node)
			}
		}
	}
	return nil
}

// spec reads a deployment's spec inside a transaction. Decoded specs are
// cached by the revision that wrote them: every set checks the spec, and
// decoding it each time made the single committer the bottleneck of many
// concurrent writers. Specs are never modified in place.
func (c *Coordinator) spec(id string, tx store.Tx) (*Deployment, error) {
	kv, ok := tx.Get(specKey)
	if !ok {
		return nil, ErrNotFound
	}
	if cached, ok := c.specs.Load(id); ok && kv.Rev != 0 && cached.(cachedSpec).rev == kv.Rev {
		return cached.(cachedSpec).d, nil
	}
	var d Deployment
	if err := json.Unmarshal([]byte(kv.Value), &d); err != nil {
		return nil, fmt.Errorf("corrupt deployment spec: %w", err)
	}
	if kv.Rev != 0 {
		c.specs.Store(id, cachedSpec{kv.Rev, &d})
	}
	return &d, nil
}

type cachedSpec struct {
	rev int64
	d   *Deployment
}

// declared checks that a key names a parameter the deployment has.
func declared(d *Deployment, k Key) error {
	if k.Scope == "ss" {
		return nil
	}
	node := k.Scope
	if inst, ok := k.Instance(); ok {
		node = inst.Node
		n := d.Nodes[node]
		if n == nil {
			return fmt.Errorf("%w: %s (no node %q)", ErrUnknown, k, node)
		}
		if inst.Index > n.Multiplicity {
			return fmt.Errorf("%w: %s (node %s has %d instances)", ErrUnknown, k, node, n.Multiplicity)
		}
		if _, ok := n.Params[k.Name]; ok {
			return nil
		}
		if _, ok := builtins[k.Name]; ok {
			return nil
		}
		return fmt.Errorf("%w: %s", ErrUnknown, k)
	}
	if d.Nodes[node] == nil || !nodeWide[k.Name] {
		return fmt.Errorf("%w: %s", ErrUnknown, k)
	}
	return nil
}

func abortMessage(tx store.Tx) (string, bool) {
	kv, ok := tx.Get(abortKey)
	return kv.Value, ok && kv.Value != ""
}

// Set writes a parameter. caller is the instance setting it (nil for the
// provider): an instance may set only its own parameters. An input mapped
// from the key is set on every instance of its node in the same commit.
func (c *Coordinator) Set(ctx context.Context, id string, caller *Instance, raw, value string, ignoreAbort bool) error {
	k, err := Qualify(raw, caller)
	if err != nil {
		return err
	}
	if len(value) > c.opts.MaxValue {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(value), c.opts.MaxValue)
	}
	if caller != nil && k.Scope != caller.String() {
		return fmt.Errorf("%w: %s cannot set %s (an instance may set only its own parameters)", ErrForbidden, caller, k)
	}
	if settable, builtin := builtins[k.Name]; builtin && !settable || k.Scope == "ss" {
		return fmt.Errorf("%w: %s is kept by the coordinator", ErrForbidden, k)
	}
	_, err = c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		if err := declared(d, k); err != nil {
			return err
		}
		if msg, aborted := abortMessage(tx); aborted && !ignoreAbort {
			return &AbortError{msg}
		}
		if kv, ok := tx.Get(pkey(k)); ok && kv.Value == value {
			// The same value again: a set retried after its answer was
			// lost (a partition, a restart) changes nothing, so it is
			// seen once, by the event stream and by WaitChange alike.
			return nil
		}
		tx.Put(pkey(k), value)
		pushMappings(d, k, value, tx)
		return nil
	})
	return err
}

// pushMappings sets every input mapped from k (SlipStream feeds inputs
// from instance 1 of the source node).
func pushMappings(d *Deployment, k Key, value string, tx store.Tx) {
	inst, ok := k.Instance()
	if !ok || inst.Index != 1 {
		return
	}
	src := inst.Node + ":" + k.Name
	for name, n := range d.Nodes {
		for in, from := range n.Mappings {
			if from != src {
				continue
			}
			for i := 1; i <= n.Multiplicity; i++ {
				tx.Put(pkey(Key{Instance{name, i}.String(), in}), value)
			}
		}
	}
}

// Get reads a parameter. With wait > 0 it blocks until the parameter is
// set, the run is aborted (unless ignoreAbort), wait passes (ErrTimeout) or
// ctx ends; with wait == 0 an unset parameter is ErrNotSet.
func (c *Coordinator) Get(ctx context.Context, id string, caller *Instance, raw string, wait time.Duration, ignoreAbort bool) (string, error) {
	return c.get(ctx, id, caller, raw, wait, ignoreAbort, nil)
}

// WaitChange blocks like Get until the parameter has a value other than
// old; an unset parameter counts as "" (so a cancelled abort ends a wait
// on its message). Agents follow the run's state with it (ss:state,
// changed from the state they have just completed): a long-poll, not a
// timer.
func (c *Coordinator) WaitChange(ctx context.Context, id string, caller *Instance, raw, old string, wait time.Duration, ignoreAbort bool) (string, error) {
	return c.get(ctx, id, caller, raw, wait, ignoreAbort, &old)
}

func (c *Coordinator) get(ctx context.Context, id string, caller *Instance, raw string, wait time.Duration, ignoreAbort bool, changedFrom *string) (string, error) {
	k, err := Qualify(raw, caller)
	if err != nil {
		return "", err
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	wanted := func(v string) bool { return changedFrom == nil || v != *changedFrom }
	var w *waiter
	defer func() {
		if w != nil {
			w.release()
		}
	}()
	reread := true
	allowed := false
	var readRev int64
	for {
		if reread {
			var value string
			var found bool
			rev, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
				if msg, aborted := abortMessage(tx); aborted && !ignoreAbort {
					return &AbortError{msg}
				}
				if caller != nil && !allowed {
					d, err := c.spec(id, tx)
					if err != nil {
						return err
					}
					if !d.mayRead(*caller, k) {
						return fmt.Errorf("%w: %s is sensitive, and an instance may read only its own secrets, its node's inputs and the outputs they are mapped from (map it into an input of node %s to read it)", ErrForbidden, k, caller.Node)
					}
					allowed = true // the spec's sensitivity and mappings do not change
				}
				kv, ok := tx.Get(pkey(k))
				value, found = kv.Value, ok
				if found {
					return nil // a key with a value exists: no need to check the spec
				}
				// Unset: tell an unknown key (an error) from one not set yet.
				d, err := c.spec(id, tx)
				if err != nil {
					return err
				}
				return declared(d, k)
			})
			if err == nil && !found && changedFrom != nil {
				value, found = "", true // for a change, unset reads as empty: a cancelled abort
			}
			switch {
			case err != nil:
				return "", err
			case found && wanted(value):
				return value, nil
			case wait <= 0 && !found:
				return "", fmt.Errorf("%w: %s", ErrNotSet, k)
			case wait <= 0:
				return "", fmt.Errorf("%w: %s is still %q", ErrTimeout, k, value)
			}
			readRev = rev
			if w == nil {
				// Register, then read again: a set committed between the
				// read above and the registration is caught by the second.
				if w, err = c.waitFunc(id, []string{pkey(k)}, nil, paramTag(caller, k)); err != nil {
					return "", err
				}
				continue
			}
		}
		select {
		case u := <-w.ch:
			switch {
			case u.reread:
				reread = true
				if u.rewatch {
					w.release()
					w = nil // the next read registers with a new watch
				}
			case u.rev <= readRev:
				reread = false // already seen by the last read
			case u.abort != "" && !ignoreAbort:
				return "", &AbortError{u.abort}
			case u.abort != "":
				reread, readRev = false, u.rev
			case wanted(u.value):
				return u.value, nil
			default:
				reread, readRev = false, u.rev
			}
		case <-deadline:
			if changedFrom != nil {
				return "", fmt.Errorf("%w: %s is still %q", ErrTimeout, k, *changedFrom)
			}
			return "", fmt.Errorf("%w: %s", ErrTimeout, k)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-c.closed:
			return "", ErrClosed
		}
	}
}

// Abort raises the run's abort (the first message wins) and marks the
// calling instance's; with cancel it clears both.
func (c *Coordinator) Abort(ctx context.Context, id string, caller *Instance, message string, cancel bool) error {
	if message == "" {
		message = "(unspecified)"
	}
	if len(message) > c.opts.MaxValue {
		message = message[:c.opts.MaxValue]
	}
	// Who was blocked when the abort came is kept with it: those gets end
	// with the abort, and what they waited for is often why it came.
	waiting, at := c.Waits(id), time.Now().UTC()
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		if cancel {
			tx.Delete(abortKey)
			tx.Delete(abortInfoKey)
			if caller != nil {
				tx.Delete(pkey(Key{caller.String(), "abort"}))
			}
			return nil
		}
		if _, set := abortMessage(tx); !set {
			who := "the provider"
			if caller != nil {
				who = caller.String()
			}
			tx.Put(abortKey, who+": "+message)
			info, _ := json.Marshal(AbortInfo{By: who, At: at, Waiting: waiting[:min(len(waiting), maxAbortWaits)], WaitingTotal: len(waiting)})
			tx.Put(abortInfoKey, string(info))
		}
		if caller != nil {
			tx.Put(pkey(Key{caller.String(), "abort"}), message)
		}
		applyPolicy(d, tx)
		return nil
	})
	return err
}

// Parameters returns every parameter of a deployment that has a value,
// keyed "scope:name", with the names of the sensitive ones.
func (c *Coordinator) Parameters(ctx context.Context, id string) (values map[string]string, sensitive map[string]bool, err error) {
	values, sensitive = map[string]string{}, map[string]bool{}
	_, err = c.st.View(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		for _, kv := range tx.List("p/") {
			key := strings.TrimPrefix(kv.Key, "p/")
			values[key] = kv.Value
			if d.isSensitive(key) {
				sensitive[key] = true
			}
		}
		return nil
	})
	return values, sensitive, err
}

// Event is one change to a deployment's runtime parameters, for the event
// stream. Value is empty for sensitive parameters: the stream is for
// people and dashboards watching a run, and secrets stay out of it.
type Event struct {
	Rev       int64  `json:"rev"`
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
	Deleted   bool   `json:"deleted,omitempty"`
}

// Events streams a deployment's parameter changes after revision after
// (0: from what the store still remembers) until ctx ends. The channel
// closes when the stream ends; a stream that fell behind the store's
// memory ends with store.ErrCompacted from the returned function.
func (c *Coordinator) Events(ctx context.Context, id string, after int64) (<-chan Event, func() error, error) {
	var d *Deployment
	if _, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
		var err error
		d, err = c.spec(id, tx)
		return err
	}); err != nil {
		return nil, nil, err
	}
	raw, err := c.st.Watch(ctx, ns(id), after)
	if err != nil {
		return nil, nil, err
	}
	out := make(chan Event, 64)
	var streamErr error
	go func() {
		defer close(out)
		for ev := range raw {
			if ev.Err != nil {
				streamErr = ev.Err
				return
			}
			name, ok := strings.CutPrefix(ev.Key, "p/")
			if !ok {
				continue // the spec and token hashes are not parameters
			}
			e := Event{Rev: ev.Rev, Key: name, Value: ev.Value, Deleted: ev.Deleted}
			if d.isSensitive(name) {
				e.Value, e.Sensitive = "", true
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, func() error { return streamErr }, nil
}

package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// SlipStream's keep-running policies: whether a run stays up (its agents
// waiting for scale actions) once it is Ready, or once it is aborted.
// A run that does not stay up is finalized: its agents complete
// Finalizing (after sending their reports, when it was aborted) and stop.
//
//	policy       Ready        aborted
//	always       stays up     stays up (the abort can be cancelled, and what failed retried)
//	on-success   stays up     finalized            (the default)
//	on-error     finalized    stays up (for debugging)
//	never        finalized    finalized
const (
	KeepAlways    = "always"
	KeepOnSuccess = "on-success"
	KeepOnError   = "on-error"
	KeepNever     = "never"
)

var keepRunningPolicies = map[string]bool{"": true, KeepAlways: true, KeepOnSuccess: true, KeepOnError: true, KeepNever: true}

// staysUp reports whether the policy keeps a run up when it is Ready
// (aborted false) or aborted.
func staysUp(policy string, aborted bool) bool {
	switch policy {
	case KeepAlways:
		return true
	case KeepOnError:
		return aborted
	case KeepNever:
		return false
	default: // on-success
		return !aborted
	}
}

// applyPolicy finalizes the run when its keep-running policy says it does
// not stay up in the state it is in now. Called after an abort and after
// the policy changes; settle applies it when the run reaches Ready.
func applyPolicy(d *Deployment, tx store.Tx) {
	cur, _ := tx.Get(stateKey)
	if cur.Value == Finalizing || cur.Value == Done {
		return
	}
	_, aborted := abortMessage(tx)
	if !aborted && cur.Value != Ready {
		return
	}
	if staysUp(d.KeepRunning, aborted) {
		return
	}
	clearFlags(d, tx)
	tx.Put(stateKey, Finalizing)
	settle(d, tx)
}

// tokensHeld reports whether every hash is already a token of its
// instance (a bootstrap token, or one its agent has exchanged since): the
// tokens of a create, scale or reissue that committed before.
func tokensHeld(tx store.Tx, hashes map[string]string) bool {
	for inst, hash := range hashes {
		if !heldBy(tx, inst, hash) {
			return false
		}
	}
	return true
}

// heldBy reports whether hash is a bootstrap token of inst, exchanged or
// not.
func heldBy(tx store.Tx, inst, hash string) bool {
	kv, ok := tx.Get("t/" + hash)
	if !ok {
		return false
	}
	rec, valid := ParseTokenRecord(kv.Value)
	return valid && rec.Instance.String() == inst && rec.Kind != TokenAgent
}

// ReissueTokens gives instances new bootstrap tokens (instance name → hex
// SHA-256 of the token), revoking the bootstrap tokens they had and not
// yet exchanged. The provider calls it when its state lacks an instance's
// token (an apply interrupted after a scale committed, an import): the
// machine is then started with the new one. An agent already running
// keeps its own token until a machine exchanges the new bootstrap token
// (Exchange then revokes the old agent's). Giving the same hashes again
// changes nothing, so a retry is safe.
func (c *Coordinator) ReissueTokens(ctx context.Context, id string, tokenHashes map[string]string) error {
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		return reissue(d, tx, tokenHashes)
	})
	return err
}

// RenewSpentTokens gives a new bootstrap token (fresh: instance → hash)
// to each instance whose current one (current: instance → hash) is not a
// bootstrap token it can still exchange: spent by an agent, revoked, or
// never issued. It returns the instances renewed, sorted. A machine
// resource calls it before it starts a machine again for an instance (a
// reinstalled host, a replaced machine): the script it holds carries the
// token its first machine exchanged. Retrying after a lost answer gives
// the same result.
func (c *Coordinator) RenewSpentTokens(ctx context.Context, id string, current, fresh map[string]string) ([]string, error) {
	var renewed []string
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		renewed = nil
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		need := map[string]string{}
		for inst, hash := range fresh {
			if heldBy(tx, inst, hash) {
				renewed = append(renewed, inst) // this renewal, committed before
				continue
			}
			if kv, ok := tx.Get("t/" + current[inst]); ok && current[inst] != "" {
				if rec, _ := ParseTokenRecord(kv.Value); rec.Instance.String() == inst && rec.Kind == TokenBootstrap {
					continue // still good: the machine exchanges it
				}
			}
			need[inst] = hash
			renewed = append(renewed, inst)
		}
		if len(need) == 0 {
			return nil
		}
		return reissue(d, tx, need)
	})
	slices.Sort(renewed)
	return renewed, err
}

// reissue is ReissueTokens inside its transaction.
func reissue(d *Deployment, tx store.Tx, tokenHashes map[string]string) error {
	for inst, hash := range tokenHashes {
		if err := declared(d, Key{inst, "complete"}); err != nil || !strings.Contains(inst, ".") {
			return fmt.Errorf("%w: no instance %q", ErrUnknown, inst)
		}
		if !hashRE.MatchString(hash) {
			return &KeyError{hash, "a token hash must be 64 lower-case hex digits (SHA-256)"}
		}
	}
	if tokensHeld(tx, tokenHashes) {
		return nil
	}
	for _, kv := range tx.List("t/") {
		rec, ok := ParseTokenRecord(kv.Value)
		if _, mine := tokenHashes[rec.Instance.String()]; ok && mine && rec.Kind == TokenBootstrap {
			tx.Delete(kv.Key)
		}
	}
	for inst, hash := range tokenHashes {
		if kv, taken := tx.Get("t/" + hash); taken {
			if rec, _ := ParseTokenRecord(kv.Value); rec.Instance.String() != inst || rec.Kind == TokenAgent {
				return fmt.Errorf("%w: token hash for %s is already in use", ErrExists, inst)
			}
			continue
		}
		tx.Put("t/"+hash, inst)
	}
	return nil
}

// Summary describes a deployment in the admin's listing.
type Summary struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Abort     string `json:"abort,omitempty"`
	Instances int    `json:"instances"`
	// Meta is what the provider registered it with (its configuration).
	Meta json.RawMessage `json:"meta,omitempty"`
}

// Deployments lists every deployment, by id: how an operator finds one
// that no Terraform state knows any more (a create whose answer never
// arrived, a state file lost).
func (c *Coordinator) Deployments(ctx context.Context) ([]Summary, error) {
	names, err := c.st.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, n := range names {
		id, ok := strings.CutPrefix(n, "dep/")
		if !ok {
			continue
		}
		s := Summary{ID: id}
		_, err := c.st.View(ctx, n, func(tx store.Tx) error {
			d, err := c.spec(id, tx)
			if err != nil {
				return err
			}
			kv, _ := tx.Get(stateKey)
			s.State, s.Instances, s.Meta = kv.Value, instances(d), d.Meta
			s.Abort, _ = abortMessage(tx)
			return nil
		})
		if err == ErrNotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Settings are what can change on a running deployment besides its
// multiplicities: they change no script, parameter or mapping.
type Settings struct {
	KeepRunning *string `json:"keep_running,omitempty"`
	// MaxProvisioningFailures by node name.
	MaxProvisioningFailures map[string]int `json:"max_provisioning_failures,omitempty"`
	// Meta replaces the provider's description of the deployment.
	Meta json.RawMessage `json:"meta,omitempty"`
}

// UpdateSettings changes a deployment's settings in place; a new
// keep-running policy applies at once (a Ready run whose policy becomes
// "never" is finalized). It returns the run's state afterwards.
func (c *Coordinator) UpdateSettings(ctx context.Context, id string, s Settings) (string, error) {
	if s.KeepRunning != nil && !keepRunningPolicies[*s.KeepRunning] {
		return "", &InvalidError{fmt.Errorf("invalid keep_running %q (want always, on-success, on-error or never)", *s.KeepRunning)}
	}
	var now string
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		changed := *d // the cached spec is shared: change a copy
		changed.Nodes = make(map[string]*Node, len(d.Nodes))
		for name, n := range d.Nodes {
			changed.Nodes[name] = n
		}
		if s.KeepRunning != nil {
			changed.KeepRunning = *s.KeepRunning
		}
		for name, max := range s.MaxProvisioningFailures {
			n := changed.Nodes[name]
			if n == nil {
				return &InvalidError{fmt.Errorf("no node %q", name)}
			}
			if max < 0 {
				return &InvalidError{fmt.Errorf("node %s: max_provisioning_failures %d is negative", name, max)}
			}
			nn := *n
			nn.MaxProvisioningFailures = max
			changed.Nodes[name] = &nn
		}
		if s.Meta != nil {
			changed.Meta = s.Meta
		}
		spec, err := json.Marshal(&changed)
		if err != nil {
			return err
		}
		tx.Put(specKey, string(spec))
		applyPolicy(&changed, tx)
		kv, _ := tx.Get(stateKey)
		now = kv.Value
		return nil
	})
	return now, err
}

// Provisioning failures: "f/<instance>" holds why an instance failed to
// start, "n/failed" how many did. A failed instance no longer counts in
// the barriers; when a node has more than its MaxProvisioningFailures,
// the run is aborted.
const failedCountKey = "n/failed"

func failedCount(tx store.Tx) int {
	kv, _ := tx.Get(failedCountKey)
	n, _ := strconv.Atoi(kv.Value)
	return n
}

func isFailed(tx store.Tx, inst Instance) bool {
	_, ok := tx.Get("f/" + inst.String())
	return ok
}

// InstanceFailed records that an instance's machine could not be started
// (the provider's machine resource failed). Within the node's
// MaxProvisioningFailures the run goes on without it (tolerated true);
// beyond, the run is aborted with the reason. Recording the same instance
// again changes nothing.
func (c *Coordinator) InstanceFailed(ctx context.Context, id string, inst Instance, reason string) (tolerated bool, err error) {
	if reason == "" {
		reason = "(unspecified)"
	}
	if len(reason) > c.opts.MaxValue {
		reason = reason[:c.opts.MaxValue]
	}
	_, err = c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		if err := declared(d, Key{inst.String(), "complete"}); err != nil {
			return err
		}
		if isFailed(tx, inst) {
			_, aborted := abortMessage(tx)
			tolerated = !aborted
			return nil
		}
		n := d.Nodes[inst.Node]
		failedHere := len(tx.List("f/"+inst.Node+".")) + 1
		tx.Put("f/"+inst.String(), reason)
		tx.Put(failedCountKey, strconv.Itoa(failedCount(tx)+1))
		tx.Put(pkey(Key{inst.String(), "vmstate"}), "failed")
		cur, _ := tx.Get(stateKey)
		if kv, ok := tx.Get(pkey(Key{inst.String(), "complete"})); ok && kv.Value == cur.Value {
			tx.Put(completedKey, strconv.Itoa(completed(tx)-1))
		}
		tx.Delete(pkey(Key{inst.String(), "complete"}))
		if failedHere > n.MaxProvisioningFailures {
			if _, set := abortMessage(tx); !set {
				tx.Put(abortKey, fmt.Sprintf("%s: failed to provision: %s (node %s tolerates %d failed instances, and this is failure %d)",
					inst, reason, inst.Node, n.MaxProvisioningFailures, failedHere))
			}
			tx.Put(pkey(Key{inst.String(), "abort"}), reason)
			applyPolicy(d, tx)
			return nil
		}
		tolerated = true
		settle(d, tx) // the others may all have completed already
		return nil
	})
	return tolerated, err
}

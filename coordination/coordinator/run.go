package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// The run-wide keys a scale action sets, for the agents' on_vm_add and
// on_vm_remove hooks (SLIPSTREAM_SCALING_NODE, _VMS and _ACTION).
// ss:scaling.generation counts scale actions, so an agent that restarts
// knows whether it has already run the hooks of the current one.
const (
	ScaleAdd    = "vm_add"
	ScaleRemove = "vm_remove"
)

// Run is the state of a run as the provider and people watch it.
type Run struct {
	State string `json:"state"`
	// Abort is the first abort message ("web.2: why"), empty when the run
	// is not aborted.
	Abort string `json:"abort,omitempty"`
}

// Status returns the run's state and abort message.
func (c *Coordinator) Status(ctx context.Context, id string) (Run, error) {
	var r Run
	_, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
		if _, ok := tx.Get(specKey); !ok {
			return ErrNotFound
		}
		kv, _ := tx.Get(stateKey)
		r.State = kv.Value
		r.Abort, _ = abortMessage(tx)
		return nil
	})
	return r, err
}

// WaitRun blocks until the run differs from seen (its state moved, or its
// abort was raised, changed or cancelled) and returns it as it is then;
// with the run unchanged after wait, it returns it with ErrTimeout (wait
// 0: at once). Agents follow the run with it: one long-poll for both the
// state and the abort, where a state wait and an abort wait took two.
func (c *Coordinator) WaitRun(ctx context.Context, id string, seen Run, wait time.Duration) (Run, error) {
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	var w *waiter
	defer func() {
		if w != nil {
			w.release()
		}
	}()
	for {
		r, err := c.Status(ctx, id)
		switch {
		case err != nil:
			return r, err
		case r != seen:
			return r, nil
		case wait <= 0:
			return r, runTimeout{r.State}
		case w == nil:
			// Register, then read again: a change committed between the
			// read above and the registration is caught by the second.
			if w, err = c.wait(id, stateKey, abortKey); err != nil {
				return r, err
			}
			continue
		}
		select {
		case u := <-w.ch:
			if u.rewatch {
				w.release()
				w = nil
			}
		case <-deadline:
			return r, runTimeout{r.State}
		case <-ctx.Done():
			return r, ctx.Err()
		case <-c.closed:
			return r, ErrClosed
		}
	}
}

// Complete records that an instance finished state; when every instance
// has, the run moves to the next state and the flags reset (SlipStream's
// barrier). It returns the run's state afterwards.
func (c *Coordinator) Complete(ctx context.Context, id string, inst Instance, state string) (string, error) {
	var now string
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		if err := declared(d, Key{inst.String(), "complete"}); err != nil {
			return err
		}
		cur, _ := tx.Get(stateKey)
		now = cur.Value
		if isFailed(tx, inst) {
			return fmt.Errorf("%w: %s was recorded as failed to provision and takes no part in the run", ErrState, inst)
		}
		if cur.Value != state {
			return fmt.Errorf("%w: the run is %s, not %s", ErrState, cur.Value, state)
		}
		if _, ok := nextState[state]; !ok {
			return fmt.Errorf("%w: %s does not end by a barrier", ErrState, state)
		}
		flag := pkey(Key{inst.String(), "complete"})
		if kv, ok := tx.Get(flag); !ok || kv.Value != state {
			tx.Put(flag, state)
			tx.Put(completedKey, strconv.Itoa(completed(tx)+1))
		}
		now = settle(d, tx)
		return nil
	})
	return now, err
}

// completedKey counts the instances whose complete flag holds the current
// state, so a completion costs O(1) instead of reading every instance's
// flag (10,000 completions were 10^8 reads).
const completedKey = "n/completed"

func completed(tx store.Tx) int {
	kv, _ := tx.Get(completedKey)
	n, _ := strconv.Atoi(kv.Value)
	return n
}

func instances(d *Deployment) int {
	n := 0
	for _, node := range d.Nodes {
		n += node.Multiplicity
	}
	return n
}

// settle moves the run on through every state all live instances have
// completed, resetting the flags at each step, and returns the state it
// stops in. A deployment with no instances goes straight to Ready (or from
// Finalizing to Done): an empty barrier is passed. Instances that failed
// to provision are not live. A run reaching Ready whose keep-running
// policy does not keep it up goes on to Finalizing.
func settle(d *Deployment, tx store.Tx) string {
	cur, _ := tx.Get(stateKey)
	state := cur.Value
	total := instances(d) - failedCount(tx)
	for {
		next, ok := nextState[state]
		if !ok || completed(tx) < total {
			return state
		}
		clearFlags(d, tx)
		if _, aborted := abortMessage(tx); next == Ready && !aborted && !staysUp(d.KeepRunning, false) {
			next = Finalizing
		}
		tx.Put(stateKey, next)
		state = next
	}
}

// clearFlags forgets every completion: the run moves to another state.
func clearFlags(d *Deployment, tx store.Tx) {
	for name, n := range d.Nodes {
		for i := 1; i <= n.Multiplicity; i++ {
			tx.Delete(pkey(Key{Instance{name, i}.String(), "complete"}))
		}
	}
	tx.Put(completedKey, "0")
}

// Finalize ends a run: it moves to Finalizing, whatever state it is in
// (an aborted run too), and to Done once every live instance has completed
// Finalizing; agents then stop. It returns the state afterwards; finalizing
// a run that is Done already is not an error.
func (c *Coordinator) Finalize(ctx context.Context, id string) (string, error) {
	var now string
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		cur, _ := tx.Get(stateKey)
		if now = cur.Value; now == Finalizing || now == Done {
			return nil
		}
		clearFlags(d, tx)
		tx.Put(stateKey, Finalizing)
		now = settle(d, tx)
		return nil
	})
	return now, err
}

// Scale changes a node's multiplicity. New instances get their inputs
// (mapped ones from values already published) and their tokens (hashes,
// as in CreateDeployment; none when tokenHashes is empty, as in
// RegisterDeployment); removed instances lose their parameters, their
// tokens of every kind and their pool members. A scale to the
// multiplicity the node has already succeeds and changes nothing when the
// tokens given are in place (none given: always), so a retry is safe. A
// run that is Ready goes back to Provisioning, as in SlipStream: new
// instances run the whole workflow, and existing ones run their on_vm_add
// or on_vm_remove hooks in Executing. Before anything ran (Initializing)
// the node is simply resized. Any other state is ErrState: one change at
// a time, and not while the run is working or aborted.
func (c *Coordinator) Scale(ctx context.Context, id, node string, multiplicity int, tokenHashes map[string]string) (string, error) {
	if multiplicity < 0 {
		return "", fmt.Errorf("node %s: multiplicity %d is negative", node, multiplicity)
	}
	var now string
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		n := d.Nodes[node]
		if n == nil {
			return fmt.Errorf("%w: node %q", ErrUnknown, node)
		}
		cur, _ := tx.Get(stateKey)
		now = cur.Value
		old := n.Multiplicity
		if old == multiplicity {
			// Nothing to do, or the retry of a scale that committed but
			// whose answer was lost: its tokens are in place already.
			if !tokensHeld(tx, tokenHashes) {
				return fmt.Errorf("%w: node %s already has %d instances, scaled by another request", ErrState, node, multiplicity)
			}
			return nil
		}
		if msg, aborted := abortMessage(tx); aborted {
			return &AbortError{msg}
		}
		if now != Ready && now != Initializing {
			return fmt.Errorf("%w: the run is %s; a node is scaled when the run is Ready", ErrState, now)
		}
		// The spec is shared with the cache: change a copy.
		scaled := *d
		scaled.Nodes = make(map[string]*Node, len(d.Nodes))
		for name, v := range d.Nodes {
			scaled.Nodes[name] = v
		}
		nn := *n
		nn.Multiplicity = multiplicity
		scaled.Nodes[node] = &nn
		spec, err := json.Marshal(&scaled)
		if err != nil {
			return err
		}
		tx.Put(specKey, string(spec))
		if now == Ready {
			clearFlags(d, tx) // the run goes back to Provisioning below
		}

		var changed []string
		for i := old + 1; i <= multiplicity; i++ { // added
			inst := Instance{node, i}.String()
			changed = append(changed, inst)
			for in, v := range n.Inputs {
				tx.Put(pkey(Key{inst, in}), v)
			}
			for in, from := range n.Mappings {
				src, name, _ := strings.Cut(from, ":")
				if kv, ok := tx.Get(pkey(Key{Instance{src, 1}.String(), name})); ok {
					tx.Put(pkey(Key{inst, in}), kv.Value)
				}
			}
		}
		for inst, hash := range tokenHashes {
			k, err := Qualify(inst+":x", nil)
			in, ok := k.Instance()
			if err != nil || !ok || in.Node != node || in.Index <= old || in.Index > multiplicity {
				return fmt.Errorf("%w: node %s changed while it was being scaled; try again", ErrState, node)
			}
			tx.Put("t/"+hash, inst)
		}
		for i := multiplicity + 1; i <= old; i++ { // removed
			inst := Instance{node, i}.String()
			changed = append(changed, inst)
			for _, kv := range tx.List("p/" + inst + ":") {
				tx.Delete(kv.Key)
			}
			tx.Delete(agentKey(Instance{node, i}))
			removeMember(tx, Instance{node, i})
			if isFailed(tx, Instance{node, i}) {
				tx.Delete("f/" + inst)
				tx.Put(failedCountKey, strconv.Itoa(failedCount(tx)-1))
			}
		}
		if multiplicity < old {
			for _, kv := range tx.List("t/") { // bootstrap, agent and spent tokens alike
				if rec, ok := ParseTokenRecord(kv.Value); ok && rec.Instance.Node == node && rec.Instance.Index > multiplicity {
					tx.Delete(kv.Key)
				}
			}
		}
		ids := make([]string, multiplicity)
		for i := range ids {
			ids[i] = strconv.Itoa(i + 1)
		}
		tx.Put(pkey(Key{node, "multiplicity"}), strconv.Itoa(multiplicity))
		tx.Put(pkey(Key{node, "ids"}), strings.Join(ids, ","))
		if now == Ready {
			action := ScaleAdd
			if multiplicity < old {
				action = ScaleRemove
			}
			gen, _ := tx.Get(pkey(Key{"ss", "scaling.generation"}))
			g, _ := strconv.Atoi(gen.Value)
			tx.Put(pkey(Key{"ss", "scaling.generation"}), strconv.Itoa(g+1))
			tx.Put(pkey(Key{"ss", "scaling.action"}), action)
			tx.Put(pkey(Key{"ss", "scaling.node"}), node)
			tx.Put(pkey(Key{"ss", "scaling.vms"}), strings.Join(changed, " "))
			tx.Put(stateKey, Provisioning)
		}
		if now == Initializing {
			// Instances that completed Initializing keep their flag; the
			// removed ones' went with their parameters.
			n := 0
			for name, nd := range scaled.Nodes {
				for i := 1; i <= nd.Multiplicity; i++ {
					if kv, ok := tx.Get(pkey(Key{Instance{name, i}.String(), "complete"})); ok && kv.Value == Initializing {
						n++
					}
				}
			}
			tx.Put(completedKey, strconv.Itoa(n))
		}
		now = settle(&scaled, tx)
		return nil
	})
	return now, err
}

package coordinator

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// This file is the run as people watch it (the web view, slipc status):
// where each instance is, counted per node, who waits for whom, and the
// abort with its context. Nothing here writes to the store, and no
// sensitive value leaves it: a parameter view says "sensitive", never what.

// The states an instance is shown in. They describe the instance within
// the run's current state, so they are few and stable.
const (
	InstanceBooting   = "Booting"   // no agent yet: the machine is starting, or its agent has not called in
	InstanceWorking   = "Working"   // its agent works on the run's current state
	InstanceWaiting   = "Waiting"   // blocked in ss-get right now
	InstanceCompleted = "Completed" // completed the run's current state, waits for the others
	InstanceReady     = "Ready"     // the run is Ready (or Done): nothing more to do
	InstanceDone      = "Done"
	InstanceFailed    = "Failed"  // the machine could not be started
	InstanceAborted   = "Aborted" // it raised the run's abort
)

// InstanceStates are the instance states in the order they are shown.
var InstanceStates = []string{InstanceBooting, InstanceWorking, InstanceWaiting, InstanceCompleted, InstanceReady, InstanceDone, InstanceFailed, InstanceAborted}

// RunStates is the path a run takes, for a progress bar.
var RunStates = []string{Initializing, Provisioning, Executing, SendingReports, Ready, Finalizing, Done}

// createdKey holds when the deployment was registered (RFC 3339), and
// abortInfoKey what the abort's first message does not say: who raised it,
// when, and who was blocked in ss-get then. Neither is a parameter.
const (
	createdKey   = "created"
	abortInfoKey = "abortinfo"
)

// AbortInfo is a run's abort as people need it: the message, who raised
// it ("web.2", or "the provider"), when, and who was blocked in ss-get at
// that moment (from the coordinator that took the abort).
type AbortInfo struct {
	Message string    `json:"message"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// Waiting holds the first maxAbortWaits of them; WaitingTotal counts
	// them all.
	Waiting      []Wait `json:"waiting,omitempty"`
	WaitingTotal int    `json:"waiting_total,omitempty"`
}

// MaxListedWaits bounds the waits an overview or an abort lists: with
// 10,000 instances blocked on one value, the count and the deadlocks
// (found among all of them) say what matters, and the page shows a few.
const MaxListedWaits = 500

// maxAbortWaits bounds the waits kept with an abort, in the store.
const maxAbortWaits = 100

// NodeOverview counts a node's instances by state.
type NodeOverview struct {
	Name      string         `json:"name"`
	Cloud     string         `json:"cloud,omitempty"`
	Instances int            `json:"instances"`
	States    map[string]int `json:"states"`
}

// Overview is a deployment at a glance.
type Overview struct {
	ID      string    `json:"id"`
	State   string    `json:"state"`
	Created time.Time `json:"created,omitzero"`
	// Instances and, of them, those that count at the run's barrier (not
	// failed), and how many of those completed the current state.
	Instances int            `json:"instances"`
	Live      int            `json:"live"`
	Completed int            `json:"completed"`
	States    map[string]int `json:"states"`
	Nodes     []NodeOverview `json:"nodes"`
	Abort     *AbortInfo     `json:"abort,omitempty"`
	// Waits are the instances blocked in ss-get now (the first
	// MaxListedWaits; WaitsTotal counts them all); Deadlocks the cycles
	// among all of them (each instance waits for one that waits, in the
	// end, for it), each as the instances around the cycle.
	Waits      []Wait     `json:"waits"`
	WaitsTotal int        `json:"waits_total"`
	Deadlocks  [][]string `json:"deadlocks"`
}

// InstanceView is one instance as shown: its state and what its agent
// published about it. Params is filled only for a single instance.
type InstanceView struct {
	Name       string      `json:"name"`
	Node       string      `json:"node"`
	Index      int         `json:"index"`
	State      string      `json:"state"`
	Display    string      `json:"display,omitempty"` // its last ss-display message
	Hostname   string      `json:"hostname,omitempty"`
	Addresses  string      `json:"addresses,omitempty"`
	InstanceID string      `json:"instanceid,omitempty"`
	URLSSH     string      `json:"url_ssh,omitempty"`
	URLService string      `json:"url_service,omitempty"`
	Failure    string      `json:"failure,omitempty"` // why the machine could not be started
	Abort      string      `json:"abort,omitempty"`   // the abort message it raised
	Waiting    *Wait       `json:"waiting,omitempty"`
	Params     []ParamView `json:"params,omitempty"`
}

// ParamView is one parameter of an instance: its value, or only that it is
// set when it is sensitive.
type ParamView struct {
	Name      string `json:"name"`
	Value     string `json:"value,omitempty"`
	Set       bool   `json:"set"`
	Sensitive bool   `json:"sensitive,omitempty"`
	Output    bool   `json:"output,omitempty"`
}

// InstanceFilter selects a page of instances: of one node, in one state,
// whose name contains Match; Offset and Limit page through them in node
// and index order.
type InstanceFilter struct {
	Node, State, Match string
	Offset, Limit      int
}

// viewTx is what the view reads in one transaction.
type viewTx struct {
	d     *Deployment
	tx    store.Tx
	state string
	all   []Wait          // every wait of the deployment, as Waits lists them
	waits map[string]Wait // by instance: the longest wait of each
}

func (v *viewTx) param(inst Instance, name string) string {
	kv, _ := v.tx.Get(pkey(Key{inst.String(), name}))
	return kv.Value
}

func (v *viewTx) instanceState(inst Instance) string {
	switch {
	case isFailed(v.tx, inst):
		return InstanceFailed
	case v.param(inst, "abort") != "":
		return InstanceAborted
	case v.state == Ready:
		return InstanceReady
	case v.state == Done:
		return InstanceDone
	case v.param(inst, "complete") == v.state:
		return InstanceCompleted
	}
	if _, ok := v.waits[inst.String()]; ok {
		return InstanceWaiting
	}
	if _, ok := v.tx.Get(agentKey(inst)); !ok {
		return InstanceBooting
	}
	return InstanceWorking
}

func (c *Coordinator) view(ctx context.Context, id string, fn func(v *viewTx) error) error {
	all, waits := c.Waits(id), map[string]Wait{}
	for _, w := range all {
		if cur, ok := waits[w.Instance]; !ok || w.Since.Before(cur.Since) {
			waits[w.Instance] = w
		}
	}
	_, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		kv, _ := tx.Get(stateKey)
		return fn(&viewTx{d: d, tx: tx, state: kv.Value, all: all, waits: waits})
	})
	return err
}

func sortedNodes(d *Deployment) []string {
	names := make([]string, 0, len(d.Nodes))
	for name := range d.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Overview returns a deployment at a glance.
func (c *Coordinator) Overview(ctx context.Context, id string) (*Overview, error) {
	o := &Overview{ID: id, States: map[string]int{}}
	err := c.view(ctx, id, func(v *viewTx) error {
		o.State = v.state
		if kv, ok := v.tx.Get(createdKey); ok {
			o.Created, _ = time.Parse(time.RFC3339Nano, kv.Value)
		}
		o.Instances = instances(v.d)
		o.Live = o.Instances - failedCount(v.tx)
		o.Completed = completed(v.tx)
		for _, name := range sortedNodes(v.d) {
			n := v.d.Nodes[name]
			no := NodeOverview{Name: name, Cloud: n.Cloud, Instances: n.Multiplicity, States: map[string]int{}}
			for i := 1; i <= n.Multiplicity; i++ {
				s := v.instanceState(Instance{name, i})
				no.States[s]++
				o.States[s]++
			}
			o.Nodes = append(o.Nodes, no)
		}
		o.Abort = abortInfo(v.tx)
		// The same waits the instance states were read with.
		o.Deadlocks = Deadlocks(v.all)
		o.WaitsTotal, o.Waits = len(v.all), v.all[:min(len(v.all), MaxListedWaits)]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func abortInfo(tx store.Tx) *AbortInfo {
	msg, aborted := abortMessage(tx)
	if !aborted {
		return nil
	}
	info := &AbortInfo{}
	if kv, ok := tx.Get(abortInfoKey); ok {
		_ = json.Unmarshal([]byte(kv.Value), info) // a damaged record loses only its context
	}
	info.Message = msg
	if by, rest, ok := strings.Cut(msg, ": "); ok && info.By == by {
		info.Message = rest
	}
	return info
}

// Instances returns a page of a deployment's instances and how many match
// the filter in all.
func (c *Coordinator) Instances(ctx context.Context, id string, f InstanceFilter) ([]InstanceView, int, error) {
	var out []InstanceView
	total := 0
	err := c.view(ctx, id, func(v *viewTx) error {
		for _, name := range sortedNodes(v.d) {
			if f.Node != "" && name != f.Node {
				continue
			}
			for i := 1; i <= v.d.Nodes[name].Multiplicity; i++ {
				inst := Instance{name, i}
				if f.Match != "" && !strings.Contains(inst.String(), f.Match) {
					continue
				}
				s := v.instanceState(inst)
				if f.State != "" && s != f.State {
					continue
				}
				total++
				if total > f.Offset && (f.Limit <= 0 || len(out) < f.Limit) {
					out = append(out, v.instanceView(inst, s))
				}
			}
		}
		return nil
	})
	return out, total, err
}

// InstanceDetail returns one instance with its parameters.
func (c *Coordinator) InstanceDetail(ctx context.Context, id string, inst Instance) (*InstanceView, error) {
	var out InstanceView
	err := c.view(ctx, id, func(v *viewTx) error {
		n := v.d.Nodes[inst.Node]
		if n == nil || inst.Index < 1 || inst.Index > n.Multiplicity {
			return ErrUnknown
		}
		out = v.instanceView(inst, v.instanceState(inst))
		prefix := pkey(Key{inst.String(), ""})
		set := map[string]string{}
		for _, kv := range v.tx.List(prefix) {
			set[strings.TrimPrefix(kv.Key, prefix)] = kv.Value
		}
		names := map[string]bool{}
		for name := range set {
			names[name] = true
		}
		for name := range n.Params {
			names[name] = true
		}
		for name := range builtins {
			names[name] = true
		}
		for name := range names {
			val, isSet := set[name]
			p := ParamView{Name: name, Set: isSet, Output: n.Params[name].Output}
			if v.d.ParamSensitive(inst.Node, name) {
				p.Sensitive = true
			} else {
				p.Value = val
			}
			out.Params = append(out.Params, p)
		}
		sort.Slice(out.Params, func(i, j int) bool { return out.Params[i].Name < out.Params[j].Name })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (v *viewTx) instanceView(inst Instance, state string) InstanceView {
	iv := InstanceView{
		Name: inst.String(), Node: inst.Node, Index: inst.Index, State: state,
		Display: v.param(inst, "statecustom"), Hostname: v.param(inst, "hostname"),
		Addresses: v.param(inst, "addresses"), InstanceID: v.param(inst, "instanceid"),
		URLSSH: v.param(inst, "url.ssh"), URLService: v.param(inst, "url.service"),
		Abort: v.param(inst, "abort"),
	}
	if kv, ok := v.tx.Get("f/" + inst.String()); ok {
		iv.Failure = kv.Value
		if iv.Failure == "" {
			iv.Failure = "the machine could not be started"
		}
	}
	if w, ok := v.waits[inst.String()]; ok {
		iv.Waiting = &w
	}
	return iv
}

// Deadlocks finds the cycles among waits: instance A waits for a key of
// B, B for a key of A (or A for its own), through mappings (Wait.For). Such instances wait forever
// unless something outside the cycle sets the value. Each cycle is
// returned once, as its instances' names sorted.
func Deadlocks(waits []Wait) [][]string {
	next := map[string][]string{} // waiter → owners of the keys it waits for
	for _, w := range waits {
		key := w.For
		if key == "" {
			key = w.Key
		}
		k, err := Qualify(key, nil)
		if err != nil {
			continue
		}
		if owner, ok := k.Instance(); ok {
			next[w.Instance] = append(next[w.Instance], owner.String())
		}
	}
	// Tarjan's strongly connected components: a component of two or more
	// instances, or one waiting on itself, is a deadlock.
	index, low, onStack := map[string]int{}, map[string]int{}, map[string]bool{}
	var stack []string
	var out [][]string
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = len(index), len(index)
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range next[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		if len(comp) > 1 || selfWait(next[v], v) {
			sort.Strings(comp)
			out = append(out, comp)
		}
	}
	starts := make([]string, 0, len(next))
	for v := range next {
		starts = append(starts, v)
	}
	sort.Strings(starts)
	for _, v := range starts {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func selfWait(owners []string, v string) bool {
	for _, o := range owners {
		if o == v {
			return true
		}
	}
	return false
}

package waitgraph

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler/internal/didyoumean"
)

// Param is a parameter a node declares.
type Param struct {
	// Preset is set when the parameter has a value before any script runs:
	// built-ins (hostname, instanceid...), inputs with a default, a literal
	// or a deploy-time value.
	Preset bool
	// MappedFrom names the node whose output this input is mapped from, or
	// is "". The runtime copies the value over as soon as the source is set,
	// so a get of this input waits for the source.
	MappedFrom string
	// MappedKey is the source parameter's name; "" means the same name as
	// this parameter.
	MappedKey string
}

// Node is one node of the deployment. All its instances run the same
// scripts, so one Node stands for all of them.
type Node struct {
	Name string
	// Stages holds the node's scripts per stage, each in run order: [0] the
	// Executing stage (pre_install, post_install, deploy), [1] the
	// SendingReports stage (report). Every stage ends with a barrier that
	// all nodes must reach before any goes on.
	Stages [][]Script
	// Params is every parameter the node declares: inputs, outputs and
	// built-ins. The node-wide ids and multiplicity are always known and
	// preset, whether listed or not.
	Params map[string]Param
}

// Edge is a wait of one node on a parameter another node (or the node
// itself) sets.
type Edge struct {
	From  string    // the node whose script waits
	To    string    // the node that sets the awaited parameter
	Key   string    // the awaited parameter, as "node:key" of To (the source of a mapped input)
	Range hcl.Range // the key argument of the ss-get
}

// nodeWide are keys every node has whatever it declares; they are known
// from the start of the run.
var nodeWide = map[string]bool{"ids": true, "multiplicity": true}

// never is the stage at which a parameter that nothing sets gets a value.
const never = math.MaxInt32

// Analyze runs every check of the package on a deployment: unknown nodes
// and parameters, malformed keys, sets of another node's parameters, waits
// on keys nothing sets, and deadlocks. Diagnostics come sorted by position.
func Analyze(nodes []*Node) hcl.Diagnostics {
	a := prepare(nodes)
	a.checkWaits()
	a.simulate()
	a.reportCycles()
	return a.sortedDiags()
}

// Edges returns the waits of every node, in node order then execution
// order, for drawing the wait graph. Gets of preset parameters and
// ss-get --noblock never wait and are left out; a node waiting on its own
// parameter gives an edge to itself. A wait on a key nothing sets points to
// the parameter's owner (for a mapped input, the end of the mapping).
func Edges(nodes []*Node) []Edge {
	a := prepare(nodes)
	var edges []Edge
	for i, run := range a.runs {
		for _, e := range run.events {
			if !e.get || a.params[e.param].earliest < 0 {
				continue
			}
			c := a.setterParam(e.param)
			edges = append(edges, Edge{
				From:  a.nodes[i].Name,
				To:    a.nodes[a.params[c].node].Name,
				Key:   a.keyName(c),
				Range: e.call.Range,
			})
		}
	}
	sort.SliceStable(edges, func(i, j int) bool { return edges[i].From < edges[j].From })
	return edges
}

// paramInfo is one parameter the scripts use, with what the analysis knows
// about when it gets a value.
type paramInfo struct {
	node       int
	key        string
	preset     bool
	source     int   // the parameter a mapped input is mapped from, or -1
	dependents []int // the inputs mapped from this parameter
	firstSet   int   // index in the owner's events of its first set of this parameter, or -1
	setStage   int   // stage of firstSet, or never
	earliest   int   // first stage in which it can have a value, counting mappings; -1 when preset
	isSet      bool  // simulation: has a value
	waiters    []int // simulation: nodes blocked on it
}

// event is a get that waits or a set, in a node's execution order.
type event struct {
	get      bool
	param    int
	stage    int
	call     Call
	script   *Script
	reported bool // the get is already reported as certain to block; the simulation does not blame others for it
	// qualified is set for a get naming its own node (web:x or web.2:x in
	// web), that is, a sibling instance's parameter.
	qualified bool
	// sibling is set for a qualified ss-get of a parameter the node sets
	// itself in the same stage or before. The node-level model cannot tell
	// whether the waiting instance is the one that sets it or another (the
	// usual "instance 1 generates, the others wait" pattern, often with the
	// get textually first in an if/else), so the wait is assumed satisfied
	// rather than reported as a deadlock.
	sibling bool
}

// nodeRun is a node's events and its progress in the simulation.
type nodeRun struct {
	events   []event
	stageEnd []int // stageEnd[s] is the index after the last event of stage s
	pc       int   // next event to run
	stage    int
	done     bool
}

type analysis struct {
	nodes  []*Node
	byName map[string]int
	names  []string // sorted, for did-you-mean
	runs   []nodeRun
	params []paramInfo
	ids    map[paramRef]int
	stages int
	diags  hcl.Diagnostics

	queue   []int // simulation: nodes that may progress
	barrier []int // simulation: nodes waiting at the current barrier
}

type paramRef struct {
	node int
	key  string
}

type scriptKey struct {
	file  string
	start hcl.Pos
	text  string
}

type scanResult struct {
	calls []Call
	diags hcl.Diagnostics
}

// prepare scans every script, resolves the calls' keys (reporting those it
// cannot resolve) and builds each node's events.
func prepare(in []*Node) *analysis {
	a := &analysis{byName: map[string]int{}, ids: map[paramRef]int{}}
	for _, n := range in {
		if n == nil {
			continue
		}
		if _, dup := a.byName[n.Name]; dup {
			continue // the compiler reports duplicate names; analyse the first
		}
		a.byName[n.Name] = len(a.nodes)
		a.nodes = append(a.nodes, n)
		a.names = append(a.names, n.Name)
		a.stages = max(a.stages, len(n.Stages))
	}
	sort.Strings(a.names)
	a.stages = max(a.stages, 1)

	// Link every mapped input to its source first, so that a set of the
	// source reaches the input whichever script mentions either.
	for i, n := range a.nodes {
		var mapped []string
		for k, p := range n.Params {
			if p.MappedFrom != "" {
				mapped = append(mapped, k)
			}
		}
		sort.Strings(mapped) // deterministic parameter order
		for _, k := range mapped {
			p := n.Params[k]
			src, ok := a.byName[p.MappedFrom]
			if !ok {
				continue // an unknown source is the compiler's to report
			}
			sk := p.MappedKey
			if sk == "" {
				sk = k
			}
			d, s := a.intern(i, k), a.intern(src, sk)
			if d != s {
				a.params[d].source = s
				a.params[s].dependents = append(a.params[s].dependents, d)
			}
		}
	}

	cache := map[scriptKey]scanResult{}
	a.runs = make([]nodeRun, len(a.nodes))
	for i, n := range a.nodes {
		run := &a.runs[i]
		run.stageEnd = make([]int, a.stages)
		for st := 0; st < a.stages; st++ {
			if st < len(n.Stages) {
				for si := range n.Stages[st] {
					a.addScript(i, st, &n.Stages[st][si], cache)
				}
			}
			run.stageEnd[st] = len(run.events)
		}
	}
	a.computeEarliest()
	return a
}

// addScript appends the events of one script of node i. Scripts shared by
// several nodes (an image's) are scanned once.
func (a *analysis) addScript(i, stage int, s *Script, cache map[scriptKey]scanResult) {
	k := scriptKey{s.File, s.Start, s.Text}
	res, ok := cache[k]
	if !ok {
		res.calls, res.diags = Scan(*s)
		cache[k] = res
		a.diags = append(a.diags, res.diags...)
	}
	run := &a.runs[i]
	for _, c := range res.calls {
		if !c.Literal || c.Key == "" {
			continue
		}
		var get bool
		switch c.Command {
		case "ss-get", "ss-get-all":
			get = true
		case "ss-set", "ss-random":
		default:
			continue
		}
		p := a.resolve(i, s, c, !get)
		if p < 0 || get && c.NoBlock {
			continue
		}
		if !get && a.params[p].firstSet < 0 {
			a.params[p].firstSet, a.params[p].setStage = len(run.events), stage
		}
		qualified := get && a.params[p].node == i && strings.Contains(c.Key, ":")
		run.events = append(run.events, event{get: get, param: p, stage: stage, call: c, script: s, qualified: qualified})
	}
}

// intern returns the id of parameter key of node i.
func (a *analysis) intern(i int, key string) int {
	r := paramRef{i, key}
	if id, ok := a.ids[r]; ok {
		return id
	}
	id := len(a.params)
	a.ids[r] = id
	a.params = append(a.params, paramInfo{
		node: i, key: key,
		preset: a.nodes[i].Params[key].Preset || nodeWide[key],
		source: -1, firstSet: -1, setStage: never, earliest: never,
	})
	return id
}

// resolve returns the parameter a literal key of node i refers to, or -1
// when it is run-wide or cannot be resolved (and then reports why).
func (a *analysis) resolve(i int, s *Script, c Call, set bool) int {
	m := keyRE.FindStringSubmatch(c.Key)
	if m == nil {
		a.errorAt(c, "Invalid parameter key", fmt.Sprintf(
			"%q, used by %s in the %s, is not a parameter key. A key is name, node:name or node.N:name, where name starts with a letter, digit or underscore and continues with those, dots and dashes.",
			c.Key, c.Command, where(s, c.Range)))
		return -1
	}
	nodeName, key := m[1], m[3]
	if nodeName == "ss" {
		return -1 // run-wide keys are set by the server
	}
	target := i
	if nodeName != "" {
		t, ok := a.byName[nodeName]
		if !ok {
			a.errorAt(c, "Unknown node in parameter key", fmt.Sprintf(
				"The key %q, used by %s in the %s, refers to node %q, but the deployment has no node of that name.%s",
				c.Key, c.Command, where(s, c.Range), nodeName, didyoumean.Hint(nodeName, a.names)))
			return -1
		}
		target = t
	}
	if set && target != i {
		a.errorAt(c, "Cannot set another node's parameter", fmt.Sprintf(
			"%s %s in the %s sets a parameter of node %q, but an instance may set only its own parameters. Set an output of %q and map it to an input of %q instead.",
			c.Command, c.Key, where(s, c.Range), a.nodes[target].Name, a.nodes[i].Name, a.nodes[target].Name))
		return -1
	}
	if _, ok := a.nodes[target].Params[key]; !ok && !nodeWide[key] {
		cands := make([]string, 0, len(a.nodes[target].Params)+len(nodeWide))
		for k := range a.nodes[target].Params {
			cands = append(cands, k)
		}
		for k := range nodeWide {
			cands = append(cands, k)
		}
		sort.Strings(cands)
		a.errorAt(c, "Unknown parameter", fmt.Sprintf(
			"Node %q does not declare a parameter named %q (%s %s in the %s).%s",
			a.nodes[target].Name, key, c.Command, c.Key, where(s, c.Range), didyoumean.Hint(key, cands)))
		return -1
	}
	return a.intern(target, key)
}

// computeEarliest finds, for every parameter, the first stage in which it
// can have a value: its own first set, or its source's, through mappings.
func (a *analysis) computeEarliest() {
	var work []int
	for p := range a.params {
		pi := &a.params[p]
		pi.earliest = pi.setStage
		if pi.preset {
			pi.earliest = -1
		}
		if pi.earliest != never {
			work = append(work, p)
		}
	}
	// A value only ever decreases, through a handful of stages, so this
	// relaxation ends after a few passes over the mapping links.
	for len(work) > 0 {
		p := work[len(work)-1]
		work = work[:len(work)-1]
		for _, d := range a.params[p].dependents {
			if a.params[p].earliest < a.params[d].earliest {
				a.params[d].earliest = a.params[p].earliest
				work = append(work, d)
			}
		}
	}
}

// chain returns p followed by the parameters it is mapped from, in order.
func (a *analysis) chain(p int) []int {
	c := []int{p}
	if a.params[p].source < 0 {
		return c // the common case: not a mapped input
	}
	seen := map[int]bool{p: true}
	for q := a.params[p].source; q >= 0 && !seen[q]; q = a.params[q].source {
		seen[q] = true
		c = append(c, q)
	}
	return c
}

// setterParam returns the parameter whose set gives p a value soonest: p
// itself or one it is mapped from. When nothing sets any of them it returns
// the end of the mapping chain, the parameter that would have to be set.
func (a *analysis) setterParam(p int) int {
	ch := a.chain(p)
	best := -1
	for _, q := range ch {
		if a.params[q].setStage != never && (best < 0 || a.params[q].setStage < a.params[best].setStage) {
			best = q
		}
	}
	if best < 0 {
		return ch[len(ch)-1]
	}
	return best
}

// checkWaits reports the gets that are certain to block whatever the other
// nodes do: on a key nothing sets, or on a key set only in a later stage.
func (a *analysis) checkWaits() {
	for i := range a.runs {
		for ei := range a.runs[i].events {
			e := &a.runs[i].events[ei]
			if !e.get {
				continue
			}
			pi := a.params[e.param]
			e.sibling = e.qualified && e.call.Command == "ss-get" && pi.setStage <= e.stage
			switch {
			case pi.earliest == never:
				e.reported = true
				src := a.setterParam(e.param)
				what := a.keyName(e.param)
				if src != e.param {
					what += ", which is mapped from " + a.keyName(src) + ","
				}
				a.warnAt(e.call, "Wait on a key that nothing sets", fmt.Sprintf(
					"Node %q waits for %s (%s), but no script sets %s and it has no value before the scripts run, so the script will block until its %s timeout and then fail.",
					a.nodes[i].Name, what, where(e.script, e.call.Range), a.keyName(src), e.call.Command))
			case pi.earliest > e.stage:
				e.reported = true
				a.reportBarrier(i, e)
			}
		}
	}
}

func (a *analysis) reportBarrier(i int, e *event) {
	c := a.setterParam(e.param)
	owner := a.params[c].node
	set := a.runs[owner].events[a.params[c].firstSet]
	waiter, setter := a.nodes[i].Name, a.nodes[owner].Name
	var b strings.Builder
	fmt.Fprintf(&b, "Node %q waits for %s (%s) in the %s stage, but ", waiter, a.awaited(e.param, c), where(e.script, e.call.Range), stageName(e.stage))
	if owner == i {
		fmt.Fprintf(&b, "it sets %s only in the %s stage (%s), which it cannot start before this ss-get returns.", a.keyName(c), stageName(set.stage), where(set.script, set.call.Range))
	} else {
		fmt.Fprintf(&b, "node %q sets %s only in the %s stage (%s). No node starts the %s stage until every node has finished the %s stage, so %q and %q wait for each other through the stage barrier.",
			setter, a.keyName(c), stageName(set.stage), where(set.script, set.call.Range), stageName(e.stage+1), stageName(e.stage), waiter, setter)
	}
	if e.stage == 0 && set.stage == 1 {
		fmt.Fprintf(&b, " Set %s in a pre_install, post_install or deploy script of %q, or move the ss-get into a report script of %q.", a.keyName(c), setter, waiter)
	} else {
		fmt.Fprintf(&b, " Set %s in an earlier stage of %q, or move the ss-get into a later stage of %q.", a.keyName(c), setter, waiter)
	}
	a.errorAt(e.call, fmt.Sprintf("Deadlock: node %q waits for %s, which is set only in a later stage", waiter, a.keyName(c)), b.String())
}

// simulate runs all nodes together until none can progress.
func (a *analysis) simulate() {
	for p := range a.params {
		if a.params[p].preset {
			a.markSet(p)
		}
	}
	for i := len(a.runs) - 1; i >= 0; i-- {
		a.queue = append(a.queue, i) // popped from the end: node order
	}
	for len(a.queue) > 0 {
		i := a.queue[len(a.queue)-1]
		a.queue = a.queue[:len(a.queue)-1]
		a.advance(i)
	}
}

// advance runs node i until it blocks on a get, reaches a barrier or ends.
func (a *analysis) advance(i int) {
	r := &a.runs[i]
	for {
		if r.pc == r.stageEnd[r.stage] {
			if r.stage == a.stages-1 {
				r.done = true
				return
			}
			a.barrier = append(a.barrier, i)
			if len(a.barrier) == len(a.runs) {
				// Everyone has arrived: all move on to the next stage.
				for _, w := range a.barrier {
					a.runs[w].stage++
					a.queue = append(a.queue, w)
				}
				a.barrier = a.barrier[:0]
			}
			return
		}
		e := &r.events[r.pc]
		if e.get && !a.params[e.param].isSet && (!e.sibling || e.reported) {
			a.params[e.param].waiters = append(a.params[e.param].waiters, i)
			return
		}
		if !e.get {
			a.markSet(e.param)
		}
		r.pc++
	}
}

// markSet gives p a value, and through mappings the inputs mapped from it,
// and wakes the nodes waiting for any of them.
func (a *analysis) markSet(p int) {
	stack := []int{p}
	for len(stack) > 0 {
		q := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pi := &a.params[q]
		if pi.isSet {
			continue
		}
		pi.isSet = true
		a.queue = append(a.queue, pi.waiters...)
		pi.waiters = nil
		stack = append(stack, pi.dependents...)
	}
}

// reportCycles finds the deadlocks among the nodes left blocked. Each such
// node waits for exactly one setter (the node that would give its awaited
// parameter a value soonest), and that setter is itself blocked at a get,
// since its set has not run: the blocked nodes form a functional graph whose
// cycles are the deadlocks. Nodes that wait on a cycle, or on a get that is
// already reported, are its victims and get no diagnostic of their own.
func (a *analysis) reportCycles() {
	next := make([]int, len(a.runs))
	awaited := make([]int, len(a.runs)) // the parameter next[i] must set
	for i := range a.runs {
		next[i] = -1
		r := &a.runs[i]
		if r.done || r.pc == r.stageEnd[r.stage] {
			continue // finished, or at a barrier: waiting for the blocked ones
		}
		e := &r.events[r.pc]
		if e.reported {
			continue
		}
		c := a.setterParam(e.param)
		if a.params[c].firstSet < 0 {
			continue // unreachable: such gets are reported
		}
		next[i], awaited[i] = a.params[c].node, c
	}

	order := make([]int, len(a.runs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool { return a.nodes[order[x]].Name < a.nodes[order[y]].Name })
	walk := make([]int, len(a.runs)) // 0: unvisited, else the walk that visited it
	for w, start := range order {
		var path []int
		i := start
		for ; i >= 0 && walk[i] == 0; i = next[i] {
			walk[i] = w + 1
			path = append(path, i)
		}
		if i < 0 || walk[i] != w+1 {
			continue // ends at a node that is not blocked, or joins an earlier walk
		}
		for k, n := range path {
			if n == i {
				a.reportCycle(path[k:], awaited)
				break
			}
		}
	}
}

// reportCycle reports one deadlock: cycle[k] waits for awaited[cycle[k]],
// which cycle[k+1] sets.
func (a *analysis) reportCycle(cycle, awaited []int) {
	// Start at the smallest name, so the report does not depend on where the
	// walk entered the cycle.
	first := 0
	for k, n := range cycle {
		if a.nodes[n].Name < a.nodes[cycle[first]].Name {
			first = k
		}
	}
	cycle = append(append([]int(nil), cycle[first:]...), cycle[:first]...)

	names := make([]string, len(cycle))
	for k, n := range cycle {
		names[k] = fmt.Sprintf("%q", a.nodes[n].Name)
	}
	var summary, advice string
	switch len(cycle) {
	case 1:
		summary = fmt.Sprintf("Deadlock: node %s waits for itself", names[0])
		advice = "Move the ss-set before the ss-get that waits for it."
	case 2:
		summary = fmt.Sprintf("Deadlock: nodes %s and %s wait for each other", names[0], names[1])
		advice = "Move each ss-set before the ss-get that waits for the other node, so the exchange is safe."
	default:
		summary = fmt.Sprintf("Deadlock: nodes %s and %s wait for each other in a cycle", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
		advice = "Move each ss-set before the ss-get that waits for the next node, so the exchange is safe."
	}

	steps := make([]string, len(cycle))
	for k, n := range cycle {
		r := &a.runs[n]
		get := &r.events[r.pc]
		prev := cycle[(k+len(cycle)-1)%len(cycle)]
		owed := awaited[prev] // what n must set for the previous node
		set := r.events[a.params[owed].firstSet]
		steps[k] = fmt.Sprintf("node %q waits for %s (%s) before it sets %s (%s)",
			a.nodes[n].Name, a.awaited(get.param, awaited[n]), where(get.script, get.call.Range), a.keyName(owed), where(set.script, set.call.Range))
	}
	r := &a.runs[cycle[0]]
	a.errorAt(r.events[r.pc].call, summary, strings.Join(steps, "; ")+". "+advice)
}

// awaited describes the wait on get parameter p that setter parameter c
// satisfies.
func (a *analysis) awaited(p, c int) string {
	if p == c {
		return a.keyName(p)
	}
	return fmt.Sprintf("%s through input %s", a.keyName(c), a.keyName(p))
}

func (a *analysis) keyName(p int) string {
	return a.nodes[a.params[p].node].Name + ":" + a.params[p].key
}

// where locates a call for a message: "deploy script of component "web", line 3".
func where(s *Script, r hcl.Range) string {
	phase := "script"
	if s.Phase != "" {
		phase = s.Phase + " script"
	}
	if s.Owner != "" {
		phase += " of " + s.Owner
	}
	return fmt.Sprintf("%s, line %d", phase, r.Start.Line)
}

func stageName(s int) string {
	switch s {
	case 0:
		return "Executing"
	case 1:
		return "SendingReports"
	}
	return fmt.Sprintf("#%d", s+1)
}

func (a *analysis) errorAt(c Call, summary, detail string) {
	a.add(hcl.DiagError, c, summary, detail)
}

func (a *analysis) warnAt(c Call, summary, detail string) {
	a.add(hcl.DiagWarning, c, summary, detail)
}

func (a *analysis) add(sev hcl.DiagnosticSeverity, c Call, summary, detail string) {
	a.diags = append(a.diags, &hcl.Diagnostic{
		Severity: sev, Summary: summary, Detail: detail,
		Subject: ptr(c.Range), Context: ptr(c.CallRange),
	})
}

// sortedDiags orders the diagnostics by position and drops duplicates: a
// script shared by several nodes reports a node-independent problem once.
func (a *analysis) sortedDiags() hcl.Diagnostics {
	d := a.diags
	sort.SliceStable(d, func(i, j int) bool { return diagLess(d[i], d[j]) })
	out := d[:0]
	for i, x := range d {
		if i > 0 && !diagLess(d[i-1], x) {
			continue // equal to the previous one
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func diagLess(x, y *hcl.Diagnostic) bool {
	xs, ys := x.Subject, y.Subject
	switch {
	case xs.Filename != ys.Filename:
		return xs.Filename < ys.Filename
	case xs.Start.Byte != ys.Start.Byte:
		return xs.Start.Byte < ys.Start.Byte
	case xs.End.Byte != ys.End.Byte:
		return xs.End.Byte < ys.End.Byte
	case x.Severity != y.Severity:
		return x.Severity < y.Severity // errors first
	case x.Summary != y.Summary:
		return x.Summary < y.Summary
	}
	return x.Detail < y.Detail
}

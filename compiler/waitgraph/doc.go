// Package waitgraph statically checks how the scripts of a deployment
// coordinate through SlipStream runtime parameters, so that a deployment that
// can never finish is rejected at compile time instead of hanging for the
// length of an ss-get timeout.
//
// # Model
//
// Each node's scripts are read with [Scan], which finds the ss-* calls
// (ss-get, ss-get-all, ss-set, ss-random, ss-display, ss-abort) and the
// literal keys they use. [Analyze] then simulates every node at once:
//
//   - A node runs its events (the gets and sets of its scripts) in order.
//     Within a script, textual order is taken as execution order: branches
//     of an if are assumed to run, loop bodies run once, and a function's
//     calls count where the function is defined. The one exception is that a
//     command's own arguments and redirections are expanded before it runs,
//     so in `ss-set a "$(ss-get b)"` the get comes before the set, as it does
//     in the shell.
//   - A blocking get proceeds once its parameter has a value: it is Preset,
//     or its owner (or, for a mapped input, the node it is mapped from) has
//     executed the ss-set. ss-get --noblock never waits.
//   - Stages are barriers: no node starts stage s+1 (SendingReports, the
//     report scripts) until every node has finished stage s (Executing:
//     pre_install, post_install and deploy scripts).
//   - All instances of a node behave alike, so db.1:x, db.2:x and db:x are
//     all parameter x of node db. Keys with a non-literal part ($var, $(..))
//     and run-wide ss: keys are ignored. Because the model cannot tell
//     instances apart, an ss-get by web of web.1:x (a sibling's value) is
//     assumed to be satisfied when web sets x itself in the same stage, even
//     textually later: that is the usual "instance 1 sets, the others wait"
//     pattern written as if/else. A bare own key (x) and ss-get-all, which
//     also waits for the instance itself, get no such benefit.
//
// When no node can progress, the nodes still blocked are followed from waiter
// to setter; every cycle is a certain deadlock and is reported once, as is a
// get in one stage of a value that is only set in a later stage (a deadlock
// through the barrier). A cyclic exchange in which each node sets its own
// value before waiting for the others' is safe and reports nothing.
//
// Analyze also reports waits on keys that nothing ever sets (a warning: the
// script blocks until its ss-get timeout), sets of another node's parameter,
// keys naming an unknown node or parameter (with a did-you-mean), and
// malformed keys. [Edges] returns the wait edges for drawing a graph.
//
// The analysis is linear in the number of nodes and calls: gets wake through
// per-parameter waiter lists, and the blocked nodes form a functional graph
// (each waits for exactly one setter) whose cycles are found in one pass.
package waitgraph

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/coordination/tlsutil"
)

// Environment variables slipc's client commands read, as the provider does.
const (
	envCoordinatorURL = "SLIPSTREAM_COORDINATOR_URL"
	envToken          = "SLIPSTREAM_TOKEN"
	envCAFingerprint  = "SLIPSTREAM_CA_FINGERPRINT"
)

// deploymentStatus is what `slipc status DEPLOYMENT` reports (and prints
// with -json).
type deploymentStatus struct {
	ID    string       `json:"id"`
	State string       `json:"state"`
	Abort string       `json:"abort,omitempty"`
	Nodes []nodeStatus `json:"nodes"`
	// Waits are the instances blocked in ss-get right now, and Deadlocks
	// the cycles among them (coordinator.Deadlocks).
	Waits      []coordinator.Wait `json:"waits"`
	WaitsTotal int                `json:"waits_total"`
	Deadlocks  [][]string         `json:"deadlocks"`
}

// nodeStatus counts a node's instances: how many completed the run's
// current state, how many failed to start, and all of them by state (as
// the web view counts them: coordinator.InstanceStates).
type nodeStatus struct {
	Name      string         `json:"name"`
	Instances int            `json:"instances"`
	Completed int            `json:"completed"`
	Failed    int            `json:"failed"`
	States    map[string]int `json:"states"`
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "[DEPLOYMENT]",
		"Show the coordinator's deployments, or one deployment: its state, its nodes' instances (how many completed the\n"+
			"current state), who is blocked in ss-get on what, and its abort message. The coordinator and its admin token come\n"+
			"from "+envCoordinatorURL+" and "+envToken+" ("+envCAFingerprint+" pins a self-signed CA), as for the provider.", stderr)
	asJSON := fs.Bool("json", false, "print JSON, for scripts")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	cl, err := clientFromEnv(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "slipc status: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if fs.NArg() == 0 {
		list, err := cl.Deployments(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "slipc status: listing the deployments at %s: %v\n", cl.BaseURL, err)
			return exitDiags
		}
		if *asJSON {
			return printJSON(stdout, stderr, map[string]any{"deployments": list})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DEPLOYMENT\tSTATE\tINSTANCES\tABORT")
		for _, d := range list {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", d.ID, d.State, d.Instances, oneLine(d.Abort))
		}
		_ = tw.Flush() // to stdout, like the Fprintf calls before it
		return exitOK
	}
	st, err := statusOf(ctx, cl)
	if err != nil {
		fmt.Fprintf(stderr, "slipc status: deployment %s at %s: %v\n", cl.Deployment, cl.BaseURL, err)
		return exitDiags
	}
	if *asJSON {
		return printJSON(stdout, stderr, st)
	}
	st.write(stdout)
	return exitOK
}

// clientFromEnv is an admin client of the coordinator the environment
// names, for one deployment.
func clientFromEnv(deployment string) (*client.Client, error) {
	url, token := os.Getenv(envCoordinatorURL), os.Getenv(envToken)
	if url == "" || token == "" {
		return nil, fmt.Errorf("set %s and %s to the coordinator's URL and admin token (slipc serve prints them)", envCoordinatorURL, envToken)
	}
	cl := &client.Client{BaseURL: strings.TrimRight(url, "/"), Deployment: deployment, Token: token, RetryFor: 10 * time.Second}
	if fp := os.Getenv(envCAFingerprint); fp != "" {
		cl.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsutil.PinnedConfig(fp)}}
	}
	return cl, nil
}

// statusOf reads a deployment's status from the coordinator's overview
// (what the web view shows).
func statusOf(ctx context.Context, cl *client.Client) (*deploymentStatus, error) {
	o, err := cl.Overview(ctx)
	if err != nil {
		return nil, err
	}
	st := &deploymentStatus{ID: cl.Deployment, State: o.State, Waits: o.Waits, WaitsTotal: o.WaitsTotal, Deadlocks: o.Deadlocks}
	if st.Deadlocks == nil {
		st.Deadlocks = [][]string{}
	}
	if o.Abort != nil {
		st.Abort = o.Abort.Message
		if o.Abort.By != "" {
			st.Abort = o.Abort.By + ": " + o.Abort.Message
		}
	}
	for _, n := range o.Nodes {
		st.Nodes = append(st.Nodes, nodeStatus{Name: n.Name, Instances: n.Instances, Completed: n.States[coordinator.InstanceCompleted],
			Failed: n.States[coordinator.InstanceFailed], States: n.States})
	}
	return st, nil
}

// terminal reports whether the run is Ready or Done: nothing to complete.
func (st *deploymentStatus) terminal() bool {
	return st.State == coordinator.Ready || st.State == coordinator.Done
}

// byState writes instance counts by state, in the web view's order.
func byState(states map[string]int) string {
	var parts []string
	for _, s := range coordinator.InstanceStates {
		if states[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, states[s]))
		}
	}
	return strings.Join(parts, ", ")
}

// write prints the status as a terminal table.
func (st *deploymentStatus) write(w io.Writer) {
	fmt.Fprintf(w, "deployment %s: %s\n", st.ID, st.State)
	if st.Abort != "" {
		fmt.Fprintf(w, "ABORTED: %s\n", st.Abort)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NODE\tINSTANCES\tBY STATE\n")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", n.Name, n.Instances, byState(n.States))
	}
	_ = tw.Flush() // to w (stdout), like the Fprintf calls around it
	done, total := st.progress()
	if st.terminal() {
		fmt.Fprintf(w, "%d instances, the run is %s\n", total, st.State)
	} else {
		fmt.Fprintf(w, "%d / %d instances completed %s\n", done, total, st.State)
	}
	if len(st.Waits) == 0 {
		fmt.Fprintln(w, "nobody is blocked in ss-get")
		return
	}
	fmt.Fprintln(w, "blocked in ss-get:")
	for i, wt := range st.Waits {
		if i == 20 {
			break
		}
		fmt.Fprintf(w, "  %s waits for %s (for %s)\n", wt.Instance, waitsFor(wt), time.Since(wt.Since).Round(time.Second))
	}
	if more := max(st.WaitsTotal, len(st.Waits)) - min(len(st.Waits), 20); more > 0 {
		fmt.Fprintf(w, "  and %d more\n", more)
	}
	for _, cycle := range st.Deadlocks {
		fmt.Fprintf(w, "DEADLOCK: %s wait for each other; nothing in the run will set what they wait for\n", strings.Join(cycle, ", "))
	}
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "slipc: %v\n", err)
		return exitDiags
	}
	return exitOK
}

// oneLine keeps the first line of a message, for a table cell.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// waitsFor names what a wait is for: the parameter whose value ends it,
// with the input it reaches the waiter through when it is mapped
// ("db.1:password (as db_password)").
func waitsFor(w coordinator.Wait) string {
	if w.For == "" || w.For == w.Key {
		return w.Key
	}
	_, name, _ := strings.Cut(w.Key, ":")
	return w.For + " (as " + name + ")"
}

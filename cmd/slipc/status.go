package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
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
	// Waits are the instances blocked in ss-get right now.
	Waits []coordinator.Wait `json:"waits"`
}

// nodeStatus counts a node's instances: how many completed the run's
// current state, and how many failed to start.
type nodeStatus struct {
	Name      string `json:"name"`
	Instances int    `json:"instances"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
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
		tw.Flush()
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

// statusOf reads a deployment's status: its run, the instances' complete
// flags and failures (from the parameters), and the waits.
func statusOf(ctx context.Context, cl *client.Client) (*deploymentStatus, error) {
	run, err := cl.Run(ctx)
	if err != nil {
		return nil, err
	}
	values, _, err := cl.Parameters(ctx)
	if err != nil {
		return nil, err
	}
	waits, err := cl.Waits(ctx)
	if err != nil {
		return nil, err
	}
	st := &deploymentStatus{ID: cl.Deployment, State: run.State, Abort: run.Abort, Waits: waits}
	names := make([]string, 0, len(run.Deployment.Nodes))
	for name := range run.Deployment.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		n := nodeStatus{Name: name, Instances: run.Deployment.Nodes[name].Multiplicity}
		for i := 1; i <= n.Instances; i++ {
			inst := name + "." + strconv.Itoa(i)
			if values[inst+":complete"] == run.State {
				n.Completed++
			}
			if values[inst+":vmstate"] == "failed" {
				n.Failed++
			}
		}
		st.Nodes = append(st.Nodes, n)
	}
	return st, nil
}

// write prints the status as a terminal table.
func (st *deploymentStatus) write(w io.Writer) {
	fmt.Fprintf(w, "deployment %s: %s\n", st.ID, st.State)
	if st.Abort != "" {
		fmt.Fprintf(w, "ABORTED: %s\n", st.Abort)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NODE\tINSTANCES\tCOMPLETED %s\tFAILED\n", strings.ToUpper(st.State))
	total, done := 0, 0
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", n.Name, n.Instances, n.Completed, n.Failed)
		total += n.Instances
		done += n.Completed
	}
	tw.Flush()
	fmt.Fprintf(w, "%d / %d instances completed %s\n", done, total, st.State)
	if len(st.Waits) == 0 {
		fmt.Fprintln(w, "nobody is blocked in ss-get")
		return
	}
	fmt.Fprintln(w, "blocked in ss-get:")
	for _, wt := range st.Waits {
		fmt.Fprintf(w, "  %s waits for %s (for %s)\n", wt.Instance, wt.Key, time.Since(wt.Since).Round(time.Second))
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

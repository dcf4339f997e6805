package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// The invariant checker: the same checks after every scenario, each
// reported in the test's output (go test -v shows them), the first
// violation failing the test with what it found.

// expect is how a scenario's run must end.
type expect struct {
	State   string // the run's state
	Aborted bool
}

// checkRun checks a deployment that is still up: every ss-set a script
// saw succeed is readable with the value it set, and was seen once by the
// event stream (a set retried after a lost answer is not a second
// change); the run is in the state expected; no instance is both Ready and
// aborted.
func (c *cluster) checkRun(id string, want expect) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.coord.client(id)
	values, _, err := cl.Parameters(ctx)
	if err != nil {
		c.t.Fatalf("invariant check: reading the parameters: %v", err)
	}
	acks := map[string]string{}
	c.acks = acks
	for _, m := range c.hosts() {
		out, _ := m.run(ctx, "cat /var/lib/faults/acks 2>/dev/null || true")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if key, value, ok := strings.Cut(line, "\t"); ok {
				acks[key] = value
			}
		}
	}
	changes := c.changes(id)
	keys := make([]string, 0, len(acks))
	for k := range acks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got, ok := values[k]; !ok || got != acks[k] {
			c.t.Errorf("invariant violated: %s was acknowledged as %q but reads %q (set: %v)", k, acks[k], got, ok)
		}
		if n := changes[k]; n != 1 && historyKept(changes) {
			c.t.Errorf("invariant violated: %s was acknowledged once but changed %d times in the event stream", k, n)
		}
	}
	o, err := cl.Overview(ctx)
	if err != nil {
		c.t.Fatalf("invariant check: reading the overview: %v", err)
	}
	if o.State != want.State || (o.Abort != nil) != want.Aborted {
		c.t.Errorf("invariant violated: the run is %s (abort %+v), want %s (aborted %v)", o.State, o.Abort, want.State, want.Aborted)
	}
	if o.State == coordinator.Ready && (o.Abort != nil || o.States[coordinator.InstanceAborted] > 0) {
		c.t.Errorf("invariant violated: the run is Ready with an abort: %+v, instances %v", o.Abort, o.States)
	}
	once := "each changed once"
	if !historyKept(changes) {
		// A restarted coordinator's store keeps no change history from
		// before the restart (bbolt keeps it in memory): whether a set was
		// applied twice cannot be seen here; the coordinator's tests
		// (TestSet_sameValueAgainChangesNothing) cover it.
		once = "their change history not kept across the coordinator's restart"
	}
	c.t.Logf("invariants: %d acknowledged sets readable with their values, %s (%s); the run is %s as expected; instances %v",
		len(acks), once, strings.Join(keys, ", "), o.State, o.States)
}

// changes counts each parameter's changes in the deployment's event
// stream, from the beginning.
func (c *cluster) changes(id string) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts := map[string]int{}
	// The stream replays the history, then waits: three quiet seconds end it.
	c.coord.client(id).Events(ctx, 0, func(ev coordinator.Event) { counts[ev.Key]++ })
	return counts
}

// historyKept reports whether the event stream replayed the deployment's
// registration (its multiplicities are written then): the change counts
// then start at the beginning.
func historyKept(changes map[string]int) bool { return changes["db:multiplicity"] > 0 }

// hosts are the cluster's machines, the database first.
func (c *cluster) hosts() []machine { return append([]machine{c.db}, c.web...) }

// checkClean checks, after terraform destroy, that nothing is left: no
// deployment at the coordinator; on namespace hosts no agent or script
// running, no agent state or temporary file; on the clouds no machine in
// any fake and no guest on this machine. Then it stops the coordinator and
// checks its bbolt file's integrity.
func (c *cluster) checkClean() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := c.coord.client("").Deployments(ctx)
	if err != nil {
		c.t.Fatalf("invariant check: listing the deployments: %v", err)
	}
	if len(list) != 0 {
		c.t.Errorf("invariant violated: deployments left at the coordinator after destroy: %+v", list)
	}
	if c.clouds != nil {
		c.clouds.checkClean(c.t)
	}
	for _, m := range c.hosts() {
		h, ok := m.(sshHost)
		if !ok {
			continue // a cloud machine is gone with its disk: checked above
		}
		// What runs in the host's namespace besides its sshd, and what
		// the agent and the scripts could have left.
		// What is in the agent's folders, not the folders themselves: the
		// hosts' /var/lib and /etc are overlays of this machine's, where
		// another test's hosts may create those folders as mount points.
		// The agent's uploads go to the host's /var/tmp.
		files, _ := h.Run(ctx, "find /var/lib/slipstream /etc/slipstream -mindepth 1 2>/dev/null; ls -d /usr/local/bin/slipstream-agent /run/slipstream-agent.pid /var/tmp/slipstream-agent-* 2>/dev/null; ls -A /tmp | grep -i slipstream || true")
		var procs []string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			// An uninstall stops the agent, whose scripts end with it: give
			// them a moment.
			if procs = leftoverProcesses(h.Host); len(procs) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(procs) > 0 {
			c.t.Errorf("invariant violated: processes left on %s after destroy:\n%s", h.Name, strings.Join(procs, "\n"))
		}
		if strings.TrimSpace(files) != "" {
			c.t.Errorf("invariant violated: files left on %s after destroy:\n%s", h.Name, files)
		}
	}
	c.coord.stop(syscall.SIGTERM)
	db, err := bolt.Open(c.coord.storePath(), 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		c.t.Fatalf("invariant check: opening the store: %v", err)
	}
	defer db.Close()
	var problems []string
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			problems = append(problems, err.Error())
		}
		return nil
	}); err != nil || len(problems) > 0 {
		c.t.Errorf("invariant violated: the coordinator's store fails bbolt's check: %v %v", err, problems)
	}
	c.t.Logf("invariants: no deployment left, no agent, script or agent file left on %d machines, the store passes bbolt's check", len(c.hosts()))
}

// checkNoNamespaceLeft checks, once the hosts are removed, that no network
// namespace or link of theirs is left on this machine.
func (c *cluster) checkNoNamespaceLeft() {
	noNamespaceLeft(c.t, c.pool.ID, c.pool.StateDir)
}

// noNamespaceLeft checks that no network namespace or link whose name has
// id is left on this machine, and no file in stateDir.
func noNamespaceLeft(t *testing.T, id, stateDir string) {
	out, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	ns, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	if strings.Contains(string(out), id) || strings.Contains(string(ns), id) {
		t.Errorf("invariant violated: namespaces or links of %s left:\n%s\n%s", id, ns, out)
	}
	if _, err := os.Stat(stateDir); err == nil {
		if entries, _ := os.ReadDir(stateDir); len(entries) > 0 {
			t.Errorf("invariant violated: the machines' files left in %s", stateDir)
		}
	}
	t.Logf("invariants: no namespace, link or file of %s left", id)
}

// checkSecretsNotLogged greps every log the scenario produced for the
// secrets it used.
func (c *cluster) checkSecretsNotLogged(secrets map[string]string) {
	c.t.Helper()
	for _, path := range c.logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for what, s := range secrets {
			if s == "" {
				c.t.Errorf("secrets check: %s could not be read, so it was not looked for", what)
				delete(secrets, what)
				continue
			}
			if strings.Contains(string(b), s) {
				c.t.Errorf("invariant violated: %s appears in %s", what, path)
			}
		}
	}
	c.t.Logf("invariants: none of %s in %d logs", strings.Join(sortedKeys(secrets), ", "), len(c.logs))
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// leftoverProcesses lists what runs in a host's network namespace besides
// its sshd ("pid: command line"): after a destroy, nothing should.
func leftoverProcesses(h *nshost.Host) []string {
	var left []string
	for _, pid := range hostProcesses(h) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		left = append(left, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
	}
	return left
}

// hostProcesses are the processes in a host's network namespace but its
// sshd.
func hostProcesses(h *nshost.Host) []int {
	out, _ := exec.Command("ip", "netns", "pids", h.NetNS).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if strings.HasPrefix(filepath.Base(strings.TrimSuffix(exe, " (deleted)")), "sshd") || zombie(pid) {
			continue // a zombie has exited: only its parent's wait is left
		}
		pids = append(pids, pid)
	}
	return pids
}

// zombie reports whether a process has exited and waits to be reaped.
func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // gone already
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

// checkSecretsAtRest checks, while the run is up, that no process on this
// machine or on the hosts (they share its process table) has the admin
// token or an agent token in its arguments, and that the hosts' files
// holding secrets are root's and 0600.
func (c *cluster) checkSecretsAtRest() {
	c.t.Helper()
	secrets := map[string]string{"the admin token": c.coord.token}
	for _, m := range c.hosts() {
		if token := c.agentToken(m); token != "" {
			secrets["the agent token of "+m.label()] = token
		}
		modes := c.on(m, "stat -c '%a %U %n' /etc/slipstream/agent.json /var/lib/slipstream/token.json")
		for _, line := range strings.Split(strings.TrimSpace(modes), "\n") {
			if !strings.HasPrefix(line, "600 root ") {
				c.t.Errorf("invariant violated: a file holding a secret on %s is not root's with mode 0600: %s", m.label(), line)
			}
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for what, s := range secrets {
			if strings.Contains(string(b), s) {
				c.t.Errorf("invariant violated: %s is in the arguments of process %s: %s", what, filepath.Base(filepath.Dir(p)), strings.ReplaceAll(string(b), "\x00", " "))
			}
		}
	}
	c.t.Logf("invariants: none of %d secrets in the arguments of %d processes; the hosts' secret files are root's, 0600", len(secrets), len(procs))
}

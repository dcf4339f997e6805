package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// destroyAndCheck runs terraform destroy and the checks that nothing is
// left, then the secrets check over every log the scenario wrote.
func (c *cluster) destroyAndCheck() {
	c.t.Helper()
	// The secrets of the run, and the agents' logs, before destroy removes
	// them from the hosts.
	secrets := map[string]string{"the admin token": c.coord.token, "the database password": c.acks["db.1:password"]}
	if c.clouds != nil {
		c.clouds.addSecrets(secrets)
	}
	for _, m := range c.hosts() {
		secrets["the agent token of "+m.label()] = c.agentToken(m)
		log := filepath.Join(c.dir, "agent-"+m.label()+".log")
		if err := os.WriteFile(log, []byte(c.on(m, "cat /var/log/slipstream-agent.log 2>/dev/null || true")), 0o600); err != nil {
			c.t.Fatal(err)
		}
		c.logs = append(c.logs, log)
	}
	if out, err := c.terraform("destroy", "-auto-approve"); err != nil {
		c.t.Fatalf("terraform destroy: %v\n%s", err, out)
	}
	c.checkClean()
	c.checkSecretsNotLogged(secrets)
}

// paramSet reports whether a parameter has a value at the coordinator.
func (c *cluster) paramSet(id, key string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	values, _, err := c.coord.client(id).Parameters(ctx)
	_, ok := values[key]
	return err == nil && ok
}

// onHostsAndClouds runs a scenario twice: on namespace hosts adopted over
// SSH, and on machines of the fake clouds (the database on EC2, the web
// servers on OpenStack), each with webs web servers.
func onHostsAndClouds(t *testing.T, webs int, scenario func(t *testing.T, c *cluster)) {
	t.Run("hosts", func(t *testing.T) { scenario(t, newCluster(t, webs)) })
	t.Run("clouds", func(t *testing.T) { scenario(t, newCloudCluster(t, webs)) })
}

// TestFaults_coordinatorRestart: the coordinator is stopped (SIGTERM) and
// then killed (SIGKILL) while both web servers are blocked in ss-get and
// Terraform long-polls in slipstream_deployment_ready. Each time it comes
// back two seconds later; the apply completes without anyone doing
// anything, and reports the outage as a warning.
func TestFaults_coordinatorRestart(t *testing.T) { onHostsAndClouds(t, 2, coordinatorRestart) }

func coordinatorRestart(t *testing.T, c *cluster) {
	wait := c.applyInBackground()
	id := c.deploymentID()
	c.blocked(id, "web.1", "web.2")
	c.checkSecretsAtRest()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Logf("web.1 and web.2 are blocked in ss-get: the coordinator gets %v and is down for 2 s", sig)
		c.coord.restart(sig, 2*time.Second)
		c.blocked(id, "web.1", "web.2") // their gets asked the new process
	}
	c.openGate(c.hosts()...)
	out, err := wait()
	if err != nil {
		t.Fatalf("terraform apply across the restarts: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Warning: The coordinator was unavailable during the wait") {
		t.Errorf("the apply did not report the outage as a warning:\n%s", out)
	}
	c.readID()
	c.checkRun(c.id, expect{State: coordinator.Ready})
	c.destroyAndCheck()
}

// TestFaults_interruptedApply: Ctrl-C during terraform apply while it
// registers the deployment, while it starts the machines, and while it
// waits for the run; then terraform apply again converges (one
// deployment, every machine in state, every agent on it), and terraform
// destroy leaves every host as it was.
func TestFaults_interruptedApply(t *testing.T) {
	for _, stage := range []struct{ name, line string }{
		{"registering", "slipstream_deployment.faults: Creating..."},
		{"starting machines", "slipstream_fixed_host.web[0]: Creating..."},
		{"waiting for the run", "slipstream_deployment_ready.faults: Creating..."},
	} {
		t.Run(stage.name, func(t *testing.T) {
			c := newCluster(t, 2)
			out, err := c.terraformUntil(func(line string) bool { return strings.Contains(line, stage.line) }, "apply", "-auto-approve")
			if err == nil {
				t.Fatalf("the interrupted apply succeeded:\n%s", out)
			}
			t.Logf("Ctrl-C after %q: terraform exited with %v", stage.line, err)
			c.openGate(c.hosts()...)
			c.apply()
			c.checkSecretsAtRest()
			state, err := c.terraform("state", "list")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []string{"slipstream_deployment.faults", "slipstream_fixed_host.db[0]", "slipstream_fixed_host.web[0]", "slipstream_fixed_host.web[1]", "slipstream_deployment_ready.faults"} {
				if !strings.Contains(state, r+"\n") {
					t.Errorf("%s is not in the state after the second apply:\n%s", r, state)
				}
			}
			// One deployment, and every host's agent works for it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			list, err := c.coord.client("").Deployments(ctx)
			if err != nil || len(list) != 1 || list[0].ID != c.id {
				t.Errorf("deployments at the coordinator: %+v (%v), want only %s", list, err, c.id)
			}
			for _, m := range c.hosts() {
				if cfg := c.on(m, "cat /etc/slipstream/agent.json"); !strings.Contains(cfg, `"`+c.id+`"`) {
					t.Errorf("the agent on %s works for another deployment than %s: %s", m.label(), c.id, cfg)
				}
			}
			c.checkRun(c.id, expect{State: coordinator.Ready})
			c.destroyAndCheck()
		})
	}
}

// partitionFor is how long a machine is cut off (SLIPSTREAM_FAULTS_PARTITION,
// default one minute).
func partitionFor(t *testing.T) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SLIPSTREAM_FAULTS_PARTITION")); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

// TestFaults_partition: web.1 is cut off from the coordinator while it
// waits in ss-get, and the value it waits for is set meanwhile; web.2 is
// cut off while its ss-set is in flight. Each partition lasts a minute.
// The run completes, each value arrives once, nothing waits forever.
func TestFaults_partition(t *testing.T) { onHostsAndClouds(t, 2, partition) }

func partition(t *testing.T, c *cluster) {
	wait := c.applyInBackground()
	id := c.deploymentID()
	c.blocked(id, "web.1", "web.2")
	c.checkSecretsAtRest()
	d := partitionFor(t)

	c.openGate(c.web[0]) // web.1 goes on as soon as it has the password
	heal := c.partition(c.web[0])
	t.Logf("web.1 is cut off while blocked in ss-get; the database publishes its password meanwhile")
	c.openGate(c.db)
	c.eventually("db.1's password", func() bool { return c.paramSet(id, "db.1:password") })
	time.Sleep(d)
	if c.paramSet(id, "web.1:url.service") {
		t.Fatal("web.1 set its url while it was cut off: the partition did not hold")
	}
	heal()
	c.eventually("web.1's url, after the partition", func() bool { return c.paramSet(id, "web.1:url.service") })

	c.openGate(c.web[1]) // web.2 sets its url now...
	heal = c.partition(c.web[1])
	t.Logf("web.2 is cut off as its ss-set leaves")
	time.Sleep(d)
	inFlight := !c.paramSet(id, "web.2:url.service")
	heal()
	if !inFlight {
		t.Logf("web.2's set reached the coordinator before the link went down: this run tested a partition after the set")
	}
	out, err := wait()
	if err != nil {
		t.Fatalf("terraform apply across the partitions: %v\n%s", err, out)
	}
	c.readID()
	c.checkRun(c.id, expect{State: coordinator.Ready})
	c.destroyAndCheck()
}

// TestFaults_machineReboot: the database's machine loses power in the
// middle of its deploy script (the agent, its supervisor and the script
// are killed with SIGKILL; on a cloud, the cloud stops the machine and
// starts it again) and boots again, which alone brings its agent back (on
// a cloud, cloud-init's per-boot scripts do). Its agent resumes: the
// pre_install that completed is not run again (and its log says so), the
// interrupted deploy runs again, and the run completes.
func TestFaults_machineReboot(t *testing.T) { onHostsAndClouds(t, 1, machineReboot) }

func machineReboot(t *testing.T, c *cluster) {
	wait := c.applyInBackground()
	id := c.deploymentID()
	c.blocked(id, "web.1")
	c.checkSecretsAtRest()
	count := func(h machine, file string) int {
		out := c.on(h, "cat /var/lib/faults/"+file+" 2>/dev/null || true")
		return len(strings.Fields(out))
	}
	c.eventually("db.1's deploy script at its gate", func() bool { return count(c.db, "deploy.count") == 1 })
	t.Log("db.1 is in its deploy script: power cut")
	c.reboot(c.db)
	c.eventually("db.1's deploy script run again", func() bool { return count(c.db, "deploy.count") == 2 })
	c.openGate(c.hosts()...)
	out, err := wait()
	if err != nil {
		t.Fatalf("terraform apply across the reboot: %v\n%s", err, out)
	}
	if n := count(c.db, "pre_install.count"); n != 1 {
		t.Errorf("pre_install ran %d times on db.1; it had completed before the reboot", n)
	}
	if log := c.on(c.db, "cat /var/log/slipstream-agent.log"); !strings.Contains(log, "pre_install (1 of 1) completed before this agent started") {
		t.Errorf("the restarted agent's log does not say it skipped pre_install:\n%s", log)
	}
	c.readID()
	c.checkRun(c.id, expect{State: coordinator.Ready})
	c.destroyAndCheck()
}

// TestFaults_diskFull: the coordinator's disk fills up while the database
// is about to publish its password. Writes fail with a clear 507 that the
// machines retry, nothing acknowledged before is lost, and once space is
// freed the coordinator goes on by itself and the apply completes.
func TestFaults_diskFull(t *testing.T) {
	c := newClusterWith(t, 1, "32m")
	wait := c.applyInBackground()
	id := c.deploymentID()
	c.blocked(id, "web.1")
	c.checkSecretsAtRest()
	df, err := c.coord.inNamespace(fmt.Sprintf("dd if=/dev/zero of=%q bs=64k 2>/dev/null; df -k %q | tail -n 1", c.coord.data+"/filler", c.coord.data))
	t.Logf("the coordinator's disk is full: %s (%v)", strings.TrimSpace(df), err)

	// The provider's own write is refused, saying why.
	admin := c.coord.client(id)
	admin.RetryFor = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.UpdateSettings(ctx, coordinator.Settings{Meta: []byte(`{"filled":"` + strings.Repeat("x", 64<<10) + `"}`)}); err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Errorf("a write to a full disk: %v, want the coordinator to say its disk is full", err)
	}
	c.openGate(c.hosts()...)
	// The database publishes its password (small: it may fit in pages the
	// store has already) and then a 100 KB value, which cannot: that set
	// is refused and retried meanwhile.
	time.Sleep(5 * time.Second)
	if c.paramSet(id, "db.1:big") {
		t.Error("db.1's 100 KB value was stored on a full disk")
	}
	if log, _ := os.ReadFile(c.coord.log); !strings.Contains(string(log), "no space left on device") {
		t.Errorf("the coordinator's log does not say its disk is full:\n%s", log)
	}
	if out, err := c.coord.inNamespace(fmt.Sprintf("rm -f %q", c.coord.data+"/filler")); err != nil {
		t.Fatalf("freeing the space: %v %s", err, out)
	}
	t.Log("space freed")
	out, err := wait()
	if err != nil {
		t.Fatalf("terraform apply across the full disk: %v\n%s", err, out)
	}
	c.readID()
	c.checkRun(c.id, expect{State: coordinator.Ready})
	c.destroyAndCheck()
}

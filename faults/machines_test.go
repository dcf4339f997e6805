package faults

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud/guest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

// machine is one machine of a scenario, whatever runs it: a namespace host
// adopted over SSH (sshHost) or a machine of a fake cloud (cloudMachine).
type machine interface {
	// label names the machine in messages and log files.
	label() string
	// run runs a shell command on the machine as root.
	run(ctx context.Context, command string) (string, error)
	// link is this machine's end, on this machine's side, of the
	// machine's link to the bridge: down, the machine is cut off.
	link() string
}

// sshHost is a namespace host, reached over SSH.
type sshHost struct{ *nshost.Host }

func (h sshHost) label() string { return h.Name }
func (h sshHost) link() string  { return h.Veth }
func (h sshHost) run(ctx context.Context, command string) (string, error) {
	return h.Run(ctx, command)
}

// The clouds the cloud scenarios use: the database on EC2, the web servers
// on OpenStack, each the fake of the test suite (connectors/fakeclouds)
// with its real API on loopback, the real SDK in the provider calling it,
// and its machines real Debian systems booted by the real cloud-init
// (connectors/fakecloud/guest).
var cloudImages = map[string]string{"ec2": "ami-0d1e2b3c4a5f60718", "openstack": "7b1f3c2e-5a4d-4e6f-8a9b-0c1d2e3f4a5b"}

// fakeClouds are a cluster's fake clouds and their guests.
type fakeClouds struct {
	rt    *guest.Runtime
	fakes map[string]*fakeclouds.Fake
}

// newCloudCluster starts the fake clouds (a guest runtime on a bridge of
// its own, EC2's and OpenStack's fakes), the coordinator on their bridge,
// and compiles the recipe with the database on EC2 and webs web servers on
// OpenStack.
func newCloudCluster(t *testing.T, webs int) *cluster {
	t.Helper()
	needSuite(t)
	if err := guest.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the cloud scenarios cannot run: %v", err)
		}
		t.Skipf("the cloud scenarios cannot run: %v", err)
	}
	c := newEmptyCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	image, err := guest.BaseImage(ctx, guest.ImageOptions{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := guest.New(ctx, guest.Options{Prefix: "flg"})
	if err != nil {
		t.Fatal(err)
	}
	id, stateDir := rt.ID(), rt.StateDir()
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("closing the guests: %v", err)
		}
		noNamespaceLeft(t, id, stateDir)
	})
	c.clouds = &fakeClouds{rt: rt, fakes: map[string]*fakeclouds.Fake{}}
	var env []string
	for _, name := range []string{"ec2", "openstack"} {
		f, err := fakeclouds.Start(name, fakeclouds.Options{Dir: c.dir, Region: "eu-west-1", Cloud: fakecloud.Options{
			Runtime: rt, Log: t.Logf, TerminatedRetention: time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if err := f.AddImage(cloudImages[name], "debian-12", []string{image}); err != nil {
			t.Fatal(err)
		}
		c.clouds.fakes[name] = f
		for k, v := range f.Env {
			env = append(env, k+"="+v)
		}
	}
	c.db = cloudMachine{c.clouds, "db.1"}
	for i := 1; i <= webs; i++ {
		c.web = append(c.web, cloudMachine{c.clouds, fmt.Sprintf("web.%d", i)})
	}
	c.coord = startCoordinator(t, rt.GatewayIP(), c.dir, "")
	c.compile(map[string]any{"Fixed": false, "DBCloud": "aws", "WebCloud": "private", "WebCount": webs, "Region": "eu-west-1",
		"EC2Image": cloudImages["ec2"], "OpenStackImage": cloudImages["openstack"]}, env)
	return c
}

// live are the machines of every fake that are not terminated, by cloud.
func (fc *fakeClouds) live() map[string][]fakecloud.Machine {
	out := map[string][]fakecloud.Machine{}
	for name, f := range fc.fakes {
		out[name] = f.Cloud.Machines(func(m *fakecloud.Machine) bool { return m.State != fakecloud.Terminated })
	}
	return out
}

// find is the live machine of an instance ("db.1"), and its cloud.
func (fc *fakeClouds) find(instance string) (*fakeclouds.Fake, fakecloud.Machine, error) {
	var found []string
	var fake *fakeclouds.Fake
	var machine fakecloud.Machine
	for name, ms := range fc.live() {
		for _, m := range ms {
			if m.Labels[connectors.LabelInstance] == instance {
				found = append(found, name+" "+m.ID)
				fake, machine = fc.fakes[name], m
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fakecloud.Machine{}, fmt.Errorf("no machine of %s in the fake clouds", instance)
	case 1:
		return fake, machine, nil
	default:
		return nil, fakecloud.Machine{}, fmt.Errorf("%s has %d machines: %s", instance, len(found), strings.Join(found, ", "))
	}
}

// reboot stops the machine through its cloud (the guest's every process
// is killed with its PID 1: its agent, the supervisor, the script) and
// starts it again from its disk, as a cloud does when the host under a
// machine fails. What brings the agent back is the boot alone: cloud-init
// runs its per-boot scripts, where the bootstrap left the agent's.
func (fc *fakeClouds) reboot(t *testing.T, m machine) {
	t.Helper()
	f, mc, err := fc.find(m.(cloudMachine).instance)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, step := range []struct {
		do   func(string) (fakecloud.Machine, error)
		want fakecloud.State
	}{{f.Cloud.Stop, fakecloud.Stopped}, {f.Cloud.Start, fakecloud.Running}} {
		if _, err := step.do(mc.ID); err != nil {
			t.Fatalf("rebooting %s (%s): %v", m.label(), mc.ID, err)
		}
		if _, err := f.Cloud.WaitMachine(ctx, mc.ID, func(m fakecloud.Machine) bool { return m.State == step.want }); err != nil {
			t.Fatalf("rebooting %s (%s): waiting for %s: %v", m.label(), mc.ID, step.want, err)
		}
	}
}

// checkClean checks, after terraform destroy, that no fake holds a
// machine and no guest is left on this machine.
func (fc *fakeClouds) checkClean(t *testing.T) {
	t.Helper()
	for name, ms := range fc.live() {
		for _, m := range ms {
			t.Errorf("invariant violated: %s machine %s (%s, %s) left after destroy", name, m.ID, m.Labels[connectors.LabelInstance], m.State)
		}
	}
	if n := len(fc.rt.Instances()); n != 0 {
		t.Errorf("invariant violated: %d guests left on this machine after destroy", n)
	}
	t.Logf("invariants: no machine left in %d fake clouds, no guest on this machine", len(fc.fakes))
}

// addSecrets adds the clouds' credentials to the secrets no log may hold.
func (fc *fakeClouds) addSecrets(secrets map[string]string) {
	secret := func(name string) bool {
		name = strings.ToLower(name)
		return strings.Contains(name, "secret") || strings.Contains(name, "password") || strings.Contains(name, "token")
	}
	for cloud, f := range fc.fakes {
		for k, v := range f.Settings {
			if secret(k) && v != "" {
				secrets[cloud+"'s "+k] = v
			}
		}
		for k, v := range f.Env {
			if secret(k) && v != "" {
				secrets[cloud+"'s "+k] = v
			}
		}
	}
}

// cloudMachine is the machine of one instance on a fake cloud, looked up
// at each use: it exists once Terraform has created it.
type cloudMachine struct {
	clouds   *fakeClouds
	instance string
}

func (m cloudMachine) label() string { return m.instance }

func (m cloudMachine) guest() (*guest.Instance, error) {
	_, mc, err := m.clouds.find(m.instance)
	if err != nil {
		return nil, err
	}
	g, ok := m.clouds.rt.Instance(mc.ID)
	if !ok {
		return nil, fmt.Errorf("%s's machine %s has no guest", m.instance, mc.ID)
	}
	return g, nil
}

func (m cloudMachine) run(ctx context.Context, command string) (string, error) {
	g, err := m.guest()
	if err != nil {
		return "", err
	}
	out, err := g.Exec(ctx, "sh", "-c", command)
	return string(out), err
}

func (m cloudMachine) link() string {
	g, err := m.guest()
	if err != nil {
		return m.instance + ": " + err.Error() // ip link says it has no such device
	}
	return g.Name()
}

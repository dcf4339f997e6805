package guest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

// TestUserDataOnly: the light mode runs a #! user-data with its
// interpreter in the same namespaces and root, without cloud-init, once
// per instance; guests reach each other on the bridge; the machine id is
// in cloud-init's instance-id file before the user-data runs (a pool
// machine's agent reads it there).
func TestUserDataOnly(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{UserDataOnly: true})
	srv := newGatewayServer(t, r)
	hostBefore, _ := os.Hostname()
	// The first guest serves HTTP with the image's Python; the second asks it.
	server := boot(t, r, fakecloud.BootSpec{ID: "i-server", Hostname: "server", Layers: []string{image},
		SSHKeys:  []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILightModeKey light@fake"},
		UserData: []byte("#!/bin/sh\necho served-by-$(hostname) > /tmp/index.html\ncd /tmp && setsid python3 -m http.server 8080 </dev/null >/dev/null 2>&1 &\necho >> /root/runs\n")})
	start := time.Now()
	client := boot(t, r, fakecloud.BootSpec{ID: "i-client", Hostname: "client", Layers: []string{image},
		UserData: []byte("#!/bin/bash\nset -e\ncp " + bootstrap.MachineIDFile + " /root/machine-id\ncurl -fsS " + srv.URL + "/client-up\n" +
			"for i in $(seq 100); do curl -fsS http://" + server.PrivateIP() + ":8080/index.html > /root/from-server && break; sleep 0.1; done\n")})
	srv.wait(t, "/client-up", 30*time.Second)
	t.Logf("light mode: the user-data reached the gateway %v after Boot", time.Since(start).Round(time.Millisecond))
	res := waitBooted(t, client)
	if len(res.Stages) != 1 || res.Stages[0].Name != "user-data" || res.Stages[0].Status != 0 {
		t.Errorf("stages: %+v", res.Stages)
	}
	data, _ := os.ReadFile(filepath.Join(client.UpperDir(), "root/from-server"))
	if string(data) != "served-by-server\n" {
		t.Errorf("guest to guest: %q", data)
	}
	if id, err := os.ReadFile(filepath.Join(client.UpperDir(), "root/machine-id")); err != nil || string(id) != "i-client\n" {
		t.Errorf("the user-data read the machine id file as %q (%v), want the machine id", id, err)
	}
	if _, err := os.Stat(filepath.Join(client.UpperDir(), "var/lib/cloud/instances")); !os.IsNotExist(err) {
		t.Errorf("cloud-init ran in the light mode: %v", err)
	}
	keys, _ := os.ReadFile(filepath.Join(server.UpperDir(), "root/.ssh/authorized_keys"))
	if !strings.Contains(string(keys), "LightModeKey") {
		t.Errorf("root's authorized_keys: %q", keys)
	}
	ctx := context.Background()
	if out, err := client.Exec(ctx, "hostname"); err != nil || string(out) != "client\n" {
		t.Errorf("hostname: %q, %v", out, err)
	}
	if hostAfter, _ := os.Hostname(); hostAfter != hostBefore {
		t.Fatalf("THIS MACHINE WAS RENAMED from %q to %q", hostBefore, hostAfter)
	}

	// Once per instance.
	waitBooted(t, server)
	if err := server.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res = waitBooted(t, server)
	if len(res.Stages) != 0 {
		t.Errorf("stages at the second boot: %+v", res.Stages)
	}
	if runs, _ := os.ReadFile(filepath.Join(server.UpperDir(), "root/runs")); string(runs) != "\n" {
		t.Errorf("the user-data ran %d times", len(runs))
	}

	// A cloud-config needs cloud-init: not run, and the console says so.
	cc := boot(t, r, fakecloud.BootSpec{ID: "i-cc", Layers: []string{image}, UserData: []byte("#cloud-config\nruncmd: [touch /root/x]\n")})
	waitBooted(t, cc)
	if !strings.Contains(cc.Console(), "not a #! script") {
		t.Errorf("console:\n%s", cc.Console())
	}
}

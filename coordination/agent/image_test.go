package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// TestBakedSteps: only build steps the image ran, the same script in the
// same phase, are taken as baked in, each manifest step once.
func TestBakedSteps(t *testing.T) {
	steps := []step{{"pre_install", "a"}, {"packages", "p"}, {"post_install", "b"}, {"post_install", "b"}, {"deploy", "d"}}
	manifest := func(ss ...step) *ImageManifest {
		m := &ImageManifest{}
		for _, s := range ss {
			m.Steps = append(m.Steps, s.baked())
		}
		return m
	}
	for _, tc := range []struct {
		name string
		m    *ImageManifest
		want string // one letter a step: b baked, r run
	}{
		{"no image", nil, "rrrrr"},
		{"the whole build", manifest(steps[:4]...), "bbbbr"},
		{"a parent image: some steps", manifest(steps[0], steps[2]), "brbrr"},
		{"layer order does not matter", manifest(steps[2], steps[0], steps[3], steps[1]), "bbbbr"},
		{"a stale image: the packages changed", manifest(steps[0], step{"packages", "p-old"}, steps[2], steps[3]), "brbbr"},
		{"the same script in another phase", manifest(step{"post_install", "a"}), "rrrrr"},
		{"never a deploy script", manifest(steps...), "bbbbr"},
	} {
		var got strings.Builder
		for _, b := range bakedSteps(tc.m, steps) {
			if b {
				got.WriteByte('b')
			} else {
				got.WriteByte('r')
			}
		}
		if got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got.String(), tc.want)
		}
	}
}

// imageRun runs one instance of a one-node deployment to its end (the
// deployment's keep-running policy is never: a Ready run is finalized) and
// returns its log.
func imageRun(t *testing.T, f *poolFixture, id string, node *coordinator.Node, stateDir, sealRoot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node.Multiplicity = 1
	admin := &client.Client{BaseURL: f.url, Deployment: id, Token: admin}
	if err := admin.RegisterDeployment(ctx, &coordinator.Deployment{ID: id, KeepRunning: coordinator.KeepNever, Nodes: map[string]*coordinator.Node{"n": node}}); err != nil {
		t.Fatal(err)
	}
	tokens, err := admin.ReissueTokens(ctx, []string{"n.1"})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	r := &Runner{
		Client:   &client.Client{BaseURL: f.url, Deployment: id, Token: tokens["n.1"], MaxBackoff: 100 * time.Millisecond},
		Config:   Config{ServiceURL: f.url, Deployment: id, Instance: "n.1", Token: tokens["n.1"]},
		Instance: coordinator.Instance{Node: "n", Index: 1}, StateDir: stateDir, Log: log, SealRoot: sealRoot,
		Env: os.Environ(),
	}
	if err := r.Run(ctx); err != nil {
		t.Fatalf("the agent of %s: %v\n%s", id, err, log.String())
	}
	run, err := admin.Run(ctx)
	if err != nil || run.State != coordinator.Done || run.Abort != "" {
		t.Fatalf("deployment %s ended %+v, %v\n%s", id, run, err, log.String())
	}
	return log.String()
}

// TestImageBuildAndDeploy: a builder machine runs its build steps, then,
// finalized, records them in the image manifest and seals the machine
// (its state, keys, cloud-init state, machine id and logs). A machine of
// the same node started from that image skips the build steps and runs
// its deploy script, and says so; one whose node changed a build step
// runs that step and the ones after it.
func TestImageBuildAndDeploy(t *testing.T) {
	f := newPoolFixture(t)
	marks := t.TempDir()
	mark := func(name string) string { return "echo x >> " + filepath.Join(marks, name) }
	count := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(marks, name))
		return strings.Count(string(b), "x")
	}
	build := map[string][]string{"pre_install": {mark("pre")}, "post_install": {mark("post")}}

	// The builder, in a root with the files a sealed image must not keep.
	root := t.TempDir()
	for path, content := range map[string]string{
		"/etc/slipstream/agent.json": "{}", "/etc/slipstream/owner": "img n.1", "/etc/ssh/ssh_host_ed25519_key": "secret",
		"/etc/ssh/ssh_host_ed25519_key.pub": "public", "/etc/ssh/sshd_config": "kept", "/etc/machine-id": "0123456789abcdef",
		"/var/lib/cloud/instances/i-1/user-data.txt": "#!/bin/sh", "/var/lib/cloud/data/instance-id": "i-1",
		"/var/log/syslog": "lines", "/var/log/apt/history.log": "more lines",
		"/etc/slipstream/start-agent": "#!/bin/sh",
	} {
		p := filepath.Join(root, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	perBoot := filepath.Join(root, "var/lib/cloud/scripts/per-boot")
	os.MkdirAll(perBoot, 0o755)
	if err := os.Symlink(filepath.Join(root, "etc/slipstream/start-agent"), filepath.Join(perBoot, "slipstream-agent")); err != nil {
		t.Fatal(err)
	}
	// cloud-init is still finishing the boot as the build runs: its last
	// modules write their semaphores into the instance folder for a while,
	// then boot-finished. The seal waits for that, or the folder would
	// come back (or its removal fail with "directory not empty").
	if err := os.Symlink("instances/i-1", filepath.Join(root, "var/lib/cloud/instance")); err != nil {
		t.Fatal(err)
	}
	cloudInit := make(chan struct{})
	go func() {
		defer close(cloudInit)
		sem := filepath.Join(root, "var/lib/cloud/instances/i-1/sem")
		for i := 0; i < 20; i++ {
			os.MkdirAll(sem, 0o755)
			os.WriteFile(filepath.Join(sem, fmt.Sprintf("config_module_%d", i)), nil, 0o644)
			time.Sleep(50 * time.Millisecond)
		}
		os.WriteFile(filepath.Join(root, "var/lib/cloud/instances/i-1/boot-finished"), []byte("1 2 3"), 0o644)
	}()
	builderState := filepath.Join(root, "var/lib/slipstream")
	os.MkdirAll(builderState, 0o700)
	log := imageRun(t, f, "img", &coordinator.Node{Scripts: build, Build: &coordinator.Build{Image: "web_base", ContentHash: "c0ffee0123456789abcdef"}}, builderState, root)
	<-cloudInit
	if count("pre") != 1 || count("post") != 1 {
		t.Fatalf("the builder ran pre_install %d and post_install %d times, want once each\n%s", count("pre"), count("post"), log)
	}
	if !strings.Contains(log, "sealed the machine for image web_base (2 build steps baked in") {
		t.Errorf("the builder did not say it sealed the machine:\n%s", log)
	}
	for _, gone := range []string{"/etc/slipstream/agent.json", "/etc/slipstream/owner", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub",
		"/var/lib/cloud/instance", "/var/lib/cloud/instances", "/var/lib/cloud/data", "/etc/slipstream/start-agent", "/var/lib/cloud/scripts/per-boot/slipstream-agent"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("the sealed machine still has %s", gone)
		}
	}
	for path, want := range map[string]string{"/etc/ssh/sshd_config": "kept", "/etc/machine-id": "", "/var/log/syslog": "", "/var/log/apt/history.log": ""} {
		if b, err := os.ReadFile(filepath.Join(root, path)); err != nil || string(b) != want {
			t.Errorf("%s after sealing: %q, %v; want %q", path, b, err, want)
		}
	}
	entries, _ := os.ReadDir(builderState)
	if len(entries) != 1 || entries[0].Name() != ImageManifestName {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the sealed state folder holds %v, want only the manifest", names)
	}
	var m ImageManifest
	b, _ := os.ReadFile(filepath.Join(builderState, ImageManifestName))
	if err := json.Unmarshal(b, &m); err != nil || m.Image != "web_base" || m.ContentHash != "c0ffee0123456789abcdef" || len(m.Steps) != 2 || m.Steps[0].Phase != "pre_install" || m.Steps[1].Phase != "post_install" {
		t.Fatalf("the manifest is %+v (%v)", m, err)
	}

	// A machine started from the image: its state folder holds the
	// manifest (and nothing else), as the snapshot left it.
	fromImage := func() string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ImageManifestName), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	deploy := map[string][]string{"pre_install": build["pre_install"], "post_install": build["post_install"], "deploy": {mark("deploy")}}
	log = imageRun(t, f, "app", &coordinator.Node{Scripts: deploy}, fromImage(), "")
	if count("pre") != 1 || count("post") != 1 || count("deploy") != 1 {
		t.Errorf("from the image: pre_install ran %d, post_install %d, deploy %d times in all; want the build steps skipped and deploy run\n%s", count("pre"), count("post"), count("deploy"), log)
	}
	if !strings.Contains(log, "started from image web_base (content c0ffee012345)") || !strings.Contains(log, "its 2 build steps are baked in, skipped") {
		t.Errorf("the agent did not say it skipped the baked steps:\n%s", log)
	}

	// The node's post_install changed since the image was built: it runs,
	// pre_install does not.
	stale := map[string][]string{"pre_install": build["pre_install"], "post_install": {mark("post") + " # v2"}, "deploy": {mark("deploy")}}
	log = imageRun(t, f, "stale", &coordinator.Node{Scripts: stale}, fromImage(), "")
	if count("pre") != 1 || count("post") != 2 || count("deploy") != 2 {
		t.Errorf("from a stale image: pre_install ran %d, post_install %d, deploy %d times in all; want pre 1, post 2, deploy 2\n%s", count("pre"), count("post"), count("deploy"), log)
	}
	if !strings.Contains(log, "which lacks some of this node's build steps: 1 baked in, skipped; running post_install 1") {
		t.Errorf("the agent did not say the image is stale:\n%s", log)
	}
}

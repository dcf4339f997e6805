package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/internal/nshost"
)

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-help"}, {"help"}, {"up", "-help"}, {"down", "-h"}} {
		if code, out, _ := runCLI(args...); code != 0 || !strings.Contains(out, "usage: nshosts") {
			t.Errorf("%v: %d %q", args, code, out)
		}
	}
	for args, want := range map[string]string{
		"":                 "usage: nshosts",
		"frob":             `unknown command "frob"`,
		"up":               "-state DIR is required",
		"up -n x -state d": "invalid value",
		"down -state d x":  "unexpected arguments",
		"stop -state d":    "name the hosts",
	} {
		code, _, errOut := runCLI(strings.Fields(args)...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%q: exit %d, %q (want %q)", args, code, errOut, want)
		}
	}
}

func TestUpLsDown(t *testing.T) {
	if err := nshost.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	state := filepath.Join(t.TempDir(), "hosts")
	code, out, errOut := runCLI("up", "-n", "2", "-state", state, "-prefix", "nsc")
	if code != 0 {
		t.Fatalf("up: %d %s", code, errOut)
	}
	t.Cleanup(func() { runCLI("down", "-state", state) })
	var s summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(s.Hosts) != 2 || s.GatewayIP == "" || s.PrivateKeyPath != filepath.Join(state, "id_ed25519") ||
		s.Hosts[0].KnownHostsLine != s.Hosts[0].IP+" "+s.Hosts[0].HostKey || s.Hosts[1].User != "root" {
		t.Errorf("summary: %s", out)
	}
	p, err := nshost.LoadPool(filepath.Join(state, "pool.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := p.Hosts[1].Run(ctx, "hostname"); err != nil || strings.TrimSpace(got) != s.Hosts[1].Name {
		t.Errorf("ssh: %q %v", got, err)
	}

	if code, _, errOut := runCLI("stop", "-state", state, "2"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, _ = runCLI("ls", "-state", state)
	if code != 0 || !strings.Contains(out, `"state": "up"`) || !strings.Contains(out, `"state": "down: `) {
		t.Errorf("ls after stop: %s", out)
	}
	if code, _, errOut := runCLI("start", "-state", state, s.Hosts[1].IP); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := runCLI("reinstall", "-state", state, s.Hosts[0].Name); code != 0 {
		t.Fatal(errOut)
	}
	p, _ = nshost.LoadPool(filepath.Join(state, "pool.json"))
	if p.Hosts[0].HostKey == s.Hosts[0].HostKey {
		t.Error("pool.json keeps the old host key after reinstall")
	}
	if got, err := p.Hosts[0].Run(ctx, "hostname"); err != nil || strings.TrimSpace(got) != s.Hosts[0].Name {
		t.Errorf("ssh after reinstall: %q %v", got, err)
	}

	// up again replaces the pool.
	code, out2, errOut := runCLI("up", "-n", "1", "-state", state, "-prefix", "nsc")
	if code != 0 || !strings.Contains(errOut, "removing pool "+s.ID) {
		t.Fatalf("second up: %d %s", code, errOut)
	}
	if _, err := os.Stat("/run/netns/" + s.Hosts[1].Name); !os.IsNotExist(err) {
		t.Errorf("first pool's host 2 after the second up: %v", err)
	}
	var s2 summary
	json.Unmarshal([]byte(out2), &s2)

	if code, _, errOut := runCLI("down", "-state", state); code != 0 {
		t.Fatalf("down: %s", errOut)
	}
	if _, err := os.Stat("/run/netns/" + s2.Hosts[0].Name); !os.IsNotExist(err) {
		t.Errorf("netns after down: %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state folder after down: %v", err)
	}
	if code, _, errOut := runCLI("down", "-state", state); code != 0 || !strings.Contains(errOut, "no ") {
		t.Errorf("second down: %d %s", code, errOut)
	}
}

package nshost

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func requireNetworkAvailable(t *testing.T) {
	t.Helper()
	if err := NetworkAvailable(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true, and CI installs everything (make deps), yet: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// TestNetwork: endpoints are added to and removed from a running bridge;
// they reach the gateway; Remove and Close leave nothing.
func TestNetwork(t *testing.T) {
	requireNetworkAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := NewNetwork(ctx, NetworkOptions{Prefix: testPrefix, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if fi, err := os.Stat(n.StateDir); err != nil || !fi.IsDir() {
		t.Fatalf("state folder: %v", err)
	}
	a, err := n.Add(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Add(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.IP == b.IP || a.GatewayIP != n.GatewayIP || a.Name != n.ID+"-1" || a.NetNS != filepath.Join(netnsDir, a.Name) {
		t.Errorf("endpoints %+v and %+v", a, b)
	}
	// The gateway answers on the bridge; b reaches a.
	ln, err := net.Listen("tcp", net.JoinHostPort(n.GatewayIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("gateway\n"))
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	probe := func(ns, ip, port string) error {
		// bash's /dev/tcp: no tool needed inside.
		var err error
		for range 20 {
			var out []byte
			out, err = exec.Command("ip", "netns", "exec", ns, "bash", "-c", "exec 3<>/dev/tcp/"+ip+"/"+port+" && head -1 <&3").CombinedOutput()
			if err == nil && string(out) == "gateway\n" {
				return nil
			}
			err = fmt.Errorf("%v: %q", err, out)
			time.Sleep(100 * time.Millisecond)
		}
		return err
	}
	if err := probe(a.Name, n.GatewayIP, port); err != nil {
		t.Errorf("endpoint to gateway: %v", err)
	}
	if err := probe(b.Name, n.GatewayIP, port); err != nil {
		t.Errorf("endpoint to gateway: %v", err)
	}

	if err := n.Remove(a.Name); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(a.Name); err != nil {
		t.Errorf("Remove again: %v", err)
	}
	if _, err := os.Stat(a.NetNS); !os.IsNotExist(err) {
		t.Errorf("removed endpoint's namespace: %v", err)
	}
	if _, err := net.InterfaceByName(a.Name); err == nil {
		t.Error("removed endpoint's veth is left")
	}
	if err := n.Remove("elsewhere-1"); err == nil {
		t.Error("Remove of another network's endpoint")
	}
	// Numbers are handed out in turn: the next is not a's.
	c, err := n.Add(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.IP == a.IP {
		t.Errorf("a's address %s was given again at once", a.IP)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []*Endpoint{b, c} {
		if _, err := os.Stat(ep.NetNS); !os.IsNotExist(err) {
			t.Errorf("namespace %s: %v", ep.Name, err)
		}
	}
	if _, err := net.InterfaceByName(n.Bridge); err == nil {
		t.Error("the bridge is left")
	}
	if _, err := os.Stat(n.StateDir); !os.IsNotExist(err) {
		t.Errorf("the state folder is left: %v", err)
	}
	if _, err := os.Stat(entryPath(n.ID)); !os.IsNotExist(err) {
		t.Errorf("the registry entry is left: %v", err)
	}
	if _, err := n.Add(ctx); err == nil {
		t.Error("Add on a closed network")
	}
}

// TestNetworkCleanupStale: a network whose maker is gone is removed by
// CleanupStale, with the processes in its namespaces and its state folder.
func TestNetworkCleanupStale(t *testing.T) {
	requireNetworkAvailable(t)
	var b [2]byte
	rand.Read(b[:])
	prefix := fmt.Sprintf("n%04x", b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	live, err := NewNetwork(ctx, NetworkOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	stale, err := NewNetwork(ctx, NetworkOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	ep, err := stale.Add(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("ip", "netns", "exec", ep.Name, "sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	exited := make(chan struct{})
	go func() { sleeper.Wait(); close(exited) }()
	// `ip netns exec` enters the namespace before it runs sleep: wait
	// until the sleep is there, or CleanupStale may scan before it is.
	waitFor(t, "the sleeper to be in the namespace", func() bool { return inNetns(sleeper.Process.Pid, ep.Name) })
	os.WriteFile(filepath.Join(stale.StateDir, "left-by-its-user"), []byte("x"), 0o644)
	// Its maker "dies": the registry names no live owner.
	e, err := readEntry(stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.OwnerPID, e.OwnerStart = 0, 0
	if err := saveEntry(e); err != nil {
		t.Fatal(err)
	}

	if err := CleanupStale(prefix); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("the process in the stale network's namespace survived")
	}
	if _, err := os.Stat(ep.NetNS); !os.IsNotExist(err) {
		t.Errorf("stale namespace: %v", err)
	}
	if _, err := net.InterfaceByName(stale.Bridge); err == nil {
		t.Error("stale bridge is left")
	}
	if _, err := os.Stat(stale.StateDir); !os.IsNotExist(err) {
		t.Errorf("stale state folder: %v", err)
	}
	if _, err := net.InterfaceByName(live.Bridge); err != nil {
		t.Errorf("the live network's bridge went: %v", err)
	}
	if _, err := os.Stat(live.StateDir); err != nil {
		t.Errorf("the live network's state folder went: %v", err)
	}
}

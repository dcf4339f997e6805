package guest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestParallelBoots boots several cloud-init guests at once: each gets its
// own address and hostname and its user-data reaches the gateway.
func TestParallelBoots(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{})
	srv := newGatewayServer(t, r)
	const n = 4
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	insts := make([]*Instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := r.Boot(ctx, fakecloud.BootSpec{ID: fmt.Sprintf("i-par-%d", k), Hostname: fmt.Sprintf("node-%d", k),
				Layers: []string{image}, UserData: []byte("#!/bin/sh\ncurl -fsS " + srv.URL + "/up-$(hostname)-$(hostname -I | tr -d ' ')\n")})
			if err == nil {
				insts[k] = g.(*Instance)
			}
			errs[k] = err
		}()
	}
	wg.Wait()
	ips := map[string]bool{}
	for k, inst := range insts {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
		if ips[inst.PrivateIP()] {
			t.Errorf("address %s given twice", inst.PrivateIP())
		}
		ips[inst.PrivateIP()] = true
	}
	for k, inst := range insts {
		at := srv.wait(t, fmt.Sprintf("/up-node-%d-%s", k, inst.PrivateIP()), time.Minute)
		t.Logf("node-%d (%s): user-data ran %v after the boots started", k, inst.PrivateIP(), at.Sub(start).Round(time.Millisecond))
	}
	for _, inst := range insts {
		if res := waitBooted(t, inst); len(res.Failed()) > 0 {
			t.Errorf("%s: failed stages %+v", inst.Name(), res.Failed())
		}
	}
}

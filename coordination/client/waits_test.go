package client

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWaits: the web servers' agents blocked in ss-get on db_password (a
// parked long-poll and a blocking one) are listed with the key as the
// coordinator qualifies it and when they started; once the database sets
// its password nobody is waiting. An instance's token cannot list waits.
func TestWaits(t *testing.T) {
	srv := newCoordinator(t)
	ctx := bg(t)
	admin := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: admin}
	tokens, err := admin.CreateDeployment(ctx, deployment())
	if err != nil {
		t.Fatal(err)
	}
	agent := func(inst string) *Client {
		c := &Client{BaseURL: srv.URL, Deployment: "lamp-1", Token: tokens[inst]}
		if _, err := c.Exchange(ctx, TokenHash("own-"+inst)); err != nil {
			t.Fatal(err)
		}
		c.Token = "own-" + inst
		return c
	}
	db, web1, web2 := agent("db.1"), agent("web.1"), agent("web.2")
	if w, err := admin.Waits(ctx); err != nil || len(w) != 0 {
		t.Fatalf("waits before anyone waits: %v, %v", w, err)
	}
	before := time.Now()
	got := make(chan string, 2)
	for _, c := range []*Client{web1, web2} {
		go func() {
			v, err := c.Get(ctx, "db_password", time.Minute, false, nil)
			if err != nil {
				v = "error: " + err.Error()
			}
			got <- v
		}()
	}
	var waits []struct{ inst, key string }
	for deadline := time.Now().Add(10 * time.Second); len(waits) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the two blocked gets are not listed: %v", waits)
		}
		w, err := admin.Waits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waits = nil
		for _, x := range w {
			if x.Since.Before(before.Add(-time.Second)) || x.Since.After(time.Now()) {
				t.Errorf("wait %+v started at an odd time", x)
			}
			waits = append(waits, struct{ inst, key string }{x.Instance, x.Key})
		}
	}
	if waits[0] != (struct{ inst, key string }{"web.1", "web.1:db_password"}) || waits[1] != (struct{ inst, key string }{"web.2", "web.2:db_password"}) {
		t.Errorf("waits %v, want web.1 and web.2 each on its db_password", waits)
	}
	if _, err := web1.Waits(ctx); err == nil {
		t.Error("an instance's token listed the waits")
	}
	if err := db.Set(ctx, "password", "s3cret", false); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v := <-got; v != "s3cret" {
			t.Errorf("a web server's get ended with %q", v)
		}
	}
	if w, err := admin.Waits(ctx); err != nil || len(w) != 0 {
		t.Errorf("waits after the set: %v, %v", w, err)
	}
	missing := &Client{BaseURL: srv.URL, Deployment: "nope", Token: admin.Token}
	var e *Error
	if _, err := missing.Waits(context.Background()); !errors.As(err, &e) || e.Code != "not_found" {
		t.Errorf("waits of a deployment that does not exist: %v", err)
	}
}

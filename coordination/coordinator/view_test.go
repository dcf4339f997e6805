package coordinator

import (
	"context"
	"fmt"
	"testing"
)

func TestDeadlocks(t *testing.T) {
	w := func(inst, key string) Wait { return Wait{Instance: inst, Key: key} }
	for _, c := range []struct {
		name  string
		waits []Wait
		want  string
	}{
		{"none", nil, "[]"},
		{"a chain is no deadlock", []Wait{w("web.1", "db.1:password"), w("web.2", "db.1:password"), w("db.1", "ss:x")}, "[]"},
		{"two wait for each other", []Wait{w("a.1", "b.1:y"), w("b.1", "a.1:x"), w("c.1", "a.1:x")}, "[[a.1 b.1]]"},
		{"one waits for itself", []Wait{w("a.1", "a.1:x")}, "[[a.1]]"},
		{"a ring of three and a pair", []Wait{w("a.1", "b.1:p"), w("b.1", "c.1:p"), w("c.1", "a.1:p"), w("x.1", "y.1:p"), w("y.1", "x.1:p"), w("z.1", "x.1:p")}, "[[a.1 b.1 c.1] [x.1 y.1]]"},
		{"bad keys are skipped", []Wait{w("a.1", "::"), w("a.1", "b.1:p")}, "[]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Deadlocks(c.waits)
			if got == nil {
				got = [][]string{}
			}
			if s := fmt.Sprint(got); s != c.want {
				t.Fatalf("Deadlocks = %s, want %s", s, c.want)
			}
		})
	}
}

// TestSet_sameValueAgainChangesNothing: a set retried after its answer was
// lost (the same value again) writes nothing: one change in the event
// stream, the inputs mapped from it pushed once.
func TestSet_sameValueAgainChangesNothing(t *testing.T) {
	c := newCoordinator(t)
	if err := c.CreateDeployment(bg(t), lamp(), nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Set(bg(t), "lamp", inst("db", 1), "password", "s3cret", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(bg(t), "lamp", inst("db", 1), "password", "changed", false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg(t))
	defer cancel()
	evs, _, err := c.Events(ctx, "lamp", 0)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for ev := range evs {
		counts[ev.Key]++
		if ev.Key == "web.3:db_password" && counts[ev.Key] == 2 {
			cancel()
		}
	}
	if counts["db.1:password"] != 2 || counts["web.1:db_password"] != 2 {
		t.Fatalf("changes per key: %v (want 2 each: s3cret once, then changed)", counts)
	}
}

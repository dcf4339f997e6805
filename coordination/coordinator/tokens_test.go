package coordinator

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

func hash(c byte) string { return strings.Repeat(string(c), 64) }

// TestExchange_records: a bootstrap record becomes a spent one and an
// agent record in one commit; the same exchange again answers the same;
// a fresh bootstrap record for the instance (the provider re-issued its
// token for a reinstalled machine) is exchanged like the first.
func TestExchange_records(t *testing.T) {
	c := newCoordinator(t)
	ctx := bg(t)
	if err := c.CreateDeployment(ctx, lamp(), map[string]string{"web.2": hash('a'), "db.1": hash('d')}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InstanceForToken(ctx, "lamp", hash('a')); !errors.Is(err, ErrBootstrapToken) {
		t.Fatalf("a bootstrap token acts for its instance: %v", err)
	}
	for range 2 { // the second time: the answer to the first was lost
		if in, err := c.Exchange(ctx, "lamp", hash('a'), hash('b')); err != nil || in != *inst("web", 2) {
			t.Fatalf("exchange: %v, %v", in, err)
		}
	}
	if in, err := c.InstanceForToken(ctx, "lamp", hash('b')); err != nil || *in != *inst("web", 2) {
		t.Fatalf("the agent token: %v, %v", in, err)
	}
	if _, err := c.InstanceForToken(ctx, "lamp", hash('a')); !errors.Is(err, ErrTokenExchanged) {
		t.Fatalf("the spent bootstrap token: %v", err)
	}
	if _, err := c.Exchange(ctx, "lamp", hash('a'), hash('c')); !errors.Is(err, ErrTokenExchanged) {
		t.Fatalf("the spent bootstrap token exchanged for another: %v", err)
	}
	if _, err := c.Exchange(ctx, "lamp", hash('b'), hash('c')); !errors.Is(err, ErrNotBootstrap) {
		t.Fatalf("an agent token exchanged: %v", err)
	}
	if _, err := c.Exchange(ctx, "lamp", hash('d'), hash('b')); !errors.Is(err, ErrExists) {
		t.Fatalf("exchange into a hash in use: %v", err)
	}
	if _, err := c.Exchange(ctx, "lamp", hash('z'), hash('c')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown bootstrap token: %v", err)
	}
	// Re-bootstrapped: the provider replaced web.2's records with a new
	// bootstrap token (as its admin call does).
	if _, err := c.st.Update(ctx, ns("lamp"), func(tx store.Tx) error {
		tx.Delete("t/" + hash('a'))
		tx.Delete("t/" + hash('b'))
		tx.Put("t/"+hash('e'), "web.2")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if in, err := c.Exchange(ctx, "lamp", hash('e'), hash('f')); err != nil || in != *inst("web", 2) {
		t.Fatalf("exchange of a re-issued bootstrap token: %v, %v", in, err)
	}
	// A spent token whose agent token was replaced is not "the same
	// exchange" any more.
	if _, err := c.st.Update(ctx, ns("lamp"), func(tx store.Tx) error { tx.Delete("t/" + hash('f')); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exchange(ctx, "lamp", hash('e'), hash('f')); !errors.Is(err, ErrTokenExchanged) {
		t.Fatalf("a replayed exchange whose agent token is gone: %v", err)
	}
}

func TestParseTokenRecord(t *testing.T) {
	for v, want := range map[string]*TokenRecord{
		"web.2":                   {Instance: Instance{"web", 2}, Kind: TokenBootstrap},
		"web.2 agent":             {Instance: Instance{"web", 2}, Kind: TokenAgent},
		"web.2 used " + hash('a'): {Instance: Instance{"web", 2}, Kind: TokenUsed, ExchangedFor: hash('a')},
		"web":                     nil,
		"web.2 what":              nil,
		"":                        nil,
	} {
		got, ok := ParseTokenRecord(v)
		if want == nil && ok || want != nil && (!ok || got != *want || got.String() != v) {
			t.Errorf("ParseTokenRecord(%q) = %+v, %v; want %+v", v, got, ok, want)
		}
	}
}

// TestParamSensitive: sensitivity follows mappings, through chains, and a
// cycle of mappings ends.
func TestParamSensitive(t *testing.T) {
	d := Deployment{Nodes: map[string]*Node{
		"db":  {Params: map[string]Param{"password": {Output: true, Sensitive: true}, "port": {Output: true}}},
		"web": {Params: map[string]Param{"pw": {}, "port": {}}, Mappings: map[string]string{"pw": "db:password", "port": "db:port"}},
		"lb":  {Params: map[string]Param{"pw": {}}, Mappings: map[string]string{"pw": "web:pw"}},
		"a":   {Params: map[string]Param{"x": {}}, Mappings: map[string]string{"x": "b:x"}},
		"b":   {Params: map[string]Param{"x": {}}, Mappings: map[string]string{"x": "a:x"}},
	}}
	for _, c := range []struct {
		node, name string
		want       bool
	}{
		{"db", "password", true}, {"web", "pw", true}, {"lb", "pw", true},
		{"db", "port", false}, {"web", "port", false}, {"a", "x", false}, {"nope", "x", false},
	} {
		if got := d.ParamSensitive(c.node, c.name); got != c.want {
			t.Errorf("%s:%s sensitive = %v, want %v", c.node, c.name, got, c.want)
		}
	}
	if !d.isSensitive("web.3:pw") || d.isSensitive("web.3:port") {
		t.Error("isSensitive does not follow the mapping")
	}
}

// TestGet_sensitiveForbidden: the restriction is the coordinator's, so
// every way of reading (get, wait for a change) has it.
func TestGet_sensitiveForbidden(t *testing.T) {
	c := newCoordinator(t)
	ctx := bg(t)
	if err := c.CreateDeployment(ctx, lamp(), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "lamp", inst("db", 1), "password", "pw", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "lamp", inst("web", 3), "db:password", 0, false); err != nil {
		t.Fatalf("web reads the password it maps: %v", err)
	}
	if _, err := c.Get(ctx, "lamp", inst("db", 1), "web.1:db_password", 0, false); !errors.Is(err, ErrForbidden) {
		t.Fatalf("db reads web's input: %v", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := c.WaitChange(wctx, "lamp", inst("db", 1), "web.1:db_password", "pw", 0, false); !errors.Is(err, ErrForbidden) {
		t.Fatalf("db waits for web's input to change: %v", err)
	}
}

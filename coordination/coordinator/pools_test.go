package coordinator

import (
	"errors"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

func farm() Deployment {
	return Deployment{ID: "farm", Nodes: map[string]*Node{
		"worker": {Multiplicity: 8, Params: map[string]Param{"load": {Output: true}}},
		"db":     {Multiplicity: 1, Params: map[string]Param{}},
	}}
}

// keys lists a deployment's stored keys with a prefix.
func keys(t *testing.T, c *Coordinator, id, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, err := c.st.View(bg(t), ns(id), func(tx store.Tx) error {
		for _, kv := range tx.List(prefix) {
			out[kv.Key] = kv.Value
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRegisterDeployment_deferTokens: a deployment registered without
// tokens holds none; the same registration again succeeds and changes
// nothing; another spec under the id is a conflict; a scale without
// tokens issues none and is safe to send again.
func TestRegisterDeployment_deferTokens(t *testing.T) {
	c := newCoordinator(t)
	ctx := bg(t)
	for range 2 { // the second: the answer to the first was lost
		if err := c.RegisterDeployment(ctx, farm()); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	if toks := keys(t, c, "farm", "t/"); len(toks) != 0 {
		t.Fatalf("tokens issued: %v", toks)
	}
	if v, err := c.Get(ctx, "farm", nil, "worker:multiplicity", 0, false); err != nil || v != "8" {
		t.Fatalf("worker:multiplicity = %q, %v", v, err)
	}
	other := farm()
	other.Nodes["worker"].Multiplicity = 9
	if err := c.RegisterDeployment(ctx, other); !errors.Is(err, ErrExists) {
		t.Fatalf("another spec under the id: %v, want ErrExists", err)
	}
	// The path with tokens is as before: a create without any is no retry.
	if err := c.CreateDeployment(ctx, farm(), nil); !errors.Is(err, ErrExists) {
		t.Fatalf("create with no tokens over the registration: %v, want ErrExists", err)
	}
	if err := c.RegisterDeployment(ctx, Deployment{ID: "bad", Nodes: map[string]*Node{"a-b": {}}}); err == nil {
		t.Fatal("an invalid deployment was registered")
	}
	for range 2 {
		if now, err := c.Scale(ctx, "farm", "worker", 10, nil); err != nil || now != Initializing {
			t.Fatalf("scale without tokens: %q, %v", now, err)
		}
	}
	if toks := keys(t, c, "farm", "t/"); len(toks) != 0 {
		t.Fatalf("tokens issued by the scale: %v", toks)
	}
	if _, err := c.Scale(ctx, "farm", "worker", 10, map[string]string{"worker.10": hash('a')}); !errors.Is(err, ErrState) {
		t.Fatalf("a scale with tokens that are not there, to the multiplicity the node has: %v, want ErrState", err)
	}
}

func TestParseTokenRecord_pool(t *testing.T) {
	rec, ok := ParseTokenRecord("worker pool")
	if !ok || rec != (TokenRecord{Node: "worker", Kind: TokenPool}) || rec.String() != "worker pool" {
		t.Fatalf("worker pool: %+v %v", rec, ok)
	}
	for _, v := range []string{"web.2 pool", "we-b pool", "pool", "worker pool x"} {
		if rec, ok := ParseTokenRecord(v); ok {
			t.Errorf("ParseTokenRecord(%q) = %+v", v, rec)
		}
	}
}

func TestCheckMachineID(t *testing.T) {
	for _, ok := range []string{"i-0123456789abcdef0", "3f2c1a9e-5d7b-4e0a-9c1f-2b8d6e4a7c10", "a", strings.Repeat("x", MaxMachineID), "odd:id_with.chars~"} {
		if err := CheckMachineID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for id, want := range map[string]string{
		"":                                  "empty",
		"i 0abc":                            `holds ' ' at byte 1`,
		"a/b":                               `holds '/' at byte 1`,
		"tab\there":                         `holds '\t'`,
		"ünï":                               "printable ASCII",
		strings.Repeat("x", MaxMachineID+1): "129 bytes long",
	} {
		if err := CheckMachineID(id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", id, err, want)
		}
	}
}

// TestRegisterPool: a pool token is registered for a node that exists,
// again without change; its hash cannot be another token's; it is no
// bearer for anything but an exchange.
func TestRegisterPool(t *testing.T) {
	c := newCoordinator(t)
	ctx := bg(t)
	if err := c.RegisterPool(ctx, "farm", "worker", hash('f')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pool of an unknown deployment: %v", err)
	}
	if err := c.CreateDeployment(ctx, farm(), map[string]string{"db.1": hash('d')}); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterPool(ctx, "farm", "web", hash('f')); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `no node "web"`) {
		t.Fatalf("pool of an unknown node: %v", err)
	}
	var kerr *KeyError
	if err := c.RegisterPool(ctx, "farm", "worker", "ABC"); !errors.As(err, &kerr) {
		t.Fatalf("a bad hash: %v", err)
	}
	for range 2 {
		if err := c.RegisterPool(ctx, "farm", "worker", hash('f')); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	if err := c.RegisterPool(ctx, "farm", "db", hash('f')); !errors.Is(err, ErrExists) {
		t.Fatalf("the same hash for another node: %v", err)
	}
	if err := c.RegisterPool(ctx, "farm", "worker", hash('d')); !errors.Is(err, ErrExists) {
		t.Fatalf("a bootstrap token's hash: %v", err)
	}
	if err := c.RegisterPool(ctx, "farm", "worker", hash('e')); err != nil {
		t.Fatalf("a second pool for the node: %v", err)
	}
	if _, err := c.InstanceForToken(ctx, "farm", hash('f')); !errors.Is(err, ErrPoolToken) {
		t.Fatalf("the pool token as a bearer: %v", err)
	}
	if rec, err := c.Token(ctx, "farm", hash('f')); err != nil || rec.Kind != TokenPool || rec.Node != "worker" {
		t.Fatalf("the pool token's record: %+v %v", rec, err)
	}
	if err := c.ReissueTokens(ctx, "farm", map[string]string{"worker.1": hash('f')}); !errors.Is(err, ErrExists) {
		t.Fatalf("a pool token's hash reissued as a bootstrap token: %v", err)
	}
}

// TestPoolMembers: members are checked, registered again without change,
// exchanged once (the same exchange again succeeds, any other claim is
// refused), replaced by another machine for their instance, and removed;
// a machine not registered is told so.
func TestPoolMembers(t *testing.T) {
	c := newCoordinator(t)
	ctx := bg(t)
	if err := c.RegisterDeployment(ctx, farm()); err != nil {
		t.Fatal(err)
	}
	pool := hash('f')
	if err := c.SetPoolMembers(ctx, "farm", pool, map[string]string{"i-a": "worker.7"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("members of an unregistered pool token: %v", err)
	}
	if err := c.RegisterPool(ctx, "farm", "worker", pool); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterPool(ctx, "farm", "db", hash('e')); err != nil {
		t.Fatal(err)
	}
	var invalid *InvalidError
	for name, tc := range map[string]struct {
		members map[string]string
		invalid bool
		is      error
		says    string
	}{
		"another node's instance":  {map[string]string{"i-c": "db.1"}, true, nil, "not an instance of node worker"},
		"an index too high":        {map[string]string{"i-c": "worker.9"}, false, ErrNotFound, "node worker has 8 instances"},
		"not an instance name":     {map[string]string{"i-c": "worker"}, true, nil, "not an instance name"},
		"index 0":                  {map[string]string{"i-c": "worker.0"}, true, nil, "not an instance name"},
		"a space in a machine id":  {map[string]string{"i c": "worker.1"}, true, nil, "printable ASCII without spaces or slashes"},
		"a slash in a machine id":  {map[string]string{"i/c": "worker.1"}, true, nil, "without spaces or slashes"},
		"an empty machine id":      {map[string]string{"": "worker.1"}, true, nil, "empty"},
		"two machines, one worker": {map[string]string{"i-c": "worker.1", "i-d": "worker.1"}, true, nil, "machines i-c and i-d are both registered for worker.1"},
	} {
		err := c.SetPoolMembers(ctx, "farm", pool, tc.members)
		if tc.invalid && !errors.As(err, &invalid) || tc.is != nil && !errors.Is(err, tc.is) || err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.says)
		}
	}
	if m := keys(t, c, "farm", "m"); len(m) != 0 {
		t.Fatalf("a refused request left members: %v", m)
	}

	members := map[string]string{"i-a": "worker.7", "i-b": "worker.8"}
	for range 2 {
		if err := c.SetPoolMembers(ctx, "farm", pool, members); err != nil {
			t.Fatalf("members: %v", err)
		}
	}
	if err := c.SetPoolMembers(ctx, "farm", pool, map[string]string{"i-a": "worker.6"}); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "already the member of instance worker.7") {
		t.Fatalf("a member registered for another instance: %v", err)
	}
	if err := c.SetPoolMembers(ctx, "farm", hash('e'), map[string]string{"i-a": "db.1"}); !errors.Is(err, ErrExists) {
		t.Fatalf("a member registered for another pool: %v", err)
	}

	// The exchange.
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), ""); !errors.Is(err, ErrMachineIDNeeded) {
		t.Fatalf("no machine id: %v", err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), "i-zz"); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("a machine not registered: %v", err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", hash('e'), hash('1'), "i-a"); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("a member of another pool token: %v", err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), "i a"); !errors.As(err, &invalid) {
		t.Fatalf("an invalid machine id: %v", err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, pool, "i-a"); err == nil {
		t.Fatal("the pool token's own hash accepted as the agent's")
	}
	for range 2 { // the second: the answer to the first was lost
		if in, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), "i-a"); err != nil || in != *inst("worker", 7) {
			t.Fatalf("exchange: %v %v", in, err)
		}
	}
	if in, err := c.InstanceForToken(ctx, "farm", hash('1')); err != nil || *in != *inst("worker", 7) {
		t.Fatalf("the agent token: %v %v", in, err)
	}
	if err := c.Set(ctx, "farm", inst("worker", 7), "load", "0.5", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('2'), "i-a"); !errors.Is(err, ErrTokenExchanged) || !strings.Contains(err.Error(), "machine i-a already exchanged") {
		t.Fatalf("another claim of the member: %v", err)
	}
	// Registering the member again (a retried request) keeps the exchange.
	if err := c.SetPoolMembers(ctx, "farm", pool, members); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('2'), "i-a"); !errors.Is(err, ErrTokenExchanged) {
		t.Fatalf("a claim after the members were sent again: %v", err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), "i-b"); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "hash is already in use") {
		t.Fatalf("i-b exchanging into worker.7's agent token hash: %v", err)
	}
	// The pool token stays good for the others.
	if in, err := c.ExchangeMachine(ctx, "farm", pool, hash('3'), "i-b"); err != nil || in != *inst("worker", 8) {
		t.Fatalf("exchange of i-b: %v %v", in, err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), "i-b"); !errors.Is(err, ErrTokenExchanged) {
		t.Fatalf("i-b claiming i-a's agent token: %v", err)
	}

	// A replacement for worker.7: the old machine can no longer claim it,
	// and the new one's exchange retires the old agent token.
	if err := c.SetPoolMembers(ctx, "farm", pool, map[string]string{"i-a2": "worker.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('1'), "i-a"); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("the replaced machine claims: %v", err)
	}
	if in, err := c.InstanceForToken(ctx, "farm", hash('1')); err != nil || *in != *inst("worker", 7) {
		t.Fatalf("the old agent token before the new machine's exchange: %v %v", in, err)
	}
	if in, err := c.ExchangeMachine(ctx, "farm", pool, hash('4'), "i-a2"); err != nil || in != *inst("worker", 7) {
		t.Fatalf("the replacement's exchange: %v %v", in, err)
	}
	if _, err := c.InstanceForToken(ctx, "farm", hash('1')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replaced machine's agent token: %v", err)
	}

	// Removal: i-b can no longer claim, and its agent token is revoked.
	for range 2 {
		if err := c.RemovePoolMembers(ctx, "farm", []string{"i-b", "i-never"}); err != nil {
			t.Fatalf("remove: %v", err)
		}
	}
	if _, err := c.InstanceForToken(ctx, "farm", hash('3')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a removed machine's agent token: %v", err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('3'), "i-b"); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("a removed machine claims: %v", err)
	}
	if err := c.RemovePoolMembers(ctx, "farm", []string{"a/b"}); !errors.As(err, &invalid) {
		t.Fatalf("removing an invalid machine id: %v", err)
	}
	if err := c.RemovePoolMembers(ctx, "nope", []string{"i-b"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing from an unknown deployment: %v", err)
	}
	if in, err := c.InstanceForToken(ctx, "farm", hash('4')); err != nil || *in != *inst("worker", 7) {
		t.Fatalf("worker.7's agent token after i-b's removal: %v %v", in, err)
	}
	if err := c.SetPoolMembers(ctx, "farm", hash('e'), map[string]string{"i-db": "db.1"}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.PoolMembers(ctx, "farm", "worker"); err != nil || len(m) != 1 || m["i-a2"] != "worker.7" {
		t.Fatalf("worker's members: %v %v", m, err)
	}
	if m, err := c.PoolMembers(ctx, "farm", ""); err != nil || len(m) != 2 || m["i-db"] != "db.1" {
		t.Fatalf("every node's members: %v %v", m, err)
	}
	if _, err := c.PoolMembers(ctx, "farm", "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("members of an unknown node: %v", err)
	}
	if err := c.RemovePoolMembers(ctx, "farm", []string{"i-db"}); err != nil {
		t.Fatal(err)
	}
	// One small record per member, and the instance index.
	if m := keys(t, c, "farm", "m"); len(m) != 2 || m["m/i-a2"] != "worker.7 "+pool+" "+hash('4') || m["mi/worker.7"] != "i-a2" {
		t.Fatalf("member records: %v", m)
	}

	// A bootstrap token with a machine id: the machine id is ignored.
	if err := c.ReissueTokens(ctx, "farm", map[string]string{"worker.2": hash('b')}); err != nil {
		t.Fatal(err)
	}
	if in, err := c.ExchangeMachine(ctx, "farm", hash('b'), hash('5'), "i-whatever"); err != nil || in != *inst("worker", 2) {
		t.Fatalf("a bootstrap token exchanged with a machine id: %v %v", in, err)
	}
}

// TestScaleIn_killsMembersAndTokens: the instances a scale removes lose
// their pool members and tokens of every kind; the others and the pool
// token stay good, and scaling up again brings no member back.
func TestScaleIn_killsMembersAndTokens(t *testing.T) {
	c := newCoordinator(t)
	ctx := bg(t)
	if err := c.RegisterDeployment(ctx, farm()); err != nil {
		t.Fatal(err)
	}
	pool := hash('f')
	if err := c.RegisterPool(ctx, "farm", "worker", pool); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPoolMembers(ctx, "farm", pool, map[string]string{"i-6": "worker.6", "i-7": "worker.7", "i-8": "worker.8"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('7'), "i-7"); err != nil {
		t.Fatal(err)
	}
	if err := c.ReissueTokens(ctx, "farm", map[string]string{"worker.8": hash('8')}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scale(ctx, "farm", "worker", 6, nil); err != nil {
		t.Fatalf("scale in: %v", err)
	}
	if _, err := c.InstanceForToken(ctx, "farm", hash('7')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("worker.7's agent token: %v", err)
	}
	if _, err := c.Exchange(ctx, "farm", hash('8'), hash('9')); !errors.Is(err, ErrNotFound) {
		t.Fatalf("worker.8's bootstrap token: %v", err)
	}
	for _, mid := range []string{"i-7", "i-8"} {
		if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('9'), mid); !errors.Is(err, ErrNotRegistered) {
			t.Fatalf("%s, whose instance was scaled away, claims: %v", mid, err)
		}
	}
	if m := keys(t, c, "farm", "m"); len(m) != 2 || m["mi/worker.6"] != "i-6" {
		t.Fatalf("member records after the scale: %v", m)
	}
	if _, err := c.InstanceForToken(ctx, "farm", pool); !errors.Is(err, ErrPoolToken) {
		t.Fatalf("the pool token after the scale: %v", err)
	}
	if in, err := c.ExchangeMachine(ctx, "farm", pool, hash('6'), "i-6"); err != nil || in != *inst("worker", 6) {
		t.Fatalf("worker.6 after the scale: %v %v", in, err)
	}
	if _, err := c.Scale(ctx, "farm", "worker", 8, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExchangeMachine(ctx, "farm", pool, hash('9'), "i-8"); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("i-8 after scaling up again: %v", err)
	}
	if err := c.SetPoolMembers(ctx, "farm", pool, map[string]string{"i-8b": "worker.8"}); err != nil {
		t.Fatalf("a new member for the new worker.8: %v", err)
	}
	if err := c.SetPoolMembers(ctx, "farm", pool, map[string]string{"i-9": "worker.9"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a member beyond the multiplicity: %v", err)
	}
}

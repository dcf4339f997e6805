package coordinator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// Instance tokens. The coordinator keeps only their hex SHA-256 hashes,
// each as "t/<hash>" with a record naming the instance (or, for a pool
// token, the node) and the kind of token:
//
//	web.2               a bootstrap token: the provider issued it and put
//	                    it in the machine's user-data or SSH bootstrap; it
//	                    can do nothing but be exchanged (Exchange)
//	web.2 agent         the agent's own token: made by the agent on the
//	                    machine, it never leaves the machine
//	web.2 used <hash>   a bootstrap token already exchanged for the agent
//	                    token with that hash: refused, except that the same
//	                    exchange asked again (its answer was lost) succeeds
//	worker pool         a pool token (RegisterPool): the one token in the
//	                    user-data of a batch of identical machines of node
//	                    worker, started by one cloud call; it can do nothing
//	                    but be exchanged by a machine the provider registered
//	                    as a member (SetPoolMembers), once per member, and
//	                    stays valid for further members until the deployment
//	                    is deleted (ExchangeMachine)
//
// "a/<instance>" holds the hash of the instance's current agent token.
// Pool members are kept by machine id (pools.go): "m/<machine id>" names
// the member's instance, pool token and, once exchanged, agent token, and
// "mi/<instance>" the machine that may claim the instance.
//
// A bare instance name is a bootstrap token so that the records create and
// scale write for the hashes the provider sends need no marking. User-data
// can be read from a cloud's metadata service by any local user of the
// machine, and stays in the provider's state: once the agent has booted,
// what it holds is dead, or, for a pool token, opens nothing without a
// machine id that the provider registered and no agent has claimed yet.
const (
	TokenBootstrap = "bootstrap"
	TokenAgent     = "agent"
	TokenUsed      = "used"
	TokenPool      = "pool"
)

// Errors about the kind of token a request carries; the API answers them
// 403 and 401 (code "exchanged").
var (
	ErrBootstrapToken = errors.New("this is a one-time bootstrap token: it can only be exchanged for the agent's own token (POST /v1/deployments/{id}/exchange), which the agent does when it starts")
	ErrTokenExchanged = errors.New("this one-time bootstrap token was already exchanged for the agent's own token and is no longer valid; a reinstalled machine needs a new bootstrap token from the provider")
	ErrNotBootstrap   = errors.New("only a bootstrap token can be exchanged; this is already an agent's own token")
	ErrPoolToken      = errors.New("this is a pool token: it can only be exchanged, together with the machine's cloud id, for the agent's own token (POST /v1/deployments/{id}/exchange with machine_id), which the agent does when it starts")
)

// TokenRecord is what the coordinator keeps for one token hash.
type TokenRecord struct {
	// Instance is the instance the token acts for; zero for a pool token.
	Instance Instance
	// Node is a pool token's node; "" for the others.
	Node string
	Kind string
	// ExchangedFor is, for a used bootstrap token, the hash of the agent
	// token it was exchanged for.
	ExchangedFor string
}

func (r TokenRecord) String() string {
	switch r.Kind {
	case TokenAgent:
		return r.Instance.String() + " " + TokenAgent
	case TokenUsed:
		return r.Instance.String() + " " + TokenUsed + " " + r.ExchangedFor
	case TokenPool:
		return r.Node + " " + TokenPool
	}
	return r.Instance.String()
}

// ParseTokenRecord reads a "t/<hash>" value.
func ParseTokenRecord(v string) (TokenRecord, bool) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return TokenRecord{}, false
	}
	if len(f) == 2 && f[1] == TokenPool {
		if !nodeRE.MatchString(f[0]) {
			return TokenRecord{}, false
		}
		return TokenRecord{Node: f[0], Kind: TokenPool}, true
	}
	k, err := Qualify(f[0]+":x", nil)
	if err != nil {
		return TokenRecord{}, false
	}
	inst, ok := k.Instance()
	if !ok || inst.String() != f[0] { // "web" would qualify as web.1
		return TokenRecord{}, false
	}
	r := TokenRecord{Instance: inst, Kind: TokenBootstrap}
	switch {
	case len(f) == 1:
	case len(f) == 2 && f[1] == TokenAgent:
		r.Kind = TokenAgent
	case len(f) == 3 && f[1] == TokenUsed:
		r.Kind, r.ExchangedFor = TokenUsed, f[2]
	default:
		return TokenRecord{}, false
	}
	return r, true
}

// agentKey holds the hash of an instance's current agent token, so that
// an exchange finds the one it retires without reading every token.
func agentKey(inst Instance) string { return "a/" + inst.String() }

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Token returns the record of the token whose hex SHA-256 is hash, or
// ErrNotFound.
func (c *Coordinator) Token(ctx context.Context, id, hash string) (TokenRecord, error) {
	var rec TokenRecord
	_, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
		kv, ok := tx.Get("t/" + hash)
		if !ok {
			return ErrNotFound
		}
		var valid bool
		if rec, valid = ParseTokenRecord(kv.Value); !valid {
			return fmt.Errorf("corrupt token record %q", kv.Value)
		}
		return nil
	})
	return rec, err
}

// Exchange trades a bootstrap token (its hash) for the agent's own token
// (newHash, chosen by the agent), in one commit: the bootstrap token is
// then dead and the agent token acts for the same instance. Asked again
// with the same pair, it answers the same instance, so an agent whose
// answer was lost retries safely; any other use of the spent bootstrap
// token is ErrTokenExchanged. A pool token needs the machine's id: see
// ExchangeMachine.
func (c *Coordinator) Exchange(ctx context.Context, id, bootstrapHash, newHash string) (Instance, error) {
	return c.ExchangeMachine(ctx, id, bootstrapHash, newHash, "")
}

// ExchangeMachine is Exchange for a token that is a bootstrap token or a
// pool token. A bootstrap token is exchanged as by Exchange, whatever
// machineID says. A pool token (poolHash) is exchanged for the member
// the provider registered with that machine id (SetPoolMembers): the
// agent token then acts for the member's instance, which the answer
// names. A machine id that is not a member of this pool token is
// ErrNotRegistered (the provider registers a batch's machines once the
// cloud has answered with their ids: the agent asks again); a member
// already exchanged is ErrTokenExchanged, except for the same exchange
// asked again; no machine id is ErrMachineIDNeeded.
func (c *Coordinator) ExchangeMachine(ctx context.Context, id, tokenHash, newHash, machineID string) (Instance, error) {
	if !hashRE.MatchString(newHash) {
		return Instance{}, &KeyError{newHash, "the new token's hash must be 64 lower-case hex digits (SHA-256)"}
	}
	if newHash == tokenHash {
		return Instance{}, &KeyError{newHash, "the agent's token must be a new one, not the bootstrap token"}
	}
	var inst Instance
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		if _, ok := tx.Get(specKey); !ok {
			return ErrNotFound
		}
		kv, ok := tx.Get("t/" + tokenHash)
		if !ok {
			return ErrNotFound
		}
		rec, valid := ParseTokenRecord(kv.Value)
		if !valid {
			return fmt.Errorf("corrupt token record %q", kv.Value)
		}
		switch rec.Kind {
		case TokenAgent:
			return ErrNotBootstrap
		case TokenPool:
			var err error
			inst, err = exchangeMember(tx, tokenHash, newHash, machineID)
			return err
		case TokenUsed:
			inst = rec.Instance
			// The same exchange again: done already, if the agent token
			// it made still stands.
			if rec.ExchangedFor == newHash && isAgentOf(tx, newHash, inst) {
				return nil
			}
			return ErrTokenExchanged
		}
		inst = rec.Instance
		if _, taken := tx.Get("t/" + newHash); taken {
			return fmt.Errorf("%w: that token hash is already in use", ErrExists)
		}
		grantAgent(tx, inst, newHash)
		tx.Put("t/"+tokenHash, TokenRecord{Instance: inst, Kind: TokenUsed, ExchangedFor: newHash}.String())
		return nil
	})
	return inst, err
}

// isAgentOf reports whether hash is an agent token of inst.
func isAgentOf(tx store.Tx, hash string, inst Instance) bool {
	cur, ok := tx.Get("t/" + hash)
	if !ok {
		return false
	}
	r, _ := ParseTokenRecord(cur.Value)
	return r.Kind == TokenAgent && r.Instance == inst
}

// grantAgent makes newHash inst's agent token. One agent acts for an
// instance: a machine started again with a reissued bootstrap token (or a
// pool's replacement machine) retires the agent token of the one before
// it (a replaced machine left running writes nothing more).
func grantAgent(tx store.Tx, inst Instance, newHash string) {
	if prev, ok := tx.Get(agentKey(inst)); ok {
		tx.Delete("t/" + prev.Value)
	}
	tx.Put("t/"+newHash, TokenRecord{Instance: inst, Kind: TokenAgent}.String())
	tx.Put(agentKey(inst), newHash)
}

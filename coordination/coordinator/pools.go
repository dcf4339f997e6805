package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// Pools. A node's machines may be started as a pool: N identical machines
// from one cloud call (EC2 RunInstances, OpenStack min_count, CloudSigma's
// list create), which all get the same user-data. That user-data holds a
// pool token (RegisterPool) rather than an instance's bootstrap token, and
// each machine proves which machine it is by its cloud id, which
// cloud-init writes on the machine. Once the cloud has answered with the
// machines' ids, the provider registers which machine id is which
// instance (SetPoolMembers); the agent on each machine then exchanges the
// pool token and its machine id for its own agent token
// (ExchangeMachine), and learns its instance from the answer.
//
// Members are kept by machine id, one small record per machine:
//
//	m/<machine id>   "<instance> <pool token hash>", and " <agent token hash>"
//	                 once the member was exchanged
//	mi/<instance>    the machine id of the instance's member
//
// An instance has at most one member: registering another machine for it
// replaces the one before (a pool replacing a dead machine), which can
// then no longer claim it.

// ErrNotRegistered is a pool token exchanged with a machine id that is not
// (yet) a member of it; the API answers 409 "not_registered".
var ErrNotRegistered = errors.New("this machine is not registered as a member of the pool token's pool (yet): the provider registers a batch's machines right after the cloud has accepted the batch and answered with their ids, so ask again")

// ErrMachineIDNeeded is a pool token exchanged without a machine id.
var ErrMachineIDNeeded = errors.New("a pool token is exchanged together with the machine's cloud id (machine_id): the id tells which of the pool's machines this is, and so which instance")

// missing is a not-found error with a message of its own:
// errors.Is(err, ErrNotFound) holds, and the API answers 404.
type missing string

func (e missing) Error() string        { return string(e) }
func (e missing) Is(target error) bool { return target == ErrNotFound }

// conflict is an ErrExists with a message of its own (the API answers
// 409 "exists").
type conflict string

func (e conflict) Error() string        { return string(e) }
func (e conflict) Is(target error) bool { return target == ErrExists }

// MaxMachineID bounds a machine id in bytes.
const MaxMachineID = 128

// CheckMachineID checks a machine id as a cloud chose it: 1 to
// MaxMachineID bytes of printable ASCII other than space and slash (EC2's
// "i-0abc…", OpenStack's and CloudSigma's UUIDs).
func CheckMachineID(id string) error {
	switch {
	case id == "":
		return errors.New("a machine id is empty")
	case len(id) > MaxMachineID:
		return fmt.Errorf("machine id %.40q… is %d bytes long; at most %d", id, len(id), MaxMachineID)
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b <= ' ' || b > '~' || b == '/' {
			return fmt.Errorf("machine id %q holds %q at byte %d: a machine id is printable ASCII without spaces or slashes", id, b, i)
		}
	}
	return nil
}

func memberKey(machineID string) string { return "m/" + machineID }
func memberOf(inst Instance) string     { return "mi/" + inst.String() }

// member is an "m/<machine id>" record.
type member struct {
	inst  Instance
	pool  string // the pool token's hash
	agent string // the agent token's hash, once exchanged
}

func (m member) String() string {
	s := m.inst.String() + " " + m.pool
	if m.agent != "" {
		s += " " + m.agent
	}
	return s
}

func parseMember(v string) (member, bool) {
	f := strings.Fields(v)
	if len(f) < 2 || len(f) > 3 {
		return member{}, false
	}
	rec, ok := ParseTokenRecord(f[0])
	if !ok || rec.Kind != TokenBootstrap {
		return member{}, false
	}
	m := member{inst: rec.Instance, pool: f[1]}
	if len(f) == 3 {
		m.agent = f[2]
	}
	return m, true
}

func getMember(tx store.Tx, machineID string) (member, bool, error) {
	kv, ok := tx.Get(memberKey(machineID))
	if !ok {
		return member{}, false, nil
	}
	m, valid := parseMember(kv.Value)
	if !valid {
		return member{}, false, fmt.Errorf("corrupt pool member record %q", kv.Value)
	}
	return m, true, nil
}

// RegisterPool registers a pool token (its hex SHA-256) for a node of the
// deployment. Registering the same token for the same node again changes
// nothing; a hash that is another token's is ErrExists.
func (c *Coordinator) RegisterPool(ctx context.Context, id, node, tokenHash string) error {
	if !hashRE.MatchString(tokenHash) {
		return &KeyError{tokenHash, "a token hash must be 64 lower-case hex digits (SHA-256)"}
	}
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		if d.Nodes[node] == nil {
			return missing(fmt.Sprintf("deployment %s has no node %q", id, node))
		}
		want := TokenRecord{Node: node, Kind: TokenPool}.String()
		if kv, taken := tx.Get("t/" + tokenHash); taken {
			if kv.Value == want {
				return nil // registered already: a retry
			}
			return conflict("that token hash is already another token's")
		}
		tx.Put("t/"+tokenHash, want)
		return nil
	})
	return err
}

// poolNode returns the node of the pool token with that hash, or
// ErrNotFound.
func poolNode(tx store.Tx, tokenHash string) (string, error) {
	kv, ok := tx.Get("t/" + tokenHash)
	if !ok {
		return "", missing("the deployment has no pool token with that hash (register it first)")
	}
	rec, valid := ParseTokenRecord(kv.Value)
	if !valid || rec.Kind != TokenPool {
		return "", missing("the deployment has no pool token with that hash (it is another kind of token)")
	}
	return rec.Node, nil
}

// SetPoolMembers registers machines (machine id → instance name, such as
// "i-0abc" → "worker.7") as the members of a pool token (its hash): each
// may then exchange the pool token for its instance's agent token. Every
// instance must be one of the pool token's node that exists. A machine
// registered for an instance that had another member replaces it: the
// other machine can no longer claim the instance (its agent, if it has
// one, keeps its token until the new machine's agent exchanges, as with a
// reissued bootstrap token). Registering the same members again changes
// nothing; a machine id that is already another instance's member, or
// another pool token's, is ErrExists (remove it first).
func (c *Coordinator) SetPoolMembers(ctx context.Context, id, tokenHash string, members map[string]string) error {
	insts := make(map[string]Instance, len(members))
	byInst := make(map[Instance]string, len(members))
	for mid, name := range members {
		if err := CheckMachineID(mid); err != nil {
			return &InvalidError{err}
		}
		rec, ok := ParseTokenRecord(name)
		if !ok || rec.Kind != TokenBootstrap || rec.Instance.String() != name {
			return &InvalidError{fmt.Errorf("machine %s: %q is not an instance name (node.i, i from 1)", mid, name)}
		}
		if other, dup := byInst[rec.Instance]; dup {
			return &InvalidError{fmt.Errorf("machines %s and %s are both registered for %s: an instance has one machine", min(mid, other), max(mid, other), name)}
		}
		insts[mid], byInst[rec.Instance] = rec.Instance, mid
	}
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		node, err := poolNode(tx, tokenHash)
		if err != nil {
			return err
		}
		n := d.Nodes[node]
		for mid, inst := range insts {
			if inst.Node != node {
				return &InvalidError{fmt.Errorf("machine %s: %s is not an instance of node %s, whose pool token this is", mid, inst, node)}
			}
			if n == nil {
				return missing(fmt.Sprintf("the deployment has no node %q", node))
			}
			if inst.Index > n.Multiplicity {
				return missing(fmt.Sprintf("machine %s: no instance %s (node %s has %d instances)", mid, inst, node, n.Multiplicity))
			}
			m, found, err := getMember(tx, mid)
			if err != nil {
				return err
			}
			if found && (m.inst != inst || m.pool != tokenHash) {
				what := "instance " + m.inst.String()
				if m.inst == inst {
					what = "another pool token"
				}
				return conflict(fmt.Sprintf("machine %s is already the member of %s; remove it first", mid, what))
			}
		}
		// In a stable order, so that a commit's writes do not depend on
		// the map's.
		mids := make([]string, 0, len(insts))
		for mid := range insts {
			mids = append(mids, mid)
		}
		slices.Sort(mids)
		for _, mid := range mids {
			inst := insts[mid]
			if _, found, _ := getMember(tx, mid); found {
				continue // this member already: a retry, or exchanged since
			}
			if prev, ok := tx.Get(memberOf(inst)); ok && prev.Value != mid {
				tx.Delete(memberKey(prev.Value)) // replaced
			}
			tx.Put(memberKey(mid), member{inst: inst, pool: tokenHash}.String())
			tx.Put(memberOf(inst), mid)
		}
		return nil
	})
	return err
}

// RemovePoolMembers removes the members with these machine ids, whatever
// their pool token: the pool resource removes the machines it deleted. A
// removed machine can no longer claim its instance, and the agent token
// it exchanged, if it still acts for the instance, is revoked: the
// machine is gone, and a copy of its disk must not act for the instance.
// Machine ids that are no member are skipped, so a retry is safe.
func (c *Coordinator) RemovePoolMembers(ctx context.Context, id string, machineIDs []string) error {
	for _, mid := range machineIDs {
		if err := CheckMachineID(mid); err != nil {
			return &InvalidError{err}
		}
	}
	_, err := c.st.Update(ctx, ns(id), func(tx store.Tx) error {
		if _, err := c.spec(id, tx); err != nil {
			return err
		}
		for _, mid := range machineIDs {
			m, found, err := getMember(tx, mid)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			tx.Delete(memberKey(mid))
			if cur, ok := tx.Get(memberOf(m.inst)); ok && cur.Value == mid {
				tx.Delete(memberOf(m.inst))
			}
			if cur, ok := tx.Get(agentKey(m.inst)); ok && m.agent != "" && cur.Value == m.agent {
				tx.Delete("t/" + m.agent)
				tx.Delete(agentKey(m.inst))
			}
		}
		return nil
	})
	return err
}

// PoolMembers returns the pool members of a node's instances (machine id
// → instance name), or of every node's when node is "": how a pool
// resource that was imported learns which machine is which instance.
func (c *Coordinator) PoolMembers(ctx context.Context, id, node string) (map[string]string, error) {
	out := map[string]string{}
	_, err := c.st.View(ctx, ns(id), func(tx store.Tx) error {
		d, err := c.spec(id, tx)
		if err != nil {
			return err
		}
		prefix := "mi/"
		if node != "" {
			if d.Nodes[node] == nil {
				return missing(fmt.Sprintf("deployment %s has no node %q", id, node))
			}
			prefix += node + "."
		}
		for _, kv := range tx.List(prefix) {
			out[kv.Value] = strings.TrimPrefix(kv.Key, "mi/")
		}
		return nil
	})
	return out, err
}

// memberExchanged is ErrTokenExchanged for a pool member, saying which.
type memberExchanged struct {
	machine string
	inst    Instance
}

func (e memberExchanged) Error() string {
	return fmt.Sprintf("machine %s already exchanged the pool token for %s's agent token; the pool token is no longer valid for this machine (a machine whose state folder was lost or copied needs to be replaced: a new machine id, registered by the provider)", e.machine, e.inst)
}

func (e memberExchanged) Is(target error) bool { return target == ErrTokenExchanged }

// exchangeMember is ExchangeMachine for a pool token, inside its
// transaction.
func exchangeMember(tx store.Tx, poolHash, newHash, machineID string) (Instance, error) {
	if machineID == "" {
		return Instance{}, ErrMachineIDNeeded
	}
	if err := CheckMachineID(machineID); err != nil {
		return Instance{}, &InvalidError{err}
	}
	m, found, err := getMember(tx, machineID)
	if err != nil {
		return Instance{}, err
	}
	if !found || m.pool != poolHash {
		return Instance{}, ErrNotRegistered
	}
	if m.agent != "" {
		if m.agent == newHash && isAgentOf(tx, newHash, m.inst) {
			return m.inst, nil // the same exchange again
		}
		return Instance{}, memberExchanged{machineID, m.inst}
	}
	if _, taken := tx.Get("t/" + newHash); taken {
		return Instance{}, conflict("the agent token's hash is already in use")
	}
	grantAgent(tx, m.inst, newHash)
	m.agent = newHash
	tx.Put(memberKey(machineID), m.String())
	return m.inst, nil
}

// removeMember deletes the member of an instance scaled away.
func removeMember(tx store.Tx, inst Instance) {
	if mid, ok := tx.Get(memberOf(inst)); ok {
		tx.Delete(memberKey(mid.Value))
		tx.Delete(memberOf(inst))
	}
}

package coordinator

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Runtime parameter keys keep SlipStream's names:
//
//	node.3:key   a parameter of one instance
//	node:key     node-wide (ids, multiplicity); any other key means node.1:key
//	ss:key       deployment-wide (state, abort, ...)
//	key          inside a machine: the calling instance's own parameter
var (
	nameRE = regexp.MustCompile(`^\w[\w.-]*$`)
	nodeRE = regexp.MustCompile(`^\w+$`)
)

// nodeWide are the keys that belong to a node rather than an instance.
var nodeWide = map[string]bool{"ids": true, "multiplicity": true}

// Instance names one machine of a deployment: node "web", index 2 is web.2.
type Instance struct {
	Node  string
	Index int
}

func (i Instance) String() string { return i.Node + "." + strconv.Itoa(i.Index) }

// Key is a fully qualified runtime parameter key.
type Key struct {
	// Scope is "ss" for deployment-wide keys, a node name for node-wide
	// ones, or an instance name (node.i).
	Scope string
	Name  string
}

func (k Key) String() string { return k.Scope + ":" + k.Name }

// Instance returns the instance a key belongs to, if it is an instance key.
func (k Key) Instance() (Instance, bool) {
	node, idx, ok := strings.Cut(k.Scope, ".")
	if !ok {
		return Instance{}, false
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return Instance{}, false
	}
	return Instance{Node: node, Index: i}, true
}

// KeyError is a malformed key; the API answers it as a client error.
type KeyError struct{ Key, Reason string }

func (e *KeyError) Error() string { return fmt.Sprintf("invalid key %q: %s", e.Key, e.Reason) }

// Qualify turns a key as a script writes it into a fully qualified one, as
// seen from the calling instance (nil for the provider, which must always
// qualify its keys).
func Qualify(raw string, caller *Instance) (Key, error) {
	scope, name, hasScope := strings.Cut(raw, ":")
	if !hasScope {
		if caller == nil {
			return Key{}, &KeyError{raw, "a key without a node needs an instance to belong to"}
		}
		scope, name = caller.String(), raw
	}
	if !nameRE.MatchString(name) {
		return Key{}, &KeyError{raw, `the parameter name must match \w[\w.-]*`}
	}
	if scope == "ss" {
		return Key{Scope: "ss", Name: name}, nil
	}
	node, idx, hasIdx := strings.Cut(scope, ".")
	if !nodeRE.MatchString(node) {
		return Key{}, &KeyError{raw, `the node name must match \w+`}
	}
	if !hasIdx {
		if nodeWide[name] {
			return Key{Scope: node, Name: name}, nil
		}
		return Key{Scope: node + ".1", Name: name}, nil
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 1 || strconv.Itoa(i) != idx {
		return Key{}, &KeyError{raw, "the instance number must be a whole number from 1"}
	}
	return Key{Scope: node + "." + idx, Name: name}, nil
}

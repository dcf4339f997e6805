package csapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Ref is a reference to another object. Requests send it as the bare
// uuid ("drive": "3a75…", "pubkeys": ["fdd6…"]); answers nest it as
// {"resource_uri": "/api/2.0/drives/3a75…/", "uuid": "3a75…"} (Servers,
// "Creating", full request and answer). It reads both, and null.
type Ref struct {
	UUID        string
	ResourceURI string
}

// MarshalJSON writes the bare uuid, as requests give references.
func (r Ref) MarshalJSON() ([]byte, error) { return json.Marshal(r.UUID) }

// UnmarshalJSON reads a uuid string, a nested object or null.
func (r *Ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*r = Ref{}
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &r.UUID)
	case b[0] == '{':
		var obj struct {
			UUID        json.RawMessage `json:"uuid"`
			ResourceURI string          `json:"resource_uri"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		r.ResourceURI = obj.ResourceURI
		// IP references have the address as uuid; nothing else is a
		// number, but a number is still an id.
		r.UUID = looseString(obj.UUID)
		return nil
	}
	return fmt.Errorf("csapi: a reference is a uuid or an object, not %s", strconv.Quote(printable(b, 40)))
}

// UUIDs are the references' uuids.
func UUIDs(refs []Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.UUID)
	}
	return out
}

// Refs are references to uuids.
func Refs(uuids ...string) []Ref {
	out := make([]Ref, 0, len(uuids))
	for _, u := range uuids {
		out = append(out, Ref{UUID: u})
	}
	return out
}

// Meta is an object's meta: string keys (at most 32 characters) and
// string values (Objects' metadata field). Answers whose values are not
// strings (library drives' booleans, say) are read as the values' JSON.
type Meta map[string]string

// UnmarshalJSON reads an object of any values, or null.
func (m *Meta) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(Meta, len(raw))
	for k, v := range raw {
		out[k] = looseString(v)
	}
	*m = out
	return nil
}

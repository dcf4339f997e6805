package ec2fake

import (
	"maps"
	"slices"
	"time"
)

// XML pieces shared by several answers. Element names are EC2's
// (lowerCamel); the SDK's deserializers read them case-insensitively.

type tagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// tagSet is a tag map as EC2 lists it, sorted by key.
func tagSet(tags map[string]string) []tagXML {
	out := make([]tagXML, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, tagXML{k, tags[k]})
	}
	return out
}

type stateReasonXML struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

// timestamp is EC2's ISO 8601 form, with milliseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

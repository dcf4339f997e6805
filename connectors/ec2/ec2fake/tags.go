package ec2fake

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// EC2's tag limits.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// parseTags reads a list of Key/Value members ("Tag.N.Key",
// "Tag.N.Value") into a map, refusing keys EC2 refuses. A member without
// Value is kept with hasValue false (DeleteTags deletes any value then).
func parseTags(p params, prefix string) (tags map[string]string, hasValue map[string]bool, e *apiError) {
	ms, e := p.members(prefix)
	if e != nil {
		return nil, nil, e
	}
	tags, hasValue = map[string]string{}, map[string]bool{}
	for _, m := range ms {
		for k := range m {
			if k != "Key" && k != "Value" {
				return nil, nil, errorf(http.StatusBadRequest, "UnknownParameter", "The parameter %s.N.%s is not recognized", prefix, k)
			}
		}
		key, ok := m["Key"]
		if !ok {
			return nil, nil, missingParameter(prefix + ".N.Key")
		}
		if _, dup := tags[key]; dup {
			return nil, nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Duplicate tag key '%s' specified.", key)
		}
		if e := checkTag(key, m["Value"]); e != nil {
			return nil, nil, e
		}
		v, has := m["Value"]
		tags[key], hasValue[key] = v, has
	}
	if len(tags) > maxTags {
		return nil, nil, errorf(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of tags per resource is %d.", maxTags)
	}
	return tags, hasValue, nil
}

func checkTag(key, value string) *apiError {
	switch {
	case key == "":
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag key must not be empty.")
	case !utf8.ValidString(key) || !utf8.ValidString(value):
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag keys and values must be UTF-8.")
	case utf8.RuneCountInString(key) > maxTagKeyLen:
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag key exceeds the maximum length of %d characters.", maxTagKeyLen)
	case utf8.RuneCountInString(value) > maxTagValueLen:
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag value exceeds the maximum length of %d characters.", maxTagValueLen)
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use.")
	}
	return nil
}

// parseTagSpecs reads TagSpecification.N (ResourceType, Tag.M) into tags
// by resource type; allowed are the types the action tags.
func parseTagSpecs(p params, allowed ...string) (map[string]map[string]string, *apiError) {
	ms, e := p.members("TagSpecification")
	if e != nil {
		return nil, e
	}
	out := map[string]map[string]string{}
	for _, m := range ms {
		for k := range m {
			if k != "ResourceType" && !strings.HasPrefix(k, "Tag.") {
				return nil, errorf(http.StatusBadRequest, "UnknownParameter", "The parameter TagSpecification.N.%s is not recognized", k)
			}
		}
		rt := m["ResourceType"]
		if rt == "" {
			return nil, missingParameter("TagSpecification.N.ResourceType")
		}
		if !slices.Contains(allowed, rt) {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
		}
		if _, dup := out[rt]; dup {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The tag specification for resource type '%s' is given more than once.", rt)
		}
		tags, _, e := parseTags(m, "Tag")
		if e != nil {
			return nil, e
		}
		out[rt] = tags
	}
	return out, nil
}

// taggable is what CreateTags and DeleteTags change: one resource's tags.
type taggable struct {
	get func() map[string]string
	set func(map[string]string) *apiError
}

// resource finds a resource by id for tagging; the id's prefix says its
// kind. s.mu is held.
func (s *Server) resource(id string) (taggable, *apiError) {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "i":
		if !validID("i", id) {
			return taggable{}, malformedInstanceID(id)
		}
		m, err := s.cloud.Machine(id)
		if err != nil || m.State == fakecloud.Terminated {
			return taggable{}, instanceNotFound(id)
		}
		return taggable{
			get: func() map[string]string { return m.Labels },
			set: func(tags map[string]string) *apiError {
				change := map[string]string{}
				for k := range m.Labels {
					if _, keep := tags[k]; !keep {
						change[k] = "" // fakecloud deletes a label set to ""
					}
				}
				maps.Copy(change, tags)
				if err := s.cloud.SetLabels(id, change); errors.Is(err, fakecloud.ErrNotFound) {
					return instanceNotFound(id)
				} else if err != nil {
					return cloudError(err)
				}
				return nil
			},
		}, nil
	case "ami":
		if !validID("ami", id) {
			return taggable{}, malformedImageID(id)
		}
		img, err := s.cloud.Image(id)
		if err != nil {
			return taggable{}, imageNotFound(id)
		}
		return taggable{
			get: func() map[string]string { return s.imageTagsOf(img) },
			set: func(tags map[string]string) *apiError { s.imageTags[id] = tags; return nil },
		}, nil
	case "snap":
		snap, ok := s.snapshots[id]
		if !ok {
			return taggable{}, snapshotNotFound(id)
		}
		return taggable{
			get: func() map[string]string { return snap.Tags },
			set: func(tags map[string]string) *apiError { snap.Tags = tags; return nil },
		}, nil
	case "key":
		for _, k := range s.cloud.Keys() {
			if k.ID == id {
				meta := s.keyMeta(k.Name)
				return taggable{
					get: func() map[string]string { return meta.Tags },
					set: func(tags map[string]string) *apiError { meta.Tags = tags; return nil },
				}, nil
			}
		}
		return taggable{}, errorf(http.StatusBadRequest, "InvalidKeyPair.NotFound", "The key pair ID '%s' does not exist", id)
	}
	return taggable{}, errorf(http.StatusBadRequest, "InvalidID", "The ID '%s' is not valid", id)
}

// tagResources applies change to the tags of every resource, after
// finding them all: an unknown one fails the call and changes nothing.
func (s *Server) tagResources(p params, change func(tags map[string]string) map[string]string) *apiError {
	ids, e := p.strings("ResourceId")
	if e != nil {
		return e
	}
	if len(ids) == 0 {
		return missingParameter("ResourceId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []taggable
	for _, id := range ids {
		r, e := s.resource(id)
		if e != nil {
			return e
		}
		found = append(found, r)
	}
	for _, r := range found {
		tags := change(maps.Clone(r.get()))
		if len(tags) > maxTags {
			return errorf(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of tags per resource is %d.", maxTags)
		}
		if e := r.set(tags); e != nil {
			return e
		}
	}
	return nil
}

var createTagsAction = action{
	params: []string{"ResourceId", "Tag"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		tags, _, e := parseTags(p, "Tag")
		if e != nil {
			return nil, e
		}
		if len(tags) == 0 {
			return nil, missingParameter("Tag")
		}
		e = s.tagResources(p, func(cur map[string]string) map[string]string {
			if cur == nil {
				cur = map[string]string{}
			}
			maps.Copy(cur, tags)
			return cur
		})
		if e != nil {
			return nil, e
		}
		return &returnResponse{Return: true}, nil
	},
}

var deleteTagsAction = action{
	params: []string{"ResourceId", "Tag"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		tags, hasValue, e := parseTags(p, "Tag")
		if e != nil {
			return nil, e
		}
		e = s.tagResources(p, func(cur map[string]string) map[string]string {
			if len(tags) == 0 {
				return map[string]string{} // no Tag: every tag goes
			}
			for k, v := range tags {
				if have, ok := cur[k]; ok && (!hasValue[k] || have == v) {
					delete(cur, k)
				}
			}
			return cur
		})
		if e != nil {
			return nil, e
		}
		return &returnResponse{Return: true}, nil
	},
}

// returnResponse is the answer of actions that only say they succeeded.
type returnResponse struct {
	Return bool `xml:"return"`
}

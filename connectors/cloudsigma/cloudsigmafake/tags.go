package cloudsigmafake

import (
	"maps"
	"net/http"
	"slices"
	"sort"
)

// tag groups servers and drives (Tags).
type tag struct {
	uuid      string
	name      string
	meta      map[string]string
	resources []string
}

func (t *tag) add(id string) {
	if !slices.Contains(t.resources, id) {
		t.resources = append(t.resources, id)
	}
}

// untag takes a resource out of every tag; f.mu is held.
func (f *Fake) untag(id string) {
	for _, t := range f.tags {
		t.resources = slices.DeleteFunc(t.resources, func(r string) bool { return r == id })
	}
}

// tagRefs are the tags of a resource as answers nest them; f.mu is held.
func (f *Fake) tagRefs(id string) []any {
	var ids []string
	for _, t := range f.tags {
		if slices.Contains(t.resources, id) {
			ids = append(ids, t.uuid)
		}
	}
	sort.Strings(ids)
	out := []any{}
	for _, t := range ids {
		out = append(out, refJSON("tags", t))
	}
	return out
}

// tagMatches applies a list's "tag" filter (a tag's uuid) to a resource;
// f.mu is held.
func (f *Fake) tagMatches(filters map[string][]string, id string) bool {
	vs, ok := filters["tag"]
	if !ok {
		return true
	}
	for _, v := range vs {
		if t := f.tags[v]; t != nil && slices.Contains(t.resources, id) {
			return true
		}
	}
	return false
}

// resourceType is the res_type of a resource of the account, "" when
// the fake has no such resource; f.mu is held.
func (f *Fake) resourceType(id string) string {
	switch {
	case f.servers[id] != nil:
		return "servers"
	case f.drives[id] != nil:
		return "drives"
	}
	return ""
}

// tagJSON is a tag as the reference's dumps give it.
func (f *Fake) tagJSON(t *tag) map[string]any {
	res := []any{}
	for _, id := range t.resources {
		typ := f.resourceType(id)
		if typ == "" {
			continue
		}
		res = append(res, map[string]any{"owner": f.ownerJSON(), "res_type": typ, "resource_uri": uri(typ, id), "uuid": id})
	}
	return map[string]any{"meta": orEmpty(t.meta), "name": t.name, "owner": f.ownerJSON(), "resource_uri": uri("tags", t.uuid),
		"resources": res, "uuid": t.uuid}
}

func listTags(f *Fake, c *call) (int, any, error) {
	p, filters, aerr := listQuery(c, "name", "uuid")
	if aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := slices.Collect(maps.Values(f.tags))
	sort.Slice(ts, func(i, j int) bool { return ts[i].uuid < ts[j].uuid })
	var all []any
	for _, t := range ts {
		if matches(filters, "name", t.name) && matches(filters, "uuid", t.uuid) {
			all = append(all, f.tagJSON(t))
		}
	}
	return http.StatusOK, listAnswer(p, all), nil
}

func getTag(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tags[c.id]
	if t == nil {
		return 0, nil, errNotExist("Tag", c.id)
	}
	return http.StatusOK, f.tagJSON(t), nil
}

func deleteTag(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tags[c.id] == nil {
		return 0, nil, errNotExist("Tag", c.id)
	}
	delete(f.tags, c.id)
	return http.StatusNoContent, nil, nil
}

type tagBody struct {
	Name      *string        `json:"name"`
	Resources *[]ref         `json:"resources"`
	Meta      map[string]any `json:"meta"`
}

// tagOf checks a tag's definition; f.mu is held.
func (f *Fake) tagOf(b tagBody, t *tag) *apiError {
	if b.Name != nil {
		t.name = *b.Name
	}
	if t.name == "" {
		return errValidation("name", "This field is required.")
	}
	if b.Meta != nil {
		meta, aerr := stringMeta("meta", b.Meta)
		if aerr != nil {
			return aerr
		}
		t.meta = meta
	}
	if b.Resources != nil {
		t.resources = nil
		for _, r := range *b.Resources {
			if f.resourceType(string(r)) == "" {
				return errValidation("resources", "Resource %s does not exist", r)
			}
			t.add(string(r))
		}
	}
	return nil
}

// createTags answers POST /tags/, with resources or without (Tags,
// "Creating").
func createTags(f *Fake, c *call) (int, any, error) {
	raws, aerr := objectsOf(c.body)
	if aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var made []*tag
	for _, raw := range raws {
		var b tagBody
		if aerr := decodeObject(raw, &b); aerr != nil {
			return 0, nil, aerr
		}
		t := &tag{uuid: NewUUID()}
		if aerr := f.tagOf(b, t); aerr != nil {
			return 0, nil, aerr
		}
		made = append(made, t)
	}
	out := make([]any, 0, len(made))
	for _, t := range made {
		f.tags[t.uuid] = t
		out = append(out, f.tagJSON(t))
	}
	return http.StatusCreated, map[string]any{"objects": out}, nil
}

// updateTag answers PUT /tags/{uuid}/: the resources list given replaces
// the tag's (Tags, "Editing").
func updateTag(f *Fake, c *call) (int, any, error) {
	var b tagBody
	if aerr := decodeObject(c.body, &b); aerr != nil {
		return 0, nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tags[c.id]
	if t == nil {
		return 0, nil, errNotExist("Tag", c.id)
	}
	next := &tag{uuid: t.uuid, name: t.name, meta: t.meta, resources: slices.Clone(t.resources)}
	if aerr := f.tagOf(b, next); aerr != nil {
		return 0, nil, aerr
	}
	*t = *next
	return http.StatusOK, f.tagJSON(t), nil
}

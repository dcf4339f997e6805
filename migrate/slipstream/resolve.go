package slipstream

import (
	"fmt"
	"sort"
	"strings"
)

// index holds every module read, by name, to resolve references among
// the files given: moduleReferenceUri (an image's parent) and imageUri (a
// deployment's node), each with or without a version.
type index struct {
	// byName lists each module's versions, highest first; a module given
	// as a file of its own comes before a copy embedded in a deployment.
	byName map[string][]*Module
	notes  *notes
}

func newIndex(mods []*Module, n *notes) *index {
	ix := &index{byName: map[string][]*Module{}, notes: n}
	for _, m := range mods {
		ix.byName[m.Name] = append(ix.byName[m.Name], m)
	}
	for name, ms := range ix.byName {
		sort.SliceStable(ms, func(i, j int) bool {
			if ms[i].Version != ms[j].Version {
				return ms[i].Version > ms[j].Version
			}
			return !ms[i].Embedded && ms[j].Embedded
		})
		// Two files of the same version of a module: the first is used.
		kept := ms[:1]
		for _, m := range ms[1:] {
			last := kept[len(kept)-1]
			if m.Version == last.Version && m.Kind == last.Kind {
				if !m.Embedded && !last.Embedded {
					n.add(last, "also given as %s; the copy in %s is used", m.File, last.File)
				}
				continue
			}
			kept = append(kept, m)
		}
		ix.byName[name] = kept
	}
	return ix
}

// resolve finds the module a reference names among the files given. A
// versioned reference takes that version, or, when the files hold another
// version only, the latest of them (with a note: the version history is not
// imported). An unversioned one takes the latest.
func (ix *index) resolve(from *Module, r *Ref, kind string) (*Module, *Error) {
	var candidates []*Module
	for _, m := range ix.byName[r.Name] {
		if m.Kind == kind {
			candidates = append(candidates, m)
		}
	}
	if len(candidates) == 0 {
		what := map[string]string{"image": "image module"}[kind]
		msg := fmt.Sprintf("%s %s refers to %s %q, which is not among the files given: add its export (ss-module-download %s)", from.kindName(), from.Name, what, r.String(), r.Name)
		if others := ix.byName[r.Name]; len(others) > 0 {
			msg = fmt.Sprintf("%s %s refers to %q as an %s, but the files give it as a %s module", from.kindName(), from.Name, r.String(), what, others[0].Kind)
		}
		e := errorAt(from.File, r.el, "%s", msg)
		if r.attr != "" && r.attr != "image" {
			e.Path += "/@" + r.attr
		}
		return nil, e
	}
	if r.Version == 0 {
		for _, m := range candidates {
			if m.Latest && !m.Embedded {
				return m, nil
			}
		}
		return candidates[0], nil
	}
	for _, m := range candidates {
		if m.Version == r.Version {
			return m, nil
		}
	}
	got := candidates[0]
	ix.notes.add(from, "refers to %s version %d, which is not among the files given; version %d (from %s) is used", r.Name, r.Version, got.Version, got.File)
	return got, nil
}

func (m *Module) kindName() string {
	switch m.Kind {
	case "deployment":
		return "deployment"
	case "project":
		return "project"
	}
	return "image"
}

// chain returns an image's parent chain, root first, ending with the image
// itself. A parent missing from the files or a loop is an error.
func (ix *index) chain(m *Module) ([]*Module, *Error) {
	out := []*Module{m}
	seen := map[*Module]bool{m: true}
	for cur := m; cur.Parent != nil; {
		p, err := ix.resolve(cur, cur.Parent, "image")
		if err != nil {
			return nil, err
		}
		if seen[p] {
			names := []string{p.Name}
			for _, c := range out {
				names = append(names, c.Name)
				if c == p {
					break
				}
			}
			return nil, errorAt(m.File, m.el, "the parent chain of image %s loops: %s", m.Name, strings.Join(names, " → "))
		}
		seen[p] = true
		out = append([]*Module{p}, out...)
		cur = p
	}
	return out, nil
}

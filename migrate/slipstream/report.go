package slipstream

import (
	"fmt"
	"sort"
	"strings"
)

// noteKind sorts what the report says about a module.
type noteKind int

const (
	// noteChanged: carried over, but not as it was (an output's preset
	// value now set by a script, a mapping from another instance).
	noteChanged noteKind = iota
	// noteDropped: SlipStream had it, a recipe has no equivalent (sharing
	// rights, commit comments, the version history, Windows-only parts).
	noteDropped
	// noteTodo: the recipe needs it filled in before it can be compiled.
	noteTodo
)

type note struct {
	mod  *Module
	kind noteKind
	text string
}

// notes collects what the import says about each module, for the report
// printed at the end and for the comments above each block.
type notes struct {
	list []*note
}

func (n *notes) addKind(m *Module, kind noteKind, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	for _, nt := range n.list {
		if nt.mod == m && nt.kind == kind && nt.text == text {
			return // the same fact reached twice (a parent shared by two components)
		}
	}
	n.list = append(n.list, &note{mod: m, kind: kind, text: text})
}

func (n *notes) add(m *Module, format string, args ...any) {
	n.addKind(m, noteChanged, format, args...)
}

func (n *notes) dropped(m *Module, format string, args ...any) {
	n.addKind(m, noteDropped, format, args...)
}

func (n *notes) todo(m *Module, format string, args ...any) {
	n.addKind(m, noteTodo, format, args...)
}

// of lists a module's notes of the given kinds, in the order they were
// made (the conversion walks everything in a fixed order).
func (n *notes) of(m *Module, kinds ...noteKind) []string {
	var out []string
	for _, nt := range n.list {
		if nt.mod != m {
			continue
		}
		for _, k := range kinds {
			if nt.kind == k {
				out = append(out, nt.text)
				break
			}
		}
	}
	return out
}

// Report is what an import did: which module became which blocks, what
// must be filled in, what changed on the way and what has no equivalent.
type Report struct {
	Inputs []string
	// Imported lists each module with the blocks it became.
	Imported []ImportedModule
	// Skipped lists inputs that hold nothing to import (project modules).
	Skipped []string
	// Todo lists the clouds (and anything else) to fill in.
	Todo []string
	// Changed and Dropped are per module: carried over differently, and
	// not carried over (no equivalent).
	Changed []ModuleNotes
	Dropped []ModuleNotes
	// Files are the files written, relative to the output folder.
	Files []string
}

// ImportedModule is one SlipStream module and what it became.
type ImportedModule struct {
	Module string // name and version
	File   string
	Blocks []string // e.g. `image "apache"`, `component "apache"`
}

// ModuleNotes are the notes about one module.
type ModuleNotes struct {
	Module string
	Notes  []string
}

// String renders the report as the text slipc import prints.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Imported %d SlipStream module%s from %d file%s.\n", len(r.Imported), plural(len(r.Imported)), len(r.Inputs), plural(len(r.Inputs)))
	if len(r.Imported) > 0 {
		b.WriteString("\nModules and the blocks they became:\n")
		for _, im := range r.Imported {
			fmt.Fprintf(&b, "  %s, from %s\n      → %s\n", im.Module, im.File, strings.Join(im.Blocks, ", "))
		}
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\nNothing to import:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	if len(r.Todo) > 0 {
		b.WriteString("\nTo fill in (slipc validate warns and slipc compile refuses until it is done):\n")
		for _, t := range r.Todo {
			writeItem(&b, "  ", t)
		}
	}
	section := func(title string, list []ModuleNotes) {
		if len(list) == 0 {
			return
		}
		b.WriteString("\n" + title + "\n")
		for _, mn := range list {
			fmt.Fprintf(&b, "  %s:\n", mn.Module)
			for _, n := range mn.Notes {
				writeItem(&b, "    ", n)
			}
		}
	}
	section("Carried over with a change:", r.Changed)
	section("Not imported, with no equivalent in a recipe (also written as comments in the recipe):", r.Dropped)
	return b.String()
}

// writeItem writes one list item, wrapped, at the given indent.
func writeItem(b *strings.Builder, indent, text string) {
	for i, line := range wrap(text, 100-len(indent)-2) {
		if i == 0 {
			fmt.Fprintf(b, "%s- %s\n", indent, line)
		} else {
			fmt.Fprintf(b, "%s  %s\n", indent, line)
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// wrap breaks text into lines of at most width characters at spaces (a
// longer word stays whole); the text's own newlines are kept.
func wrap(text string, width int) []string {
	var out []string
	for _, para := range strings.Split(text, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			out = append(out, "")
			continue
		}
		line := words[0]
		for _, w := range words[1:] {
			if len([]rune(line))+1+len([]rune(w)) > width {
				out = append(out, line)
				line = w
				continue
			}
			line += " " + w
		}
		out = append(out, line)
	}
	return out
}

// moduleLabel names a module in the report: its name and version.
func moduleLabel(m *Module) string {
	if m.Version > 0 {
		return fmt.Sprintf("%s (version %d)", m.Name, m.Version)
	}
	return m.Name
}

// buildReport gathers the notes per module, in module order.
func (n *notes) buildReport(mods []*Module, r *Report) {
	sorted := append([]*Module(nil), mods...)
	sort.SliceStable(sorted, func(i, j int) bool { return moduleLabel(sorted[i]) < moduleLabel(sorted[j]) })
	for _, m := range sorted {
		if c := n.of(m, noteChanged); len(c) > 0 {
			r.Changed = append(r.Changed, ModuleNotes{Module: moduleLabel(m), Notes: c})
		}
		if d := n.of(m, noteDropped); len(d) > 0 {
			r.Dropped = append(r.Dropped, ModuleNotes{Module: moduleLabel(m), Notes: d})
		}
	}
}

// Package slipstream imports SlipStream module exports (the XML that
// ss-module-download and the web UI's export wrote: imageModule and
// deploymentModule documents) as a recipe folder that slipc validate
// accepts.
//
// The import reads every file given, resolves the references between
// the modules (an image's parent, a deployment node's image, pinned to a
// version or not) among them, and writes:
//
//   - an image block per image module: native ids per cloud, login user,
//     platform, parent, packages, pre_install (SlipStream's prerecipe) and
//     post_install (its recipe), generic sizing, input and output
//     parameters;
//   - a component per image a node uses or that has deployment targets:
//     the targets of its whole chain (execute, report, onvmadd,
//     onvmremove) as script files beside the recipe;
//   - a deployment per deployment module, its nodes with their
//     multiplicity, tolerated provisioning failures and parameter
//     mappings;
//   - a cloud block to fill in per SlipStream cloud service (its todo line
//     makes slipc validate warn and slipc compile refuse until it is done).
//
// What has no equivalent (sharing rights, commit comments, the version
// history, Windows-only scripts, …) is listed in the Report and in comments
// above the blocks, never dropped silently. The same inputs give the same
// bytes, formatted as slipc fmt would. docs/migrating-from-slipstream.md
// has the element-by-element mapping.
package slipstream

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Input is one export: its name (the path given, for messages) and bytes.
type Input struct {
	Name string
	Data []byte
	// FromFolder marks a file found in a folder given on the command line
	// rather than named itself: a folder of exports may hold other XML
	// files (a build's pom.xml), which are skipped, not refused.
	FromFolder bool
}

// maxInputSize bounds one export file. The largest real exports (an
// application with its images embedded) are a few hundred kilobytes.
const maxInputSize = 64 << 20

// ReadInputs reads the files named and every *.xml file under the
// folders named (ss-module-download writes a folder per project unless
// --flat), in a stable order.
func ReadInputs(paths []string) ([]Input, error) {
	var inputs []Input
	seen := map[string]bool{}
	read := func(path string, fromFolder bool) error {
		clean := filepath.Clean(path)
		if seen[clean] {
			return nil
		}
		seen[clean] = true
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		if st.Size() > maxInputSize {
			return fmt.Errorf("%s: %d bytes is more than a SlipStream module export holds (at most %d MiB are read)", path, st.Size(), maxInputSize>>20)
		}
		data, err := os.ReadFile(path) // #nosec G304 -- an export the user named, or found in a folder they named
		if err != nil {
			return err
		}
		inputs = append(inputs, Input{Name: path, Data: data, FromFolder: fromFolder})
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if err := read(p, false); err != nil {
				return nil, err
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".xml") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.xml files (SlipStream module exports) in this folder", p)
		}
		sort.Strings(found)
		for _, f := range found {
			if err := read(f, true); err != nil {
				return nil, err
			}
		}
	}
	return inputs, nil
}

// Result is an import's recipe folder, in memory, and its report.
type Result struct {
	// Files are the files of the recipe folder by slash-separated path:
	// *.slip.hcl files and scripts/<block>/<target>.sh.
	Files  map[string][]byte
	Report *Report
}

// Import converts the exports into a recipe. Problems with the inputs
// (malformed XML, a reference to a module not given, …) are returned
// together as Errors, each with its file, line and element path.
func Import(inputs []Input) (*Result, error) {
	var errs Errors
	var top []*Module
	report := &Report{}
	for _, in := range inputs {
		report.Inputs = append(report.Inputs, in.Name)
		root, err := parseXML(in.Name, in.Data)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				errs = append(errs, e)
			} else {
				errs = append(errs, &Error{File: in.Name, Msg: err.Error()})
			}
			continue
		}
		switch root.name {
		case "imageModule", "deploymentModule", "projectModule":
		default:
			if in.FromFolder {
				report.Skipped = append(report.Skipped, fmt.Sprintf("%s: not a SlipStream module export (its root element is <%s>)", in.Name, root.name))
				continue
			}
		}
		m := readModule(in.Name, root, false, &errs)
		if m == nil {
			continue
		}
		if m.Kind == "project" {
			report.Skipped = append(report.Skipped, fmt.Sprintf("%s: project %s, a folder of modules in SlipStream (a recipe folder holds its blocks)", in.Name, m.Name))
			continue
		}
		top = append(top, m)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(top) == 0 {
		return nil, Errors{{File: strings.Join(report.Inputs, ", "), Msg: "no image or deployment module among the files given"}}
	}
	all := append([]*Module(nil), top...)
	for _, m := range top {
		for _, n := range m.Nodes {
			if n.Embedded != nil {
				all = append(all, n.Embedded)
			}
		}
	}
	nt := &notes{}
	cv := &converter{
		ix: newIndex(all, nt), notes: nt,
		rec:   &recipe{scripts: map[string]string{}},
		names: map[*Module]string{}, chains: map[*Module][]*Module{}, components: map[*Module]bool{},
		clouds: map[string]string{}, varNames: map[string]bool{}, blocks: map[*Module][]string{},
		disallow: map[*Parameter]bool{},
	}
	cv.convert(top)
	if len(cv.errs) > 0 {
		return nil, dedupeErrors(cv.errs)
	}
	converted := append([]*Module(nil), cv.images...)
	for _, m := range top {
		if m.Kind == "deployment" {
			converted = append(converted, m)
		}
	}
	sort.SliceStable(converted, func(i, j int) bool { return moduleLabel(converted[i]) < moduleLabel(converted[j]) })
	for _, m := range converted {
		report.Imported = append(report.Imported, ImportedModule{Module: moduleLabel(m), File: sourceName(m), Blocks: cv.blocks[m]})
	}
	for _, c := range cv.rec.clouds {
		report.Todo = append(report.Todo, fmt.Sprintf("cloud %q (%s): %s", c.name, cloudsFile, c.todo))
	}
	for _, m := range converted {
		for _, t := range nt.of(m, noteTodo) {
			report.Todo = append(report.Todo, m.Name+": "+t)
		}
	}
	nt.buildReport(converted, report)
	// The notes of each module become comments above its first block.
	for _, im := range cv.rec.images {
		for _, m := range cv.images {
			if cv.names[m] == im.name {
				im.comments = appendNoteComments(im.comments, nt, m)
			}
		}
	}
	for _, d := range cv.rec.deployments {
		for _, m := range top {
			if m.Kind == "deployment" && cv.names[m] == d.name {
				d.comments = appendNoteComments(d.comments, nt, m)
			}
		}
	}
	files := render(cv.rec, header(inputs))
	for p := range files {
		report.Files = append(report.Files, p)
	}
	sort.Strings(report.Files)
	return &Result{Files: files, Report: report}, nil
}

// sourceName is the file a module came from, as comments name it (its
// base name, so a recipe does not depend on where the exports were).
func sourceName(m *Module) string {
	name := filepath.Base(m.File)
	if m.Embedded {
		name += ", inside a deployment"
	}
	return name
}

func appendNoteComments(comments []string, nt *notes, m *Module) []string {
	if c := nt.of(m, noteTodo); len(c) > 0 {
		comments = append(comments, "To do:")
		for _, t := range c {
			comments = append(comments, "  - "+t)
		}
	}
	if c := nt.of(m, noteChanged); len(c) > 0 {
		comments = append(comments, "Changed in the import:")
		for _, t := range c {
			comments = append(comments, "  - "+t)
		}
	}
	if d := nt.of(m, noteDropped); len(d) > 0 {
		comments = append(comments, "Not imported (no equivalent in a recipe):")
		for _, t := range d {
			comments = append(comments, "  - "+t)
		}
	}
	return comments
}

func header(inputs []Input) []string {
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = filepath.Base(in.Name)
	}
	sort.Strings(names)
	return []string{
		"Imported by slipc import slipstream from " + strings.Join(names, ", ") + ".",
		"The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and",
		"slipc compile refuses until they are. See docs/migrating-from-slipstream.md.",
	}
}

// dedupeErrors drops an error reported twice (a missing parent reached
// from two images).
func dedupeErrors(errs Errors) Errors {
	seen := map[string]bool{}
	var out Errors
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// ErrNotEmpty is returned by Write for an output folder that already
// holds files, unless force is set.
var ErrNotEmpty = errors.New("the output folder is not empty")

// Write writes the recipe folder to dir, creating it. A folder that exists
// and is not empty is refused unless force is set; with force, the
// import's files replace files of the same path and other files are left
// alone.
func (r *Result) Write(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0 && !force:
		return fmt.Errorf("%s: %w (use -force to write the import into it)", dir, ErrNotEmpty)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	paths := make([]string, 0, len(r.Files))
	for p := range r.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !filepath.IsLocal(filepath.FromSlash(p)) {
			return fmt.Errorf("refusing to write %q outside %s", p, dir)
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "scripts/") {
			mode = 0o755
		}
		if err := os.WriteFile(full, r.Files[p], mode); err != nil { // #nosec G306 -- the user's recipe files: scripts are executable and read by the agent like any recipe file, nothing in them is secret (secrets are left out of the recipe)
			return err
		}
		if err := os.Chmod(full, mode); err != nil { // an existing file keeps its mode through WriteFile
			return err
		}
	}
	return nil
}

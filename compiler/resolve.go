package compiler

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/slipstream/terraform-provider-slipstream/compiler/internal/didyoumean"
	"github.com/slipstream/terraform-provider-slipstream/compiler/waitgraph"
)

// Program is a loaded and resolved recipe: the root folder, every folder it
// imports, and the references between their blocks turned into pointers.
type Program struct {
	Root *Module
	// Modules lists the root first, then each import once, in the order they
	// were reached.
	Modules []*Module
	// Variables are the deploy-time variables of every module; an import's
	// variable of the same name as the root's is the root's (root wins, as a
	// deploy-time override does).
	Variables map[string]*Variable
	// Parser holds every file read, for rendering diagnostics with source.
	Parser *hclparse.Parser

	opts    Options
	evalCtx map[*Module]*hcl.EvalContext
	// scriptCache holds each script's located text for the wait-graph
	// analysis, shared by every node of a component.
	scriptCache map[*Script]*waitgraph.Script
}

// Options tune loading.
type Options struct {
	// Imports fetches imported recipe folders; nil allows local imports only.
	Imports ImportResolver

	// plannedConnectors lets clouds use connectors the provider does not
	// have yet (catalog.Connector.Implemented false). Only the compiler's
	// own tests set it, so the emitter's output for those connectors stays
	// under golden tests until their resources land; a user cannot.
	plannedConnectors bool
}

// ImportResolver turns an import's source into a local folder. The git
// implementation pins what it fetched in the lock file.
type ImportResolver interface {
	Resolve(fromDir string, imp *Import) (dir string, diags hcl.Diagnostics)
	// Confinement is the folder the files of the recipe in dir (a folder
	// Resolve returned) must stay inside: the tree of the repository it
	// was fetched from, or "" for a recipe on the local disk.
	Confinement(dir string) string
}

// Load reads the recipe at path with everything it imports and resolves
// references. It returns a Program even with errors, so callers can report
// every diagnostic at once.
func Load(path string, opts Options) (*Program, hcl.Diagnostics) {
	p := &Program{Parser: hclparse.NewParser(), opts: opts, Variables: map[string]*Variable{}, evalCtx: map[*Module]*hcl.EvalContext{}}
	root, diags := loadModule(p.Parser, path, "")
	if root == nil {
		return nil, diags
	}
	p.Root = root
	p.Modules = append(p.Modules, root)
	abs, _ := filepath.Abs(root.Dir)
	diags = append(diags, p.loadImports(root, []string{abs})...)
	p.mergeVariables()
	diags = append(diags, p.resolveReferences()...)
	return p, fixRanges(diags)
}

// LoadSource is Load for one recipe file held in memory (the fuzz target
// and editors use it); imports and file() resolve against filename's folder.
func LoadSource(src []byte, filename string, opts Options) (*Program, hcl.Diagnostics) {
	p := &Program{Parser: hclparse.NewParser(), opts: opts, Variables: map[string]*Variable{}, evalCtx: map[*Module]*hcl.EvalContext{}}
	root := newModule(filepath.Dir(filename), "")
	f, diags := ParseFile(p.Parser, src, filename)
	if f != nil && f.Body != nil {
		diags = append(diags, decodeFile(root, f.Body)...)
	}
	p.Root = root
	p.Modules = append(p.Modules, root)
	abs, _ := filepath.Abs(root.Dir)
	diags = append(diags, p.loadImports(root, []string{abs})...)
	p.mergeVariables()
	diags = append(diags, p.resolveReferences()...)
	return p, fixRanges(diags)
}

// loadImports loads m's imports depth-first. chain holds the folders on the
// current import path, to report an import cycle instead of looping.
func (p *Program) loadImports(m *Module, chain []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range sortedKeys(m.Imports) {
		imp := m.Imports[name]
		if imp.Source == "" {
			continue
		}
		var dir string
		var d hcl.Diagnostics
		if p.opts.Imports != nil {
			dir, d = p.opts.Imports.Resolve(m.Dir, imp)
		} else {
			dir, d = LocalImport(m.Dir, imp)
		}
		diags = append(diags, d...)
		if d.HasErrors() || dir == "" {
			continue
		}
		abs, _ := filepath.Abs(dir)
		for i, c := range chain {
			if c == abs {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Import cycle",
					Detail:  fmt.Sprintf("Import %q brings in %s, which is already being imported on this path: %s.", name, dir, strings.Join(append(chain[i:], abs), " → ")),
					Subject: imp.SourceRange.Ptr(), Context: imp.DeclRange.Ptr(),
				})
				abs = ""
				break
			}
		}
		if abs == "" {
			continue
		}
		prefix := name
		if m.Prefix != "" {
			prefix = m.Prefix + "." + name
		}
		sub, d := loadModule(p.Parser, dir, prefix)
		diags = append(diags, d...)
		if sub == nil {
			continue
		}
		sub.Confine = m.Confine
		if p.opts.Imports != nil {
			if c := p.opts.Imports.Confinement(dir); c != "" {
				sub.Confine = c
			}
		}
		imp.Module = sub
		p.Modules = append(p.Modules, sub)
		diags = append(diags, p.loadImports(sub, append(chain, abs))...)
	}
	return diags
}

// LocalImport resolves a local-path import against the importing folder.
func LocalImport(fromDir string, imp *Import) (string, hcl.Diagnostics) {
	src := imp.Source
	if !(strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") || filepath.IsAbs(src)) {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Unsupported import source",
			Detail:  fmt.Sprintf("Import source %q is not a local path (./…, ../… or absolute), and remote imports are not enabled here.", src),
			Subject: imp.SourceRange.Ptr(), Context: imp.DeclRange.Ptr(),
		}}
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(fromDir, src)
	}
	return src, nil
}

func (p *Program) mergeVariables() {
	// Imports first, root last, so that the root's declaration wins.
	for i := len(p.Modules) - 1; i >= 0; i-- {
		for name, v := range p.Modules[i].Variables {
			p.Variables[name] = v
		}
	}
}

// resolveReferences links parents, component images, and nodes' components
// and clouds, and reports unknown names and inheritance cycles.
func (p *Program) resolveReferences() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, m := range p.Modules {
		// link resolves one reference and hands the target to set.
		link := func(expr hcl.Expression, kind, attr string, set func(any)) {
			if expr == nil {
				return
			}
			target, d := resolveRef(m, expr, kind, attr)
			diags = append(diags, d...)
			if target != nil {
				set(target)
			}
		}
		for _, name := range sortedKeys(m.Images) {
			im := m.Images[name]
			link(im.ParentExpr, "image", "parent", func(t any) { im.Parent = t.(*Image) })
		}
		for _, name := range sortedKeys(m.Components) {
			c := m.Components[name]
			link(c.ImageExpr, "image", "image", func(t any) { c.Image = t.(*Image) })
		}
		for _, dname := range sortedKeys(m.Deployments) {
			for _, n := range m.Deployments[dname].Nodes {
				link(n.ComponentExpr, "component", "component", func(t any) { n.Component = t.(*Component) })
				link(n.CloudExpr, "cloud", "cloud", func(t any) { n.Cloud = t.(*Cloud) })
			}
		}
	}
	diags = append(diags, p.checkInheritanceCycles()...)
	return diags
}

// resolveRef resolves a reference written kind.name, or import.<i>.kind.name
// for a block of an imported folder.
func resolveRef(m *Module, expr hcl.Expression, kind, attr string) (any, hcl.Diagnostics) {
	rng := expr.Range()
	if isErrorExpr(expr) {
		return nil, nil // a syntax error, reported by the parser
	}
	trav, td := hcl.AbsTraversalForExpr(expr)
	if td.HasErrors() {
		detail := fmt.Sprintf("The %s argument takes a reference to a %s block, written %s.<name> (or import.<import>.%s.<name>).", attr, kind, kind, kind)
		if s, ok := staticKey(expr); ok && hcl.ExprAsKeyword(expr) == "" {
			detail += fmt.Sprintf(" Write %s.%s without quotes.", kind, s)
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s reference", kind), Detail: detail, Subject: &rng}}
	}
	names := traversalNames(trav)
	scope := m
	where := "this recipe folder"
	if len(names) >= 2 && names[0] == "import" {
		imp, ok := m.Imports[names[1]]
		if !ok {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError, Summary: "Reference to undeclared import",
				Detail:  fmt.Sprintf("No import named %q is declared in this recipe folder.%s", names[1], didyoumean.Hint(names[1], sortedKeys(m.Imports))),
				Subject: &rng,
			}}
		}
		if imp.Module == nil {
			return nil, nil // the import itself failed and was reported
		}
		scope, names = imp.Module, names[2:]
		where = fmt.Sprintf("import %q (%s)", imp.Name, imp.Source)
	}
	if len(names) != 2 || names[0] != kind {
		hint := ""
		if len(names) == 1 {
			hint = fmt.Sprintf(" Did you mean %s.%s?", kind, names[0])
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s reference", kind),
			Detail:  fmt.Sprintf("The %s argument takes a reference to a %s block, written %s.<name> (or import.<import>.%s.<name>).%s", attr, kind, kind, kind, hint),
			Subject: &rng,
		}}
	}
	name := names[1]
	var found any
	var candidates []string
	switch kind {
	case "image":
		if v, ok := scope.Images[name]; ok {
			found = v
		}
		candidates = sortedKeys(scope.Images)
	case "component":
		if v, ok := scope.Components[name]; ok {
			found = v
		}
		candidates = sortedKeys(scope.Components)
	case "cloud":
		if v, ok := scope.Clouds[name]; ok {
			found = v
		}
		candidates = sortedKeys(scope.Clouds)
	}
	if found == nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: fmt.Sprintf("Reference to undeclared %s", kind),
			Detail:  fmt.Sprintf("No %s named %q is declared in %s.%s", kind, name, where, didyoumean.Hint(name, candidates)),
			Subject: &rng,
		}}
	}
	return found, nil
}

// isErrorExpr reports an expression the parser produced in place of one it
// could not parse; its error is already reported.
func isErrorExpr(expr hcl.Expression) bool {
	lit, ok := expr.(*hclsyntax.LiteralValueExpr)
	return ok && lit.Val.RawEquals(cty.DynamicVal)
}

// traversalNames flattens a traversal of attribute steps into names; an
// index step ends it.
func traversalNames(t hcl.Traversal) []string {
	names := []string{t.RootName()}
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			break
		}
		names = append(names, a.Name)
	}
	return names
}

// checkInheritanceCycles walks every image's parent chain once, colouring
// images as it goes, so the whole check is linear in the number of images.
func (p *Program) checkInheritanceCycles() hcl.Diagnostics {
	var diags hcl.Diagnostics
	const (
		unseen = iota
		onPath
		done
	)
	state := map[*Image]int{}
	for _, m := range p.Modules {
		for _, name := range sortedKeys(m.Images) {
			var path []*Image
			im := m.Images[name]
			for im != nil && state[im] == unseen {
				state[im] = onPath
				path = append(path, im)
				im = im.Parent
			}
			if im != nil && state[im] == onPath {
				// im starts the cycle; report it on the parent argument that
				// closes it and break the link so later passes terminate.
				start := 0
				for i, x := range path {
					if x == im {
						start = i
					}
				}
				var names []string
				for _, x := range path[start:] {
					names = append(names, x.Name)
				}
				last := path[len(path)-1]
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Image inheritance cycle",
					Detail:  fmt.Sprintf("Image %q cannot derive from %q: the parent chain loops (%s → %s). Each image's chain of parents must end at a base image.", last.Name, im.Name, strings.Join(names, " → "), im.Name),
					Subject: last.ParentExpr.Range().Ptr(), Context: last.DeclRange.Ptr(),
				})
				last.Parent = nil
			}
			for _, x := range path {
				state[x] = done
			}
		}
	}
	return diags
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

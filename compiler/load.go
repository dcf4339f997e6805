package compiler

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// FileSuffix is the suffix of recipe files; a recipe folder is every file
// with it, like a Terraform module is every .tf file.
const FileSuffix = ".slip.hcl"

var (
	// SlipStream's own name rules, kept so that old scripts' keys stay valid.
	nodeNameRE  = regexp.MustCompile(`^\w+$`)
	paramNameRE = regexp.MustCompile(`^\w[\w.-]*$`)
)

// RecipeFiles lists the recipe files of path: the file itself, or every
// *.slip.hcl file directly in the folder, sorted so output never depends on
// directory order.
func RecipeFiles(path string) (dir string, files []string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", nil, err
	}
	if !st.IsDir() {
		return filepath.Dir(path), []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", nil, err
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), FileSuffix) {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return "", nil, fmt.Errorf("no recipe files (*%s) in %s", FileSuffix, path)
	}
	return path, files, nil
}

// loadModule parses and decodes the recipe at path. It keeps going after
// errors so one run reports as much as it can.
func loadModule(parser *hclparse.Parser, path, prefix string) (*Module, hcl.Diagnostics) {
	dir, files, err := RecipeFiles(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read recipe", Detail: err.Error()}}
	}
	mod := newModule(dir, prefix)
	var diags hcl.Diagnostics
	for _, fn := range files {
		src, err := os.ReadFile(fn) // #nosec G304 -- a recipe file of the folder (or the file) the user named, or of a folder it imports
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read recipe file", Detail: err.Error()})
			continue
		}
		f, fdiags := ParseFile(parser, src, fn)
		diags = append(diags, fdiags...)
		if f == nil || f.Body == nil {
			continue
		}
		diags = append(diags, decodeFile(mod, f.Body)...)
	}
	return mod, diags
}

// ParseFile parses one recipe file with parser, after checking that it is
// text. HCL's scanner reports every byte of a binary file it cannot read,
// thousands of errors for an executable, each printing its line of binary
// source; a NUL byte, which text never has, gives one error instead.
func ParseFile(parser *hclparse.Parser, src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if i := bytes.IndexByte(src, 0); i >= 0 {
		at := posOf(src, i)
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Not a text file",
			Detail:  fmt.Sprintf("%s is not a text file: it has a NUL byte at line %d, column %d, as binary files and UTF-16 text do. A recipe file is HCL text in UTF-8.", filepath.Base(filename), at.Line, at.Column),
			Subject: &hcl.Range{Filename: filename, Start: at, End: hcl.Pos{Line: at.Line, Column: at.Column + 1, Byte: i + 1}},
		}}
	}
	return parser.ParseHCL(src, filename)
}

// posOf is the position of the byte at offset in src, its column counted
// in characters from the start of its line.
func posOf(src []byte, offset int) hcl.Pos {
	lineStart := bytes.LastIndexByte(src[:offset], '\n') + 1
	return hcl.Pos{
		Line:   bytes.Count(src[:lineStart], []byte{'\n'}) + 1,
		Column: utf8.RuneCount(src[lineStart:offset]) + 1,
		Byte:   offset,
	}
}

func decodeFile(mod *Module, body hcl.Body) hcl.Diagnostics {
	content, _, diags := bodyContent(body, fileSchema, "a recipe file's top level", false, nil)
	for _, block := range content.Blocks {
		name := block.Labels[0]
		labelRange := block.LabelRanges[0]
		if !hclsyntax.ValidIdentifier(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s name", block.Type),
				Detail:  fmt.Sprintf("A %s name must start with a letter or underscore and may contain only letters, digits, underscores and dashes; %q is not valid.", block.Type, name),
				Subject: labelRange.Ptr(), Context: hcl.RangeBetween(block.TypeRange, labelRange).Ptr(),
			})
			continue
		}
		if prev := mod.declRange(block.Type, name); prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate %s %q", block.Type, name),
				Detail:  fmt.Sprintf("A %s named %q was already declared at %s. Each %s must have a unique name within a recipe folder.", block.Type, name, prev, block.Type),
				Subject: labelRange.Ptr(), Context: block.DefRange.Ptr(),
			})
			continue
		}
		var d hcl.Diagnostics
		switch block.Type {
		case "variable":
			var v *Variable
			v, d = decodeVariableBlock(block)
			v.Module = mod
			mod.Variables[name] = v
		case "cloud":
			var c *Cloud
			c, d = decodeCloudBlock(block)
			c.Module = mod
			mod.Clouds[name] = c
		case "image":
			var im *Image
			im, d = decodeImageBlock(block, mod)
			mod.Images[name] = im
		case "component":
			var c *Component
			c, d = decodeComponentBlock(block, mod)
			mod.Components[name] = c
		case "deployment":
			var dep *Deployment
			dep, d = decodeDeploymentBlock(block, mod)
			mod.Deployments[name] = dep
		case "import":
			var im *Import
			im, d = decodeImportBlock(block)
			mod.Imports[name] = im
		}
		mod.decls[block.Type+"."+name] = block.DefRange
		diags = append(diags, d...)
	}
	return diags
}

func (m *Module) declRange(kind, name string) *hcl.Range {
	if r, ok := m.decls[kind+"."+name]; ok {
		return &r
	}
	return nil
}

func blockWhat(block *hcl.Block) string {
	return fmt.Sprintf("%s %q", block.Type, block.Labels[0])
}

func decodeVariableBlock(block *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{Name: block.Labels[0], Type: cty.DynamicPseudoType, DeclRange: block.DefRange}
	content, _, diags := bodyContent(block.Body, variableSchema, blockWhat(block), false, nil)
	if attr, ok := content.Attributes["type"]; ok {
		ty, d := typeexpr.TypeConstraint(attr.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type, v.TypeExpr = ty, attr.Expr
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		val, d := attr.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if v.Type != cty.DynamicPseudoType {
				conv, err := convert.Convert(val, v.Type)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError, Summary: "Invalid default value for variable",
						Detail:  fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", err),
						Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(),
					})
				} else {
					val = conv
				}
			}
			v.Default = val
		}
	}
	v.Description, diags = constString(content, "description", diags)
	v.Sensitive, diags = constBool(content, "sensitive", diags)
	return v, diags
}

func decodeCloudBlock(block *hcl.Block) (*Cloud, hcl.Diagnostics) {
	c := &Cloud{Name: block.Labels[0], DeclRange: block.DefRange}
	content, extra, diags := bodyContent(block.Body, cloudSchema, blockWhat(block), true, nil)
	c.Connector, diags = constString(content, "connector", diags)
	if attr, ok := content.Attributes["connector"]; ok {
		c.ConnectorRange = attr.Expr.Range()
		c.ConnectorAttrRange = attr.Range
	}
	c.Description, diags = constString(content, "description", diags)
	if attr, ok := content.Attributes["todo"]; ok {
		c.Todo, diags = constString(content, "todo", diags)
		c.TodoRange = attr.Range
		if c.Todo == "" {
			c.Todo = "(no text)"
		}
		// A cloud to fill in may not know its connector yet: that is
		// what its todo says, and checkCloud warns about it.
		kept := diags[:0]
		for _, d := range diags {
			if d.Summary != "Missing required argument" || !strings.Contains(d.Detail, `"connector"`) {
				kept = append(kept, d)
			}
		}
		diags = kept
	}
	c.Settings = extra
	return c, diags
}

func decodeSizing(content *hcl.BodyContent) Sizing {
	var s Sizing
	if a, ok := content.Attributes["cpu"]; ok {
		s.CPU = a.Expr
	}
	if a, ok := content.Attributes["ram"]; ok {
		s.RAM = a.Expr
	}
	if a, ok := content.Attributes["disk"]; ok {
		s.Disk = a.Expr
	}
	return s
}

func decodeImageBlock(block *hcl.Block, mod *Module) (*Image, hcl.Diagnostics) {
	im := &Image{Name: block.Labels[0], DeclRange: block.DefRange, Module: mod, IDs: map[string]hcl.Expression{}}
	content, _, diags := bodyContent(block.Body, imageSchema, blockWhat(block), false, nil)
	im.Description, diags = constString(content, "description", diags)
	owner := blockWhat(block)
	for name, attr := range content.Attributes {
		switch name {
		case "parent":
			im.ParentExpr = attr.Expr
		case "login_user":
			im.LoginUser = attr.Expr
		case "platform":
			im.Platform = attr.Expr
		case "packages":
			im.Packages = attr.Expr
		case "pre_install":
			im.PreInstall = &Script{Phase: name, Expr: attr.Expr, Owner: owner, Module: mod}
		case "post_install":
			im.PostInstall = &Script{Phase: name, Expr: attr.Expr, Owner: owner, Module: mod}
		case "build":
			im.Build = attr.Expr
		case "ids":
			im.IDsRange = attr.Expr.Range()
			pairs, d := hcl.ExprMap(attr.Expr)
			diags = append(diags, d...)
			for _, kv := range pairs {
				key, ok := staticKey(kv.Key)
				if !ok {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError, Summary: "Invalid image id key",
						Detail:  "Each key of ids must be the name of a cloud, written as a plain name or a string.",
						Subject: kv.Key.Range().Ptr(), Context: attr.Range.Ptr(),
					})
					continue
				}
				im.IDs[key] = kv.Value
			}
		}
	}
	im.Sizing = decodeSizing(content)
	params, d := decodeParamBlocks(content.Blocks, mod)
	im.Params = params
	return im, append(diags, d...)
}

func decodeComponentBlock(block *hcl.Block, mod *Module) (*Component, hcl.Diagnostics) {
	c := &Component{Name: block.Labels[0], DeclRange: block.DefRange, Module: mod, Scripts: map[string][]*Script{}}
	content, _, diags := bodyContent(block.Body, componentSchema, blockWhat(block), false, nil)
	c.Description, diags = constString(content, "description", diags)
	if attr, ok := content.Attributes["image"]; ok {
		c.ImageExpr = attr.Expr
	}
	for _, phase := range componentScriptPhases {
		if attr, ok := content.Attributes[phase]; ok {
			// A list written out ([file("a.sh"), file("b.sh")]) is several
			// scripts run in order; any other expression is one script.
			exprs := []hcl.Expression{attr.Expr}
			if tuple, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
				exprs = exprs[:0]
				for _, e := range tuple.Exprs {
					exprs = append(exprs, e)
				}
			}
			for _, e := range exprs {
				c.Scripts[phase] = append(c.Scripts[phase], &Script{Phase: phase, Expr: e, Owner: blockWhat(block), Module: mod})
			}
		}
	}
	c.Sizing = decodeSizing(content)
	params, d := decodeParamBlocks(content.Blocks, mod)
	c.Params = params
	return c, append(diags, d...)
}

func decodeParamBlocks(blocks hcl.Blocks, mod *Module) ([]*Param, hcl.Diagnostics) {
	var params []*Param
	var diags hcl.Diagnostics
	seen := map[string]hcl.Range{}
	for _, block := range blocks {
		p, d := decodeParamBlock(block)
		diags = append(diags, d...)
		if p == nil {
			continue
		}
		if prev, dup := seen[p.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate parameter %q", p.Name),
				Detail:  fmt.Sprintf("A parameter named %q was already declared at %s; inputs and outputs share one namespace, as runtime parameter keys do.", p.Name, prev),
				Subject: block.LabelRanges[0].Ptr(), Context: block.DefRange.Ptr(),
			})
			continue
		}
		seen[p.Name] = block.DefRange
		p.Module = mod
		params = append(params, p)
	}
	return params, diags
}

func decodeParamBlock(block *hcl.Block) (*Param, hcl.Diagnostics) {
	name := block.Labels[0]
	var diags hcl.Diagnostics
	if !paramNameRE.MatchString(name) {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid parameter name",
			Detail:  fmt.Sprintf("A parameter name must match \\w[\\w.-]* (a letter, digit or underscore, then also dots and dashes), as SlipStream runtime parameter keys do; %q does not.", name),
			Subject: block.LabelRanges[0].Ptr(), Context: block.DefRange.Ptr(),
		}}
	}
	if builtinParams[name] && block.Type == "input" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Reserved parameter name",
			Detail:  fmt.Sprintf("%q is a built-in runtime parameter set by the agent on every instance; it cannot be an input.", name),
			Subject: block.LabelRanges[0].Ptr(), Context: block.DefRange.Ptr(),
		})
	}
	p := &Param{Name: name, Output: block.Type == "output", DeclRange: block.DefRange}
	content, _, d := bodyContent(block.Body, paramSchema, blockWhat(block), false, nil)
	diags = append(diags, d...)
	if attr, ok := content.Attributes["default"]; ok {
		if p.Output {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Output parameters have no default",
				Detail:  fmt.Sprintf("Output %q is set at run time by its instance's scripts (ss-set); only inputs take a default.", name),
				Subject: attr.NameRange.Ptr(), Context: attr.Range.Ptr(),
			})
		} else {
			p.Default = attr.Expr
		}
	}
	p.Description, diags = constString(content, "description", diags)
	p.Sensitive, diags = constBool(content, "sensitive", diags)
	if attr, ok := content.Attributes["allowed"]; ok {
		diags = append(diags, decodeAllowed(p, attr)...)
	}
	return p, diags
}

// decodeAllowed reads an input's allowed values: a constant, non-empty
// list of strings (SlipStream's Enum parameters). Outputs have none: their
// values come from scripts at run time, where nothing could check them.
func decodeAllowed(p *Param, attr *hcl.Attribute) hcl.Diagnostics {
	if p.Output {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Outputs have no allowed values",
			Detail:  fmt.Sprintf("Output %q is set at run time by its instance's scripts (ss-set), where no list of allowed values is checked; only inputs take allowed.", p.Name),
			Subject: attr.NameRange.Ptr(), Context: attr.Range.Ptr(),
		}}
	}
	invalid := hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "Invalid allowed",
		Detail:  fmt.Sprintf("allowed must be a constant, non-empty list of strings: the values input %q may take, e.g. allowed = [\"small\", \"large\"].", p.Name),
		Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(),
	}}
	v, d := attr.Expr.Value(nil)
	if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() || !(v.Type().IsTupleType() || v.Type().IsListType()) || v.LengthInt() == 0 {
		return invalid
	}
	var allowed []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() || ev.Type() != cty.String {
			return invalid
		}
		allowed = append(allowed, ev.AsString())
	}
	p.Allowed, p.AllowedRange = allowed, attr.Expr.Range()
	return nil
}

func decodeDeploymentBlock(block *hcl.Block, mod *Module) (*Deployment, hcl.Diagnostics) {
	dep := &Deployment{Name: block.Labels[0], DeclRange: block.DefRange, Module: mod}
	content, _, diags := bodyContent(block.Body, deploymentSchema, blockWhat(block), false, nil)
	dep.Description, diags = constString(content, "description", diags)
	if attr, ok := content.Attributes["keep_running"]; ok {
		dep.KeepRunning = attr.Expr
	}
	dep.StoreSensitive = true
	if _, ok := content.Attributes["store_sensitive"]; ok {
		dep.StoreSensitive, diags = constBool(content, "store_sensitive", diags)
	}
	seen := map[string]*Node{}
	for _, nb := range content.Blocks {
		n, d := decodeNodeBlock(nb, mod)
		diags = append(diags, d...)
		if n == nil {
			continue
		}
		if prev := seen[n.Name]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate node %q", n.Name),
				Detail:  fmt.Sprintf("A node named %q was already declared in deployment %q at %s.", n.Name, dep.Name, prev.DeclRange),
				Subject: nb.LabelRanges[0].Ptr(), Context: nb.DefRange.Ptr(),
			})
			continue
		}
		seen[n.Name] = n
		dep.Nodes = append(dep.Nodes, n)
	}
	return dep, diags
}

func decodeNodeBlock(block *hcl.Block, mod *Module) (*Node, hcl.Diagnostics) {
	name := block.Labels[0]
	if !nodeNameRE.MatchString(name) {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid node name",
			Detail:  fmt.Sprintf("A node name may contain only letters, digits and underscores (\\w+), because it starts every runtime parameter key of its instances (%s.1:hostname); %q is not valid.", "<node>", name),
			Subject: block.LabelRanges[0].Ptr(), Context: block.DefRange.Ptr(),
		}}
	}
	n := &Node{Name: name, DeclRange: block.DefRange, Module: mod, Inputs: map[string]*InputValue{}}
	content, extra, diags := bodyContent(block.Body, nodeSchema, blockWhat(block), true, nil)
	n.Settings = extra
	for an, attr := range content.Attributes {
		switch an {
		case "component":
			n.ComponentExpr = attr.Expr
		case "cloud":
			n.CloudExpr = attr.Expr
		case "multiplicity":
			n.Multiplicity = attr.Expr
		case "max_provisioning_failures":
			n.MaxProvisioningFailures = attr.Expr
		case "pool":
			n.Pool = attr.Expr
		case "inputs":
			diags = append(diags, decodeNodeInputs(n, attr)...)
		}
	}
	return n, diags
}

// decodeNodeInputs reads `inputs = { … }`. A value written as a reference
// `node.db.password` is a mapping from another node's output; strings in
// SlipStream's "db:password" form are classified later, once the
// deployment's node names are known.
func decodeNodeInputs(n *Node, attr *hcl.Attribute) hcl.Diagnostics {
	pairs, diags := hcl.ExprMap(attr.Expr)
	for _, kv := range pairs {
		key, ok := staticKey(kv.Key)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Invalid input name",
				Detail:  "Each key of inputs must be the name of one of the component's input parameters, written as a plain name or a string.",
				Subject: kv.Key.Range().Ptr(), Context: attr.Range.Ptr(),
			})
			continue
		}
		if prev, dup := n.Inputs[key]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: fmt.Sprintf("Duplicate input %q", key),
				Detail:  fmt.Sprintf("Input %q was already given a value at %s.", key, prev.KeyRange),
				Subject: kv.Key.Range().Ptr(), Context: attr.Range.Ptr(),
			})
			continue
		}
		iv := &InputValue{Name: key, Expr: kv.Value, KeyRange: kv.Key.Range(), FromRange: kv.Value.Range()}
		if trav, td := hcl.AbsTraversalForExpr(kv.Value); !td.HasErrors() && trav.RootName() == "node" {
			node, param, ok := nodeReference(trav)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Invalid node reference",
					Detail:  `A mapping from another node's output is written node.<name>.<output> (or node.<name>["<output.with.dots>"]), or in SlipStream's form "<name>:<output>".`,
					Subject: kv.Value.Range().Ptr(), Context: attr.Range.Ptr(),
				})
				// Keep the entry, so the input does not also show up as
				// left without a value.
				iv.Invalid = true
				n.Inputs[key] = iv
				continue
			}
			iv.FromNode, iv.FromKey = node, param
		}
		n.Inputs[key] = iv
	}
	return diags
}

// nodeReference splits node.<name>.<param> (or node.<name>["<param>"]).
func nodeReference(trav hcl.Traversal) (node, param string, ok bool) {
	if len(trav) != 3 {
		return "", "", false
	}
	a, ok1 := trav[1].(hcl.TraverseAttr)
	if !ok1 {
		return "", "", false
	}
	switch s := trav[2].(type) {
	case hcl.TraverseAttr:
		return a.Name, s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return a.Name, s.Key.AsString(), true
		}
	}
	return "", "", false
}

func decodeImportBlock(block *hcl.Block) (*Import, hcl.Diagnostics) {
	im := &Import{Name: block.Labels[0], DeclRange: block.DefRange}
	content, _, diags := bodyContent(block.Body, importSchema, blockWhat(block), false, nil)
	im.Source, diags = constString(content, "source", diags)
	if attr, ok := content.Attributes["source"]; ok {
		im.SourceRange = attr.Expr.Range()
	}
	return im, diags
}

// staticKey reads a map key written as a bare name or a string literal.
func staticKey(expr hcl.Expression) (string, bool) {
	if kw := hcl.ExprAsKeyword(expr); kw != "" {
		return kw, true
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

func constString(content *hcl.BodyContent, name string, diags hcl.Diagnostics) (string, hcl.Diagnostics) {
	attr, ok := content.Attributes[name]
	if !ok {
		return "", diags
	}
	v, d := attr.Expr.Value(nil)
	if d.HasErrors() {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s", name),
			Detail:  fmt.Sprintf("The %s must be a constant string; it cannot refer to variables or call functions.", name),
			Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(),
		})
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() {
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s", name),
			Detail:  fmt.Sprintf("The %s must be a string.", name),
			Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(),
		})
	}
	return s.AsString(), diags
}

func constBool(content *hcl.BodyContent, name string, diags hcl.Diagnostics) (bool, hcl.Diagnostics) {
	attr, ok := content.Attributes[name]
	if !ok {
		return false, diags
	}
	v, d := attr.Expr.Value(nil)
	b, err := convert.Convert(v, cty.Bool)
	if d.HasErrors() || err != nil || b.IsNull() || !b.IsKnown() {
		return false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: fmt.Sprintf("Invalid %s", name),
			Detail:  fmt.Sprintf("The %s must be the constant true or false.", name),
			Subject: attr.Expr.Range().Ptr(), Context: attr.Range.Ptr(),
		})
	}
	return b.True(), diags
}

package compiler

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// assets collects the files written beside the emitted Terraform (scripts,
// templates, files read by deploy-time expressions), giving each a stable
// path and never two contents the same path.
type assets struct {
	files map[string][]byte
}

func newAssets() *assets { return &assets{files: map[string][]byte{}} }

// add stores content under want, or under want with a -2, -3 … suffix when
// another content already has that path; identical content shares a path.
func (a *assets) add(want string, content []byte) string {
	ext := path.Ext(want)
	base := strings.TrimSuffix(want, ext)
	for i := 1; ; i++ {
		p := want
		if i > 1 {
			p = fmt.Sprintf("%s-%d%s", base, i, ext)
		}
		old, taken := a.files[p]
		if !taken {
			a.files[p] = content
			return p
		}
		if string(old) == string(content) {
			return p
		}
	}
}

func (a *assets) paths() []string {
	return sortedKeys(a.files)
}

// moduleFileRef is how emitted Terraform reads an asset.
func moduleFileRef(p string) hclwrite.Tokens {
	t := toks{}.add(hclsyntax.TokenOQuote, `"`).add(hclsyntax.TokenTemplateInterp, "${").trav("path", "module")
	return t.add(hclsyntax.TokenTemplateSeqEnd, "}").add(hclsyntax.TokenQuotedLit, "/"+p).add(hclsyntax.TokenCQuote, `"`).tokens()
}

var unsafeAssetChars = regexp.MustCompile(`[^A-Za-z0-9._/-]`)

// assetPath keeps an asset path to characters that need no quoting in an
// HCL string or a shell.
func assetPath(parts ...string) string {
	return unsafeAssetChars.ReplaceAllString(path.Join(parts...), "_")
}

// exprTokens renders a recipe expression as Terraform. A value known at
// compile time is written as a literal. One that depends on deploy-time
// variables is copied as written, which works because recipe variables
// become Terraform variables of the same name and recipe functions are
// Terraform's; the paths of file() and templatefile() calls in it are
// rewritten to copies beside the output.
func (e *emitter) exprTokens(m *Module, expr hcl.Expression) (hclwrite.Tokens, hcl.Diagnostics) {
	if !dependsOnVariables(expr) {
		v, diags := expr.Value(e.p.evalContext(m))
		if diags.HasErrors() {
			return nil, diags
		}
		return valueTokens(v), diags
	}
	return e.rewriteSource(m, expr)
}

func (e *emitter) rewriteSource(m *Module, expr hcl.Expression) (hclwrite.Tokens, hcl.Diagnostics) {
	rng := expr.Range()
	f := e.p.Parser.Files()[rng.Filename]
	syn, ok := expr.(hclsyntax.Expression)
	if f == nil || !ok || rng.End.Byte > len(f.Bytes) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot emit expression", Detail: "This expression's source could not be read back.", Subject: &rng}}
	}
	src := f.Bytes[rng.Start.Byte:rng.End.Byte]
	type edit struct {
		from, to int
		text     string
	}
	var edits []edit
	var diags hcl.Diagnostics
	for _, t := range expr.Variables() {
		if t.RootName() != "var" {
			tr := t.SourceRange()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Unsupported reference",
				Detail:  fmt.Sprintf("Only deploy-time variables (var.<name>) may be referred to here, not %q.", t.RootName()),
				Subject: &tr,
			})
		}
	}
	hclsyntax.VisitAll(syn, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok || (call.Name != "file" && call.Name != "templatefile") || len(call.Args) == 0 {
			return nil
		}
		arg := call.Args[0]
		pv, d := arg.Value(nil)
		if d.HasErrors() || !pv.IsKnown() || pv.IsNull() || pv.Type() != cty.String {
			ar := arg.Range()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "File path must be constant",
				Detail:  fmt.Sprintf("The path given to %s() must be a constant string, so slipc can copy the file beside the Terraform it emits.", call.Name),
				Subject: &ar,
			})
			return nil
		}
		content, err := readRecipeFile(m, pv.AsString())
		if err != nil {
			ar := arg.Range()
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read file", Detail: err.Error(), Subject: &ar})
			return nil
		}
		dir := "files"
		if call.Name == "templatefile" {
			dir = "templates"
		}
		p := e.assets.add(assetPath(dir, modulePath(m), path.Base(pv.AsString())), content)
		ar := arg.Range()
		edits = append(edits, edit{ar.Start.Byte - rng.Start.Byte, ar.End.Byte - rng.Start.Byte, `"${path.module}/` + p + `"`})
		return nil
	})
	if diags.HasErrors() {
		return nil, diags
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	out := append([]byte(nil), src...)
	for _, ed := range edits {
		out = append(out[:ed.from], append([]byte(ed.text), out[ed.to:]...)...)
	}
	wf, d := hclwrite.ParseConfig(append(append([]byte("x = "), out...), '\n'), rng.Filename, hcl.InitialPos)
	if d.HasErrors() {
		return nil, append(diags, d...)
	}
	return wf.Body().GetAttribute("x").Expr().BuildTokens(nil), diags
}

// modulePath is where a module's assets go: "" for the root, the import
// path (shared/base) for imports.
func modulePath(m *Module) string {
	return strings.ReplaceAll(m.Prefix, ".", "/")
}

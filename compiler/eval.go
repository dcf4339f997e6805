package compiler

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// evalContext is what expressions in module m see: every variable as an
// unknown value of its type (deploy-time values are not known when
// compiling), the cty standard library under Terraform's names, and file()
// and templatefile() relative to the module's folder.
func (p *Program) evalContext(m *Module) *hcl.EvalContext {
	if ctx, ok := p.evalCtx[m]; ok {
		return ctx
	}
	vars := map[string]cty.Value{}
	for name, v := range p.Variables {
		vars[name] = cty.UnknownVal(v.Type)
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: recipeFunctions(m),
	}
	p.evalCtx[m] = ctx
	return ctx
}

// recipeFunctions are the functions a recipe may call. They share their
// names and meaning with Terraform's, because expressions that depend on
// deploy-time variables are copied into the emitted Terraform as written.
func recipeFunctions(m *Module) map[string]function.Function {
	fns := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc,
		"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "csvdecode": stdlib.CSVDecodeFunc,
		"distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc, "chunklist": stdlib.ChunklistFunc,
		"flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc, "format": stdlib.FormatFunc,
		"formatdate": stdlib.FormatDateFunc, "formatlist": stdlib.FormatListFunc, "indent": stdlib.IndentFunc,
		"index": stdlib.IndexFunc, "join": stdlib.JoinFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "keys": stdlib.KeysFunc, "length": stdlib.LengthFunc,
		"log": stdlib.LogFunc, "lookup": stdlib.LookupFunc, "lower": stdlib.LowerFunc, "max": stdlib.MaxFunc,
		"merge": stdlib.MergeFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc,
		"range": stdlib.RangeFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
		"replace": stdlib.ReplaceFunc, "reverse": stdlib.ReverseListFunc, "setintersection": stdlib.SetIntersectionFunc,
		"setproduct": stdlib.SetProductFunc, "setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc,
		"signum": stdlib.SignumFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "split": stdlib.SplitFunc,
		"strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc, "timeadd": stdlib.TimeAddFunc,
		"title": stdlib.TitleFunc, "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc,
		"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
	}
	fns["file"] = fileFunc(m)
	fns["templatefile"] = templateFileFunc(m, fns)
	return fns
}

// maxRecipeFile bounds what file() and templatefile() read, so a recipe
// pointing at a huge file fails clearly instead of exhausting memory.
const maxRecipeFile = 8 << 20

// readRecipeFile reads a file that file() or templatefile() in module m
// names, relative to the module's folder. In a module with Confine set (a
// fetched recipe) the path must stay inside that tree, and is opened
// through os.Root, so neither "..", an absolute path nor a symbolic link
// can reach outside it.
func readRecipeFile(m *Module, path string) ([]byte, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(m.Dir, path)
	}
	if m.Confine != "" {
		return readConfined(m.Confine, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := checkRecipeFile(path, st); err != nil {
		return nil, err
	}
	return os.ReadFile(path) // #nosec G304 -- file() and templatefile() of a recipe on the user's own disk read the file it names, as Terraform's functions do; size-checked above
}

func readConfined(root, path string) ([]byte, error) {
	outside := fmt.Errorf("%s is outside the repository this recipe was fetched from (%s): a fetched recipe may only read its own files", path, root)
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, outside
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer func() { _ = r.Close() }() // read-only
	f, err := r.Open(rel)
	if err != nil {
		// os.Root says "path escapes from parent" for a symbolic link
		// that leads out; name the rule whatever the cause.
		return nil, fmt.Errorf("cannot read %s (a fetched recipe reads only files inside the repository it came from, %s): %w", path, root, err)
	}
	defer func() { _ = f.Close() }() // read-only
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := checkRecipeFile(path, st); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, maxRecipeFile+1))
}

func checkRecipeFile(path string, st os.FileInfo) error {
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	if st.Size() > maxRecipeFile {
		return fmt.Errorf("%s is %d bytes; recipe files are limited to %d", path, st.Size(), maxRecipeFile)
	}
	return nil
}

func fileFunc(m *Module) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := readRecipeFile(m, args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func templateFileFunc(m *Module, fns map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}, {Name: "vars", Type: cty.DynamicPseudoType}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			b, err := readRecipeFile(m, path)
			if err != nil {
				return cty.NilVal, err
			}
			tmpl, diags := hclsyntax.ParseTemplate(b, path, hcl.InitialPos)
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("template %s: %s", path, diags.Error())
			}
			vars := map[string]cty.Value{}
			if v := args[1]; !v.IsNull() && v.IsKnown() && (v.Type().IsObjectType() || v.Type().IsMapType()) {
				for it := v.ElementIterator(); it.Next(); {
					k, ev := it.Element()
					vars[k.AsString()] = ev
				}
			} else if !v.IsKnown() {
				return cty.UnknownVal(cty.String), nil
			}
			// A template cannot call templatefile itself: recursion would be
			// unbounded, as Terraform also forbids.
			inner := map[string]function.Function{}
			for k, f := range fns {
				if k != "templatefile" {
					inner[k] = f
				}
			}
			val, diags := tmpl.Value(&hcl.EvalContext{Variables: vars, Functions: inner})
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("template %s: %s", path, diags.Error())
			}
			return val, nil
		},
	})
}

// dependsOnVariables reports whether expr refers to any variable, i.e.
// whether its value is only known at deploy time.
func dependsOnVariables(expr hcl.Expression) bool {
	for _, t := range expr.Variables() {
		if t.RootName() == "var" {
			return true
		}
	}
	return false
}

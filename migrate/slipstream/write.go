package slipstream

import (
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Recipe files an import writes, one per kind of block.
const (
	cloudsFile      = "clouds.slip.hcl"
	imagesFile      = "images.slip.hcl"
	componentsFile  = "components.slip.hcl"
	deploymentsFile = "deployments.slip.hcl"
	variablesFile   = "variables.slip.hcl"
)

// render writes the recipe's files: the blocks through hclwrite, each file
// formatted once (slipc fmt leaves them as they are), and the scripts as
// they were in the exports.
func render(rec *recipe, header []string) map[string][]byte {
	files := map[string][]byte{}
	emit := func(name string, n int, write func(body *hclwrite.Body)) {
		if n == 0 {
			return
		}
		f := hclwrite.NewEmptyFile()
		body := f.Body()
		body.AppendUnstructuredTokens(comment(header))
		write(body)
		files[name] = hclwrite.Format(f.Bytes())
	}
	emit(cloudsFile, len(rec.clouds), func(body *hclwrite.Body) {
		for _, c := range rec.clouds {
			b := block(body, c.comments, "cloud", c.name)
			b.SetAttributeValue("todo", cty.StringVal(c.todo))
		}
	})
	emit(variablesFile, len(rec.variables), func(body *hclwrite.Body) {
		for _, v := range rec.variables {
			b := block(body, nil, "variable", v.name)
			b.SetAttributeRaw("type", hclwrite.TokensForIdentifier("string"))
			b.SetAttributeValue("description", cty.StringVal(v.description))
			if v.sensitive {
				b.SetAttributeValue("sensitive", cty.True)
			}
		}
	})
	emit(imagesFile, len(rec.images), func(body *hclwrite.Body) {
		for _, im := range rec.images {
			writeImage(body, im)
		}
	})
	emit(componentsFile, len(rec.components), func(body *hclwrite.Body) {
		for _, c := range rec.components {
			b := block(body, c.comments, "component", c.name)
			if c.description != "" {
				b.SetAttributeValue("description", cty.StringVal(c.description))
			}
			b.SetAttributeTraversal("image", traversal("image", c.image))
			for _, phase := range phaseOrder {
				if paths := c.scripts[phase]; len(paths) > 0 {
					b.SetAttributeRaw(phase, scriptTokens(paths))
				}
			}
		}
	})
	emit(deploymentsFile, len(rec.deployments), func(body *hclwrite.Body) {
		for _, d := range rec.deployments {
			writeDeployment(body, d)
		}
	})
	for path, script := range rec.scripts {
		files[path] = []byte(script)
	}
	return files
}

func writeImage(body *hclwrite.Body, im *rImage) {
	b := block(body, im.comments, "image", im.name)
	if im.description != "" {
		b.SetAttributeValue("description", cty.StringVal(im.description))
	}
	if im.parent != "" {
		b.SetAttributeTraversal("parent", traversal("image", im.parent))
	}
	if im.loginUser != "" {
		b.SetAttributeValue("login_user", cty.StringVal(im.loginUser))
	}
	if im.platform != "" {
		b.SetAttributeValue("platform", cty.StringVal(im.platform))
	}
	if len(im.ids) > 0 {
		attrs := make([]hclwrite.ObjectAttrTokens, len(im.ids))
		for i, id := range im.ids {
			attrs[i] = hclwrite.ObjectAttrTokens{Name: keyTokens(id.k), Value: hclwrite.TokensForValue(cty.StringVal(id.v))}
		}
		b.SetAttributeRaw("ids", hclwrite.TokensForObject(attrs))
	}
	if len(im.packages) > 0 {
		vals := make([]cty.Value, len(im.packages))
		for i, p := range im.packages {
			vals[i] = cty.StringVal(p)
		}
		b.SetAttributeValue("packages", cty.ListVal(vals))
	}
	if im.preInstall != "" {
		b.SetAttributeRaw("pre_install", fileCall(im.preInstall))
	}
	if im.postInstall != "" {
		b.SetAttributeRaw("post_install", fileCall(im.postInstall))
	}
	for _, s := range []struct{ name, lit string }{{"cpu", im.cpu}, {"ram", im.ram}, {"disk", im.disk}} {
		if s.lit != "" {
			b.SetAttributeRaw(s.name, hclwrite.Tokens{{Type: hclsyntax.TokenNumberLit, Bytes: []byte(s.lit)}})
		}
	}
	for _, p := range im.params {
		kind := "input"
		if p.output {
			kind = "output"
		}
		if len(p.comments) > 0 || len(b.Attributes()) > 0 || len(b.Blocks()) > 0 {
			b.AppendNewline()
		}
		pb := block(b, p.comments, kind, p.name)
		if p.description != "" {
			pb.SetAttributeValue("description", cty.StringVal(p.description))
		}
		switch {
		case p.defVar != "":
			pb.SetAttributeTraversal("default", traversal("var", p.defVar))
		case p.def != nil:
			pb.SetAttributeValue("default", cty.StringVal(*p.def))
		}
		if p.allowed != nil {
			vals := make([]cty.Value, len(p.allowed))
			for i, a := range p.allowed {
				vals[i] = cty.StringVal(a)
			}
			pb.SetAttributeValue("allowed", cty.ListVal(vals))
		}
		if p.sensitive {
			pb.SetAttributeValue("sensitive", cty.True)
		}
	}
}

func writeDeployment(body *hclwrite.Body, d *rDeployment) {
	b := block(body, d.comments, "deployment", d.name)
	if d.description != "" {
		b.SetAttributeValue("description", cty.StringVal(d.description))
	}
	for i, n := range d.nodes {
		if i > 0 || d.description != "" {
			b.AppendNewline()
		}
		nb := block(b, n.comments, "node", n.name)
		nb.SetAttributeTraversal("component", traversal("component", n.component))
		nb.SetAttributeTraversal("cloud", traversal("cloud", n.cloud))
		nb.SetAttributeValue("multiplicity", cty.NumberIntVal(int64(n.multiplicity)))
		if n.maxFailures > 0 {
			nb.SetAttributeValue("max_provisioning_failures", cty.NumberIntVal(int64(n.maxFailures)))
		}
		if len(n.inputs) > 0 {
			attrs := make([]hclwrite.ObjectAttrTokens, len(n.inputs))
			for i, in := range n.inputs {
				val := hclwrite.TokensForValue(cty.StringVal(in.value))
				if in.isVar != "" {
					val = hclwrite.TokensForTraversal(traversal("var", in.isVar))
				}
				attrs[i] = hclwrite.ObjectAttrTokens{Name: keyTokens(in.name), Value: val}
			}
			nb.SetAttributeRaw("inputs", hclwrite.TokensForObject(attrs))
		}
		for _, s := range n.settings {
			if s.comment != "" {
				nb.AppendUnstructuredTokens(comment([]string{s.comment}))
			}
			if s.isList {
				vals := make([]cty.Value, len(s.list))
				for i, v := range s.list {
					vals[i] = cty.StringVal(v)
				}
				if len(vals) == 0 {
					nb.SetAttributeValue(s.name, cty.ListValEmpty(cty.String))
				} else {
					nb.SetAttributeValue(s.name, cty.ListVal(vals))
				}
				continue
			}
			nb.SetAttributeValue(s.name, cty.StringVal(s.str))
		}
	}
}

// block appends a labelled block to body, after a blank line and its
// comments, and returns its body.
func block(body *hclwrite.Body, comments []string, kind, label string) *hclwrite.Body {
	if kind != "input" && kind != "output" && kind != "node" {
		body.AppendNewline()
	}
	body.AppendUnstructuredTokens(comment(comments))
	return body.AppendNewBlock(kind, []string{label}).Body()
}

// comment renders lines as # comments, wrapped; text from the exports is
// made printable first, so a comment cannot end early or hide anything.
func comment(lines []string) hclwrite.Tokens {
	var toks hclwrite.Tokens
	for _, line := range lines {
		for _, l := range strings.Split(line, "\n") {
			// A list item ("  - …") wraps under its text.
			indent := len(l) - len(strings.TrimLeft(l, " "))
			hang := indent
			if strings.HasPrefix(l[indent:], "- ") {
				hang += 2
			}
			for i, w := range wrap(printable(l), 98-hang) {
				text := "#"
				switch {
				case w == "":
				case i == 0:
					text += " " + strings.Repeat(" ", indent) + w
				default:
					text += " " + strings.Repeat(" ", hang) + w
				}
				toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComment, Bytes: []byte(text + "\n")})
			}
		}
	}
	return toks
}

func traversal(root string, attrs ...string) hcl.Traversal {
	t := hcl.Traversal{hcl.TraverseRoot{Name: root}}
	for _, a := range attrs {
		t = append(t, hcl.TraverseAttr{Name: a})
	}
	return t
}

// plainKey matches a map key that needs no quotes.
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func keyTokens(k string) hclwrite.Tokens {
	if plainKey.MatchString(k) {
		return hclwrite.TokensForIdentifier(k)
	}
	return hclwrite.TokensForValue(cty.StringVal(k))
}

func fileCall(path string) hclwrite.Tokens {
	return hclwrite.TokensForFunctionCall("file", hclwrite.TokensForValue(cty.StringVal(path)))
}

// scriptTokens is one file() call, or a list of them, one a line, when a
// phase runs several scripts.
func scriptTokens(paths []string) hclwrite.Tokens {
	if len(paths) == 1 {
		return fileCall(paths[0])
	}
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")},
		{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
	}
	for _, p := range paths {
		toks = append(toks, fileCall(p)...)
		toks = append(toks,
			&hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")},
			&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

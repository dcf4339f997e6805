package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/slipstream/terraform-provider-slipstream/compiler/internal/didyoumean"
)

// The block schemas of the recipe language, low-level as in Terraform's
// internal/configs: one hcl.BodySchema per block type, decoded by hand so
// every diagnostic can carry a precise range and a targeted hint.

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "cloud", LabelNames: []string{"name"}},
		{Type: "image", LabelNames: []string{"name"}},
		{Type: "component", LabelNames: []string{"name"}},
		{Type: "deployment", LabelNames: []string{"name"}},
		{Type: "import", LabelNames: []string{"name"}},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
}

var cloudSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "connector", Required: true}, {Name: "description"}, {Name: "todo"},
	},
}

var paramBlocks = []hcl.BlockHeaderSchema{
	{Type: "input", LabelNames: []string{"name"}},
	{Type: "output", LabelNames: []string{"name"}},
}

var sizingAttrs = []hcl.AttributeSchema{{Name: "cpu"}, {Name: "ram"}, {Name: "disk"}}

var imageSchema = &hcl.BodySchema{
	Attributes: append([]hcl.AttributeSchema{
		{Name: "description"}, {Name: "parent"}, {Name: "ids"}, {Name: "login_user"}, {Name: "platform"},
		{Name: "packages"}, {Name: "pre_install"}, {Name: "post_install"}, {Name: "build"},
	}, sizingAttrs...),
	Blocks: paramBlocks,
}

// componentScriptPhases are the deployment scripts a component may carry, in
// the order SlipStream's targets are listed.
var componentScriptPhases = []string{"deploy", "report", "on_vm_add", "on_vm_remove"}

var componentSchema = &hcl.BodySchema{
	Attributes: append([]hcl.AttributeSchema{
		{Name: "description"}, {Name: "image", Required: true},
		{Name: "deploy"}, {Name: "report"}, {Name: "on_vm_add"}, {Name: "on_vm_remove"},
	}, sizingAttrs...),
	Blocks: paramBlocks,
}

var paramSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "description"}, {Name: "sensitive"}, {Name: "allowed"}},
}

var deploymentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "keep_running"}, {Name: "store_sensitive"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "node", LabelNames: []string{"name"}}},
}

var nodeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "component", Required: true}, {Name: "cloud", Required: true},
		{Name: "multiplicity"}, {Name: "max_provisioning_failures"}, {Name: "inputs"}, {Name: "pool"},
	},
}

var importSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "source", Required: true}},
}

// blockHome says where a block type belongs, for the "this block belongs
// inside …" hint when one is written in the wrong place.
var blockHome = map[string]string{
	"variable": "at the top level of a recipe file", "cloud": "at the top level of a recipe file",
	"image": "at the top level of a recipe file", "component": "at the top level of a recipe file",
	"deployment": "at the top level of a recipe file", "import": "at the top level of a recipe file",
	"node": "inside a deployment block", "input": "inside a component or image block",
	"output": "inside a component or image block",
}

// terraformBlocks are Terraform's top-level block types that a recipe
// file's top level does not have (it has variable and import blocks of its
// own, and output blocks belong inside components: see blockHome). Such a
// block is a sign of Terraform configuration given to slipc, and its error
// says so; the text, when set, says what a recipe writes instead.
var terraformBlocks = map[string]string{
	"terraform": "",
	"provider":  "A recipe names its clouds in cloud blocks; the compiled Terraform configures the slipstream provider for each.",
	"resource":  "A recipe's machines are the nodes of a deployment block, each running a component.",
	"data":      "",
	"module":    "A recipe uses another recipe folder through an import block.",
	"locals":    "",
	"moved":     "",
	"check":     "",
	"removed":   "",
	"ephemeral": "",
}

// terraformHint is the detail added to the error on one of
// terraformBlocks at a recipe file's top level. The recipe's own top-level
// blocks are listed from fileSchema.
func terraformHint(blockType string) string {
	var names []string
	for _, b := range fileSchema.Blocks {
		names = append(names, b.Type)
	}
	hint := fmt.Sprintf(" This looks like Terraform configuration, not a SlipStream recipe: a recipe file's top level has %s blocks, and slipc compile writes the Terraform from them.", andList(names))
	if instead := terraformBlocks[blockType]; instead != "" {
		hint += " " + instead
	}
	return hint
}

// andList joins names as a sentence does: "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// article is the indefinite article before word.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// attrHome does the same for attributes.
var attrHome = map[string]string{
	"multiplicity": "a node block", "max_provisioning_failures": "a node block", "inputs": "a node block", "pool": "a node block",
	"connector": "a cloud block", "todo": "a cloud block", "deploy": "a component block", "report": "a component block",
	"on_vm_add": "a component block", "on_vm_remove": "a component block",
	"parent": "an image block", "ids": "an image block", "login_user": "an image block",
	"platform": "an image block", "packages": "an image block", "pre_install": "an image block", "build": "an image block",
	"post_install": "an image block", "source": "an import block", "keep_running": "a deployment block",
	"default": "a variable, input or output block", "type": "a variable block", "allowed": "an input block",
}

// bodyContent decodes body against schema. Attributes the schema does not
// name are returned in extra when acceptExtra is set (connector settings),
// and reported otherwise, with a "did you mean" among the schema's names (and
// the extra names offered) or a hint about where they belong. Blocks the
// schema does not name are always reported. what names the block for
// messages, e.g. `cloud "aws"`.
func bodyContent(body hcl.Body, schema *hcl.BodySchema, what string, acceptExtra bool, extraNames []string) (*hcl.BodyContent, map[string]*hcl.Attribute, hcl.Diagnostics) {
	content, _, diags := body.PartialContent(schema)
	syn, ok := body.(*hclsyntax.Body)
	if !ok {
		return content, nil, diags
	}
	known := map[string]bool{}
	var attrNames, blockNames []string
	for _, a := range schema.Attributes {
		known[a.Name] = true
		attrNames = append(attrNames, a.Name)
	}
	for _, b := range schema.Blocks {
		known["block:"+b.Type] = true
		blockNames = append(blockNames, b.Type)
	}
	extra := map[string]*hcl.Attribute{}
	// misspelt holds required arguments that an unsupported one is a likely
	// typo of: "did you mean" already says it, so "missing" would be noise.
	misspelt := map[string]bool{}
	attrs := make([]*hclsyntax.Attribute, 0, len(syn.Attributes))
	for _, a := range syn.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	for _, a := range attrs {
		if known[a.Name] {
			continue
		}
		if acceptExtra {
			extra[a.Name] = a.AsHCLAttribute()
			continue
		}
		detail := fmt.Sprintf("An argument named %q is not expected in %s.", a.Name, what)
		if sug := didyoumean.Suggest(a.Name, append(append([]string{}, attrNames...), extraNames...)); sug != "" {
			detail += fmt.Sprintf(" Did you mean %q?", sug)
			misspelt[sug] = true
		} else if home, ok := attrHome[a.Name]; ok {
			detail += fmt.Sprintf(" The argument %q belongs in %s.", a.Name, home)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: detail,
			Subject: a.NameRange.Ptr(), Context: a.SrcRange.Ptr(),
		})
	}
	for _, b := range syn.Blocks {
		if known["block:"+b.Type] {
			continue
		}
		detail := fmt.Sprintf("Blocks of type %q are not expected in %s.", b.Type, what)
		subject := b.TypeRange
		if home, ok := blockHome[b.Type]; ok {
			detail += fmt.Sprintf(" %s %s block belongs %s.", article(b.Type), b.Type, home)
			if _, value := b.Body.Attributes["value"]; value && b.Type == "output" && schema == fileSchema {
				detail += " This one looks like a Terraform output: a recipe's outputs are runtime parameters that its instances set with ss-set, and slipc compile writes a Terraform output for each."
			}
		} else if _, tf := terraformBlocks[b.Type]; tf && schema == fileSchema {
			detail += terraformHint(b.Type)
			subject = b.DefRange() // resource "aws_instance" "x": the labels say Terraform too
		} else if hint := didyoumean.Hint(b.Type, blockNames); hint != "" {
			detail += hint
		} else if _, isAttr := known[b.Type]; isAttr {
			detail += fmt.Sprintf(" Did you mean to define argument %q? If so, use the equals sign to assign it a value.", b.Type)
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Unsupported block type", Detail: detail,
			Subject: subject.Ptr(), Context: hcl.RangeBetween(b.TypeRange, b.OpenBraceRange).Ptr(),
		})
	}
	if len(misspelt) > 0 {
		kept := diags[:0]
		for _, d := range diags {
			if d.Summary == "Missing required argument" && mentionsAny(d.Detail, misspelt) {
				continue
			}
			kept = append(kept, d)
		}
		diags = kept
	}
	return content, extra, dedupeUnsupported(diags)
}

func mentionsAny(detail string, names map[string]bool) bool {
	for n := range names {
		if strings.Contains(detail, fmt.Sprintf("%q", n)) {
			return true
		}
	}
	return false
}

// dedupeUnsupported drops hcl's own "Unsupported …" diagnostics, which
// PartialContent does not emit but Content would; kept as a guard so a
// schema change cannot double-report.
func dedupeUnsupported(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	out := diags[:0]
	for _, d := range diags {
		key := d.Summary
		if d.Subject != nil {
			key += d.Subject.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, d)
	}
	return out
}

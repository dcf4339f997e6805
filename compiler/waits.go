package compiler

import (
	"bytes"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/slipstream/terraform-provider-slipstream/compiler/waitgraph"
)

// analyzeWaits runs the wait-graph analysis (see package waitgraph) over a
// deployment's scripts and mappings: certain deadlocks are errors, waits on
// keys nothing sets are warnings.
func (p *Program) analyzeWaits(plan *Plan) hcl.Diagnostics {
	return waitgraph.Analyze(p.waitNodes(plan))
}

// waitEdges lists the waits for slipc graph.
func (p *Program) waitEdges(plan *Plan) []GraphEdge {
	var edges []GraphEdge
	for _, e := range waitgraph.Edges(p.waitNodes(plan)) {
		edges = append(edges, GraphEdge{From: e.From, To: e.To, Kind: "wait", Label: e.Key, Where: e.Range.String()})
	}
	return edges
}

// waitNodes describes each node to the analysis: its scripts per run stage
// and what each of its parameters is fed by.
func (p *Program) waitNodes(plan *Plan) []*waitgraph.Node {
	if p.scriptCache == nil {
		p.scriptCache = map[*Script]*waitgraph.Script{}
	}
	var nodes []*waitgraph.Node
	for _, pn := range plan.Nodes {
		n := &waitgraph.Node{Name: pn.Name, Stages: make([][]waitgraph.Script, 2), Params: map[string]waitgraph.Param{}}
		for _, phase := range []string{"pre_install", "post_install", "deploy", "report"} {
			stage := 0
			if phase == "report" {
				stage = 1
			}
			for _, s := range pn.Scripts[phase] {
				if ws := p.waitScript(s); ws != nil {
					n.Stages[stage] = append(n.Stages[stage], *ws)
				}
			}
		}
		for name := range builtinParams {
			n.Params[name] = waitgraph.Param{Preset: builtinPreset[name]}
		}
		for name, prm := range pn.Params {
			switch iv := pn.Inputs[name]; {
			case prm.Output:
				n.Params[name] = waitgraph.Param{}
			case iv != nil && iv.FromNode != "":
				n.Params[name] = waitgraph.Param{MappedFrom: iv.FromNode, MappedKey: iv.FromKey}
			default:
				// A literal, a deploy-time value or a default: set when the
				// deployment is created.
				n.Params[name] = waitgraph.Param{Preset: true}
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// waitScript finds a script's text and where it sits, so that diagnostics
// point into the file the user wrote: the script file for file() and
// templatefile() (read as written, before rendering), the recipe file for a
// string or heredoc (its source text, before HCL unescapes it). Scripts
// built some other way are analysed from their value when it is known now,
// and skipped otherwise. Results are cached: nodes of one component share
// their scripts.
func (p *Program) waitScript(s *Script) *waitgraph.Script {
	if ws, ok := p.scriptCache[s]; ok {
		return ws
	}
	ws := p.locateScript(s)
	if ws != nil {
		ws.Phase, ws.Owner = s.Phase, s.Owner
	}
	p.scriptCache[s] = ws
	return ws
}

func (p *Program) locateScript(s *Script) *waitgraph.Script {
	switch e := s.Expr.(type) {
	case *hclsyntax.FunctionCallExpr:
		if (e.Name == "file" || e.Name == "templatefile") && len(e.Args) > 0 {
			pv, d := e.Args[0].Value(nil)
			if !d.HasErrors() && pv.IsKnown() && !pv.IsNull() && pv.Type() == cty.String {
				path := pv.AsString()
				if !filepath.IsAbs(path) {
					path = filepath.Join(s.Module.Dir, path)
				}
				if b, err := readRecipeFile(s.Module, pv.AsString()); err == nil {
					return &waitgraph.Script{Text: string(b), File: path, Start: hcl.InitialPos}
				}
			}
		}
	case *hclsyntax.TemplateExpr:
		if ws := p.templateSource(e); ws != nil {
			return ws
		}
	}
	v, d := s.Expr.Value(p.evalContext(s.Module))
	if d.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return nil
	}
	rng := s.Expr.Range()
	return &waitgraph.Script{Text: v.AsString(), File: rng.Filename, Start: rng.Start}
}

// templateSource returns a quoted string's or heredoc's text as it stands
// in the recipe file, with the position of its first byte.
func (p *Program) templateSource(e *hclsyntax.TemplateExpr) *waitgraph.Script {
	rng := e.Range()
	f := p.Parser.Files()[rng.Filename]
	if f == nil || rng.End.Byte > len(f.Bytes) || rng.Start.Byte >= rng.End.Byte {
		return nil
	}
	src := f.Bytes[rng.Start.Byte:rng.End.Byte]
	if bytes.HasPrefix(src, []byte("<<")) {
		// The body starts on the line after <<EOT and ends before the line
		// holding the closing marker.
		nl := bytes.IndexByte(src, '\n')
		end := bytes.LastIndexByte(src, '\n')
		if nl < 0 || end <= nl {
			return nil
		}
		return &waitgraph.Script{
			Text:  string(src[nl+1 : end+1]),
			File:  rng.Filename,
			Start: hcl.Pos{Line: rng.Start.Line + 1, Column: 1, Byte: rng.Start.Byte + nl + 1},
		}
	}
	if len(src) >= 2 && src[0] == '"' && src[len(src)-1] == '"' {
		return &waitgraph.Script{
			Text:  string(src[1 : len(src)-1]),
			File:  rng.Filename,
			Start: hcl.Pos{Line: rng.Start.Line, Column: rng.Start.Column + 1, Byte: rng.Start.Byte + 1},
		}
	}
	return nil
}

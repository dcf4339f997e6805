package compiler

import "github.com/hashicorp/hcl/v2"

// analyzeWaits runs the wait-graph analysis over a deployment's scripts.
func (p *Program) analyzeWaits(plan *Plan) hcl.Diagnostics { return nil }

func (p *Program) waitEdges(plan *Plan) []GraphEdge { return nil }

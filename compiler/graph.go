package compiler

import (
	"fmt"
	"sort"
	"strings"
)

// Graph is a deployment's nodes and the edges between them: mappings
// (an input fed from another node's output) and waits (an ss-get in a
// script on a key another node sets).
type Graph struct {
	Deployment string
	Nodes      []GraphNode
	Edges      []GraphEdge
}

// GraphNode is one node of the deployment.
type GraphNode struct {
	Name, Component, Cloud, Connector string
	Multiplicity                      string
}

// GraphEdge points from the node that needs a value to the node that
// provides it.
type GraphEdge struct {
	From, To string
	Kind     string // "mapping" or "wait"
	Label    string
	Where    string // source position of a wait
}

// BuildGraph collects a checked deployment's graph.
func BuildGraph(plan *Plan) *Graph {
	g := &Graph{Deployment: plan.Deployment.Name}
	nodes := append([]*PlanNode(nil), plan.Nodes...)
	sortByName(nodes, func(n *PlanNode) string { return n.Name })
	for _, pn := range nodes {
		mult := "deploy-time"
		if pn.Count >= 0 {
			mult = fmt.Sprint(pn.Count)
		}
		g.Nodes = append(g.Nodes, GraphNode{Name: pn.Name, Component: pn.Component.Name, Cloud: pn.Cloud.Name, Connector: pn.Connector.Name, Multiplicity: mult})
		for _, in := range sortedKeys(pn.Inputs) {
			iv := pn.Inputs[in]
			if iv.FromNode != "" {
				g.Edges = append(g.Edges, GraphEdge{From: pn.Name, To: iv.FromNode, Kind: "mapping", Label: fmt.Sprintf("%s ← %s:%s", in, iv.FromNode, iv.FromKey)})
			}
		}
	}
	g.Edges = append(g.Edges, plan.Program.waitEdges(plan)...)
	sort.SliceStable(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Label < b.Label
	})
	return g
}

// Text renders the graph for a terminal.
func (g *Graph) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s\n", g.Deployment)
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  node %s: component %s on cloud %s (%s) × %s\n", n.Name, n.Component, n.Cloud, n.Connector, n.Multiplicity)
		for _, e := range g.Edges {
			if e.From != n.Name {
				continue
			}
			if e.Kind == "wait" {
				fmt.Fprintf(&b, "    waits for %s (%s)\n", e.Label, e.Where)
			} else {
				fmt.Fprintf(&b, "    maps %s\n", e.Label)
			}
		}
	}
	return b.String()
}

// Dot renders the graph for Graphviz.
func (g *Graph) Dot() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir = LR;\n  node [shape = box];\n", g.Deployment)
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %q [label = %q];\n", n.Name, fmt.Sprintf("%s\n%s on %s × %s", n.Name, n.Component, n.Cloud, n.Multiplicity))
	}
	for _, e := range g.Edges {
		style := "solid"
		if e.Kind == "wait" {
			style = "dashed"
		}
		fmt.Fprintf(&b, "  %q -> %q [label = %q, style = %s];\n", e.From, e.To, e.Label, style)
	}
	b.WriteString("}\n")
	return b.String()
}

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
	// Builds are the images built for the nodes (the image factory).
	Builds []GraphBuild
}

// GraphBuild is one image built on one cloud: from its parent's build or
// a native image, for the nodes that start from it.
type GraphBuild struct {
	Name, Image, Cloud string
	// From is the build it starts from ("" for a native image: Native).
	From, Native string
	// Nodes start from it.
	Nodes []string
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
	for _, b := range plan.Builds {
		gb := GraphBuild{Name: b.resourceName(), Image: qualifiedName(b.Image.Module, b.Image.Name), Cloud: b.Cloud.Name}
		if b.Parent != nil {
			gb.From = b.Parent.resourceName()
		} else if v, d := b.ParentID.Value(plan.Program.evalContext(b.Cloud.Module)); !d.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type().FriendlyName() == "string" {
			gb.Native = v.AsString()
		} else {
			gb.Native = "(a deploy-time id)"
		}
		for _, pn := range nodes {
			if pn.Build == b {
				gb.Nodes = append(gb.Nodes, pn.Name)
			}
		}
		g.Builds = append(g.Builds, gb)
	}
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
	for _, bd := range g.Builds {
		from := "native image " + bd.Native
		if bd.From != "" {
			from = "build " + bd.From
		}
		fmt.Fprintf(&b, "  build %s: image %s on cloud %s, from %s", bd.Name, bd.Image, bd.Cloud, from)
		if len(bd.Nodes) > 0 {
			fmt.Fprintf(&b, "; nodes %s start from it", strings.Join(bd.Nodes, ", "))
		}
		b.WriteString("\n")
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
	for _, bd := range g.Builds {
		id := "build " + bd.Name
		fmt.Fprintf(&b, "  %q [label = %q, shape = component];\n", id, fmt.Sprintf("image %s\non %s", bd.Image, bd.Cloud))
		if bd.From != "" {
			fmt.Fprintf(&b, "  %q -> %q [label = \"built from\", style = dotted];\n", id, "build "+bd.From)
		}
		for _, n := range bd.Nodes {
			fmt.Fprintf(&b, "  %q -> %q [label = \"starts from\", style = dotted];\n", n, id)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

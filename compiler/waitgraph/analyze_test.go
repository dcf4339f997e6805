package waitgraph

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// params builds a parameter map from specs: "x" is a plain parameter, "x!"
// a preset one, and "x<db.y" an input mapped from db's y.
func params(specs ...string) map[string]Param {
	m := map[string]Param{"hostname": {Preset: true}}
	for _, s := range specs {
		switch {
		case strings.HasSuffix(s, "!"):
			m[strings.TrimSuffix(s, "!")] = Param{Preset: true}
		case strings.Contains(s, "<"):
			name, src, _ := strings.Cut(s, "<")
			n, k, _ := strings.Cut(src, ".")
			m[name] = Param{MappedFrom: n, MappedKey: k}
		default:
			m[s] = Param{}
		}
	}
	return m
}

// node builds a node of component name with a deploy script and an
// optional report script, each in its own file name.deploy / name.report.
func node(name string, ps map[string]Param, deploy, report string) *Node {
	n := &Node{Name: name, Params: ps, Stages: [][]Script{nil, nil}}
	owner := fmt.Sprintf("component %q", name)
	if deploy != "" {
		n.Stages[0] = []Script{{Phase: "deploy", Owner: owner, Text: deploy, File: name + ".deploy", Start: hcl.Pos{Line: 1, Column: 1}}}
	}
	if report != "" {
		n.Stages[1] = []Script{{Phase: "report", Owner: owner, Text: report, File: name + ".report", Start: hcl.Pos{Line: 1, Column: 1}}}
	}
	return n
}

// analyze runs Analyze and checks what every diagnostic must carry.
func analyze(t *testing.T, nodes ...*Node) hcl.Diagnostics {
	t.Helper()
	diags := Analyze(nodes)
	for _, d := range diags {
		if d.Subject == nil || d.Context == nil {
			t.Errorf("diagnostic without Subject or Context: %s", d.Error())
		}
	}
	return diags
}

func summaries(diags hcl.Diagnostics) string {
	var s []string
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		s = append(s, fmt.Sprintf("%s %s: %s @%s", sev, d.Subject.Filename, d.Summary, rs(*d.Subject)))
	}
	return strings.Join(s, "\n")
}

func TestAnalyze(t *testing.T) {
	cases := []struct {
		name   string
		nodes  []*Node
		want   []string // summaries() lines
		detail []string // substrings of the details, in diagnostic order
	}{
		{
			name: "lamp",
			nodes: []*Node{
				node("db", params("password", "ready"), "ss-set password \"$(openssl rand -hex 8)\"\nss-set ready true", ""),
				node("web", params("multiplicity!", "ready"),
					"pw=$(ss-get --timeout 600 db:password)\nhost=$(ss-get db.1:hostname)\nss-get-all db ready\nss-set ready true\nss-get-all web ready",
					"ss-get db:ready\nss-get web.3:ready\nss-get ss:url"),
			},
		},
		{
			name: "safe ring of five",
			nodes: func() []*Node {
				var ns []*Node
				for i := range 5 {
					ns = append(ns, node(fmt.Sprintf("n%d", i), params("v"),
						fmt.Sprintf("ss-set v \"$(hostname)\"\nss-get n%d:v", (i+1)%5), ""))
				}
				return ns
			}(),
		},
		{
			name: "two-node deadlock",
			nodes: []*Node{
				node("b", params("x"), "ss-get a:y\nss-set x 1", ""),
				node("a", params("y"), "ss-get --timeout 60 b:x\nss-set y 1", ""),
			},
			want: []string{`error a.deploy: Deadlock: nodes "a" and "b" wait for each other @1:21-1:24`},
			detail: []string{`node "a" waits for b:x (deploy script of component "a", line 1) before it sets a:y (deploy script of component "a", line 2); ` +
				`node "b" waits for a:y (deploy script of component "b", line 1) before it sets b:x (deploy script of component "b", line 2). ` +
				`Move each ss-set before the ss-get that waits for the other node, so the exchange is safe.`},
		},
		{
			name: "deadlock through command substitution",
			nodes: []*Node{
				node("a", params("y"), `ss-set y "$(ss-get b:x)"`, ""),
				node("b", params("x"), `ss-set x "$(ss-get a:y)"`, ""),
			},
			want: []string{`error a.deploy: Deadlock: nodes "a" and "b" wait for each other @1:20-1:23`},
		},
		{
			name: "three-node deadlock with a victim",
			nodes: []*Node{
				node("c", params("x"), "ss-set other 1\nss-get a:x\nss-set x 1", ""),
				node("a", params("x"), "ss-get b:x\nss-set x 1", ""),
				node("b", params("x"), "ss-get c:x\nss-set x 1", ""),
				node("victim", params(), "ss-get a:x", ""),
			},
			want: []string{
				`error a.deploy: Deadlock: nodes "a", "b" and "c" wait for each other in a cycle @1:8-1:11`,
				`error c.deploy: Unknown parameter @1:8-1:13`,
			},
			detail: []string{`node "a" waits for b:x (deploy script of component "a", line 1) before it sets a:x (deploy script of component "a", line 2); ` +
				`node "b" waits for c:x (deploy script of component "b", line 1) before it sets b:x (deploy script of component "b", line 2); ` +
				`node "c" waits for a:x (deploy script of component "c", line 2) before it sets c:x (deploy script of component "c", line 3).`},
		},
		{
			name: "two separate deadlocks",
			nodes: []*Node{
				node("a", params("x"), "ss-get b:x\nss-set x 1", ""),
				node("b", params("x"), "ss-get a:x\nss-set x 1", ""),
				node("c", params("x"), "ss-get d:x\nss-set x 1", ""),
				node("d", params("x"), "ss-get c:x\nss-set x 1", ""),
			},
			want: []string{
				`error a.deploy: Deadlock: nodes "a" and "b" wait for each other @1:8-1:11`,
				`error c.deploy: Deadlock: nodes "c" and "d" wait for each other @1:8-1:11`,
			},
		},
		{
			name:   "self deadlock",
			nodes:  []*Node{node("a", params("x"), "ss-get x\nss-set x 1", "")},
			want:   []string{`error a.deploy: Deadlock: node "a" waits for itself @1:8-1:9`},
			detail: []string{`node "a" waits for a:x (deploy script of component "a", line 1) before it sets a:x (deploy script of component "a", line 2). Move the ss-set before`},
		},
		{
			name: "instances wait for a sibling's value",
			nodes: []*Node{node("web", params("master_ip", "id!"),
				"if [ \"$(ss-get id)\" != 1 ]; then\n  ip=$(ss-get web.1:master_ip)\nelse\n  ss-set master_ip \"$(hostname -i)\"\nfi\nss-get web:master_ip", "")},
		},
		{
			name:  "get-all of the node's own key before setting it",
			nodes: []*Node{node("web", params("ready"), "ss-get-all web ready\nss-set ready 1", "")},
			want:  []string{`error web.deploy: Deadlock: node "web" waits for itself @1:12-1:21`},
		},
		{
			name: "python script in a deadlock",
			nodes: []*Node{
				node("a", params("y"), "#!/usr/bin/env python3\nimport subprocess\nx = subprocess.check_output(['ss-get', 'b:x'])\nsubprocess.run(['ss-set', 'y', x])", ""),
				node("b", params("x"), "ss-get a:y\nss-set x 1", ""),
			},
			want: []string{`error a.deploy: Deadlock: nodes "a" and "b" wait for each other @3:40-3:45`},
		},
		{
			name: "barrier deadlock",
			nodes: []*Node{
				node("a", params(), "ss-get b:x", ""),
				node("b", params("x"), "echo deploying", "ss-set x 1"),
			},
			want: []string{`error a.deploy: Deadlock: node "a" waits for b:x, which is set only in a later stage @1:8-1:11`},
			detail: []string{`Node "a" waits for b:x (deploy script of component "a", line 1) in the Executing stage, but node "b" sets b:x only in the SendingReports stage (report script of component "b", line 1). ` +
				`No node starts the SendingReports stage until every node has finished the Executing stage, so "a" and "b" wait for each other through the stage barrier. ` +
				`Set b:x in a pre_install, post_install or deploy script of "b", or move the ss-get into a report script of "a".`},
		},
		{
			name: "report scripts may wait for report scripts",
			nodes: []*Node{
				node("a", params("y"), "", "ss-get b:x\nss-set y 1"),
				node("b", params("x"), "", "ss-set x 1\nss-get a:y"),
			},
		},
		{
			name: "key nothing sets",
			nodes: []*Node{
				node("db", params("token"), "echo", ""),
				node("web", params(), "ss-get db:token\nss-get --noblock db:token", ""),
			},
			want:   []string{`warning web.deploy: Wait on a key that nothing sets @1:8-1:16`},
			detail: []string{`Node "web" waits for db:token (deploy script of component "web", line 1), but no script sets db:token and it has no value before the scripts run, so the script will block until its ss-get timeout and then fail.`},
		},
		{
			name: "set of another node's key",
			nodes: []*Node{
				node("db", params("foo"), "ss-set foo 1", ""),
				node("web", params(), "ss-set db:foo 1\nss-random db:foo", ""),
			},
			want: []string{
				`error web.deploy: Cannot set another node's parameter @1:8-1:14`,
				`error web.deploy: Cannot set another node's parameter @2:11-2:17`,
			},
			detail: []string{"an instance may set only its own parameters"},
		},
		{
			name: "unknown parameter",
			nodes: []*Node{
				node("db", params("password"), "ss-set password x\nss-set pasword x", ""),
				node("web", params(), "ss-get db:pasword", ""),
			},
			want: []string{
				`error db.deploy: Unknown parameter @2:8-2:15`,
				`error web.deploy: Unknown parameter @1:8-1:18`,
			},
			detail: []string{
				`Node "db" does not declare a parameter named "pasword" (ss-set pasword in the deploy script of component "db", line 2). Did you mean "password"?`,
				`Node "db" does not declare a parameter named "pasword" (ss-get db:pasword in the deploy script of component "web", line 1). Did you mean "password"?`,
			},
		},
		{
			name: "unknown node",
			nodes: []*Node{
				node("db", params("password"), "ss-set password x", ""),
				node("web", params(), "ss-get dbb:password", ""),
			},
			want:   []string{`error web.deploy: Unknown node in parameter key @1:8-1:20`},
			detail: []string{`refers to node "dbb", but the deployment has no node of that name. Did you mean "db"?`},
		},
		{
			name: "invalid key",
			nodes: []*Node{
				node("web", params(), "ss-get 'a:b:c'", ""),
			},
			want: []string{`error web.deploy: Invalid parameter key @1:8-1:15`},
		},
		{
			name: "mapped input resolved to its source",
			nodes: []*Node{
				node("db", params("password"), "ss-set password x", ""),
				node("web", params("db_password<db.password"), "ss-get db_password", ""),
			},
		},
		{
			name: "deadlock through a mapped input",
			nodes: []*Node{
				node("db", params("password"), "ss-get web:ready\nss-set password x", ""),
				node("web", params("ready", "db_password<db.password"), "ss-get db_password\nss-set ready true", ""),
			},
			want:   []string{`error db.deploy: Deadlock: nodes "db" and "web" wait for each other @1:8-1:17`},
			detail: []string{`node "web" waits for db:password through input web:db_password (deploy script of component "web", line 1) before it sets web:ready`},
		},
		{
			name: "mapped input nothing sets",
			nodes: []*Node{
				node("db", params("password"), "echo", ""),
				node("web", params("db_password<db.password"), "ss-get db_password", ""),
			},
			want:   []string{`warning web.deploy: Wait on a key that nothing sets @1:8-1:19`},
			detail: []string{`waits for web:db_password, which is mapped from db:password, (deploy script`},
		},
		{
			name: "preset input never waits",
			nodes: []*Node{
				node("web", params("port!", "db_host<db.hostname"), "ss-get port\nss-get db_host\nss-get ids", ""),
				node("db", params(), "", ""),
			},
		},
		{
			name: "noblock is not a wait",
			nodes: []*Node{
				node("a", params("y"), "ss-get --noblock b:x\nss-set y 1", ""),
				node("b", params("x"), "ss-get a:y\nss-set x 1", ""),
			},
		},
		{
			name: "shared image script reports a node-independent error once",
			nodes: func() []*Node {
				img := Script{Phase: "post_install", Owner: `image "base"`, Text: "ss-get dbb:password", File: "base.image", Start: hcl.Pos{Line: 4, Column: 3}}
				db := node("db", params("password"), "ss-set password x", "")
				w1, w2 := node("w1", params(), "", ""), node("w2", params(), "", "")
				w1.Stages[0] = []Script{img}
				w2.Stages[0] = []Script{img}
				return []*Node{db, w1, w2}
			}(),
			want: []string{`error base.image: Unknown node in parameter key @4:10-4:22`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diags := analyze(t, tc.nodes...)
			if got, want := summaries(diags), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", got, want)
			}
			for i, sub := range tc.detail {
				if i >= len(diags) || !strings.Contains(diags[i].Detail, sub) {
					t.Errorf("detail %d does not contain %q:\n%s", i, sub, summaries(diags[i:i+1]))
					if i < len(diags) {
						t.Logf("detail: %s", diags[i].Detail)
					}
				}
			}
			// The order of the nodes must not matter.
			rev := append([]*Node(nil), tc.nodes...)
			rand.New(rand.NewSource(1)).Shuffle(len(rev), func(i, j int) { rev[i], rev[j] = rev[j], rev[i] })
			if got := Analyze(rev); fmt.Sprint(got) != fmt.Sprint(diags) {
				t.Errorf("shuffled nodes give:\n%s", summaries(got))
			}
		})
	}
}

func TestAnalyzeContext(t *testing.T) {
	diags := analyze(t,
		node("a", params("y"), "echo start\n  ss-get --timeout 60 b:x # wait\nss-set y 1", ""),
		node("b", params("x"), "ss-get a:y\nss-set x 1", ""))
	if len(diags) != 1 {
		t.Fatalf("got %s", summaries(diags))
	}
	d := diags[0]
	want := hcl.Range{Filename: "a.deploy", Start: hcl.Pos{Line: 2, Column: 23, Byte: 33}, End: hcl.Pos{Line: 2, Column: 26, Byte: 36}}
	if *d.Subject != want {
		t.Errorf("Subject = %#v, want %#v", *d.Subject, want)
	}
	wantCtx := hcl.Range{Filename: "a.deploy", Start: hcl.Pos{Line: 2, Column: 3, Byte: 13}, End: want.End}
	if *d.Context != wantCtx {
		t.Errorf("Context = %#v, want %#v", *d.Context, wantCtx)
	}
}

func TestEdges(t *testing.T) {
	edges := Edges([]*Node{
		node("web", params("db_password<db.password", "ready"),
			"ss-get db_password\nss-get hostname\nss-get --noblock db:password\nss-get db:ready\nss-set ready 1\nss-get ready", ""),
		node("db", params("password", "ready"), "ss-set password x\nss-set ready y", ""),
	})
	var got []string
	for _, e := range edges {
		got = append(got, fmt.Sprintf("%s->%s %s @%s", e.From, e.To, e.Key, rs(e.Range)))
	}
	want := []string{
		"web->db db:password @1:8-1:19",
		"web->db db:ready @4:8-4:16",
		"web->web web:ready @6:8-6:13",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAnalyzeEdgeCases(t *testing.T) {
	// None of these may panic or report anything.
	cases := [][]*Node{
		nil,
		{nil},
		{{Name: "empty"}},
		{{Name: "a", Stages: [][]Script{{{Text: "ss-get x"}}}}, {Name: "a"}}, // duplicate name: the first one counts
		{{Name: "three", Params: params("x"), Stages: [][]Script{{}, {}, {{Text: "ss-set x 1"}}}}},
		{{Name: "loop", Params: map[string]Param{"a": {MappedFrom: "loop", MappedKey: "b"}, "b": {MappedFrom: "loop", MappedKey: "a"}}, Stages: [][]Script{{{Text: "ss-set b 1\nss-get a"}}}}},
		{{Name: "unknownsource", Params: map[string]Param{"a": {MappedFrom: "nowhere", MappedKey: "b"}}}},
	}
	for i, nodes := range cases {
		diags := Analyze(nodes)
		if i == 3 {
			// The duplicate's script waits on an undeclared own key.
			if len(diags) != 1 || diags[0].Summary != "Unknown parameter" {
				t.Errorf("case %d: %s", i, summaries(diags))
			}
			continue
		}
		if len(diags) != 0 {
			t.Errorf("case %d: %s", i, summaries(diags))
		}
	}
}

// ring builds n nodes exchanging values around a ring; safe sets each node's
// value before it waits for its neighbour's.
func ring(n int, safe bool) []*Node {
	nodes := make([]*Node, n)
	for i := range nodes {
		next := fmt.Sprintf("n%d", (i+1)%n)
		text := fmt.Sprintf("ss-display starting\nss-set v \"$(hostname)\"\nss-get --timeout 600 %s:v\nss-get %s:hostname\n", next, next)
		if !safe {
			text = fmt.Sprintf("ss-get %s:v\nss-set v 1\n", next)
		}
		nodes[i] = node(fmt.Sprintf("n%d", i), params("v"), text, "ss-get-all "+next+" v")
	}
	return nodes
}

func TestAnalyzeLargeRings(t *testing.T) {
	if diags := Analyze(ring(10000, true)); len(diags) != 0 {
		t.Errorf("safe ring: %s", summaries(diags[:1]))
	}
	diags := Analyze(ring(10000, false))
	if len(diags) != 1 || !strings.HasPrefix(diags[0].Summary, `Deadlock: nodes "n0", "n1", "n2"`) {
		t.Errorf("deadlocked ring: %d diagnostics, first %q", len(diags), diags[0].Summary)
	}
}

func BenchmarkAnalyze10000Nodes(b *testing.B) {
	nodes := ring(10000, true)
	b.ReportAllocs()
	for b.Loop() {
		if diags := Analyze(nodes); len(diags) != 0 {
			b.Fatal(diags)
		}
	}
}

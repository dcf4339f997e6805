package waitgraph

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// rs renders a range compactly as line:col-line:col.
func rs(r hcl.Range) string {
	return fmt.Sprintf("%d:%d-%d:%d", r.Start.Line, r.Start.Column, r.End.Line, r.End.Column)
}

// callString renders the parts of a call the tests compare.
func callString(c Call) string {
	s := c.Command + " " + fmt.Sprintf("%q", c.Key) + " @" + rs(c.Range)
	if !c.Literal {
		s += " nonliteral"
	}
	if c.NoBlock {
		s += " noblock"
	}
	return s
}

func TestScan(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string
	}{
		{"bare", "ss-get db:password", []string{`ss-get "db:password" @1:8-1:19`}},
		{"double quotes", `ss-get "db:password"`, []string{`ss-get "db:password" @1:8-1:21`}},
		{"single quotes and value", `ss-set 'ready' "yes it is"`, []string{`ss-set "ready" @1:8-1:15`}},
		{"escaped", `ss-get db\:x`, []string{`ss-get "db:x" @1:8-1:13`}},
		{"instance", "ss-get web.2:ready", []string{`ss-get "web.2:ready" @1:8-1:19`}},
		{"flags", "ss-get --timeout 600 --ignoreabort --noblock db:x\nss-get --timeout=60 y\nss-get z --noblock",
			[]string{`ss-get "db:x" @1:46-1:50 noblock`, `ss-get "y" @2:21-2:22`, `ss-get "z" @3:8-3:9 noblock`}},
		{"slipstream options", "ss-get --run 1a2b --endpoint https://ss.example.com -v --ignore-abort db:x\nss-set --run=1a2b --verbose y 1",
			[]string{`ss-get "db:x" @1:71-1:75`, `ss-set "y" @2:29-2:30`}},
		{"long option prefixes", "ss-get --time 5 --nob a\nss-get --ignore b\nss-get-all --val ok web ready",
			[]string{`ss-get "a" @1:23-1:24 noblock`, `ss-get "b" @2:17-2:18`, `ss-get-all "web:ready" @3:21-3:30`}},
		{"end of options", "ss-get -- -odd", []string{`ss-get "-odd" @1:11-1:15`}},
		{"random", "ss-random -s 16 secret\nss-random -s8 tok\nx=$(ss-random)",
			[]string{`ss-random "secret" @1:17-1:23`, `ss-random "tok" @2:15-2:18`, `ss-random "" @3:5-3:14 nonliteral`}},
		{"get-all", "ss-get-all web ready --value ok", []string{`ss-get-all "web:ready" @1:12-1:21`}},
		{"display and abort", `ss-display "Installing db"; ss-abort --cancel "bad"`,
			[]string{`ss-display "" @1:1-1:11 nonliteral`, `ss-abort "" @1:29-1:37 nonliteral`}},
		{"path", "/opt/slipstream/bin/ss-get x", []string{`ss-get "x" @1:28-1:29`}},
		{"command substitution", "pw=$(ss-get db:password)\nip=`ss-get db:ip`",
			[]string{`ss-get "db:password" @1:13-1:24`, `ss-get "db:ip" @2:12-2:17`}},
		{"substitution runs first", `ss-set out "$(ss-get in)"`,
			[]string{`ss-get "in" @1:22-1:24`, `ss-set "out" @1:8-1:11`}},
		{"comments and echo", "# ss-get nope\necho ss-get nope\nss-get yes # ss-set no",
			[]string{`ss-get "yes" @3:8-3:11`}},
		{"non-literal", "ss-get \"$KEY\"\nss-get db:$k\nss-get $(echo k)\nss-get \"${n}:x\"",
			[]string{
				`ss-get "\"$KEY\"" @1:8-1:14 nonliteral`,
				`ss-get "db:$k" @2:8-2:13 nonliteral`,
				`ss-get "$(echo k)" @3:8-3:17 nonliteral`,
				`ss-get "\"${n}:x\"" @4:8-4:16 nonliteral`,
			}},
		{"control flow", "f() { ss-set a 1; }\nif ss-get --noblock b; then ss-get c | ss-set d \"$x\"; fi\nwhile ! ss-get e; do sleep 1; done",
			[]string{`ss-set "a" @1:14-1:15`, `ss-get "b" @2:21-2:22 noblock`, `ss-get "c" @2:36-2:37`, `ss-set "d" @2:47-2:48`, `ss-get "e" @3:16-3:17`}},
		{"heredoc", "cat >f <<EOF\npw=$(ss-get h)\nEOF\n", []string{`ss-get "h" @2:13-2:14`}},
		{"unicode column", "echo \"é\"; ss-get x", []string{`ss-get "x" @1:18-1:19`}},
		{"bash shebang", "#!/usr/bin/env bash\nset -e\nss-get a", []string{`ss-get "a" @3:8-3:9`}},
		{"python", "#!/usr/bin/env python3\nimport os, subprocess\n" +
			"pw = subprocess.check_output([\"ss-get\", \"--timeout\", \"600\", \"db:password\"])\n" +
			"subprocess.run([\"ss-set\", key, \"x\"])\n" +
			"os.system(\"ss-set ready 'true'\")\n" +
			"# ss-get nope\n" +
			"os.system(\"ss-get db:%s\" % n)\n" +
			"os.system(\"ss-get db:\" + n)\n" +
			"subprocess.run(['ss-get-all', 'web', 'ready'])\n",
			[]string{
				`ss-get "db:password" @3:61-3:74`,
				`ss-set "key" @4:27-4:30 nonliteral`,
				`ss-set "ready" @5:19-5:24`,
				`ss-get "db:%s" @7:19-7:24 nonliteral`,
				`ss-get "db:" @8:19-8:22 nonliteral`,
				`ss-get-all "web:ready" @9:31-9:45`,
			}},
		{"perl", "#!/usr/bin/perl\nmy $pw = `ss-get db:password`;\nsystem('ss-set', 'ready', 'true');",
			[]string{`ss-get "db:password" @2:18-2:29`, `ss-set "ready" @3:18-3:25`}},
		{"unparsable shell falls back", "ss-get db:x\nif then (\nss-set y 1",
			[]string{`ss-get "db:x" @1:8-1:12`, `ss-set "y" @3:8-3:9`}},
		{"not a command name", "echo myss-get x; ss-get-allx y; ss-setter z", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls, _ := Scan(Script{Text: tc.text, File: "s.sh"})
			var got []string
			for _, c := range calls {
				got = append(got, callString(c))
				if c.Range.Filename != "s.sh" || c.CallRange.Filename != "s.sh" {
					t.Errorf("filename not set: %+v", c)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Scan(%q):\n got: %s\nwant: %s", tc.text, strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestScanStartOffset(t *testing.T) {
	// The script is embedded in an HCL heredoc starting at line 10, column 5,
	// byte 100: only its first line is shifted right.
	s := Script{Text: "ss-get a\n  ss-get b", File: "main.hcl", Start: hcl.Pos{Line: 10, Column: 5, Byte: 100}}
	calls, _ := Scan(s)
	if len(calls) != 2 {
		t.Fatalf("got %d calls", len(calls))
	}
	want := []hcl.Range{
		{Filename: "main.hcl", Start: hcl.Pos{Line: 10, Column: 12, Byte: 107}, End: hcl.Pos{Line: 10, Column: 13, Byte: 108}},
		{Filename: "main.hcl", Start: hcl.Pos{Line: 11, Column: 10, Byte: 118}, End: hcl.Pos{Line: 11, Column: 11, Byte: 119}},
	}
	for i, c := range calls {
		if c.Range != want[i] {
			t.Errorf("call %d range = %#v, want %#v", i, c.Range, want[i])
		}
	}
	wantCall := hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: 11, Column: 3, Byte: 111}, End: hcl.Pos{Line: 11, Column: 11, Byte: 119}}
	if calls[1].CallRange != wantCall {
		t.Errorf("CallRange = %#v, want %#v", calls[1].CallRange, wantCall)
	}
}

func TestScanDiagnostics(t *testing.T) {
	cases := map[string]int{
		"ss-get --timeout 5":    1,
		"ss-set":                1,
		"ss-get-all web":        1,
		"ss-get --help":         0,
		"ss-random":             0,
		"ss-display":            0,
		"ss-get x; ss-set y 1":  0,
		"#!/bin/python\nss-get": 0, // the line scanner cannot tell
	}
	for text, want := range cases {
		_, diags := Scan(Script{Text: text, File: "s.sh"})
		if len(diags) != want {
			t.Errorf("Scan(%q) gave %d diagnostics, want %d: %v", text, len(diags), want, diags)
		}
		for _, d := range diags {
			if d.Summary != "Missing parameter key" || d.Subject == nil || d.Context == nil {
				t.Errorf("Scan(%q): unexpected diagnostic %#v", text, d)
			}
		}
	}
}

func TestIsShell(t *testing.T) {
	cases := map[string]bool{
		"ss-get x":                     true,
		"#!/bin/sh\n":                  true,
		"#!/bin/bash -e\n":             true,
		"#!/usr/bin/env -S bash -eu\n": true,
		"#!/usr/bin/zsh":               true,
		"#!/usr/bin/env python3\n":     false,
		"#!/usr/bin/python3.12\n":      false,
		"#!/usr/bin/perl -w\n":         false,
		"#!":                           true,
	}
	for text, want := range cases {
		if got := isShell(text); got != want {
			t.Errorf("isShell(%q) = %v, want %v", text, got, want)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add("ss-get db:password", 1, 1, 0)
	f.Add("pw=$(ss-get --timeout 600 \"db:password\")\nss-set ready true\n", 3, 7, 40)
	f.Add("#!/usr/bin/env python3\nsubprocess.run([\"ss-get\", \"db:x\"])\nos.system(\"ss-set y 'z'\")", 1, 1, 0)
	f.Add("ss-set out \"$(ss-get in)\" `ss-get-all web ready`\ncat <<EOF\n$(ss-random -s 8 k)\nEOF", 2, 3, 9)
	f.Add("if ss-get a; then\n  ss-get 'é:x' | ss-set \\\n  b 1\nfi (", 0, 0, 0)
	f.Fuzz(func(t *testing.T, text string, line, col, off int) {
		start := hcl.Pos{Line: line % 1000, Column: col % 1000, Byte: off % 100000}
		var calls []Call
		var diags hcl.Diagnostics
		done := make(chan struct{})
		go func() {
			defer close(done)
			calls, diags = Scan(Script{Text: text, File: "f", Start: start})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Scan(%q) hangs", text)
		}
		m := newPosMap(Script{Text: text, Start: start})
		lo, hi := m.start, m.start
		hi.Byte += len(text)
		hi.Line += strings.Count(text, "\n")
		check := func(what string, r hcl.Range) {
			if r.Filename != "f" {
				t.Fatalf("%s: filename %q", what, r.Filename)
			}
			if r.Start.Byte < lo.Byte || r.End.Byte > hi.Byte || r.Start.Byte > r.End.Byte {
				t.Fatalf("%s: bytes %d-%d outside %d-%d", what, r.Start.Byte, r.End.Byte, lo.Byte, hi.Byte)
			}
			if r.Start.Line < lo.Line || r.End.Line > hi.Line || r.Start.Line > r.End.Line {
				t.Fatalf("%s: lines %d-%d outside %d-%d", what, r.Start.Line, r.End.Line, lo.Line, hi.Line)
			}
			if r.Start.Column < 1 || r.End.Column < 1 {
				t.Fatalf("%s: column below 1: %s", what, rs(r))
			}
		}
		for _, c := range calls {
			check("Range", c.Range)
			check("CallRange", c.CallRange)
			if c.CallRange.Start.Byte > c.Range.Start.Byte || c.CallRange.End.Byte < c.Range.End.Byte {
				t.Fatalf("Range %s not inside CallRange %s", rs(c.Range), rs(c.CallRange))
			}
			if _, ok := specs[c.Command]; !ok {
				t.Fatalf("unknown command %q", c.Command)
			}
		}
		for _, d := range diags {
			check("Subject", *d.Subject)
			check("Context", *d.Context)
		}
		// Whatever the scripts say, the analysis must not panic either.
		s := Script{Phase: "deploy", Text: text, File: "f", Start: start}
		Analyze([]*Node{
			{Name: "a", Params: map[string]Param{"x": {}, "y": {MappedFrom: "b", MappedKey: "x"}}, Stages: [][]Script{{s}, {s}}},
			{Name: "b", Params: map[string]Param{"x": {}, "y": {Preset: true}}, Stages: [][]Script{{s}, {s}}},
		})
	})
}

// TestScanLongLine guards against positions that cost the length of the
// line: 50,000 calls on one line would then take minutes.
func TestScanLongLine(t *testing.T) {
	text := strings.Repeat("ss-get é; ", 50000)
	calls, _ := Scan(Script{Text: text, File: "s.sh"})
	if len(calls) != 50000 {
		t.Fatalf("got %d calls", len(calls))
	}
	last := calls[len(calls)-1].Range
	if want := 49999*10 + 8; last.Start.Column != want || last.Start.Byte != 49999*11+7 {
		t.Errorf("last key at column %d byte %d, want column %d", last.Start.Column, last.Start.Byte, want)
	}
}

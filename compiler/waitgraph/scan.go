package waitgraph

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"mvdan.cc/sh/v3/syntax"
)

// Script is one script of a node, as the compiler resolved it.
type Script struct {
	Phase string  // "pre_install", "post_install", "deploy" or "report"
	Owner string  // human label for messages, e.g. `component "web"` or `image "base"`
	Text  string  // the script content
	File  string  // filename used in the ranges of positions inside Text
	Start hcl.Pos // position in File of Text's first byte; a zero Start means line 1, column 1, byte 0
}

// Call is one ss-* command found in a script.
type Call struct {
	// Command is the command name: "ss-get", "ss-get-all", "ss-set",
	// "ss-random", "ss-display" or "ss-abort".
	Command string
	// Key is the parameter key as the command receives it, after shell
	// unquoting. ss-get-all's two arguments are joined as "node:key". When
	// the key is not Literal, Key is its source text (e.g. "$KEY"). Key is ""
	// when the command has no key argument (ss-display, ss-abort, ss-random
	// without a key, or a malformed call).
	Key string
	// Literal reports whether Key is known statically: it contains no
	// expansion and, for scripts read by the line scanner, matches the key
	// syntax.
	Literal bool
	// NoBlock is set for ss-get --noblock, which never waits.
	NoBlock bool
	// Range is the key argument as written, including any quotes (for
	// ss-get-all, from the node argument to the key argument), or the
	// command word when there is no key.
	Range hcl.Range
	// CallRange is the whole command, from its name to its last argument.
	CallRange hcl.Range
}

// cmdSpec describes the command-line syntax of one ss-* command, as far as
// finding its key needs.
type cmdSpec struct {
	keys        int             // positional arguments forming the key: 0, 1 or 2 (ss-get-all node key)
	keyRequired bool            // the command fails without a key
	options     map[string]bool // the command's own options, true for those that consume the next argument
}

// commonOptions are the options every ss-* command takes, as SlipStream's
// client did (docs/ss-commands.md), true for those that take a value.
var commonOptions = map[string]bool{"-v": false, "--verbose": false, "--run": true, "--endpoint": true, "-h": false, "--help": false}

// specs lists the commands that Scan recognises, with the options the
// agent accepts (cmd/slipstream-agent). ss-display and ss-abort take no
// key; they are reported so callers see every ss-* call, but the analysis
// ignores them.
var specs = map[string]cmdSpec{
	"ss-get":          {keys: 1, keyRequired: true, options: map[string]bool{"--timeout": true, "--noblock": false, "--ignore-abort": false, "--ignoreabort": false}},
	"ss-get-all":      {keys: 2, keyRequired: true, options: map[string]bool{"--value": true, "--timeout": true, "--noblock": false, "--ignore-abort": false, "--ignoreabort": false}},
	"ss-set":          {keys: 1, keyRequired: true, options: map[string]bool{"--ignore-abort": false, "--ignoreabort": false}},
	"ss-random":       {keys: 1, options: map[string]bool{"-s": true, "--size": true}},
	"ss-display":      {options: map[string]bool{"--ignore-abort": false, "--ignoreabort": false}},
	"ss-abort":        {options: map[string]bool{"--cancel": false}},
	"ss-cancel-abort": {},
}

// option resolves an option name as the agent's parser does: a known
// name, or a long option cut to an unambiguous prefix (--time is
// --timeout). It reports whether the option consumes the next argument;
// an unknown name takes none.
func (c cmdSpec) option(name string) (full string, takesValue bool) {
	if v, ok := c.options[name]; ok {
		return name, v
	}
	if v, ok := commonOptions[name]; ok {
		return name, v
	}
	if !strings.HasPrefix(name, "--") {
		return name, false
	}
	match, matches := "", 0
	for _, set := range []map[string]bool{c.options, commonOptions} {
		for o, v := range set {
			if strings.HasPrefix(o, "--") && strings.HasPrefix(o, name) {
				match, takesValue = o, v
				matches++
			}
		}
	}
	if matches != 1 {
		return name, false
	}
	return match, takesValue
}

// shells are the interpreters whose scripts are parsed as shell; a script
// without a shebang is run by sh too.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true, "zsh": true}

// Scan finds the ss-* calls of a script in execution order (see the package
// comment for how textual order stands for execution order).
//
// Shell scripts (no shebang, or a shebang naming sh, bash, dash, ash, ksh,
// mksh or zsh) are parsed, so calls are found wherever the shell would run
// them: in pipelines, $(...), backticks, here-documents, if and loop bodies
// and functions, but not in comments or as arguments of echo. Other scripts,
// and shell scripts that do not parse, are read by a line scanner that finds
// a command name followed by literal arguments, either inside one string
// (os.system("ss-get db:password")) or as separate quoted list elements
// (subprocess.run(["ss-get", "db:password"])); a key it cannot read as a
// literal is reported as non-literal.
//
// The diagnostics report calls that are certain to fail, such as an ss-get
// without a key. Scan never panics.
func Scan(s Script) ([]Call, hcl.Diagnostics) {
	m := newPosMap(s)
	if isShell(s.Text) {
		if calls, diags, ok := scanShell(m); ok {
			return calls, diags
		}
	}
	return scanLines(m), nil
}

// isShell reports whether the script's shebang, if any, names a shell.
func isShell(text string) bool {
	if !strings.HasPrefix(text, "#!") {
		return true
	}
	line, _, _ := strings.Cut(text[2:], "\n")
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return true // "#!" alone: the kernel refuses it, sh runs it
	}
	name := path.Base(fields[0])
	if name == "env" {
		// #!/usr/bin/env [-S] [VAR=x] bash: the interpreter is the first
		// operand.
		name = ""
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") && !strings.Contains(f, "=") {
				name = path.Base(f)
				break
			}
		}
	}
	// bash5, python3.12: the version does not change the language.
	return shells[strings.TrimRight(name, "0123456789.")]
}

// posMap turns byte offsets in a script's Text into positions in its File.
type posMap struct {
	s          Script
	start      hcl.Pos
	lineStarts []int // offset in Text of the first byte of each line
	// blockChars[k] is the number of characters in Text[:k*blockSize], so
	// that a column costs at most a block's worth of counting however long
	// the line and in whatever order positions are asked for.
	blockChars []int
}

const blockSize = 256

func newPosMap(s Script) *posMap {
	start := s.Start
	if start.Line < 1 {
		start.Line = 1
	}
	if start.Column < 1 {
		start.Column = 1
	}
	if start.Byte < 0 {
		start.Byte = 0
	}
	m := &posMap{s: s, start: start, lineStarts: []int{0}, blockChars: make([]int, 1, len(s.Text)/blockSize+1)}
	chars := 0
	for i := 0; i < len(s.Text); i++ {
		c := s.Text[i]
		if c == '\n' {
			m.lineStarts = append(m.lineStarts, i+1)
		}
		if c&0xC0 != 0x80 {
			chars++
		}
		if (i+1)%blockSize == 0 {
			m.blockChars = append(m.blockChars, chars)
		}
	}
	return m
}

// charsTo counts the characters in Text[:off]: the bytes that do not
// continue a UTF-8 sequence. Unlike utf8.RuneCountInString, this count adds
// up over any split of the text, even a split inside a character.
func (m *posMap) charsTo(off int) int {
	k := off / blockSize
	n := m.blockChars[k]
	for i := k * blockSize; i < off; i++ {
		if m.s.Text[i]&0xC0 != 0x80 {
			n++
		}
	}
	return n
}

// pos converts an offset in Text, clamped into it. Columns count characters
// (code points; hcl counts grapheme clusters, which differ only for
// combining sequences). Only Text's first line is shifted by Start.Column,
// since later lines of an embedded script start at column 1 of the file.
func (m *posMap) pos(off int) hcl.Pos {
	off = max(0, min(off, len(m.s.Text)))
	line := sort.SearchInts(m.lineStarts, off+1) - 1 // last line starting at or before off
	col := m.charsTo(off) - m.charsTo(m.lineStarts[line]) + 1
	if line == 0 {
		col += m.start.Column - 1
	}
	return hcl.Pos{Line: m.start.Line + line, Column: col, Byte: m.start.Byte + off}
}

func (m *posMap) rng(start, end int) hcl.Range {
	if end < start {
		end = start
	}
	return hcl.Range{Filename: m.s.File, Start: m.pos(start), End: m.pos(end)}
}

// arg is one argument of a call, with its byte span in Text.
type arg struct {
	val        string // unquoted value when lit, source text otherwise
	lit        bool
	start, end int
}

// buildCall interprets a command's arguments the way the ss-* clients'
// option parsers do (options may appear anywhere, "--" ends them), and
// returns the call and whether its key is missing.
func buildCall(m *posMap, cmd string, cmdStart, cmdEnd int, args []arg) (c Call, missing bool) {
	spec := specs[cmd]
	c = Call{Command: cmd, Range: m.rng(cmdStart, cmdEnd)}
	end := cmdEnd
	var pos []arg
	help, endOpts := false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		end = max(end, a.end)
		switch {
		case !endOpts && a.lit && a.val == "--":
			endOpts = true
		case !endOpts && a.lit && len(a.val) > 1 && a.val[0] == '-':
			// A non-literal argument is never taken for an option: it is
			// more likely the key, and treating it so only hides the call
			// from the analysis.
			name, attached := a.val, false
			if strings.HasPrefix(name, "--") {
				if k := strings.IndexByte(name, '='); k >= 0 {
					name, attached = name[:k], true
				}
			} else if _, takes := spec.option(name[:2]); len(name) > 2 && takes {
				name, attached = name[:2], true // -s8
			}
			name, takesValue := spec.option(name)
			switch name {
			case "--noblock":
				c.NoBlock = true
			case "-h", "--help":
				help = true
			}
			if takesValue && !attached && i+1 < len(args) {
				i++
				end = max(end, args[i].end)
			}
		default:
			pos = append(pos, a)
		}
	}
	c.CallRange = m.rng(cmdStart, end)
	switch {
	case spec.keys == 0:
	case len(pos) < spec.keys:
		missing = spec.keyRequired && !help
	case spec.keys == 1:
		c.Key, c.Literal = pos[0].val, pos[0].lit
		c.Range = m.rng(pos[0].start, pos[0].end)
	default: // ss-get-all node key
		c.Key, c.Literal = pos[0].val+":"+pos[1].val, pos[0].lit && pos[1].lit
		c.Range = m.rng(pos[0].start, pos[1].end)
	}
	return c, missing
}

func missingKey(c Call) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Missing parameter key",
		Detail:   fmt.Sprintf("%s needs a parameter key argument; without one it fails as soon as it runs.", c.Command),
		Subject:  ptr(c.Range),
		Context:  ptr(c.CallRange),
	}
}

func ptr(r hcl.Range) *hcl.Range { return &r }

// shellScanner walks a parsed shell script, collecting calls in execution
// order.
type shellScanner struct {
	m     *posMap
	calls []Call
	diags hcl.Diagnostics
}

// parsers recycles shell parsers, whose buffers dominate the cost of
// scanning the many small scripts of a large deployment.
var parsers = sync.Pool{New: func() any { return syntax.NewParser(syntax.Variant(syntax.LangBash)) }}

// scanShell parses the script as bash, the most permissive dialect (a
// "#!/bin/sh" script that uses bash syntax still runs where sh is bash). ok
// is false when the script does not parse or the parser fails, so that the
// caller falls back to the line scanner.
func scanShell(m *posMap) (calls []Call, diags hcl.Diagnostics, ok bool) {
	defer func() {
		// The parser is not expected to panic, but a compiler must not crash
		// on a user's script: the line scanner is a good enough answer.
		if recover() != nil {
			calls, diags, ok = nil, nil, false
		}
	}()
	p := parsers.Get().(*syntax.Parser)
	f, err := p.Parse(strings.NewReader(m.s.Text), m.s.File)
	parsers.Put(p)
	if err != nil {
		return nil, nil, false
	}
	sc := &shellScanner{m: m}
	syntax.Walk(f, sc.visit)
	return sc.calls, sc.diags, true
}

func (sc *shellScanner) visit(n syntax.Node) bool {
	switch n := n.(type) {
	case *syntax.Stmt:
		if call, ok := n.Cmd.(*syntax.CallExpr); ok && sc.command(call) != "" {
			// The shell performs a command's redirections (here-documents
			// included) before running it.
			for _, r := range n.Redirs {
				syntax.Walk(r, sc.visit)
			}
			sc.visitCall(call)
			return false
		}
	case *syntax.CallExpr:
		if sc.command(n) != "" {
			sc.visitCall(n)
			return false
		}
	}
	return true
}

// command returns the ss-* command a call runs, or "". A path such as
// /opt/slipstream/bin/ss-get counts too.
func (sc *shellScanner) command(c *syntax.CallExpr) string {
	if len(c.Args) == 0 {
		return ""
	}
	name, ok := wordLiteral(c.Args[0])
	if !ok {
		return ""
	}
	name = path.Base(name)
	if _, known := specs[name]; !known {
		return ""
	}
	return name
}

// visitCall records the calls nested in a call's assignments and arguments
// before the call itself, since the shell expands them before running it.
func (sc *shellScanner) visitCall(c *syntax.CallExpr) {
	for _, a := range c.Assigns {
		syntax.Walk(a, sc.visit)
	}
	for _, w := range c.Args[1:] {
		syntax.Walk(w, sc.visit)
	}
	args := make([]arg, 0, len(c.Args)-1)
	for _, w := range c.Args[1:] {
		a := arg{start: sc.offset(w.Pos()), end: sc.offset(w.End())}
		a.val, a.lit = wordLiteral(w)
		if !a.lit {
			a.val = sc.m.s.Text[a.start:max(a.start, a.end)]
		}
		args = append(args, a)
	}
	cmd := sc.command(c)
	call, missing := buildCall(sc.m, cmd, sc.offset(c.Args[0].Pos()), sc.offset(c.Args[0].End()), args)
	if missing {
		sc.diags = append(sc.diags, missingKey(call))
	}
	sc.calls = append(sc.calls, call)
}

// offset clamps a parser position into Text; positions inside backquotes
// or recovered by the parser need not be exact.
func (sc *shellScanner) offset(p syntax.Pos) int {
	return int(min(p.Offset(), uint(len(sc.m.s.Text))))
}

// wordLiteral returns the value the shell gives a word, when it has no
// expansion (no $var, $(...), globbing is ignored).
func wordLiteral(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value, ""))
		case *syntax.SglQuoted:
			if p.Dollar && strings.Contains(p.Value, `\`) {
				return "", false // $'\n' escapes: not worth decoding for a key
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok {
					return "", false
				}
				b.WriteString(unescape(lit.Value, "$`\"\\\n"))
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unescape removes shell backslash escapes: outside quotes (special == "")
// a backslash escapes any character, inside double quotes only the special
// ones.
func unescape(s, special string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (special == "" || strings.IndexByte(special, s[i+1]) >= 0) {
			i++
			if s[i] == '\n' {
				continue // line continuation
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// keyRE is the syntax of a runtime parameter key: name, node:name or
// node.N:name, where ss:name is a run-wide key.
var keyRE = regexp.MustCompile(`^(?:(\w+)(?:\.(\d+))?:)?(\w[\w.-]*)$`)

// scanLines is the fallback scanner for scripts in other languages and
// shell scripts that do not parse. It looks for a command name standing as a
// word of its own, then reads the arguments that follow on the same line.
func scanLines(m *posMap) []Call {
	var calls []Call
	text := m.s.Text
	for li, ls := range m.lineStarts {
		le := len(text)
		if li+1 < len(m.lineStarts) {
			le = m.lineStarts[li+1] - 1
		}
		if strings.HasPrefix(strings.TrimLeft(text[ls:le], " \t"), "#") {
			continue // a comment in sh, python, perl and ruby alike
		}
		for i := ls; i < le; {
			k := strings.Index(text[i:le], "ss-")
			if k < 0 {
				break
			}
			start := i + k
			i = start + 3
			if start > 0 && isNameByte(text[start-1]) {
				continue // myss-get, x.ss-get
			}
			cmd := commandAt(text[start:le])
			if cmd == "" {
				continue
			}
			cmdEnd := start + len(cmd)
			args, end := lineArgs(text, start, cmdEnd, le)
			call, _ := buildCall(m, cmd, start, cmdEnd, args)
			if call.Literal && !keyRE.MatchString(call.Key) {
				// "ss-get db:" + node: the literal part is not the key.
				call.Literal = false
			}
			calls = append(calls, call)
			i = max(i, end)
		}
	}
	return calls
}

// isNameByte reports bytes that continue a command name or path component,
// so that "ss-get" inside "ss-get-all" or "myss-get" is not taken for it.
func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// commandAt returns the ss-* command name that s starts with as a whole
// word, or "".
func commandAt(s string) string {
	best := ""
	for name := range specs {
		if strings.HasPrefix(s, name) && (len(s) == len(name) || !isNameByte(s[len(name)])) && len(name) > len(best) {
			best = name
		}
	}
	return best
}

// maxQuoted bounds the search for the end of a quoted argument, so that a
// quote that is never closed does not make the scan quadratic; no key or
// option value is that long.
const maxQuoted = 1024

// lineArgs reads the arguments after a command found by the line scanner.
// If the command name is a string of its own ("ss-get", ...), the arguments
// are the following quoted strings, possibly on the next lines; a bare word
// there is a variable, hence a non-literal argument that ends the scan.
// Otherwise the arguments are the words that follow on the line, up to the
// end of the string or command that holds them.
func lineArgs(text string, start, cmdEnd, lineEnd int) (args []arg, end int) {
	end = cmdEnd
	isQuote := func(c byte) bool { return c == '"' || c == '\'' }
	separate := start > 0 && cmdEnd < len(text) && isQuote(text[start-1]) && text[cmdEnd] == text[start-1]
	if separate {
		i := cmdEnd + 1
		for len(args) < 8 {
			for i < len(text) && strings.IndexByte(" \t\r\n,", text[i]) >= 0 {
				i++
			}
			if i >= len(text) {
				break
			}
			q := text[i]
			if !isQuote(q) {
				if isNameByte(q) { // a variable or a call: the value is unknown
					j := i
					for j < len(text) && isNameByte(text[j]) {
						j++
					}
					args = append(args, arg{val: text[i:j], start: i, end: j})
					end = j
				}
				break
			}
			j := strings.IndexByte(text[i+1:min(len(text), i+1+maxQuoted)], q)
			if j < 0 || strings.IndexByte(text[i+1:i+1+j], '\n') >= 0 {
				break
			}
			j += i + 1
			val := text[i+1 : j]
			args = append(args, arg{val: val, lit: !strings.ContainsAny(val, "${}%\\"), start: i, end: j + 1})
			end = j + 1
			i = j + 1
		}
		return args, end
	}
	i := cmdEnd
	for len(args) < 8 {
		// Every argument follows a blank; anything else (a quote closing
		// the enclosing string, "+", ")") ends the command.
		j := i
		for j < lineEnd && (text[j] == ' ' || text[j] == '\t') {
			j++
		}
		if j == i || j >= lineEnd {
			break
		}
		i = j
		if c := text[i]; isQuote(c) {
			// A quote after a blank opens a nested quoted argument,
			// as in os.system("ss-get 'db:password'").
			j := strings.IndexByte(text[i+1:min(lineEnd, i+1+maxQuoted)], c)
			if j < 0 {
				break
			}
			j += i + 1
			val := text[i+1 : j]
			args = append(args, arg{val: val, lit: !strings.ContainsAny(val, "${}%\\"), start: i, end: j + 1})
			end, i = j+1, j+1
			continue
		}
		j = i
		for j < lineEnd && strings.IndexByte(" \t\r\"'`;|&()<>,[]", text[j]) < 0 {
			j++
		}
		if j == i {
			break // an operator or the end of the enclosing string
		}
		val := text[i:j]
		args = append(args, arg{val: val, lit: !strings.ContainsAny(val, "${}%\\*?"), start: i, end: j})
		end, i = j, j
	}
	return args, end
}

package compiler

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// tfFile is an emitted Terraform file as a list of top-level blocks, each
// held in its own hclwrite.File. hclwrite's formatter aligns arguments only
// within a block, so formatting blocks separately gives the same bytes as
// formatting the whole file.
//
// Formatting is most of the cost of a large compile (hclwrite counts
// grapheme clusters with a fresh 4 KB scanner for every aligned line), and
// a large deployment repeats a few block shapes thousands of times: one
// instance resource, multiplicity variable and output per node. render
// therefore formats one segment of each shape with hclwrite and gives the
// others of that shape the same spacing (see segment). Formatting changes
// only the spaces before each token (hclwrite's documented invariant); the
// tests check the result byte for byte against formatting every block.
type tfFile struct {
	blocks []*tfBlock
}

// block appends a top-level block and returns its body.
func (f *tfFile) block(typeName string, labels []string) *tfBody {
	b := &tfBlock{typeName: typeName, labels: labels, body: &tfBody{}}
	f.blocks = append(f.blocks, b)
	return b.body
}

// comment appends a top-level comment, one "# " line per element.
func (f *tfFile) comment(lines ...string) {
	f.blocks = append(f.blocks, &tfBlock{comment: lines})
}

// tfBlock and tfBody build a block as a list of tokens. They offer the
// part of hclwrite's Body API that slipc uses, without its syntax tree:
// slipc only appends, and building trees for thousands of blocks only to
// flatten them again was a third of a large compile. The tokens are then
// formatted by hclwrite.
type tfBlock struct {
	typeName string
	labels   []string
	body     *tfBody
	// comment, when set, makes this a comment instead of a block.
	comment []string
}

// Body returns the block's body.
func (b *tfBlock) Body() *tfBody { return b.body }

type tfBody struct {
	items []tfItem
}

// tfItem is one line (or nested block) of a body: an attribute, a block,
// or a blank line.
type tfItem struct {
	name  string
	value hclwrite.Tokens
	block *tfBlock
}

// SetAttributeRaw appends `name = value`.
func (b *tfBody) SetAttributeRaw(name string, value hclwrite.Tokens) {
	b.items = append(b.items, tfItem{name: name, value: value})
}

// SetAttributeTraversal appends `name = a.b.c`.
func (b *tfBody) SetAttributeTraversal(name string, t hcl.Traversal) {
	b.SetAttributeRaw(name, hclwrite.TokensForTraversal(t))
}

// AppendNewline appends a blank line.
func (b *tfBody) AppendNewline() { b.items = append(b.items, tfItem{}) }

// AppendNewBlock appends a nested block.
func (b *tfBody) AppendNewBlock(typeName string, labels []string) *tfBlock {
	blk := &tfBlock{typeName: typeName, labels: labels, body: &tfBody{}}
	b.items = append(b.items, tfItem{block: blk})
	return blk
}

// tokens renders the block: its header, its items, its closing brace.
func (b *tfBlock) tokens(to hclwrite.Tokens) hclwrite.Tokens {
	if b.comment != nil {
		t := toks(to)
		for _, line := range b.comment {
			// A comment token holds its line's end.
			t = t.add(hclsyntax.TokenComment, strings.TrimRight("# "+line, " ")+"\n")
		}
		return t.tokens()
	}
	t := toks(to).ident(b.typeName)
	for _, l := range b.labels {
		t = t.str(l)
	}
	t = t.add(hclsyntax.TokenOBrace, "{").add(hclsyntax.TokenNewline, "\n")
	for _, it := range b.body.items {
		switch {
		case it.block != nil:
			t = toks(it.block.tokens(hclwrite.Tokens(t)))
		case it.value != nil:
			t = t.ident(it.name).add(hclsyntax.TokenEqual, "=")
			t = append(t, it.value...)
			t = t.add(hclsyntax.TokenNewline, "\n")
		default:
			t = t.add(hclsyntax.TokenNewline, "\n")
		}
	}
	return t.add(hclsyntax.TokenCBrace, "}").add(hclsyntax.TokenNewline, "\n").tokens()
}

// render formats every block and joins them with one blank line between.
// With share false every block is formatted by hclwrite (tests compare).
func (f *tfFile) render(share bool) []byte {
	n := len(f.blocks)
	tokens := make([]hclwrite.Tokens, n)
	segs := make([][]segment, n)
	parallel(n, func(i int) {
		tokens[i] = f.blocks[i].tokens(nil)
		if share {
			segs[i] = segments(tokens[i])
		}
	})
	// The first segment of each shape is formatted by hclwrite, in a
	// wrapper that recreates its indentation; the others copy its spacing.
	type ref struct{ block, seg int }
	first := map[string]ref{}
	var reps []ref
	var whole []int
	for i := range segs {
		if segs[i] == nil {
			whole = append(whole, i)
			continue
		}
		for j, sg := range segs[i] {
			if _, ok := first[sg.key]; !ok {
				first[sg.key] = ref{i, j}
				reps = append(reps, ref{i, j})
			}
		}
	}
	parallel(len(whole), func(k int) { formatTokens(tokens[whole[k]]) })
	parallel(len(reps), func(k int) {
		sg := segs[reps[k].block][reps[k].seg]
		wrapped := append(indentPrefix(sg.indents), tokens[reps[k].block][sg.start:sg.end]...)
		formatTokens(wrapped)
	})
	out := make([][]byte, n)
	parallel(n, func(i int) {
		for j, sg := range segs[i] {
			r := first[sg.key]
			if r.block == i && r.seg == j {
				continue
			}
			from := tokens[r.block][segs[r.block][r.seg].start:]
			for t, tok := range tokens[i][sg.start:sg.end] {
				tok.SpacesBefore = from[t].SpacesBefore
			}
		}
		out[i] = bytes.TrimRight(tokens[i].Bytes(), "\n")
	})
	return append(bytes.Join(out, []byte("\n\n")), '\n')
}

// formatTokens runs hclwrite's formatter on tokens in place. The tokens
// are re-wrapped in a file of their own: File.Bytes is the only public
// entry to the formatter, and it formats the very tokens it is given.
func formatTokens(ts hclwrite.Tokens) {
	f := hclwrite.NewEmptyFile()
	f.Body().AppendUnstructuredTokens(ts)
	_ = f.Bytes()
}

// A segment is a run of lines that hclwrite formats independently of the
// rest of its block: it starts at a line that is not a "name = value"
// line (such a line ends every alignment chain) and runs until the next
// one. How hclwrite spaces its tokens depends only on its indentation
// state (the stack of open brackets hclwrite tracks) and on its shape:
// every token's type, plus the text of the tokens formatting reads — the
// names left of "=" on aligned lines (their width sets the alignment),
// keywords that change spacing ("in", "for", "if"), and every token that
// is not a name or a literal. Names and literals elsewhere (block labels,
// values) may differ between segments of one shape. key holds both.
type segment struct {
	start, end int // token indexes
	indents    []int
	key        string
}

// segments splits a block's tokens into segments. It returns nil for a
// block with comments or heredocs, which hclwrite lays out by rules that
// look further than one line; such blocks are formatted whole.
func segments(ts hclwrite.Tokens) []segment {
	var segs []segment
	var stack []int
	var b strings.Builder
	cur := -1
	closeSeg := func(end int) {
		if cur >= 0 {
			segs[cur].end = end
			segs[cur].key = b.String()
			b.Reset()
		}
	}
	for start := 0; start < len(ts); {
		end, eq := start, -1
		for end < len(ts) && ts[end].Type != hclsyntax.TokenNewline {
			switch ts[end].Type {
			case hclsyntax.TokenComment, hclsyntax.TokenOHeredoc:
				return nil
			case hclsyntax.TokenEqual:
				if eq < 0 && end > start {
					eq = end
				}
			}
			end++
		}
		if end < len(ts) {
			end++ // the newline belongs to the line
		}
		line := ts[start:end]
		// An aligned line has "=" after its first token and a value that
		// closes every bracket it opens, as hclwrite decides it.
		aligned := eq >= 0 && bracketChange(ts[eq:end]) == 0
		if !aligned {
			closeSeg(start)
			segs = append(segs, segment{start: start, indents: append([]int(nil), stack...)})
			cur = len(segs) - 1
			for _, k := range stack {
				b.WriteString(strconv.Itoa(k))
				b.WriteByte(',')
			}
			b.WriteByte('|')
		}
		for i, t := range line {
			b.WriteRune(rune(t.Type))
			literal := t.Type == hclsyntax.TokenIdent || t.Type == hclsyntax.TokenQuotedLit ||
				t.Type == hclsyntax.TokenNumberLit || t.Type == hclsyntax.TokenStringLit
			keyword := t.Type == hclsyntax.TokenIdent && (string(t.Bytes) == "in" || string(t.Bytes) == "for" || string(t.Bytes) == "if")
			if (aligned && start+i < eq) || keyword || !literal {
				b.WriteByte(0)
				b.Write(t.Bytes)
				b.WriteByte(0)
			}
		}
		stack = indentAfter(stack, line)
		start = end
	}
	closeSeg(len(ts))
	return segs
}

func bracketChange(ts hclwrite.Tokens) int {
	n := 0
	for _, t := range ts {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenTemplateControl, hclsyntax.TokenTemplateInterp:
			n++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenTemplateSeqEnd:
			n--
		}
	}
	return n
}

// indentAfter updates the stack of open brackets the way hclwrite's
// indentation pass does after a line: a line that opens brackets pushes
// their count, one that closes pops as many as it closes.
func indentAfter(stack []int, line hclwrite.Tokens) []int {
	if len(line) == 0 || line[0].Type == hclsyntax.TokenNewline {
		return stack
	}
	net := bracketChange(line)
	switch {
	case net > 0:
		stack = append(stack, net)
	case net < 0:
		closed := -net
		for closed > 0 && len(stack) > 0 {
			top := stack[len(stack)-1]
			switch {
			case closed > top:
				closed -= top
				stack = stack[:len(stack)-1]
			case closed < top:
				stack[len(stack)-1] -= closed
				closed = 0
			default:
				stack = stack[:len(stack)-1]
				closed = 0
			}
		}
	}
	return stack
}

// indentPrefix is a run of lines that leaves hclwrite's indentation stack
// as given: one line opening k braces per entry k.
func indentPrefix(indents []int) hclwrite.Tokens {
	var t toks
	for _, k := range indents {
		t = t.ident("x")
		for ; k > 0; k-- {
			t = t.add(hclsyntax.TokenOBrace, "{")
		}
		t = t.add(hclsyntax.TokenNewline, "\n")
	}
	return t.tokens()
}

// parallel runs fn(0..n-1) on every core.
func parallel(n int, fn func(int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

package compiler

import (
	"bytes"
	"runtime"
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
// therefore formats one block of each shape with hclwrite and gives the
// others of that shape the same spacing. Formatting changes only the spaces
// before each token (hclwrite's documented invariant), and those depend
// only on the token types and on the text of the tokens left of each "=",
// which the shape captures; the tests check the result byte for byte
// against formatting every block.
type tfFile struct {
	blocks []*tfBlock
}

// block appends a top-level block and returns its body.
func (f *tfFile) block(typeName string, labels []string) *tfBody {
	b := &tfBlock{typeName: typeName, labels: labels, body: &tfBody{}}
	f.blocks = append(f.blocks, b)
	return b.body
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
	shapes := make([]string, n)
	parallel(n, func(i int) {
		tokens[i] = f.blocks[i].tokens(nil)
		if share {
			shapes[i] = shape(tokens[i])
		}
	})
	// The first block of each shape is formatted by hclwrite; the others
	// copy its spacing.
	first := make([]int, n)
	seen := map[string]int{}
	var reps []int
	for i := range tokens {
		if j, ok := seen[shapes[i]]; ok && shapes[i] != "" {
			first[i] = j
			continue
		}
		seen[shapes[i]] = i
		first[i] = i
		reps = append(reps, i)
	}
	parallel(len(reps), func(k int) { formatTokens(tokens[reps[k]]) })
	out := make([][]byte, n)
	parallel(n, func(i int) {
		if j := first[i]; j != i {
			for t, tok := range tokens[i] {
				tok.SpacesBefore = tokens[j][t].SpacesBefore
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

// shape is a block's formatting signature: every token's type, plus the
// text of the tokens formatting depends on. Those are the tokens left of
// the first "=" on a line that has one (their width sets the alignment),
// keywords that change spacing ("in", "for", "if"), and every token that
// is not a name or a literal. Names and literals elsewhere (a block's
// labels, the values) may differ between blocks of one shape. Blocks with
// comments or heredocs are not shared.
func shape(ts hclwrite.Tokens) string {
	var b strings.Builder
	b.Grow(len(ts) * 4)
	for start := 0; start < len(ts); {
		end, eq := start, -1
		for end < len(ts) && ts[end].Type != hclsyntax.TokenNewline {
			if ts[end].Type == hclsyntax.TokenEqual && eq < 0 {
				eq = end
			}
			end++
		}
		if end < len(ts) {
			end++ // the newline belongs to the line
		}
		for i := start; i < end; i++ {
			t := ts[i]
			if t.Type == hclsyntax.TokenComment || t.Type == hclsyntax.TokenOHeredoc {
				return ""
			}
			b.WriteRune(rune(t.Type))
			literal := t.Type == hclsyntax.TokenIdent || t.Type == hclsyntax.TokenQuotedLit ||
				t.Type == hclsyntax.TokenNumberLit || t.Type == hclsyntax.TokenStringLit
			keyword := t.Type == hclsyntax.TokenIdent && (string(t.Bytes) == "in" || string(t.Bytes) == "for" || string(t.Bytes) == "if")
			if i < eq || keyword || !literal {
				b.WriteByte(0)
				b.Write(t.Bytes)
				b.WriteByte(0)
			}
		}
		start = end
	}
	return b.String()
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

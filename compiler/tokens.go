package compiler

import (
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Token builders for the expressions slipc emits for every node. Building
// tokens directly, rather than lexing text or going through
// hclwrite.TokensForValue, matters at scale: for a 10,000-node deployment
// lexing and big.Float number formatting were a quarter of the compile.

// toks accumulates tokens.
type toks hclwrite.Tokens

func (t toks) add(typ hclsyntax.TokenType, text string) toks {
	return append(t, newToken(typ, text))
}

// tokenSlab hands out tokens from blocks allocated together: a large
// compile makes millions of tokens, and one allocation each was a tenth of
// its time. Punctuation shares one read-only byte slice per text, since
// hclwrite never changes a token's bytes.
var tokenSlab struct {
	sync.Mutex
	free []hclwrite.Token
}

var punctuation = map[string][]byte{}

func init() {
	for _, p := range []string{"{", "}", "[", "]", "(", ")", "=", "\n", ".", ",", "+", `"`, "${", "==", ">=", "<", "&&", ":"} {
		punctuation[p] = []byte(p)
	}
}

func newToken(typ hclsyntax.TokenType, text string) *hclwrite.Token {
	tokenSlab.Lock()
	if len(tokenSlab.free) == 0 {
		tokenSlab.free = make([]hclwrite.Token, 1024)
	}
	t := &tokenSlab.free[0]
	tokenSlab.free = tokenSlab.free[1:]
	tokenSlab.Unlock()
	t.Type = typ
	if b, ok := punctuation[text]; ok {
		t.Bytes = b
	} else {
		t.Bytes = []byte(text)
	}
	return t
}

func (t toks) ident(name string) toks { return t.add(hclsyntax.TokenIdent, name) }

// trav appends a.b.c.
func (t toks) trav(root string, attrs ...string) toks {
	t = t.ident(root)
	for _, a := range attrs {
		t = t.add(hclsyntax.TokenDot, ".").ident(a)
	}
	return t
}

func (t toks) op(typ hclsyntax.TokenType, text string) toks { return t.add(typ, text) }

func (t toks) num(n int64) toks { return t.add(hclsyntax.TokenNumberLit, strconv.FormatInt(n, 10)) }

// str appends a quoted string literal.
func (t toks) str(s string) toks {
	if lit, ok := quotedLit(s); ok {
		return t.add(hclsyntax.TokenOQuote, `"`).add(hclsyntax.TokenQuotedLit, lit).add(hclsyntax.TokenCQuote, `"`)
	}
	return append(t, hclwrite.TokensForValue(cty.StringVal(s))...)
}

// quotedLit escapes printable ASCII text for a quoted HCL string: quotes
// and backslashes, and template sequences ${ and %{ doubled. Other text
// (control characters, non-ASCII) is left to hclwrite.TokensForValue.
func quotedLit(s string) (string, bool) {
	if plainString(s) {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c >= 0x7f:
			return "", false
		case c == '"' || c == '\\':
			b.WriteByte('\\')
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c)
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// index appends [<inner>].
func (t toks) index(inner hclwrite.Tokens) toks {
	t = t.add(hclsyntax.TokenOBrack, "[")
	t = append(t, inner...)
	return t.add(hclsyntax.TokenCBrack, "]")
}

func (t toks) tokens() hclwrite.Tokens { return hclwrite.Tokens(t) }

// countIndexPlusOne is `count.index + 1`, the 1-based instance number.
func countIndexPlusOne() hclwrite.Tokens {
	return toks{}.trav("count", "index").op(hclsyntax.TokenPlus, "+").num(1).tokens()
}

// plainString reports a string that needs no escaping inside quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '$' || c == '%' {
			return false
		}
	}
	return true
}

// valueTokens is hclwrite.TokensForValue with fast paths for whole numbers
// and plain strings, the values slipc writes most.
func valueTokens(v cty.Value) hclwrite.Tokens {
	if v.IsKnown() && !v.IsNull() {
		switch v.Type() {
		case cty.Number:
			if i, ok := wholeInt(v); ok {
				return toks{}.num(i).tokens()
			}
		case cty.String:
			if _, ok := quotedLit(v.AsString()); ok {
				return toks{}.str(v.AsString()).tokens()
			}
		case cty.Bool:
			if v.True() {
				return toks{}.ident("true").tokens()
			}
			return toks{}.ident("false").tokens()
		}
	}
	return hclwrite.TokensForValue(v)
}

// wholeInt returns a number's value when it is a whole number that fits
// an int64.
func wholeInt(v cty.Value) (int64, bool) {
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, false
	}
	i, acc := bf.Int64()
	return i, acc == 0
}

// numberText writes a number as Terraform does: whole numbers plainly.
func numberText(v cty.Value) string {
	if i, ok := wholeInt(v); ok {
		return strconv.FormatInt(i, 10)
	}
	return v.AsBigFloat().Text('f', -1)
}

// clone copies tokens. A token must appear once in a file: the formatter
// sets each token's spacing in place, so a token shared by two places
// would end up spaced for the last one formatted.
func clone(ts hclwrite.Tokens) toks {
	out := make(toks, len(ts))
	for i, t := range ts {
		c := *t
		out[i] = &c
	}
	return out
}

package compiler

import (
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// TestValueTokensMatchHCLWrite checks the fast paths against hclwrite's own
// rendering of the same values.
func TestValueTokensMatchHCLWrite(t *testing.T) {
	values := []cty.Value{
		cty.StringVal("plain"), cty.StringVal(`say "hi"`), cty.StringVal(`back\slash`),
		cty.StringVal("${var.x} and %{ if } and $5 and 50%"), cty.StringVal("tab\there"),
		cty.StringVal("naïve"), cty.StringVal(""), cty.NumberIntVal(0), cty.NumberIntVal(-42),
		cty.NumberFloatVal(1.5), cty.True, cty.False,
		cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}),
	}
	for _, v := range values {
		got := string(hclwrite.Format(valueTokens(v).Bytes()))
		want := string(hclwrite.Format(hclwrite.TokensForValue(v).Bytes()))
		if got != want {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
	}
}

package didyoumean

import "testing"

func TestSuggest(t *testing.T) {
	cands := []string{"multiplicity", "component", "cloud", "inputs"}
	cases := map[string]string{
		"multiplicty": "multiplicity",
		"componet":    "component",
		"clod":        "cloud",
		"xyz":         "",
		"input":       "inputs",
	}
	for given, want := range cases {
		if got := Suggest(given, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", given, got, want)
		}
	}
	if got := Hint("clod", cands); got != ` Did you mean "cloud"?` {
		t.Errorf("Hint = %q", got)
	}
}

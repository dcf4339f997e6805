package bootstrap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenOf_findsTheTokenItWrote: the token is found in both renderings,
// whatever visible characters it holds, and nowhere else.
func TestTokenOf_findsTheTokenItWrote(t *testing.T) {
	for _, tok := range []string{"0123abcd", `a'b"c\d`, `}"token":"x`} {
		c := baseConfig()
		c.Token = tok
		for name, render := range map[string]func(Config) (string, error){"Script": Script, "UserData": UserData} {
			s, err := render(c)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := TokenOf(s)
			// The script holds the JSON inside a single-quoted word: '
			// is written '\'' and " as \".
			want := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(tok, `\`, `\\`), `"`, `\"`), "'", `'\''`)
			if strings.ContainsAny(tok, "'") {
				// A ' splits the quoted word: not a token this provider
				// makes, and not one WithToken must find.
				continue
			}
			if !ok || got != want {
				t.Errorf("%s with token %q: TokenOf = %q %v, want %q", name, tok, got, ok, want)
			}
		}
	}
	if _, ok := TokenOf("#!/bin/sh\necho hello\n"); ok {
		t.Errorf("TokenOf found a token in a script without one")
	}
}

// TestWithToken_installsTheNewToken: the script with its token swapped
// installs an agent.json holding the new token and nothing else changed.
func TestWithToken_installsTheNewToken(t *testing.T) {
	checkHostUntouched(t)
	root := t.TempDir()
	stopLeftovers(t, root)
	agent := fakeAgent(root)
	c := baseConfig()
	upload := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(upload, agent, 0o700); err != nil {
		t.Fatal(err)
	}
	c.Root, c.AgentPath, c.AgentSHA256 = root, upload, sums(agent)
	s, err := Script(c)
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := WithToken(s, "f00dfeed")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Replace(swapped, `"token":"f00dfeed"`, `"token":"`+c.Token+`"`, 1) != s {
		t.Fatalf("WithToken changed more than the token")
	}
	mustRun(t, swapped, "")
	c.Token = "f00dfeed"
	checkInstalled(t, c, agent)
	for _, bad := range []string{"", "a b", "x'y"} {
		if _, err := WithToken(s, bad); err == nil {
			t.Errorf("WithToken(%q) accepted", bad)
		}
	}
	if _, err := WithToken("echo hi", "abc"); err == nil {
		t.Errorf("WithToken on a script with no token accepted")
	}
}

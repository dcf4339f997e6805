package bootstrap

import (
	"fmt"
	"regexp"
)

// A bootstrap script carries its instance's one-time bootstrap token (or,
// for a pool's machines, the pool token) in the agent.json it writes. A
// machine adopted again after a reinstall needs a fresh one (the agent
// exchanged the old one, and a new machine has no record of that), but
// the script is rendered once by the deployment and stored in the machine
// resource's configuration; a pool's user-data is rendered once with a
// placeholder, hashed, and given each batch's pool token. So the machine
// or pool resource swaps the token in the script it runs: these two
// functions know where the template puts it.

// tokenField is the token in agent.json as the template writes it: JSON
// (tokens are visible ASCII; a quote or backslash is escaped by JSON),
// inside a single-quoted sh word (a ' in it would be written '\” ).
var tokenField = regexp.MustCompile(`"token":"((?:[^"\\']|\\.)*)"`)

// TokenOf returns the bootstrap or pool token a bootstrap script (Script
// or UserData output) installs, and false if it finds none or several.
func TokenOf(script string) (string, bool) {
	m := tokenField.FindAllStringSubmatch(script, 2)
	if len(m) != 1 {
		return "", false
	}
	return m[0][1], true
}

// WithToken returns the script with its bootstrap (or pool) token replaced
// by token, which must be a token the provider makes: letters and digits.
func WithToken(script, token string) (string, error) {
	for _, r := range token {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", fmt.Errorf("bootstrap: a replacement token must be letters and digits")
		}
	}
	if token == "" {
		return "", fmt.Errorf("bootstrap: empty replacement token")
	}
	if _, ok := TokenOf(script); !ok {
		return "", fmt.Errorf("bootstrap: the script does not hold exactly one agent token (it was not rendered by this provider's bootstrap)")
	}
	return tokenField.ReplaceAllLiteralString(script, `"token":"`+token+`"`), nil
}

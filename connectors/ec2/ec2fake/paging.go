package ec2fake

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// Describe calls page with MaxResults and NextToken. Items are sorted by
// a key; a NextToken is the action and the key of the last item returned,
// so that a page starts after it even when items came or went meanwhile.

func pageToken(action, lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(action + "\x00" + lastKey))
}

func invalidToken() *apiError {
	return errorf(http.StatusBadRequest, "InvalidPaginationToken", "The pagination token is invalid or has expired.")
}

// pageParams reads MaxResults (within [lo, hi]) and NextToken. max is 0
// when MaxResults is absent.
func pageParams(p params, action string, lo, hi int) (max int, after string, e *apiError) {
	max, _, e = p.integer("MaxResults", lo, hi)
	if e != nil {
		return 0, "", e
	}
	if tok := p.get("NextToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return 0, "", invalidToken()
		}
		act, key, ok := strings.Cut(string(raw), "\x00")
		if !ok || act != action {
			return 0, "", invalidToken()
		}
		after = key
	}
	return max, after, nil
}

// page returns the items (sorted by key) after the key after, at most
// max of them (no bound when 0) and never more than limit, with the
// NextToken for the rest ("" when there is none).
func page[T any](items []T, key func(T) string, action, after string, max, limit int) ([]T, string) {
	start := 0
	if after != "" {
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	n := limit
	if max > 0 && max < n {
		n = max
	}
	rest := items[start:]
	if len(rest) <= n {
		return rest, ""
	}
	return rest[:n], pageToken(action, key(rest[n-1]))
}

package cloudstackfake

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha1" // #nosec G505 -- CloudStack's API signature is HMAC-SHA1; the fake must compute the same
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// param is one request parameter as the servlet sees it: its name and
// values, query string first, then the form body (Servlet spec: "Query
// string data is presented before post body data").
type param struct {
	name   string
	values []string
}

// params are a request's parameters in the order they first appear.
type params []param

func (ps params) lookup(name string) (param, bool) {
	for _, p := range ps {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

// first is the parameter's first value, "" when absent: what the
// management server reads (requestParameters.get(name)[0]).
func (ps params) first(name string) string {
	if p, ok := ps.lookup(name); ok && len(p.values) > 0 {
		return p.values[0]
	}
	return ""
}

// has reports whether the parameter was sent.
func (ps params) has(name string) bool {
	_, ok := ps.lookup(name)
	return ok
}

func (ps params) add(name, value string) params {
	for i := range ps {
		if ps[i].name == name {
			ps[i].values = append(ps[i].values, value)
			return ps
		}
	}
	return append(ps, param{name: name, values: []string{value}})
}

// readParams gathers the query's parameters, then those of a form body.
func readParams(r *http.Request, limit int64) (params, error) {
	var ps params
	var err error
	if ps, err = parseQuery(ps, r.URL.RawQuery); err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost || r.Body == nil {
		return ps, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return ps, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("the request body is larger than %d bytes", limit)
	}
	return parseQuery(ps, string(body))
}

// parseQuery adds the parameters of an application/x-www-form-urlencoded
// string, in their order ('+' is a space; a malformed escape is an
// error, as Jetty answers 400).
func parseQuery(ps params, q string) (params, error) {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("malformed parameter name %q", k)
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("malformed value of parameter %q", name)
		}
		ps = ps.add(name, value)
	}
	return ps, nil
}

// verify is ApiServer.verifyRequest for a request signed with an API key:
// it reports whether the request's signature is the one the account's
// secret key gives, and whether a version 3 signature has not expired.
func (f *Fake) verify(ps params, now time.Time) bool {
	unsigned, sig, apiKey, version, expires := canonical(ps)
	if sig == "" || apiKey == "" {
		return false
	}
	if version == "3" {
		if expires == "" {
			return false
		}
		t, err := parseExpires(expires)
		if err != nil || t.Before(now) {
			return false
		}
	}
	if subtle.ConstantTimeCompare([]byte(apiKey), []byte(f.opts.APIKey)) != 1 {
		return false
	}
	want := sign(unsigned, f.opts.SecretKey)
	return subtle.ConstantTimeCompare([]byte(sig), []byte(want)) == 1
}

// canonical is the string CloudStack signs: every parameter but
// signature, sorted by name (Java's String order), name=URLEncoder(value)
// with "+" as "%20", joined by "&". It also returns the parameters the
// check reads, matched case-insensitively as the server matches them.
func canonical(ps params) (unsigned, signature, apiKey, version, expires string) {
	sorted := slices.Clone(ps)
	// Names that are one Java string (their invalid UTF-8 read as U+FFFD
	// alike) are ordered by their bytes, so that the order is one.
	slices.SortFunc(sorted, func(a, b param) int { return cmp.Or(compareUTF16(a.name, b.name), strings.Compare(a.name, b.name)) })
	var parts []string
	for _, p := range sorted {
		v := ""
		if len(p.values) > 0 {
			v = p.values[0]
		}
		switch {
		case strings.EqualFold(p.name, "signature"):
			signature = v
			continue
		case strings.EqualFold(p.name, "apikey"):
			apiKey = v
		case strings.EqualFold(p.name, "signatureversion"):
			version = v
		case strings.EqualFold(p.name, "expires"):
			expires = v
		}
		parts = append(parts, p.name+"="+strings.ReplaceAll(javaURLEncode(v), "+", "%20"))
	}
	return strings.Join(parts, "&"), signature, apiKey, version, expires
}

// sign is the signature of an unsigned request string: base64 of the
// HMAC-SHA1 of its lower-cased form with the secret key.
func sign(unsigned, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(strings.ToLower(unsigned)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Sign is the signature the management server expects for these
// parameters (all but signature itself) with secret: for tests that build
// requests by hand.
func Sign(values url.Values, secret string) string {
	var ps params
	for name, vs := range values {
		for _, v := range vs {
			ps = ps.add(name, v)
		}
	}
	unsigned, _, _, _, _ := canonical(ps)
	return sign(unsigned, secret)
}

// javaURLEncode is java.net.URLEncoder.encode(s, "UTF-8"): letters,
// digits and ".-*_" stay, a space is "+", every other byte of the UTF-8
// form is %XX in upper-case hex. Unlike Go's url.QueryEscape it encodes
// "~" (as %7E) and keeps "*". The Java string the servlet made of the
// request holds U+FFFD where the bytes were not UTF-8, encoded as such.
func javaURLEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("%EF%BF%BD")
			i++
			continue
		}
		for _, c := range []byte(s[i : i+size]) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '*', c == '_':
				b.WriteByte(c)
			case c == ' ':
				b.WriteByte('+')
			default:
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		i += size
	}
	return b.String()
}

// compareUTF16 orders strings as Java's String.compareTo does: by UTF-16
// code units (which differs from Go's byte order only for characters
// beyond U+FFFF against U+E000–U+FFFF).
func compareUTF16(a, b string) int {
	if a == b {
		return 0
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

// parseExpires reads the expires parameter as DateUtil.parseTZDateString
// does: ISO 8601 with a zone, "Z" or "+0000" style.
func parseExpires(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not an ISO 8601 time with a zone")
}

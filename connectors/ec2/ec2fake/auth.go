package ec2fake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 as EC2 checks it: the request's Authorization header names the
// access key, the credential scope and the headers that were signed; the
// fake rebuilds the canonical request from what it received, signs it with
// the secret it knows and compares. It never trusts a signature it did
// not recompute.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateForm  = "20060102T150405Z"
	service      = "ec2"
)

var (
	errMissingAuth = errorf(http.StatusUnauthorized, "MissingAuthenticationToken", "Request is missing Authentication Token")
	errAuthFailure = errorf(http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	errSignature   = errorf(http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
)

func incompleteSignature(why string) *apiError {
	return errorf(http.StatusBadRequest, "IncompleteSignature", "%s", why)
}

// sigV4Header is a parsed Authorization header.
type sigV4Header struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(h string) (sigV4Header, *apiError) {
	var a sigV4Header
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != sigAlgorithm {
		return a, incompleteSignature("Authorization header requires the " + sigAlgorithm + " algorithm.")
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, incompleteSignature("Authorization header is malformed: " + strconv.Quote(part))
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return a, incompleteSignature("Credential is malformed: expecting \"<AccessKey>/<YYYYMMDD>/<region>/<service>/aws4_request\".")
			}
			a.accessKey, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, incompleteSignature("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return a, incompleteSignature("The host header must be signed.")
	}
	return a, nil
}

// authenticate checks the request's SigV4 signature over body.
func (s *Server) authenticate(r *http.Request, body []byte) *apiError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return errMissingAuth
	}
	a, e := parseAuthorization(h)
	if e != nil {
		return e
	}
	if subtle.ConstantTimeCompare([]byte(a.accessKey), []byte(s.opts.AccessKey)) != 1 {
		return errAuthFailure
	}
	if a.service != service {
		return errorf(http.StatusUnauthorized, "AuthFailure", "Credential should be scoped to correct service: '%s'.", service)
	}
	if a.region != s.opts.Region {
		return errorf(http.StatusUnauthorized, "AuthFailure", "Credential should be scoped to a valid region, not '%s'.", a.region)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse(amzDateForm, amzDate)
	if err != nil {
		return incompleteSignature("Authorization header requires existence of a valid 'X-Amz-Date' header.")
	}
	if a.date != amzDate[:8] {
		return errorf(http.StatusForbidden, "SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s'.", a.date, amzDate[:8])
	}
	if skew := s.opts.Now().Sub(at); skew > s.opts.ClockSkew || skew < -s.opts.ClockSkew {
		return errorf(http.StatusBadRequest, "RequestExpired", "Request has expired.")
	}
	if tok := r.Header.Get("X-Amz-Security-Token"); tok != s.opts.SessionToken {
		if s.opts.SessionToken == "" {
			return errorf(http.StatusUnauthorized, "AuthFailure", "The security token included in the request is invalid.")
		}
		return errAuthFailure
	}
	canonical, e := canonicalRequest(r, a.signedHeaders, body)
	if e != nil {
		return e
	}
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+s.opts.SecretKey), a.date)
	for _, part := range []string{a.region, a.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return errSignature
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalRequest is SigV4's canonical form of the request as received:
// method, path, sorted query, the signed headers with their values
// trimmed, and the hash of the body.
func canonicalRequest(r *http.Request, signed []string, body []byte) (string, *apiError) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "MalformedQueryString", "The query string contains a syntax error.")
	}
	var headers strings.Builder
	for _, name := range signed {
		if name != strings.ToLower(name) {
			return "", incompleteSignature("SignedHeaders must be lower case.")
		}
		var value string
		switch name {
		case "host":
			value = r.Host
		case "content-length":
			value = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(name)
			if len(vals) == 0 {
				return "", incompleteSignature("The signed header " + strconv.Quote(name) + " is missing from the request.")
			}
			clean := make([]string, len(vals)) // Values shares the header's slice
			for i, v := range vals {
				clean[i] = strings.TrimSpace(collapseSpaces(v))
			}
			value = strings.Join(clean, ",")
		}
		headers.WriteString(name + ":" + value + "\n")
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != "UNSIGNED-PAYLOAD" && claimed != payload {
		return "", errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	} else if claimed == "UNSIGNED-PAYLOAD" {
		payload = claimed
	}
	return strings.Join([]string{
		r.Method,
		escapePath(r.URL.EscapedPath()),
		canonicalQuery(query),
		headers.String(),
		strings.Join(signed, ";"),
		payload,
	}, "\n"), nil
}

// collapseSpaces trims a header value and folds runs of spaces into one.
func collapseSpaces(v string) string {
	return strings.Join(strings.FieldsFunc(v, func(r rune) bool { return r == ' ' }), " ")
}

// escapePath URI-encodes every byte of the path but RFC 3986's unreserved
// characters and '/': SigV4 for services other than S3 encodes the
// already-escaped path once more.
func escapePath(p string) string {
	if p == "" {
		return "/"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) || c == '/' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// canonicalQuery encodes each name and value, then sorts the pairs (the
// order after encoding is the one that counts).
func canonicalQuery(q url.Values) string {
	var pairs [][2]string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, [2]string{encodeComponent(k), encodeComponent(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	out := make([]string, len(pairs))
	for i, kv := range pairs {
		out[i] = kv[0] + "=" + kv[1]
	}
	return strings.Join(out, "&")
}

func encodeComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

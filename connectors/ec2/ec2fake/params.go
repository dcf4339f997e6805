package ec2fake

import (
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxMembers bounds one list parameter (InstanceId.N, Filter.N, …): EC2's
// own limits are lower (1000 ids), and it keeps a hostile request small.
const maxMembers = 1000

// params are a request's parameters, flattened as EC2's query protocol
// sends them ("Filter.1.Value.2" → "x"). The first value of a repeated
// name counts.
type params map[string]string

// parseParams reads the query string and, for a form POST, the body.
func parseParams(r *http.Request, body []byte) (params, *apiError) {
	p := params{}
	add := func(raw string) *apiError {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return errorf(http.StatusBadRequest, "MalformedQueryString", "The query string contains a syntax error.")
		}
		for k, v := range vals {
			if _, seen := p[k]; !seen && len(v) > 0 {
				p[k] = v[0]
			}
		}
		return nil
	}
	if e := add(r.URL.RawQuery); e != nil {
		return nil, e
	}
	if len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The request body must be application/x-www-form-urlencoded, not %q.", mt)
		}
		if e := add(string(body)); e != nil {
			return nil, e
		}
	}
	return p, nil
}

func (p params) get(name string) string { return p[name] }

// checkKnown answers a parameter the action does not take (by its name
// before the first dot) with UnknownParameter, as EC2 does.
func (p params) checkKnown(known []string) *apiError {
	for k := range p {
		top, _, _ := strings.Cut(k, ".")
		if top == "Action" || top == "Version" || top == "DryRun" || slices.Contains(known, top) {
			continue
		}
		return errorf(http.StatusBadRequest, "UnknownParameter", "The parameter %s is not recognized", top)
	}
	return nil
}

// members groups the parameters "<prefix>.<n>[.<rest>]" by n, in n's
// order: the members of a list, each with its own fields ("" for a list
// of plain values).
func (p params) members(prefix string) ([]params, *apiError) {
	groups := map[int]params{}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, field, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || strconv.Itoa(n) != num {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "The parameter %s has an invalid list index.", k)
		}
		g, ok := groups[n]
		if !ok {
			if len(groups) == maxMembers {
				return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The list %s has more than %d members.", prefix, maxMembers)
			}
			g = params{}
			groups[n] = g
		}
		g[field] = v
	}
	idx := make([]int, 0, len(groups))
	for n := range groups {
		idx = append(idx, n)
	}
	slices.Sort(idx)
	out := make([]params, len(idx))
	for i, n := range idx {
		out[i] = groups[n]
	}
	return out, nil
}

// strings is a list of plain values ("InstanceId.1", "InstanceId.2").
func (p params) strings(prefix string) ([]string, *apiError) {
	ms, e := p.members(prefix)
	if e != nil {
		return nil, e
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		v, ok := m[""]
		if !ok || len(m) != 1 {
			return nil, errorf(http.StatusBadRequest, "InvalidParameter", "The parameter %s is a list of values.", prefix)
		}
		out = append(out, v)
	}
	return out, nil
}

// integer reads a whole number within [lo, hi]; ok is false when the
// parameter is absent.
func (p params) integer(name string, lo, hi int) (n int, ok bool, e *apiError) {
	v, ok := p[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, true, invalidValue(name, v)
	}
	return n, true, nil
}

// boolean reads "true" or "false" (absent: false).
func (p params) boolean(name string) (bool, *apiError) {
	switch v, ok := p[name]; {
	case !ok || v == "false":
		return false, nil
	case v == "true":
		return true, nil
	default:
		return false, invalidValue(name, v)
	}
}

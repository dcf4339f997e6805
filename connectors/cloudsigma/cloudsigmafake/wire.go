package cloudsigmafake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// apiError is an answer outside 2xx, written in CloudSigma's shape: a
// JSON list of {"error_point", "error_type", "error_message"} (Errors
// section, "Format"), error_point null when no field is at fault.
type apiError struct {
	status int
	typ    string
	point  string
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d %s: %s", e.status, e.typ, e.msg) }

func errValidation(point, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "validation", point: point, msg: fmt.Sprintf(format, args...)}
}

func errNotExist(kind, id string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "notexist", msg: fmt.Sprintf("%s with uuid %s does not exist", kind, id)}
}

func errPermission(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, typ: "permission", msg: fmt.Sprintf(format, args...)}
}

// errWrongState is CloudSigma's refusal of an action on a server in the
// wrong state, worded as the API words it: `Cannot start guest in state
// "started". Guest should be in state "stopped"` (403, permission).
func errWrongState(action, state, want string) *apiError {
	return errPermission("Cannot %s guest in state %q. Guest should be in state %q", action, state, want)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = errorBody(&apiError{status: status, typ: "backend", msg: "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may have gone; nothing to tell it
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	_, _ = w.Write(errorBody(e)) // the client may have gone; nothing to tell it
}

func errorBody(e *apiError) []byte {
	var point any
	if e.point != "" {
		point = e.point
	}
	b, _ := json.Marshal([]map[string]any{{"error_point": point, "error_type": e.typ, "error_message": e.msg}})
	return b
}

// objectsOf splits a creating request's body into its objects. The API
// takes {"objects": [...]}, the bare list, or one object (Drives,
// "Creating": "or you can omit the {'objects': ...} and provide only the
// list").
func objectsOf(body []byte) ([]json.RawMessage, *apiError) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errValidation("objects", "The request has no body; it lists the objects to create")
	}
	var list []json.RawMessage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, badJSON(err)
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, badJSON(err)
		}
		raw, ok := obj["objects"]
		if !ok {
			return []json.RawMessage{body}, nil
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errValidation("objects", "objects is a list of objects")
		}
	default:
		return nil, badJSON(errors.New("it is neither an object nor a list"))
	}
	if len(list) == 0 {
		return nil, errValidation("objects", "The request lists no objects to create")
	}
	return list, nil
}

// decodeObject reads one object of a request into v, naming the field at
// fault when a value has the wrong type.
func decodeObject(raw json.RawMessage, v any) *apiError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return errValidation("objects", "Each object is a JSON object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return badJSON(err)
	}
	return nil
}

func badJSON(err error) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return errValidation(te.Field, "%s has the wrong type: %s is not a %s", te.Field, te.Value, te.Type)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return errValidation("", "The request body is not valid JSON: %v", err)
}

// ref reads a reference as requests give it: the bare uuid, or an object
// with "uuid" (or a "resource_uri" ending in it), as answers nest it.
type ref string

func (r *ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*r = ""
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = ref(s)
		return nil
	}
	var obj struct {
		UUID        *string `json:"uuid"`
		ResourceURI *string `json:"resource_uri"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return errValidation("", "A reference is a uuid or an object with a uuid")
	}
	switch {
	case obj.UUID != nil:
		*r = ref(*obj.UUID)
	case obj.ResourceURI != nil:
		parts := strings.Split(strings.Trim(*obj.ResourceURI, "/"), "/")
		*r = ref(parts[len(parts)-1])
	}
	return nil
}

// stringMeta reads a meta object: string values, keys of at most 32
// characters (Objects' metadata field).
func stringMeta(point string, raw map[string]any) (map[string]string, *apiError) {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if len([]rune(k)) > maxMetaKey {
			return nil, errValidation(point, "Meta key %q is longer than %d characters", k, maxMetaKey)
		}
		s, ok := v.(string)
		if !ok {
			return nil, errValidation(point, "Meta value of %q is not a string", k)
		}
		out[k] = s
	}
	return out, nil
}

// maxMetaKey is the longest meta key the API takes.
const maxMetaKey = 32

// page is the limit and offset of a list request (Pagination): limit 0
// is every object, and a missing limit is the schemas' default_limit, 20.
type page struct{ limit, offset int }

const defaultLimit = 20

// listQuery reads a list request's page and its filters, of which only
// allowed may be used.
func listQuery(c *call, allowed ...string) (page, map[string][]string, *apiError) {
	q := c.r.URL.Query()
	p, aerr := pageOf(q)
	if aerr != nil {
		return page{}, nil, aerr
	}
	filters, aerr := filtersOf(q, allowed...)
	if aerr != nil {
		return page{}, nil, aerr
	}
	return p, filters, nil
}

func pageOf(q url.Values) (page, *apiError) {
	p := page{limit: defaultLimit}
	for _, name := range []string{"limit", "offset"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return page{}, errValidation(name, "%s must be a non-negative integer", name)
		}
		if name == "limit" {
			p.limit = n
		} else {
			p.offset = n
		}
	}
	return p, nil
}

// listAnswer is one page of objects with its meta.
func listAnswer(p page, all []any) map[string]any {
	total := len(all)
	start := min(p.offset, total)
	end := total
	if p.limit > 0 {
		end = min(start+p.limit, total)
	}
	objs := all[start:end]
	if objs == nil {
		objs = []any{}
	}
	return map[string]any{"meta": map[string]any{"limit": p.limit, "offset": p.offset, "total_count": total}, "objects": objs}
}

// filterValues splits a filter's value on unescaped commas: values are
// ORed, and "\," is a comma inside a value (Filtering).
func filterValues(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && (v[i+1] == ',' || v[i+1] == '\\'):
			cur.WriteByte(v[i+1])
			i++
		case v[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(out, cur.String())
}

// listParams are the query parameters every list takes besides filters.
var listParams = map[string]bool{"limit": true, "offset": true, "format": true, "fields": true}

// filtersOf checks a list request's query: only the schema's filters are
// allowed; it returns them (name → accepted values).
func filtersOf(q url.Values, allowed ...string) (map[string][]string, *apiError) {
	out := map[string][]string{}
	for k, vs := range q {
		if listParams[k] {
			if k == "format" && q.Get(k) != "json" {
				return nil, errValidation("format", "Only the json format is served here")
			}
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, errValidation(k, "The '%s' field does not allow filtering.", k)
		}
		for _, v := range vs {
			out[k] = append(out[k], filterValues(v)...)
		}
	}
	return out, nil
}

// matches reports whether value passes the filter (any of its values).
func matches(filters map[string][]string, name, value string) bool {
	vs, ok := filters[name]
	if !ok {
		return true
	}
	for _, v := range vs {
		if v == value {
			return true
		}
	}
	return false
}

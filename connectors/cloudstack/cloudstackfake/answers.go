package cloudstackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// csError is an error answer: the HTTP status and CloudStack's
// ExceptionResponse (errorcode, cserrorcode, errortext). proxy marks the
// answer of the proxy in front of the management servers (an HTML page,
// no JSON).
type csError struct {
	status int
	code   int
	cscode int // 0: not sent (the servlet's own 401 has none)
	text   string
	proxy  bool
}

func (e *csError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.text) }

// errParam is CloudStack's answer to a parameter value it cannot use:
// 431 with InvalidParameterValueException's code.
func errParam(format string, args ...any) *csError {
	return &csError{status: 431, code: 431, cscode: 4350, text: fmt.Sprintf(format, args...)}
}

// errMissing is the answer to a required parameter left out.
func errMissing(command, name string) *csError {
	return &csError{status: 431, code: 431, cscode: 9999,
		text: fmt.Sprintf("Unable to execute API command %s due to missing parameter %s", strings.ToLower(command), name)}
}

// errNoEntity is ParamProcessWorker's answer to a uuid that names no
// entity of the parameter's type.
func errNoEntity(command, name, value string) *csError {
	return &csError{status: 431, code: 431, cscode: 4350,
		text: fmt.Sprintf("Unable to execute API command %s due to invalid value. Invalid parameter %s value=%s due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.",
			strings.ToLower(command), name, value)}
}

// responseName is the response object's name of a command, as
// BaseCmd.getCommandName gives it: "deployvirtualmachineresponse".
func responseName(command string) string {
	if _, ok := commands[command]; !ok {
		return "errorresponse"
	}
	return strings.ToLower(command) + "response"
}

// writeError writes an error answer for command ("" or an unknown
// command: errorresponse).
func writeError(w http.ResponseWriter, command string, e *csError) {
	if e.proxy {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.status)
		// #nosec G705 -- only the status and its standard text, nothing of the request
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1>\nNo server is available to handle this request.\n</body></html>\n", e.status, http.StatusText(e.status))
		return
	}
	body := map[string]any{"uuidList": []any{}, "errorcode": e.code, "errortext": e.text}
	if e.cscode != 0 {
		body["cserrorcode"] = e.cscode
	}
	writeJSON(w, e.status, map[string]any{responseName(command): body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errorresponse":{"errorcode":530,"errortext":"the fake could not encode its answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// list is a list answer: {"count": n, item: [...]}, or {} when empty, as
// the management server answers.
func list[T any](item string, all []T, ps params) (map[string]any, error) {
	page, size := 1, defaultPageSize
	if v := ps.first("pagesize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 || n == 0 {
			return nil, errParam("Page size can't be 0 or less than -1; given %s", v)
		}
		size = n
	}
	if v := ps.first("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errParam("Invalid page %s", v)
		}
		page = n
	}
	if len(all) == 0 {
		return map[string]any{}, nil
	}
	items := all
	if size > 0 {
		start := min((page-1)*size, len(all))
		items = all[start:min(start+size, len(all))]
	}
	if len(items) == 0 {
		return map[string]any{"count": len(all)}, nil
	}
	return map[string]any{"count": len(all), item: items}, nil
}

// defaultPageSize is default.page.size.
const defaultPageSize = 500

// csTime is a time as CloudStack's answers give it.
func csTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-0700") }

// parseBool reads a boolean parameter as CloudStack does: "true" in any
// case is true, anything else false.
func parseBool(s string) bool { return strings.EqualFold(s, "true") }

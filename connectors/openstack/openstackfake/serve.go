package openstackfake

import (
	"net/http"
	"strings"
)

// ServeHTTP routes a request to its service.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	prefix, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	var d dialect
	var routes []route
	switch prefix {
	case "identity":
		d, routes = identityAPI, f.identityRoutes()
	case "compute":
		d, routes = computeAPI, f.computeRoutes()
	case "image":
		d, routes = imageAPI, f.imageRoutes()
	case "network":
		d, routes = networkAPI, f.networkRoutes()
	default:
		// Not a service of this cloud: what a web server in front says.
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "title": "Not Found",
			"message": "The resource could not be found."}})
		return
	}
	var seg []string
	if rest != "" {
		seg = strings.Split(rest, "/")
	}
	rt, params := match(routes, seg)
	c := &call{f: f, w: w, r: r, d: d, params: params, base: f.requestBase(r)}
	// Nova names the microversion that answered on every response, its
	// errors too; a request for one it does not serve gets the minimum's.
	var mvErr error
	if d == computeAPI {
		c.mv, mvErr = f.negotiate(r.Header)
		if mvErr != nil {
			c.mv = f.minMV
		}
		c.echoMicroversion(c.mv)
	}
	op := r.Method + " " + d.String() + " (no such resource)"
	if rt != nil {
		op = r.Method + " " + rt.op
	}
	if err := f.cloud.Enter(r.Context(), op); err != nil {
		d.writeFault(w, err)
		return
	}
	if rt == nil {
		d.writeError(w, http.StatusNotFound, "The resource could not be found.")
		return
	}
	handle, ok := rt.methods[r.Method]
	if !ok {
		w.Header().Set("Allow", strings.Join(rt.allowed(), ", "))
		d.writeError(w, http.StatusMethodNotAllowed, "The method %s is not allowed for this resource.", r.Method)
		return
	}
	if !rt.public && !f.validToken(r.Header.Get("X-Auth-Token")) {
		writeUnauthorized(w, c.base+"/identity")
		return
	}
	if mvErr != nil {
		status := http.StatusBadRequest
		if _, out := mvErr.(errVersionOutOfRange); out {
			status = http.StatusNotAcceptable
		}
		d.writeError(w, status, "%s", mvErr.Error())
		return
	}
	handle(c)
}

// requestBase is the scheme and host the client reached the fake at: the
// catalog and links point there.
func (f *Fake) requestBase(r *http.Request) string {
	if base := f.URL(); base != "" {
		return base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// call is one request being answered.
type call struct {
	f      *Fake
	w      http.ResponseWriter
	r      *http.Request
	d      dialect
	params map[string]string
	base   string
	mv     microversion // compute only
}

func (c *call) errorf(status int, format string, args ...any) {
	c.d.writeError(c.w, status, format, args...)
}

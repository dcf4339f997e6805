package cloudsigmafake

import (
	"net/http"
	"net/url"
	"strings"
)

// handler serves one route: it returns the status and the answer to
// encode, or an error (an *apiError, or a Cloud error that errorFor maps).
type handler func(f *Fake, c *call) (int, any, error)

// endpoint is a method on a path pattern of the API ("servers/{uuid}/"),
// with the action its ?do= names, if any.
type endpoint struct {
	method  string
	pattern string
	action  string
	handle  handler
}

// op names the endpoint for the Cloud's accounting and for injected
// faults: "GET /servers/{uuid}/", "POST /servers/{uuid}/action/?do=start".
func (e endpoint) op() string {
	s := e.method + " /" + e.pattern
	if e.action != "" {
		s += "?do=" + e.action
	}
	return s
}

// Op names of the endpoints, as Cloud.Calls counts them and
// Faults.Throttle selects them.
const (
	OpCapabilities  = "GET /capabilities/"
	OpGetDrive      = "GET /drives/{uuid}/"
	OpCloneDrive    = "POST /drives/{uuid}/action/?do=clone"
	OpDeleteDrive   = "DELETE /drives/{uuid}/"
	OpCloneLibDrive = "POST /libdrives/{uuid}/action/?do=clone"
	OpCreateServers = "POST /servers/"
	OpGetServer     = "GET /servers/{uuid}/"
	OpListServers   = "GET /servers/detail/"
	OpDeleteServer  = "DELETE /servers/{uuid}/"
	OpStart         = "POST /servers/{uuid}/action/?do=start"
	OpStop          = "POST /servers/{uuid}/action/?do=stop"
	OpShutdown      = "POST /servers/{uuid}/action/?do=shutdown"
	OpCreateKeypair = "POST /keypairs/"
	OpCreateTags    = "POST /tags/"
)

// endpoints are the API the fake serves; literal patterns come before
// those with {uuid} so that "servers/detail/" is not a server.
var endpoints = []endpoint{
	{"GET", "capabilities/", "", getCapabilities},

	{"GET", "libdrives/", "", listLibDrives},
	{"GET", "libdrives/detail/", "", listLibDrives},
	{"GET", "libdrives/{uuid}/", "", getLibDrive},
	{"POST", "libdrives/{uuid}/action/", "clone", cloneLibDrive},

	{"GET", "drives/", "", listDrives(false)},
	{"GET", "drives/detail/", "", listDrives(true)},
	{"GET", "drives/{uuid}/", "", getDrive},
	{"DELETE", "drives/{uuid}/", "", deleteDrive},
	{"POST", "drives/{uuid}/action/", "clone", cloneDrive},

	{"GET", "servers/", "", listServers(false)},
	{"GET", "servers/detail/", "", listServers(true)},
	{"POST", "servers/", "", createServers},
	{"GET", "servers/{uuid}/", "", getServer},
	{"DELETE", "servers/{uuid}/", "", deleteServer},
	{"POST", "servers/{uuid}/action/", "start", startServer},
	{"POST", "servers/{uuid}/action/", "stop", stopServer},
	{"POST", "servers/{uuid}/action/", "shutdown", shutdownServer},

	{"GET", "keypairs/", "", listKeypairs},
	{"POST", "keypairs/", "", createKeypairs},
	{"GET", "keypairs/{uuid}/", "", getKeypair},
	{"DELETE", "keypairs/{uuid}/", "", deleteKeypair},

	{"GET", "tags/", "", listTags},
	{"POST", "tags/", "", createTags},
	{"GET", "tags/{uuid}/", "", getTag},
	{"PUT", "tags/{uuid}/", "", updateTag},
	{"DELETE", "tags/{uuid}/", "", deleteTag},
}

// route finds the endpoint of a request and the {uuid} in its path. An
// unknown path is 404 notexist, a known path with another method 405, an
// action the object does not have 400 validation.
func route(method, path string, q url.Values) (endpoint, string, *apiError) {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return endpoint{}, "", &apiError{status: http.StatusNotFound, typ: "notexist", msg: "The API lives under " + Prefix}
	}
	pathKnown, actions := false, []string{}
	for _, e := range endpoints {
		id, ok := matchPattern(e.pattern, rest)
		if !ok {
			continue
		}
		pathKnown = true
		if e.method != method {
			continue
		}
		if e.action != "" {
			actions = append(actions, e.action)
			if q.Get("do") != e.action {
				continue
			}
		}
		return e, id, nil
	}
	switch {
	case len(actions) > 0:
		return endpoint{}, "", errValidation("do", "Unknown action %q; the actions here are %s", q.Get("do"), strings.Join(actions, ", "))
	case pathKnown:
		return endpoint{}, "", &apiError{status: http.StatusMethodNotAllowed, typ: "validation", msg: "Method " + method + " is not allowed on " + path}
	}
	return endpoint{}, "", &apiError{status: http.StatusNotFound, typ: "notexist", msg: "There is no API resource at " + path}
}

// matchPattern matches a path against a pattern whose {uuid} segment is
// any one segment that is not a literal of another route ("detail").
func matchPattern(pattern, path string) (string, bool) {
	ps := strings.Split(pattern, "/")
	xs := strings.Split(path, "/")
	if len(ps) != len(xs) {
		return "", false
	}
	id := ""
	for i, p := range ps {
		switch {
		case p == "{uuid}":
			if xs[i] == "" || xs[i] == "detail" {
				return "", false
			}
			id = xs[i]
		case p != xs[i]:
			return "", false
		}
	}
	return id, true
}

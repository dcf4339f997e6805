package openstackfake

import (
	"slices"
	"strings"
)

// route is one resource of a service: its path below the service's
// prefix ("v2.1/servers/{id}", a {name} matching one path segment), the
// operation name fakecloud counts and injects faults by ("/servers/{id}",
// prefixed with the method), and a handler per method.
type route struct {
	pattern string
	op      string
	// public routes (version documents, token requests) need no token.
	public  bool
	methods methods
}

// methods are a route's handlers by HTTP method.
type methods = map[string]func(*call)

func (rt *route) allowed() []string {
	var m []string
	for k := range rt.methods {
		m = append(m, k)
	}
	slices.Sort(m)
	return m
}

// match finds the route of the path segments, and the values of its
// {names}. Literal segments win over names, in the order routes are given.
func match(routes []route, seg []string) (*route, map[string]string) {
	for i := range routes {
		var want []string
		if routes[i].pattern != "" {
			want = strings.Split(routes[i].pattern, "/")
		}
		if len(want) != len(seg) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, w := range want {
			switch {
			case strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}"):
				if seg[j] == "" {
					ok = false
				}
				params[w[1:len(w)-1]] = seg[j]
			case w != seg[j]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return &routes[i], params
		}
	}
	return nil, nil
}

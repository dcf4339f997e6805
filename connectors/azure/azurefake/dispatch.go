package azurefake

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Headers of the SDK's fake poller protocol and ARM's retry hints.
const (
	pollerStatusHeader = "Fake-Poller-Status"
	retryAfterMSHeader = "Retry-After-Ms"
	// pollSuffix ends the path the SDK's fake poller asks for the state
	// of an operation on the resource path before it.
	pollSuffix = "/get/fake/status"
)

// The SDK packages whose server transports answer a route.
type provider int

const (
	providerCompute provider = iota
	providerNetwork
	providerResources
)

// route maps a method and path to the SDK operation that serves it.
type route struct {
	method string
	re     *regexp.Regexp // on the unescaped path; group 1 is the subscription
	api    string         // the SDK's operation name, "VirtualMachinesClient.Get"
	prov   provider
}

const (
	segment = `([^/]+)`
	subPath = `(?i)^/subscriptions/` + segment
	rgPath  = subPath + `/resourcegroups/` + segment
	cmpPath = rgPath + `/providers/microsoft\.compute`
	netPath = rgPath + `/providers/microsoft\.network`
)

// routes are the operations the fake serves.
var routes = func() []route {
	var rs []route
	add := func(prov provider, pattern string, methods map[string]string) {
		re := regexp.MustCompile(pattern + `$`)
		for m, api := range methods {
			rs = append(rs, route{method: m, re: re, api: api, prov: prov})
		}
	}
	crud := func(client string, lroDelete bool) map[string]string {
		del := client + ".BeginDelete"
		if !lroDelete {
			del = client + ".Delete"
		}
		return map[string]string{http.MethodPut: client + ".BeginCreateOrUpdate", http.MethodGet: client + ".Get", http.MethodDelete: del}
	}
	add(providerResources, subPath+`/resources`, map[string]string{http.MethodGet: "Client.NewListPager"})
	add(providerResources, subPath+`/resourcegroups/`+segment, map[string]string{
		http.MethodPut: "ResourceGroupsClient.CreateOrUpdate", http.MethodGet: "ResourceGroupsClient.Get", http.MethodDelete: "ResourceGroupsClient.BeginDelete"})
	add(providerCompute, cmpPath+`/virtualmachines/`+segment, crud("VirtualMachinesClient", true))
	add(providerCompute, cmpPath+`/virtualmachines`, map[string]string{http.MethodGet: "VirtualMachinesClient.NewListPager"})
	add(providerCompute, cmpPath+`/virtualmachines/`+segment+`/deallocate`, map[string]string{http.MethodPost: "VirtualMachinesClient.BeginDeallocate"})
	add(providerCompute, cmpPath+`/virtualmachines/`+segment+`/generalize`, map[string]string{http.MethodPost: "VirtualMachinesClient.Generalize"})
	add(providerCompute, subPath+`/providers/microsoft\.compute/locations/`+segment+`/vmsizes`, map[string]string{http.MethodGet: "VirtualMachineSizesClient.NewListPager"})
	add(providerCompute, cmpPath+`/images/`+segment, crud("ImagesClient", true))
	add(providerCompute, cmpPath+`/galleries/`+segment, crud("GalleriesClient", true))
	add(providerCompute, cmpPath+`/galleries/`+segment+`/images/`+segment, crud("GalleryImagesClient", true))
	add(providerCompute, cmpPath+`/galleries/`+segment+`/images/`+segment+`/versions/`+segment, crud("GalleryImageVersionsClient", true))
	add(providerNetwork, netPath+`/networkinterfaces/`+segment, crud("InterfacesClient", true))
	add(providerNetwork, netPath+`/publicipaddresses/`+segment, crud("PublicIPAddressesClient", true))
	add(providerNetwork, netPath+`/virtualnetworks/`+segment, crud("VirtualNetworksClient", true))
	add(providerNetwork, netPath+`/virtualnetworks/`+segment+`/subnets/`+segment, map[string]string{http.MethodGet: "SubnetsClient.Get"})
	return rs
}()

var subscriptionOf = regexp.MustCompile(subPath)

// match finds the route of a request and the path's segments (params[0]
// is the subscription): rt is nil when no operation has that path, and
// allowed lists the methods the path has when the method is the only
// thing wrong.
func match(method, path string) (rt *route, params []string, allowed []string) {
	for i := range routes {
		r := &routes[i]
		m := r.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		if r.method == method {
			return r, m[1:], nil
		}
		allowed = append(allowed, r.method)
	}
	return nil, nil, allowed
}

// precheck answers the errors of listings before the SDK's fake server
// sees them: a pager that ends in an error stays in that server's
// tracker and would answer the path's next listing with it.
func (f *Fake) precheck(req *http.Request, rt *route, params []string) *apiError {
	switch rt.api {
	case "Client.NewListPager":
		_, _, err := parseFilter(req.URL.Query().Get("$filter"))
		return err
	case "VirtualMachinesClient.NewListPager":
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.groups[strings.ToLower(params[1])]; !ok {
			return errGroupNotFound(params[1])
		}
	case "VirtualMachineSizesClient.NewListPager":
		if normLocation(params[1]) != normLocation(f.opts.Location) {
			return &apiError{Status: 404, Code: "NoRegisteredProviderFound",
				Message: "No registered resource provider found for location '" + params[1] + "' and API version '2024-07-01' for type 'locations/vmSizes'."}
		}
	}
	return nil
}

func (f *Fake) transport(p provider) interface {
	Do(*http.Request) (*http.Response, error)
} {
	switch p {
	case providerCompute:
		return f.compute
	case providerNetwork:
		return f.network
	}
	return f.resources
}

// Do answers one request, as the transport of SDK clients and
// credentials: Entra ID's endpoints, or an ARM operation, which enters
// the fake cloud (faults and latency), is authenticated, and is handed to
// the SDK's fake server of its operation. Errors are answered as HTTP
// responses, as Azure sends them; Do returns an error only when the
// request's context ended.
func (f *Fake) Do(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		return badRequest("the request has no URL").response(req), nil
	}
	if resp, ok := f.identity(req); ok {
		return resp, nil
	}
	path := req.URL.Path
	poll := req.Method == http.MethodGet && strings.HasSuffix(strings.ToLower(path), pollSuffix)
	if poll {
		path = path[:len(path)-len(pollSuffix)]
	}
	rt, params, allowed := match(req.Method, path)
	op := req.Method + " (no such operation)"
	switch {
	case poll:
		op = "poll"
	case rt != nil:
		op = rt.api
	}
	if err := f.cloud.Enter(req.Context(), op); err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return faultError(err, op).response(req), nil
	}
	if resp := f.authenticate(req); resp != nil {
		return resp, nil
	}
	if poll {
		if m := subscriptionOf.FindStringSubmatch(path); m == nil || !strings.EqualFold(m[1], f.opts.SubscriptionID) {
			return subscriptionNotFound(m).response(req), nil
		}
		return f.answerPoll(req, path), nil
	}
	if rt == nil {
		if len(allowed) > 0 {
			resp := (&apiError{Status: 405, Code: "HttpMethodNotAllowed",
				Message: "The requested resource does not support http method '" + req.Method + "'."}).response(req)
			resp.Header.Set("Allow", strings.Join(allowed, ", "))
			return resp, nil
		}
		return (&apiError{Status: 404, Code: "NotFound", Message: "No HTTP resource was found that matches the request URI '" + req.URL.Path + "'."}).response(req), nil
	}
	if !strings.EqualFold(params[0], f.opts.SubscriptionID) {
		return subscriptionNotFound([]string{"", params[0]}).response(req), nil
	}
	if e := f.precheck(req, rt, params); e != nil {
		return e.response(req), nil
	}
	f.mu.Lock()
	f.reap()
	f.mu.Unlock()

	ctx := context.WithValue(req.Context(), runtime.CtxAPINameKey{}, rt.api)
	ctx = context.WithValue(ctx, callKey{}, call{path: path, api: rt.api})
	f.dispatchMu.Lock()
	resp, err := f.transport(rt.prov).Do(req.WithContext(ctx))
	f.dispatchMu.Unlock()
	if err != nil {
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			return ae.response(req), nil
		case req.Context().Err() != nil:
			return nil, req.Context().Err()
		}
		// The SDK's fake server could not read the request (a path or
		// body it cannot parse): ARM's answer to a malformed request.
		return badRequest("The request content was invalid and could not be deserialized: " + err.Error()).response(req), nil
	}
	if resp.Header.Get(pollerStatusHeader) == "InProgress" {
		resp.Header.Set(retryAfterMSHeader, strconv.FormatInt(f.opts.PollInterval.Milliseconds(), 10))
	}
	return resp, nil
}

func subscriptionNotFound(m []string) *apiError {
	sub := ""
	if len(m) > 1 {
		sub = m[1]
	}
	return &apiError{Status: 404, Code: "SubscriptionNotFound", Message: "The subscription '" + sub + "' could not be found."}
}

// lro is a long-running operation on one resource path, as its pollers
// see it.
type lro struct {
	api string
	// state reports the operation's progress, from the fake's state at
	// the time of the poll; f.mu is held.
	state func() lroState
}

type lroState struct {
	done    bool
	status  int       // the final answer's status (200, 201, 204)
	body    any       // the final answer's body; nil for none
	failure *apiError // the operation failed: its error
}

// inProgress, succeeded and failed make lroStates.
func inProgress() lroState { return lroState{} }
func succeeded(status int, body any) lroState {
	return lroState{done: true, status: status, body: body}
}
func failed(e *apiError) lroState { return lroState{done: true, failure: e} }

// track registers the operation the current request began, so that its
// pollers find it; f.mu is held. A newer operation on the same path
// replaces an older one, as a DELETE on a VM whose PUT is still running
// does on Azure.
func (f *Fake) track(ctx context.Context, state func() lroState) {
	c := callOf(ctx)
	f.lros[strings.ToLower(c.path)] = &lro{api: c.api, state: state}
}

// done is an lroState function for operations that complete at once.
func done(status int, body func() any) func() lroState {
	return func() lroState {
		var b any
		if body != nil {
			b = body()
		}
		return succeeded(status, b)
	}
}

// answerPoll answers a poller's request for the operation on path.
func (f *Fake) answerPoll(req *http.Request, path string) *http.Response {
	f.mu.Lock()
	f.reap()
	op, ok := f.lros[strings.ToLower(path)]
	var st lroState
	if ok {
		st = op.state()
	}
	f.mu.Unlock()
	if !ok {
		return (&apiError{Status: 404, Code: "NotFound", Message: "No operation is in progress on " + path + "."}).response(req)
	}
	var resp *http.Response
	switch {
	case !st.done:
		resp = jsonResponse(req, http.StatusAccepted, map[string]string{"status": "InProgress"})
		resp.Header.Set(pollerStatusHeader, "InProgress")
		resp.Header.Set(retryAfterMSHeader, strconv.FormatInt(f.opts.PollInterval.Milliseconds(), 10))
		return resp
	case st.failure != nil:
		resp = jsonResponse(req, http.StatusOK, errBody{Error: errDetail{Code: st.failure.Code, Message: st.failure.Message}})
		resp.Header.Set(pollerStatusHeader, "Failed")
	default:
		status := st.status
		if status == 0 {
			status = http.StatusOK
		}
		resp = jsonResponse(req, status, st.body)
		resp.Header.Set(pollerStatusHeader, "Succeeded")
	}
	return resp
}

package azurefake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// staticToken is a credential with a token the fake issued.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func newFake(t *testing.T) *Fake {
	t.Helper()
	f, err := New(Options{Cloud: fakecloud.Options{Log: t.Logf}, PollInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.AddImage("Pub:offer:sku:1.0.0", "base", nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clients are SDK clients on the fake, in process.
type clients struct {
	groups *armresources.ResourceGroupsClient
	vnets  *armnetwork.VirtualNetworksClient
	nics   *armnetwork.InterfacesClient
	vms    *armcompute.VirtualMachinesClient
}

func sdkClients(t *testing.T, f *Fake) clients {
	t.Helper()
	o := &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: f, Retry: policy.RetryOptions{MaxRetries: -1}}}
	cred := staticToken(f.IssueToken())
	groups, err1 := armresources.NewResourceGroupsClient(DefaultSubscriptionID, cred, o)
	vnets, err2 := armnetwork.NewVirtualNetworksClient(DefaultSubscriptionID, cred, o)
	nics, err3 := armnetwork.NewInterfacesClient(DefaultSubscriptionID, cred, o)
	vms, err4 := armcompute.NewVirtualMachinesClient(DefaultSubscriptionID, cred, o)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return clients{groups: groups, vnets: vnets, nics: nics, vms: vms}
}

// vmWith makes a group, network, interface and a VM whose delete options
// are del, through the SDK; it returns the VM's id.
func vmWith(t *testing.T, f *Fake, c clients, del string) string {
	t.Helper()
	ctx := ctxFor(t)
	loc := DefaultLocation
	if _, err := c.groups.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: &loc}, nil); err != nil {
		t.Fatal(err)
	}
	prefix := "10.0.0.0/16"
	p, err := c.vnets.BeginCreateOrUpdate(ctx, "rg", "net", armnetwork.VirtualNetwork{Location: &loc, Properties: &armnetwork.VirtualNetworkPropertiesFormat{
		AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{&prefix}},
		Subnets:      []*armnetwork.Subnet{{Name: new("default"), Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: &prefix}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	vn, err := p.PollUntilDone(ctx, &pollFast)
	if err != nil {
		t.Fatal(err)
	}
	np, err := c.nics.BeginCreateOrUpdate(ctx, "rg", "nic", armnetwork.Interface{Location: &loc, Properties: &armnetwork.InterfacePropertiesFormat{
		IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Name: new("ip"), Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: vn.Properties.Subnets[0].ID}}}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nic, err := np.PollUntilDone(ctx, &pollFast)
	if err != nil {
		t.Fatal(err)
	}
	size := armcompute.VirtualMachineSizeTypes("Standard_B1s")
	diskDel, nicDel := armcompute.DiskDeleteOptionTypes(del), armcompute.DeleteOptions(del)
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe t@e"
	vp, err := c.vms.BeginCreateOrUpdate(ctx, "rg", "vm", armcompute.VirtualMachine{Location: &loc, Properties: &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: &size},
		StorageProfile: &armcompute.StorageProfile{ImageReference: &armcompute.ImageReference{Publisher: new("Pub"), Offer: new("offer"), SKU: new("sku"), Version: new("latest")},
			OSDisk: &armcompute.OSDisk{DeleteOption: &diskDel}},
		OSProfile: &armcompute.OSProfile{AdminUsername: new("u"), CustomData: new(base64.StdEncoding.EncodeToString([]byte("hi"))),
			LinuxConfiguration: &armcompute.LinuxConfiguration{SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{Path: new("/home/u/.ssh/authorized_keys"), KeyData: &key}}}}},
		NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: nic.ID, Properties: &armcompute.NetworkInterfaceReferenceProperties{DeleteOption: &nicDel}}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK's own poller follows the VM's creation to its end.
	vm, err := vp.PollUntilDone(ctx, &pollFast)
	if err != nil {
		t.Fatal(err)
	}
	if str(vm.Properties.ProvisioningState) != "Succeeded" {
		t.Errorf("the created VM is %s", str(vm.Properties.ProvisioningState))
	}
	return str(vm.ID)
}

// pollFast polls an operation quickly (the fake also says Retry-After-Ms).
var pollFast = runtime.PollUntilDoneOptions{Frequency: 5 * time.Millisecond}

// TestDeleteOptions: a VM's deletion takes its disk and interface when
// their delete option is Delete, and leaves them, detached, when it is
// Detach.
func TestDeleteOptions(t *testing.T) {
	for _, del := range []string{deleteOptionDelete, deleteOptionDetach} {
		t.Run(del, func(t *testing.T) {
			f := newFake(t)
			c := sdkClients(t, f)
			id := vmWith(t, f, c, del)
			if n := len(f.ResourcesOfType("disk")); n != 1 {
				t.Fatalf("%d disks for one VM", n)
			}
			p, err := c.vms.BeginDelete(ctxFor(t), "rg", "vm", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.PollUntilDone(ctxFor(t), &pollFast); err != nil {
				t.Fatal(err)
			}
			if m, err := f.Cloud().Machine(id); err == nil && m.State != fakecloud.Terminated {
				t.Errorf("the machine is %s after its VM's deletion", m.State)
			}
			left := len(f.ResourcesOfType("disk")) + len(f.ResourcesOfType("nic"))
			if del == deleteOptionDelete && left != 0 || del == deleteOptionDetach && left != 2 {
				t.Errorf("delete option %s: %d disks and interfaces left", del, left)
			}
			if del == deleteOptionDetach {
				nic, err := c.nics.Get(ctxFor(t), "rg", "nic", nil)
				if err != nil || nic.Properties.VirtualMachine != nil {
					t.Errorf("the detached interface: %+v, %v", nic.Properties, err)
				}
			}
			// Deleting the group takes what is left in it.
			gp, err := c.groups.BeginDelete(ctxFor(t), "rg", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gp.PollUntilDone(ctxFor(t), &pollFast); err != nil {
				t.Fatal(err)
			}
			if left := f.Resources(); len(left) != 0 || slices.Contains(f.ResourceGroups(), "rg") {
				t.Errorf("after the group's deletion: %v, groups %v", left, f.ResourceGroups())
			}
		})
	}
}

// do sends one raw request to the fake with a good token.
func do(t *testing.T, f *Fake, method, path, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxFor(t), method, "https://management.azure.com"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.IssueToken())
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

func codeIn(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestErrorAnswers: what ARM answers to requests it cannot serve, and to
// injected faults.
func TestErrorAnswers(t *testing.T) {
	f := newFake(t)
	sub := "/subscriptions/" + DefaultSubscriptionID
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"no token", http.MethodGet, sub + "/resources", "", []string{"Authorization", ""}, 401, "AuthenticationFailed"},
		{"foreign token", http.MethodGet, sub + "/resources", "", []string{"Authorization", "Bearer not-one-of-ours"}, 401, "InvalidAuthenticationToken"},
		{"no such path", http.MethodGet, "/whatever", "", nil, 404, "NotFound"},
		{"wrong method", http.MethodPost, sub + "/resourcegroups/rg", "", nil, 405, "HttpMethodNotAllowed"},
		{"other subscription", http.MethodGet, "/subscriptions/0000/resources", "", nil, 404, "SubscriptionNotFound"},
		{"group missing", http.MethodGet, sub + "/resourceGroups/none/providers/Microsoft.Compute/virtualMachines/vm", "", nil, 404, "ResourceGroupNotFound"},
		{"body not JSON", http.MethodPut, sub + "/resourcegroups/rg", "{", nil, 400, "InvalidRequestContent"},
		{"group without location", http.MethodPut, sub + "/resourcegroups/rg", "{}", nil, 400, "LocationRequired"},
		{"bad filter", http.MethodGet, sub + "/resources?$filter=" + url.QueryEscape("tagName eq 'a' and resourceType eq 'b'"), "", nil, 400, "InvalidFilterInQueryString"},
		{"poll of nothing", http.MethodGet, sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/get/fake/status", "", nil, 404, "NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, f, tc.method, tc.path, tc.body, tc.header...)
			if resp.StatusCode != tc.status || codeIn(body) != tc.code {
				t.Errorf("%s %s: %d %v, want %d %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.code)
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("a 405 without Allow")
			}
		})
	}
	f.Cloud().Faults.Throttle(1)
	resp, body := do(t, f, http.MethodGet, sub+"/resources", "")
	if resp.StatusCode != 429 || codeIn(body) != "TooManyRequests" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("throttled: %d %v %v", resp.StatusCode, body, resp.Header)
	}
	f.Cloud().Faults.Unavailable(1)
	if resp, body := do(t, f, http.MethodGet, sub+"/resources", ""); resp.StatusCode != 503 || codeIn(body) != "ServiceUnavailable" {
		t.Errorf("unavailable: %d %v", resp.StatusCode, body)
	}
}

// TestTokenEndpoint: Entra ID's answers to the client credentials grant.
func TestTokenEndpoint(t *testing.T) {
	f := newFake(t)
	token := func(tenant string, form url.Values) (int, map[string]any) {
		req, _ := http.NewRequestWithContext(ctxFor(t), http.MethodPost, "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := f.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
		"scope": {PublicAudience + "/.default openid offline_access profile"}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vals := range good {
			out[key] = vals
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	assertion := with("client_secret", "")
	assertion.Set("client_assertion", DefaultFederatedToken)
	assertion.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	for _, tc := range []struct {
		name   string
		tenant string
		form   url.Values
		status int
		code   string
	}{
		{"secret", DefaultTenantID, good, 200, ""},
		{"assertion", DefaultTenantID, assertion, 200, ""},
		{"unknown tenant", "other-tenant", good, 400, "invalid_tenant"},
		{"unknown client", DefaultTenantID, with("client_id", "someone"), 400, "unauthorized_client"},
		{"wrong secret", DefaultTenantID, with("client_secret", "nope"), 401, "invalid_client"},
		{"no secret", DefaultTenantID, with("client_secret", ""), 401, "invalid_client"},
		{"other grant", DefaultTenantID, with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"no .default scope", DefaultTenantID, with("scope", "openid"), 400, "invalid_scope"},
	} {
		status, body := token(tc.tenant, tc.form)
		if status != tc.status || (tc.code != "" && body["error"] != tc.code) || (tc.code == "" && body["access_token"] == nil) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
		if tc.code != "" && !strings.HasPrefix(body["error_description"].(string), "AADSTS") {
			t.Errorf("%s: the description %q does not start with its AADSTS code", tc.name, body["error_description"])
		}
	}
	_, body := token(DefaultTenantID, good)
	resp, _ := do(t, f, http.MethodGet, "/subscriptions/"+DefaultSubscriptionID+"/resources", "", "Authorization", "Bearer "+body["access_token"].(string))
	if resp.StatusCode != 200 {
		t.Errorf("Resource Manager refuses the token endpoint's token: %d", resp.StatusCode)
	}
	if s := f.TokenScopes(); len(s) < 1 || s[len(s)-1] != PublicAudience+"/.default" {
		t.Errorf("scopes recorded: %v", s)
	}
}

func TestParseFilter(t *testing.T) {
	vm := func(tags map[string]string) *armresources.GenericResourceExpanded {
		return &armresources.GenericResourceExpanded{ID: new("/subscriptions/s/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm"),
			Name: new("vm"), Type: new("Microsoft.Compute/virtualMachines"), Location: new("westeurope"), Tags: tagsOut(tags)}
	}
	for _, tc := range []struct {
		filter string
		tags   map[string]string
		keep   bool
		tagged bool
	}{
		{"", nil, true, false},
		{"tagName eq 'slipstream-deployment' and tagValue eq 'd-1'", map[string]string{"slipstream-deployment": "d-1"}, true, true},
		{"tagName eq 'slipstream-deployment' and tagValue eq 'd-2'", map[string]string{"slipstream-deployment": "d-1"}, false, true},
		{"tagname eq 'team'", map[string]string{"team": "x"}, true, true},
		{"tagName eq 'o''brien'", map[string]string{"o'brien": "x"}, true, true},
		{"resourceType eq 'microsoft.compute/virtualMachines' and location eq 'West Europe'", nil, true, false},
		{"resourceGroup eq 'rg' and name eq 'VM'", nil, true, false},
		{"resourceGroup eq 'other'", nil, false, false},
	} {
		keep, tagged, err := parseFilter(tc.filter)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tc.filter, err)
			continue
		}
		if got := keep(vm(tc.tags)); got != tc.keep || tagged != tc.tagged {
			t.Errorf("parseFilter(%q) on tags %v: keep %v tagged %v, want %v %v", tc.filter, tc.tags, got, tagged, tc.keep, tc.tagged)
		}
	}
	for _, bad := range []string{"tagValue eq 'x'", "tagName eq 'a' and name eq 'b'", "name ne 'x'", "name eq 'x", "name eq x", "foo eq 'x'",
		"name eq 'x' or name eq 'y'", "name eq 'a' and name eq 'b'", "name"} {
		if _, _, err := parseFilter(bad); err == nil || err.Code != "InvalidFilterInQueryString" {
			t.Errorf("parseFilter(%q): %v, want InvalidFilterInQueryString", bad, err)
		}
	}
}

// TestServedOverHTTPS: the handler writes the transports' answers back,
// 204s without a body, and counts the hosts it was reached at.
func TestServedOverHTTPS(t *testing.T) {
	f := newFake(t)
	srv, err := f.StartTLS()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := srv.Client()
	u, _ := url.Parse(srv.URL)
	tok := f.IssueToken()
	req := func(method, path string) *http.Response {
		r, _ := http.NewRequestWithContext(ctxFor(t), method, srv.URL+path, bytes.NewReader(nil))
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := req(http.MethodDelete, "/subscriptions/"+DefaultSubscriptionID+"/resourceGroups/none/providers/Microsoft.Compute/images/x")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("delete in a missing group: %d", resp.StatusCode)
	}
	f.AddResourceGroup("rg", nil)
	resp = req(http.MethodDelete, "/subscriptions/"+DefaultSubscriptionID+"/resourceGroups/rg/providers/Microsoft.Compute/images/x")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 || len(body) != 0 || resp.Header.Get(pollerStatusHeader) != "Succeeded" {
		t.Errorf("delete of a missing image: %d %q %v, want a 204 that ends the operation", resp.StatusCode, body, resp.Header)
	}
	resp = req(http.MethodGet, "/metadata/endpoints?api-version=2022-09-01")
	var md struct {
		Authentication struct {
			LoginEndpoint string   `json:"loginEndpoint"`
			Audiences     []string `json:"audiences"`
		} `json:"authentication"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if md.Authentication.LoginEndpoint != srv.URL+"/" || len(md.Authentication.Audiences) != 1 || md.Authentication.Audiences[0] != FakeAudience {
		t.Errorf("metadata: %+v", md)
	}
	if hosts := f.Hosts(); hosts[u.Host] != 3 || len(hosts) != 1 {
		t.Errorf("hosts seen: %v", hosts)
	}
	// A plain-HTTP client is refused by TLS, not answered.
	if _, err := http.Get(srv.URL + "/metadata/endpoints"); err == nil { // #nosec G107 -- the test's own loopback server
		t.Errorf("a client without the CA reached the server")
	} else if !errors.As(err, new(*url.Error)) {
		t.Errorf("unexpected error %v", err)
	}
}

// TestListsAfterAnError: a listing that failed (a bad filter, a group
// that does not exist yet) leaves nothing behind in the SDK's fake
// server: the next listing of the same path is answered afresh.
func TestListsAfterAnError(t *testing.T) {
	f := newFake(t)
	sub := "/subscriptions/" + DefaultSubscriptionID
	if resp, _ := do(t, f, http.MethodGet, sub+"/resources?$filter="+url.QueryEscape("bad"), ""); resp.StatusCode != 400 {
		t.Fatalf("a bad filter: %d", resp.StatusCode)
	}
	if resp, body := do(t, f, http.MethodGet, sub+"/resources", ""); resp.StatusCode != 200 {
		t.Errorf("the listing after a bad filter: %d %v", resp.StatusCode, body)
	}
	vms := sub + "/resourceGroups/later/providers/Microsoft.Compute/virtualMachines"
	if resp, body := do(t, f, http.MethodGet, vms, ""); resp.StatusCode != 404 || codeIn(body) != "ResourceGroupNotFound" {
		t.Fatalf("VMs of a missing group: %d %v", resp.StatusCode, body)
	}
	f.AddResourceGroup("later", nil)
	if resp, body := do(t, f, http.MethodGet, vms, ""); resp.StatusCode != 200 {
		t.Errorf("VMs of the group once it exists: %d %v", resp.StatusCode, body)
	}
	if resp, body := do(t, f, http.MethodGet, sub+"/providers/Microsoft.Compute/locations/mars/vmSizes", ""); resp.StatusCode != 404 || codeIn(body) != "NoRegisteredProviderFound" {
		t.Errorf("sizes of an unknown location: %d %v", resp.StatusCode, body)
	}
	if resp, body := do(t, f, http.MethodGet, sub+"/providers/Microsoft.Compute/locations/westeurope/vmSizes", ""); resp.StatusCode != 200 {
		t.Errorf("sizes after an error: %d %v", resp.StatusCode, body)
	}
}

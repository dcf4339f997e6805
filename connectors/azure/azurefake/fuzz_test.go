package azurefake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// FuzzDo sends the fake requests of any method, path, query and body: it
// never panics, answers at once, never fails itself (a 500), and answers
// every error in
// Azure's shape — ARM's {"error":{"code","message"}} or Entra ID's
// {"error":"…","error_description":"…"}.
func FuzzDo(f *testing.F) {
	sub := "/subscriptions/" + DefaultSubscriptionID
	rg := sub + "/resourceGroups/rg"
	subnet := rg + "/providers/Microsoft.Network/virtualNetworks/net/subnets/default"
	vm := `{"location":"westeurope","properties":{"hardwareProfile":{"vmSize":"Standard_B1s"},` +
		`"storageProfile":{"imageReference":{"publisher":"Pub","offer":"offer","sku":"sku","version":"latest"},"osDisk":{"createOption":"FromImage","deleteOption":"Delete"}},` +
		`"osProfile":{"computerName":"vm","adminUsername":"u","customData":"aGVsbG8=","linuxConfiguration":{"ssh":{"publicKeys":[{"path":"/home/u/.ssh/authorized_keys","keyData":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIYOGHbVy3sZ5/w6dSm9ED7IC++MFMMG+GsOpVd5oFFe"}]}}},` +
		`"networkProfile":{"networkInterfaces":[{"id":"` + rg + `/providers/Microsoft.Network/networkInterfaces/nic","properties":{"deleteOption":"Delete"}}]}}}`
	nic := `{"location":"westeurope","properties":{"ipConfigurations":[{"name":"ip","properties":{"subnet":{"id":"` + subnet + `"}}}]}}`
	for _, seed := range []struct {
		method      uint8
		path, query string
		body        string
	}{
		{1, sub + "/resourcegroups/rg2", "", `{"location":"westeurope","tags":{"a":"b"}}`},
		{1, rg + "/providers/Microsoft.Network/networkInterfaces/nic", "", nic},
		{1, rg + "/providers/Microsoft.Compute/virtualMachines/vm", "", vm},
		{0, rg + "/providers/Microsoft.Compute/virtualMachines/vm", "$expand=instanceView", ""},
		{0, rg + "/providers/Microsoft.Compute/virtualMachines/vm/get/fake/status", "", ""},
		{3, rg + "/providers/Microsoft.Compute/virtualMachines/vm/deallocate", "", ""},
		{3, rg + "/providers/Microsoft.Compute/virtualMachines/vm/generalize", "", ""},
		{1, rg + "/providers/Microsoft.Compute/images/img", "", `{"location":"westeurope","properties":{"sourceVirtualMachine":{"id":"` + rg + `/providers/Microsoft.Compute/virtualMachines/vm"}}}`},
		{1, rg + "/providers/Microsoft.Compute/galleries/g/images/d/versions/1.0.0", "", `{"location":"westeurope","properties":{"storageProfile":{"source":{"virtualMachineId":"x"}}}}`},
		{1, rg + "/providers/Microsoft.Network/virtualNetworks/net2", "", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.9.0.0/16"]},"subnets":[{"name":"s","properties":{"addressPrefix":"10.9.1.0/24"}}]}}`},
		{1, rg + "/providers/Microsoft.Network/publicIPAddresses/ip", "", `{"location":"westeurope","properties":{"deleteOption":"Delete"}}`},
		{2, rg + "/providers/Microsoft.Compute/virtualMachines/vm", "", ""},
		{2, sub + "/resourcegroups/rg2", "", ""},
		{0, sub + "/resources", "$filter=" + url.QueryEscape("tagName eq 'a' and tagValue eq 'b'") + "&$top=2", ""},
		{0, sub + "/providers/Microsoft.Compute/locations/westeurope/vmSizes", "", ""},
		{3, "/" + DefaultTenantID + "/oauth2/v2.0/token", "", "grant_type=client_credentials&client_id=" + DefaultClientID + "&client_secret=x&scope=a/.default"},
		{0, "/" + DefaultTenantID + "/v2.0/.well-known/openid-configuration", "", ""},
		{0, "/metadata/endpoints", "api-version=1", ""},
		{4, "/%2e%2e/x", "", "\x00\xff"},
		// Nulls where the SDK's models have pointers.
		{1, rg + "/providers/Microsoft.Compute/virtualMachines/vm2", "", strings.Replace(vm, `"networkInterfaces":[`, `"networkInterfaces":[null,`, 1)},
		{1, rg + "/providers/Microsoft.Compute/virtualMachines/vm3", "", strings.Replace(vm, `"publicKeys":[`, `"publicKeys":[null,`, 1)},
		{1, rg + "/providers/Microsoft.Compute/virtualMachines/vm4", "", `{"location":"westeurope","properties":{"hardwareProfile":null,"storageProfile":{"imageReference":null}}}`},
		{1, rg + "/providers/Microsoft.Network/networkInterfaces/nic2", "", `{"location":"westeurope","properties":{"ipConfigurations":[null]}}`},
		{1, rg + "/providers/Microsoft.Network/virtualNetworks/net3", "", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":[null]},"subnets":[null]}}`},
		{1, rg + "/providers/Microsoft.Compute/images/img2", "", `{"location":"westeurope","properties":null}`},
		{1, rg + "/providers/Microsoft.Compute/galleries/g/images/d2", "", `{"location":"westeurope","properties":{"identifier":null}}`},
	} {
		f.Add(seed.method, seed.path, seed.query, []byte(seed.body))
	}
	fake, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fake.Close() })
	if err := fake.AddImage("Pub:offer:sku:1.0.0", "base", nil); err != nil {
		f.Fatal(err)
	}
	fake.AddVirtualNetwork("rg", "net", "10.0.0.0/16")
	fake.AddGallery("rg", "g")
	token := fake.IssueToken()
	methods := []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost, http.MethodPatch, http.MethodHead}
	f.Fuzz(func(t *testing.T, m uint8, path, query string, body []byte) {
		u := &url.URL{Scheme: "https", Host: "management.azure.com", Path: path, RawQuery: query}
		req, err := http.NewRequest(methods[int(m)%len(methods)], u.String(), bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if bytes.Contains(body, []byte("grant_type")) {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		type res struct {
			resp *http.Response
			err  error
		}
		ch := make(chan res, 1)
		// An answer must come: a request the fake blocks on is a bug too.
		go func() { r, e := fake.Do(req); ch <- res{r, e} }()
		var resp *http.Response
		select {
		case r := <-ch:
			resp, err = r.resp, r.err
		case <-time.After(10 * time.Second):
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%s %s: no answer in 10 s; goroutines:\n%s", req.Method, u, b.String())
		}
		if err != nil {
			t.Fatalf("%s %s: an error with a live context: %v", req.Method, u, err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 599 || resp.StatusCode == 500 {
			t.Fatalf("%s %s: status %d: %s", req.Method, u, resp.StatusCode, raw)
		}
		if resp.StatusCode < 400 {
			return
		}
		var arm struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		var entra struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &arm) == nil && arm.Error.Code != "" && arm.Error.Message != "" {
			return
		}
		if json.Unmarshal(raw, &entra) == nil && entra.Error != "" && entra.Description != "" {
			return
		}
		t.Fatalf("%s %s: %d is not an Azure error answer: %s", req.Method, u, resp.StatusCode, raw)
	})
}

package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   connectors.Kind
	}{
		{404, "ResourceNotFound", connectors.KindNotFound},
		{404, "ResourceGroupNotFound", connectors.KindNotFound},
		{404, "", connectors.KindNotFound},
		{429, "TooManyRequests", connectors.KindTransient},
		{429, "", connectors.KindTransient},
		{500, "InternalServerError", connectors.KindTransient},
		{503, "ServiceUnavailable", connectors.KindTransient},
		{409, "Conflict", connectors.KindTransient},
		{409, "AnotherOperationInProgress", connectors.KindTransient},
		{409, "SkuNotAvailable", connectors.KindPermanent},
		{409, "OperationNotAllowed", connectors.KindPermanent},
		{409, "QuotaExceeded", connectors.KindPermanent},
		{400, "InvalidParameter", connectors.KindPermanent},
		{404, "PlatformImageNotFound", connectors.KindPermanent},
		{404, "ImageNotFound", connectors.KindPermanent},
		{401, "InvalidAuthenticationToken", connectors.KindPermanent},
		{403, "AuthorizationFailed", connectors.KindPermanent},
		{403, "", connectors.KindPermanent},
		{200, "AllocationFailed", connectors.KindPermanent}, // an operation that failed
		{200, "OperationPreempted", connectors.KindTransient},
		{400, "somethingNew", connectors.KindPermanent},
		{502, "somethingNew", connectors.KindTransient},
		{409, "skunotavailable", connectors.KindPermanent}, // codes compare without case
	} {
		if got := kindOf(tc.status, tc.code); got != tc.want {
			t.Errorf("kindOf(%d, %q) = %s, want %s", tc.status, tc.code, got, tc.want)
		}
	}
}

// TestErrorsWithoutAnswer: no answer from Azure is transient unless the
// caller's time is up or the certificate is not trusted.
func TestErrorsWithoutAnswer(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	if e := apiError(context.Background(), "op", fmt.Errorf("sending: %w", refused)); connectors.KindOf(e) != connectors.KindTransient {
		t.Errorf("connection refused: %v is %s", e, connectors.KindOf(e))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e := apiError(ctx, "op", fmt.Errorf("sending: %w", refused)); connectors.KindOf(e) != connectors.KindPermanent {
		t.Errorf("a cancelled call: %v is %s", e, connectors.KindOf(e))
	}
	if e := apiError(context.Background(), "op", errors.New("unmarshalling type *armcompute.VirtualMachine: unexpected end of JSON input")); connectors.KindOf(e) != connectors.KindTransient || codeOf(e) != "MalformedResponse" {
		t.Errorf("a garbled answer: %v is %s", e, connectors.KindOf(e))
	}
	if apiError(context.Background(), "op", nil) != nil {
		t.Errorf("apiError(nil) is not nil")
	}
}

// TestTLSErrorIsPermanent: a server whose CA is not trusted fails at once
// and says to set ca_file: the endpoint's, when New reads its metadata;
// the authority's, when the credential asks for a token.
func TestTLSErrorIsPermanent(t *testing.T) {
	w := newWorld(t, overHTTPS)
	_, err := w.newConnector(w.settings(map[string]any{"ca_file": nil}))
	if err == nil || !strings.Contains(err.Error(), "ca_file") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an endpoint whose certificate is not trusted: %v, want an error that says ca_file", err)
	}
	c, err := w.newConnector(w.settings(map[string]any{"ca_file": nil, "endpoint": nil}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Offers(ctxFor(t))
	if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Code != "TLSError" || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("an authority whose certificate is not trusted: %v (%s), want a permanent TLSError that says ca_file", err, ce.Kind)
	}
}

func TestStateOf(t *testing.T) {
	status := func(codes ...string) *armcompute.VirtualMachineInstanceView {
		v := &armcompute.VirtualMachineInstanceView{}
		for _, c := range codes {
			msg := "the message of " + c
			v.Statuses = append(v.Statuses, &armcompute.InstanceViewStatus{Code: &c, Message: &msg})
		}
		return v
	}
	for _, tc := range []struct {
		prov   string
		view   *armcompute.VirtualMachineInstanceView
		want   connectors.State
		reason string
	}{
		{"Creating", nil, connectors.StatePending, ""},
		{"Creating", status("ProvisioningState/creating", "PowerState/starting"), connectors.StatePending, ""},
		{"Succeeded", status("ProvisioningState/succeeded", "PowerState/running"), connectors.StateRunning, ""},
		{"Updating", status("ProvisioningState/updating", "PowerState/deallocating"), connectors.StateStopping, ""},
		{"Succeeded", status("ProvisioningState/succeeded", "PowerState/deallocated"), connectors.StateStopped, ""},
		{"Succeeded", status("ProvisioningState/succeeded", "PowerState/stopped"), connectors.StateStopped, ""},
		{"Deleting", status("ProvisioningState/deleting", "PowerState/running"), connectors.StateTerminating, ""},
		{"Failed", status("ProvisioningState/failed/AllocationFailed"), connectors.StateError, "the message of ProvisioningState/failed/AllocationFailed"},
		{"Failed", nil, connectors.StateError, "provisioning failed"},
	} {
		got, reason := stateOf(&armcompute.VirtualMachineProperties{ProvisioningState: &tc.prov, InstanceView: tc.view})
		if got != tc.want || reason != tc.reason {
			t.Errorf("%s %v: %s %q, want %s %q", tc.prov, tc.view != nil, got, reason, tc.want, tc.reason)
		}
	}
}

func TestImageReference(t *testing.T) {
	sub := "/subscriptions/0f0f/resourceGroups/rg/providers/Microsoft.Compute/"
	for _, id := range []string{sub + "images/app", sub + "galleries/g/images/app/versions/1.0.0", sub + "galleries/g/images/app"} {
		ref, err := imageReference(id)
		if err != nil || str(ref.ID) != id {
			t.Errorf("imageReference(%s) = %+v, %v", id, ref, err)
		}
	}
	ref, err := imageReference("Canonical:ubuntu-24_04-lts:server:latest")
	if err != nil || str(ref.Publisher) != "Canonical" || str(ref.Offer) != "ubuntu-24_04-lts" || str(ref.SKU) != "server" || str(ref.Version) != "latest" {
		t.Errorf("a URN: %+v, %v", ref, err)
	}
	if got := imageIDOf(ref); got != "Canonical:ubuntu-24_04-lts:server:latest" {
		t.Errorf("imageIDOf(the URN's reference) = %s", got)
	}
	for _, bad := range []string{"", "ami-0123", "a:b:c", "a::c:d", sub + "virtualMachines/vm", "/subscriptions/x"} {
		_, err := imageReference(bad)
		if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Code != "InvalidImageID" {
			t.Errorf("imageReference(%q): %v", bad, err)
		}
	}
}

func TestNames(t *testing.T) {
	if got := groupNameOf("lamp-1a2b3c4d"); got != "slipstream-lamp-1a2b3c4d" {
		t.Errorf("groupNameOf = %s", got)
	}
	if got := vnetNameOf("lamp-1a2b3c4d"); got != "slipstream-lamp-1a2b3c4d-vnet" {
		t.Errorf("vnetNameOf = %s", got)
	}
	long := strings.Repeat("x", 200)
	if a, b := groupNameOf(long), groupNameOf(long+"y"); len(a) > 90 || a == b {
		t.Errorf("long deployments: %q and %q, want distinct names of at most 90", a, b)
	}
	if got := safeName("a b/c.", 20); got != "a-b-c" {
		t.Errorf("safeName = %q", got)
	}
	if v := versionOf("app-0a1b2c3d"); v != versionOf("app-0a1b2c3d") || v == versionOf("app-ffffffff") || !strings.HasPrefix(v, "1.") {
		t.Errorf("versionOf is not a stable 1.x.y of the name: %s", v)
	}
}

// TestFakeCloudsStarter: the fake cloud the demo and the acceptance tests
// start reaches the connector through the provider settings it names, and
// through the environment alone, as a user's reaches Azure Stack Hub.
func TestFakeCloudsStarter(t *testing.T) {
	for _, via := range []string{"settings", "environment"} {
		t.Run(via, func(t *testing.T) {
			clearAzureEnv(t)
			f, err := fakeclouds.Start(Name, fakeclouds.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			settings := connectors.Settings{}
			for k, v := range f.Recipe {
				settings[k] = v
			}
			if via == "settings" {
				for k, v := range f.Settings {
					settings[k] = v
				}
			} else {
				for k, v := range f.Env {
					t.Setenv(k, v)
				}
			}
			if err := f.AddImage(f.ExampleImage, "debian-12", nil); err != nil {
				t.Fatal(err)
			}
			c, err := New(ctxFor(t), settings)
			if err != nil {
				t.Fatal(err)
			}
			spec := connectors.MachineSpec{Deployment: "d-1", Instance: "web.1", Name: "d-1-web-1", ImageID: f.ExampleImage, UserData: "#!/bin/sh\n",
				Size: connectors.Size{CPU: 1, RAMGB: 1}, Labels: map[string]string{connectors.LabelDeployment: "d-1", connectors.LabelInstance: "web.1"}}
			m, err := c.Create(ctxFor(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(ctxFor(t), m.ID); err != nil {
				t.Fatal(err)
			}
			spec.ImageID = fakeclouds.MissingImage(Name)
			if _, err := c.Create(ctxFor(t), spec); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), "PlatformImageNotFound") {
				t.Errorf("the missing image: %v", err)
			}
		})
	}
}

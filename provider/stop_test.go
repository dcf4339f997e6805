package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// TestStopRecordingServer_callsAfterTheStopEndAtOnce: a call in progress
// when Terraform asks the provider to stop is cancelled, and so is every
// call that arrives after it (Terraform sends them anyway).
func TestStopRecordingServer_callsAfterTheStopEndAtOnce(t *testing.T) {
	s := newStopRecordingServer(providerserver.NewProtocol6(&slipstreamProvider{version: "test"})())
	during, cancel := s.stoppable(context.Background())
	defer cancel()
	if during.Err() != nil {
		t.Fatal("a call is cancelled before any stop")
	}
	if _, err := s.StopProvider(context.Background(), &tfprotov6.StopProviderRequest{}); err != nil {
		t.Fatal(err)
	}
	<-during.Done() // cancelled by the stop
	after, cancel := s.stoppable(context.Background())
	defer cancel()
	if after.Err() == nil {
		t.Fatal("a call arriving after the stop is not cancelled")
	}
}

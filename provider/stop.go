package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// Terraform asks a provider to stop (the user pressed Ctrl-C) with the
// StopProvider call. terraform-plugin-go then cancels the contexts of the
// requests in progress, but not of those that arrive after it, and
// Terraform, whose graph walk may already be sending the next
// ApplyResourceChange, sends it anyway: the fault suite caught
// slipstream_deployment_ready starting its wait a millisecond after the
// stop and holding the apply for its whole create timeout
// (faults.TestFaults_interruptedApply). So the server keeps its own record
// of the stop, and every resource call that comes after it starts with
// its context cancelled.

// NewServer returns the provider's protocol 6 server (main.go serves it).
func NewServer(version string) func() tfprotov6.ProviderServer {
	return func() tfprotov6.ProviderServer {
		return newStopRecordingServer(providerserver.NewProtocol6(&slipstreamProvider{version: version})())
	}
}

// stopRecordingServer is the framework's server, whose resource calls end
// once Terraform has asked it to stop. It embeds the ProviderServer
// interface, so the optional RPCs (list resources, actions, state stores)
// are not served: this provider has none.
type stopRecordingServer struct {
	tfprotov6.ProviderServer
	stopped context.Context // done once StopProvider was called
	stop    context.CancelFunc
}

func newStopRecordingServer(s tfprotov6.ProviderServer) *stopRecordingServer {
	stopped, stop := context.WithCancel(context.Background())
	return &stopRecordingServer{ProviderServer: s, stopped: stopped, stop: stop}
}

// stoppable is ctx, cancelled too when Terraform asked the provider to
// stop, before or during the call.
func (s *stopRecordingServer) stoppable(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if s.stopped.Err() != nil {
		cancel()
		return ctx, cancel
	}
	unregister := context.AfterFunc(s.stopped, cancel)
	return ctx, func() { unregister(); cancel() }
}

func (s *stopRecordingServer) StopProvider(ctx context.Context, req *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	s.stop()
	return s.ProviderServer.StopProvider(ctx, req)
}

// stoppableCall makes a resource call with a context that the stop ends.
func stoppableCall[Req, Resp any](s *stopRecordingServer, ctx context.Context, req Req, call func(context.Context, Req) (Resp, error)) (Resp, error) {
	ctx, cancel := s.stoppable(ctx)
	defer cancel()
	return call(ctx, req)
}

func (s *stopRecordingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return stoppableCall(s, ctx, req, s.ProviderServer.ApplyResourceChange)
}

func (s *stopRecordingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return stoppableCall(s, ctx, req, s.ProviderServer.ReadResource)
}

func (s *stopRecordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return stoppableCall(s, ctx, req, s.ProviderServer.PlanResourceChange)
}

func (s *stopRecordingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return stoppableCall(s, ctx, req, s.ProviderServer.ImportResourceState)
}

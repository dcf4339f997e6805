// Command terraform-provider-slipstream is the SlipStream Terraform provider.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/slipstream/terraform-provider-slipstream/provider"
)

// version is set by goreleaser (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider for a debugger (prints TF_REATTACH_PROVIDERS)")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/slipstream/slipstream",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}

// Command terraform-provider-slipstream is the SlipStream Terraform provider.
package main

import (
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

	"github.com/slipstream/terraform-provider-slipstream/provider"
)

// version is set at build time (-ldflags "-X main.version=…"): by cmd/release
// for a release, by make build from git describe.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider for a debugger (prints TF_REATTACH_PROVIDERS)")
	flag.Parse()

	var opts []tf6server.ServeOpt
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	}
	// provider.NewServer is the framework's server that also ends the
	// calls arriving after Terraform asked it to stop (provider/stop.go).
	if err := tf6server.Serve("registry.terraform.io/slipstream/slipstream", provider.NewServer(version), opts...); err != nil {
		log.Fatal(err.Error())
	}
}

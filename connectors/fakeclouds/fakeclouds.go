// Package fakeclouds starts the fake of any cloud by its connector name,
// served over HTTP on loopback, with what a provider configuration (or a
// user's environment) needs to reach it. The provider's acceptance tests,
// the multi-cloud end-to-end test, the benchmark and `make
// demo-multicloud` (cmd/fakeclouds) start their clouds through it, so a
// new cloud's fake is one file here (its starter) beside its own package.
package fakeclouds

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// Fake is one cloud's running fake.
type Fake struct {
	// Connector is the catalog name of the cloud ("ec2").
	Connector string
	// Cloud is the fake cloud behind the API: machines, images, faults.
	Cloud *fakecloud.Cloud
	// URL is the API server's root.
	URL string
	// Settings are the provider block's settings (the catalog's
	// ScopeProvider names) that reach this fake: endpoint and
	// credentials. Settings the recipe gives anyway (a region, a
	// location) are in Recipe.
	Settings map[string]string
	// Recipe are the cloud block settings a recipe needs for this cloud
	// (required ones such as a region), as their values on the fake.
	Recipe map[string]string
	// Env reaches the fake through the cloud's own environment variables,
	// as a user's environment reaches a real account: what the demo
	// exports (AWS_ENDPOINT_URL_EC2, OS_AUTH_URL, CLOUDSIGMA_ENDPOINT, …).
	Env map[string]string
	// Files are configuration files Env points at (a clouds.yaml), by
	// path; Start writes them into Options.Dir.
	Files map[string]string
	// ExampleImage is the id, in this cloud's own form, that the examples
	// (examples/recipes/multicloud) and the tests give the base image (see
	// ExampleImage); AddImage(f.ExampleImage, …) makes the fake serve it.
	ExampleImage string

	addImage func(id, name string, layers []string) error
	close    func()
}

// Options configure Start.
type Options struct {
	// Cloud configures the fake cloud (runtime, delays, log); its Name
	// and NewID are the connector's.
	Cloud fakecloud.Options
	// Dir holds the configuration files a fake needs (clouds.yaml);
	// required by fakes that have some.
	Dir string
	// Region is the region a recipe names for the cloud, where the cloud
	// has regions (requests are signed for it); default the fake's own.
	Region string
}

// starter starts one cloud's fake.
type starter func(opts Options) (*Fake, error)

// registration is one cloud's fake: its starter, the id of the base
// image in the cloud's own form that examples and tests name, and an id
// of that form that no image has (for tests of a wrong image id).
type registration struct {
	start        starter
	exampleImage string
	missingImage string
}

// starters are the clouds that have a fake, by connector name: one line
// per cloud.
var starters = map[string]registration{
	"azure":      {startAzure, "Debian:debian-12:12-gen2:0.20250101.1966", "Debian:debian-12:12-gen2:0.0.0"},        // a marketplace URN
	"cloudsigma": {startCloudSigma, "5e2d8a41-1b7c-4f3e-9a6d-2c8b0e4f7a13", "00000000-0000-4000-8000-000000000000"}, // a library drive's uuid
	"cloudstack": {startCloudStack, "3a7c9e2f-1b4d-4c6e-8f0a-2b4d6e8f0a1c", "00000000-0000-4000-8000-000000000000"}, // a template's uuid
	"ec2":        {startEC2, "ami-0d1e2b3c4a5f60718", "ami-00000000000000000"},
	"opennebula": {startOpenNebula, "7", "0"},                                                                      // an image id (0 is never one of the fake's)
	"openstack":  {startOpenStack, "7b1f3c2e-5a4d-4e6f-8a9b-0c1d2e3f4a5b", "00000000-0000-4000-8000-000000000000"}, // a Glance image id
	"stratuslab": {startStratusLab, "7", "0"},                                                                      // OpenNebula's image ids, behind StratusLab's proxy
}

// ExampleImage is the id of the base image that examples/recipes/multicloud
// and the tests name on the connector's cloud; "" for a cloud without a
// fake.
func ExampleImage(connector string) string { return starters[connector].exampleImage }

// MissingImage is an image id in the connector's own form that its fake
// has no image for; "" for a cloud without a fake.
func MissingImage(connector string) string { return starters[connector].missingImage }

// Names lists the clouds that have a fake, sorted.
func Names() []string {
	return slices.Sorted(maps.Keys(starters))
}

// Start starts the fake of the named cloud on a loopback port. Close it
// when done: it stops the server and terminates every machine.
func Start(connector string, opts Options) (*Fake, error) {
	r, ok := starters[connector]
	if !ok {
		return nil, fmt.Errorf("fakeclouds: no fake for connector %q (there are: %v)", connector, Names())
	}
	opts.Cloud.Name = connector
	f, err := r.start(opts)
	if err != nil {
		return nil, err
	}
	f.ExampleImage = r.exampleImage
	for path, content := range f.Files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, fmt.Errorf("fakeclouds: %w", errors.Join(err, f.Close()))
		}
	}
	return f, nil
}

// AddImage registers a base image with the given id (the id a recipe's
// image names for this cloud), whose root file system is layers (top
// first; none for the Instant runtime).
func (f *Fake) AddImage(id, name string, layers []string) error { return f.addImage(id, name, layers) }

// Close stops the API server and closes the cloud (its machines are
// terminated and their guests destroyed).
func (f *Fake) Close() error {
	f.close()
	return f.Cloud.Close()
}

// ProviderBlock is the provider configuration of an alias for this fake,
// in Terraform syntax: the recipe's settings and the fake's.
func (f *Fake) ProviderBlock(alias string) string {
	all := map[string]string{}
	maps.Copy(all, f.Recipe)
	maps.Copy(all, f.Settings)
	keys := slices.Sorted(maps.Keys(all))
	s := fmt.Sprintf("provider \"slipstream\" {\n  alias = %q\n  %s = {\n", alias, f.Connector)
	for _, k := range keys {
		s += fmt.Sprintf("    %s = %q\n", k, all[k])
	}
	return s + "  }\n}\n"
}

// StartAll starts a fake of each named cloud (all with none named),
// closing those started when one fails.
func StartAll(opts Options, connectors ...string) (map[string]*Fake, error) {
	if len(connectors) == 0 {
		connectors = Names()
	}
	sort.Strings(connectors)
	out := map[string]*Fake{}
	for _, name := range connectors {
		f, err := Start(name, opts)
		if err != nil {
			var errs []error
			for _, g := range out {
				errs = append(errs, g.Close())
			}
			return nil, errors.Join(append([]error{err}, errs...)...)
		}
		out[name] = f
	}
	return out, nil
}

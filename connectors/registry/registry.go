// Package registry is the one list of the clouds whose machines SlipStream
// creates: each connector's Factory by its catalog name. The provider
// builds its resources from it and the fakes' tests reach every connector
// through it, so adding a cloud is its package in connectors/, its file in
// connectors/catalog, and one line here.
package registry

import (
	"maps"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/azure"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudstack"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2"
	"github.com/slipstream/terraform-provider-slipstream/connectors/opennebula"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack"
)

// factories are the machine connectors by catalog name: one line per cloud.
var factories = map[string]connectors.Factory{
	"azure":      azure.New,
	"cloudsigma": cloudsigma.New,
	"cloudstack": cloudstack.New,
	"ec2":        ec2.New,
	"opennebula": opennebula.New,
	"openstack":  openstack.New,
	"stratuslab": opennebula.NewStratusLab, // OpenNebula with StratusLab's defaults
}

// Factory returns the named connector's Factory.
func Factory(name string) (connectors.Factory, bool) {
	f, ok := factories[name]
	return f, ok
}

// Names lists the registered connectors, sorted.
func Names() []string { return slices.Sorted(maps.Keys(factories)) }

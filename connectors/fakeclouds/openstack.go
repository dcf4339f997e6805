package fakeclouds

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

// openstackCloudName is the clouds.yaml entry that reaches the fake.
const openstackCloudName = "shop"

func startOpenStack(opts Options) (*Fake, error) {
	if opts.Dir == "" {
		return nil, errors.New("fakeclouds: the openstack fake needs Options.Dir for its clouds.yaml")
	}
	co := opts.Cloud
	co.NewID = openstackfake.NewID
	cloud, err := fakecloud.New(co)
	if err != nil {
		return nil, err
	}
	api, err := openstackfake.New(cloud, openstackfake.Options{NetworkName: "shop-net", Region: opts.Region})
	if err != nil {
		return nil, errors.Join(err, cloud.Close())
	}
	api.Start()
	o := api.Options()
	yaml := filepath.Join(opts.Dir, "clouds.yaml")
	return &Fake{
		Connector: "openstack", Cloud: cloud, URL: api.URL(),
		Settings: map[string]string{"auth_url": api.AuthURL(), "user_name": o.User, "password": o.Password, "project_name": o.Project, "domain_name": o.Domain, "region": o.Region},
		Recipe:   map[string]string{},
		Env:      map[string]string{"OS_CLIENT_CONFIG_FILE": yaml},
		Files: map[string]string{yaml: fmt.Sprintf("clouds:\n  %s:\n    auth:\n      auth_url: %s\n      username: %s\n      password: %s\n      project_name: %s\n      user_domain_name: %s\n      project_domain_name: %s\n    region_name: %s\n",
			openstackCloudName, api.AuthURL(), o.User, o.Password, o.Project, o.Domain, o.Domain, o.Region)},
		addImage: func(id, name string, layers []string) error {
			_, err := api.AddImageWithID(id, name, layers...)
			return err
		},
		close: api.Close,
	}, nil
}

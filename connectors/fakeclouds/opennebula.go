package fakeclouds

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/opennebula/onefake"
)

// startOpenNebula serves a fake oned (XML-RPC at <URL>/RPC2) with one
// network, "public", that every VM gets.
func startOpenNebula(opts Options) (*Fake, error) {
	fake, err := onefake.New(onefake.Options{Cloud: opts.Cloud})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(fake)
	endpoint := srv.URL + onefake.Path
	o := fake.Options()
	return &Fake{
		Connector: "opennebula", Cloud: fake.Cloud(), URL: srv.URL,
		Settings: map[string]string{"endpoint": endpoint, "username": o.Username, "password": o.Password},
		Recipe:   map[string]string{},
		// The variables of OpenNebula's Terraform provider.
		Env:      map[string]string{"OPENNEBULA_ENDPOINT": endpoint, "OPENNEBULA_USERNAME": o.Username, "OPENNEBULA_PASSWORD": o.Password},
		addImage: openNebulaImage(fake),
		close:    srv.Close,
	}, nil
}

// startStratusLab serves the fake as StratusLab's one-proxy (Basic
// authentication on <URL>/pswd/xmlrpc); the endpoint given is the
// proxy's as StratusLab's client was given it, <URL>/xmlrpc.
func startStratusLab(opts Options) (*Fake, error) {
	fake, err := onefake.New(onefake.Options{Cloud: opts.Cloud, OneProxy: true})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(fake)
	endpoint := srv.URL + strings.TrimPrefix(onefake.ProxyPath, "/pswd")
	o := fake.Options()
	return &Fake{
		Connector: "stratuslab", Cloud: fake.Cloud(), URL: srv.URL,
		Settings: map[string]string{"endpoint": endpoint, "username": o.Username, "password": o.Password},
		Recipe:   map[string]string{},
		Env:      map[string]string{"STRATUSLAB_ENDPOINT": endpoint, "STRATUSLAB_USERNAME": o.Username, "STRATUSLAB_PASSWORD": o.Password},
		addImage: openNebulaImage(fake),
		close:    srv.Close,
	}, nil
}

// openNebulaImage registers a base image: OpenNebula's image ids are
// numbers.
func openNebulaImage(fake *onefake.Fake) func(id, name string, layers []string) error {
	return func(id, name string, layers []string) error {
		n, err := strconv.Atoi(id)
		if err != nil {
			return fmt.Errorf("fakeclouds: OpenNebula image ids are numbers, not %q", id)
		}
		return fake.AddImage(n, name, 0, layers...)
	}
}

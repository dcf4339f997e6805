package fakeclouds

import (
	"net/http/httptest"

	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/cloudsigmafake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func startCloudSigma(opts Options) (*Fake, error) {
	cloud, err := cloudsigmafake.NewCloud(opts.Cloud)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(cloudsigmafake.New(cloud, cloudsigmafake.Options{}))
	endpoint := srv.URL + cloudsigmafake.Prefix
	return &Fake{
		Connector: "cloudsigma", Cloud: cloud, URL: srv.URL,
		Settings: map[string]string{"endpoint": endpoint, "username": cloudsigmafake.DefaultUsername, "password": cloudsigmafake.DefaultPassword},
		Recipe:   map[string]string{"location": "zrh"},
		Env: map[string]string{"CLOUDSIGMA_ENDPOINT": endpoint, "CLOUDSIGMA_USERNAME": cloudsigmafake.DefaultUsername,
			"CLOUDSIGMA_PASSWORD": cloudsigmafake.DefaultPassword},
		addImage: func(id, name string, layers []string) error {
			// A library drive is a base image of the cloud, same uuid.
			_, err := cloud.AddImage(fakecloud.Image{ID: id, Name: name, Layers: layers, LoginUser: "root"})
			return err
		},
		close: srv.Close,
	}, nil
}

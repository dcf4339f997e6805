package fakeclouds

import (
	"net/http/httptest"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudstack/cloudstackfake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// startCloudStack serves a fake CloudStack management server (one zone,
// the default offerings, one guest network) at <URL>/client/api. Its
// async jobs take a moment, as a real server's do.
func startCloudStack(opts Options) (*Fake, error) {
	cloud, err := cloudstackfake.NewCloud(opts.Cloud)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(cloudstackfake.New(cloud, cloudstackfake.Options{JobDelay: 50 * time.Millisecond}))
	apiURL := srv.URL + cloudstackfake.Path
	return &Fake{
		Connector: "cloudstack", Cloud: cloud, URL: srv.URL,
		Settings: map[string]string{"api_url": apiURL, "api_key": cloudstackfake.DefaultAPIKey, "secret_key": cloudstackfake.DefaultSecretKey},
		Recipe:   map[string]string{},
		Env: map[string]string{"CLOUDSTACK_API_URL": apiURL, "CLOUDSTACK_API_KEY": cloudstackfake.DefaultAPIKey,
			"CLOUDSTACK_SECRET_KEY": cloudstackfake.DefaultSecretKey},
		addImage: func(id, name string, layers []string) error {
			// A template of the zone, same uuid.
			_, err := cloud.AddImage(fakecloud.Image{ID: id, Name: name, Layers: layers, LoginUser: "root"})
			return err
		},
		close: srv.Close,
	}, nil
}

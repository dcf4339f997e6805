package fakeclouds

import (
	"net/http/httptest"

	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
)

func startEC2(opts Options) (*Fake, error) {
	cloud, err := ec2fake.NewCloud(opts.Cloud)
	if err != nil {
		return nil, err
	}
	region := opts.Region
	if region == "" {
		region = ec2fake.DefaultRegion
	}
	api := ec2fake.New(cloud, ec2fake.Options{Region: region})
	srv := httptest.NewServer(api)
	return &Fake{
		Connector: "ec2", Cloud: cloud, URL: srv.URL,
		Settings: map[string]string{"endpoint": srv.URL, "access_key": ec2fake.DefaultAccessKey, "secret_key": ec2fake.DefaultSecretKey},
		Recipe:   map[string]string{"region": region},
		Env: map[string]string{
			"AWS_ENDPOINT_URL_EC2": srv.URL, "AWS_ACCESS_KEY_ID": ec2fake.DefaultAccessKey, "AWS_SECRET_ACCESS_KEY": ec2fake.DefaultSecretKey,
			"AWS_REGION": region,
		},
		addImage: func(id, name string, layers []string) error {
			_, err := api.AddImage(ec2fake.BaseImage{ID: id, Name: name, Layers: layers, LoginUser: "root"})
			return err
		},
		close: srv.Close,
	}, nil
}

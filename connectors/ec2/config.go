package ec2

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// requestTimeout bounds one API call: EC2 answers in well under a second,
// and a call that hangs is retried by the provider as a transient error.
const requestTimeout = 60 * time.Second

// New makes the connector from the provider configuration's settings:
// region, and credentials as static access_key and secret_key, a profile
// of the shared configuration files, or by default the standard AWS
// chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, the shared
// files, SSO, an instance role). endpoint overrides the EC2 API's URL.
//
// It checks that credentials can be found, so that a configuration
// without any fails here with a message that says where they may come
// from, rather than at the first machine.
func New(ctx context.Context, settings connectors.Settings) (connectors.Connector, error) {
	if err := settings.Check(); err != nil {
		return nil, fmt.Errorf("ec2: %w", err)
	}
	region, profile := settings.String("region"), settings.String("profile")
	accessKey, secretKey := settings.String("access_key"), settings.String("secret_key")
	if (accessKey == "") != (secretKey == "") {
		return nil, errors.New("ec2: access_key and secret_key go together: set both, or neither to use the AWS credential chain")
	}
	opts := []func(*config.LoadOptions) error{
		// The provider retries transient errors itself (connectors.Retry),
		// in one place for every cloud: the SDK must not retry as well.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(requestTimeout)),
		config.WithAppID("slipstream"),
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if accessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ec2: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("ec2: no region: set the region setting (e.g. eu-west-1), or AWS_REGION, or a region in the profile of the shared configuration file")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("ec2: no AWS credentials: " + credentialSources)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("ec2: no AWS credentials: %s: %w", credentialSources, err)
	}
	// Wrapped only now: loading installs AWS_CA_BUNDLE into the SDK's
	// own client, which it must still be then.
	cfg.HTTPClient = readOnlyBodies{cfg.HTTPClient}
	endpoint := settings.String("endpoint")
	api := awsec2.NewFromConfig(cfg, func(o *awsec2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return newConnector(api), nil
}

// credentialSources says where EC2 credentials may come from.
const credentialSources = "set the access_key and secret_key settings, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
	"or a profile (the profile setting or AWS_PROFILE) of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials)"

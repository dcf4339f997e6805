package cloudstack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudstack/cloudstackfake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// world is a fake CloudStack on a loopback server and a connector pointed
// at it.
type world struct {
	cloud *fakecloud.Cloud
	fake  *cloudstackfake.Fake
	url   string // the API endpoint
	conn  *Connector
	image string // a base template
}

// newWorld starts a fake with one template; opts may set the fake's
// options.
func newWorld(t *testing.T, opts ...func(*cloudstackfake.Options)) *world {
	return newWorldBehind(t, nil, opts...)
}

// newWorldBehind is newWorld with the fake behind wrap (a proxy that
// loses answers, say).
func newWorldBehind(t *testing.T, wrap func(http.Handler) http.Handler, opts ...func(*cloudstackfake.Options)) *world {
	t.Helper()
	cloud, err := cloudstackfake.NewCloud(fakecloud.Options{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	img, err := cloud.AddImage(fakecloud.Image{ID: cloudstackfake.NewUUID(), Name: "Debian 12", LoginUser: "debian",
		Extra: map[string]any{"size": int64(8 << 30)}})
	if err != nil {
		t.Fatal(err)
	}
	o := cloudstackfake.Options{JobDelay: 20 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	fake := cloudstackfake.New(cloud, o)
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w := &world{cloud: cloud, fake: fake, url: srv.URL + cloudstackfake.Path, image: img.ID}
	w.conn = w.connector(t, cloudstackfake.DefaultSecretKey)
	return w
}

// connector is a connector of the world's fake with that secret key,
// whose retries and polls are quick.
func (w *world) connector(t *testing.T, secret string) *Connector {
	t.Helper()
	cc, err := New(context.Background(), connectors.Settings{"api_url": w.url, "api_key": cloudstackfake.DefaultAPIKey, "secret_key": secret})
	if err != nil {
		t.Fatal(err)
	}
	c := cc.(*Connector)
	quick(c)
	return c
}

// quick makes a connector's retries, polls and lost-answer checks fast.
func quick(c *Connector) {
	c.retry = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.poll = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.lostChecks = []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond}
}

func (w *world) harness() *connectortest.Harness {
	return &connectortest.Harness{Connector: w.conn, Cloud: w.cloud, ImageID: w.image, Name: Name}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestConformance(t *testing.T) {
	connectortest.Run(t, func(t *testing.T) *connectortest.Harness { return newWorld(t).harness() })
}

package cloudsigma

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/cloudsigmafake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// world is a fake CloudSigma on a loopback server, a connector pointed at
// it, and a client of the same API for looking behind the connector.
type world struct {
	cloud *fakecloud.Cloud
	fake  *cloudsigmafake.Fake
	url   string // the API base
	conn  *Connector
	api   *csapi.Client
	image string // a library drive
}

// newWorld starts a fake with one library drive; opts may set the fake's
// options.
func newWorld(t *testing.T, opts ...func(*cloudsigmafake.Options)) *world {
	return newWorldBehind(t, nil, opts...)
}

// newWorldBehind is newWorld with the fake behind wrap (a proxy that
// loses answers, say).
func newWorldBehind(t *testing.T, wrap func(http.Handler) http.Handler, opts ...func(*cloudsigmafake.Options)) *world {
	t.Helper()
	cloud, err := cloudsigmafake.NewCloud(fakecloud.Options{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	img, err := cloud.AddImage(fakecloud.Image{ID: cloudsigmafake.NewUUID(), Name: "Debian 12", LoginUser: "cloudsigma",
		Extra: map[string]any{"size": int64(4 << 30)}})
	if err != nil {
		t.Fatal(err)
	}
	o := cloudsigmafake.Options{CloneDelay: 30 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	fake := cloudsigmafake.New(cloud, o)
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w := &world{cloud: cloud, fake: fake, url: srv.URL + cloudsigmafake.Prefix, image: img.ID}
	w.conn = w.connector(t, cloudsigmafake.DefaultPassword)
	w.api, err = csapi.New(csapi.Options{BaseURL: w.url, Username: cloudsigmafake.DefaultUsername, Password: cloudsigmafake.DefaultPassword})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// connector is a connector of the world's fake with that password, whose
// retries and polls are quick.
func (w *world) connector(t *testing.T, password string) *Connector {
	t.Helper()
	cc, err := New(context.Background(), connectors.Settings{"endpoint": w.url, "username": cloudsigmafake.DefaultUsername, "password": password})
	if err != nil {
		t.Fatal(err)
	}
	c := cc.(*Connector)
	c.retry = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.poll = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	return c
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

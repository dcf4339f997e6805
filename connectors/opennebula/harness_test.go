package opennebula

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/opennebula/onefake"
)

// baseImage is the id of the image every world's fake has.
const baseImage = 7

// world is a fake OpenNebula on a loopback server and a connector pointed
// at it.
type world struct {
	fake  *onefake.Fake
	cloud *fakecloud.Cloud
	url   string // the XML-RPC endpoint
	conn  *Connector
	image string
}

// newWorld starts a fake with one image; opts may set the fake's options.
func newWorld(t *testing.T, opts ...func(*onefake.Options)) *world {
	return newWorldBehind(t, nil, opts...)
}

// newWorldBehind is newWorld with the fake behind wrap (a proxy that
// loses answers, say).
func newWorldBehind(t *testing.T, wrap func(http.Handler) http.Handler, opts ...func(*onefake.Options)) *world {
	t.Helper()
	o := onefake.Options{Cloud: fakecloud.Options{Log: t.Logf}, SchedMessageAfter: time.Hour}
	for _, fn := range opts {
		fn(&o)
	}
	fake, err := onefake.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	if err := fake.AddImage(baseImage, "debian-12", 2252); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	path := onefake.Path
	if o.OneProxy {
		path = onefake.ProxyPath
	}
	w := &world{fake: fake, cloud: fake.Cloud(), url: srv.URL + path, image: "7"}
	if !o.OneProxy {
		w.conn = w.connector(t, fake.Options().Password)
	}
	return w
}

// connector is an OpenNebula connector of the world's fake with that
// password, whose waits and retries are quick.
func (w *world) connector(t *testing.T, password string) *Connector {
	t.Helper()
	c, err := newConnector(connectors.Settings{"endpoint": w.url, "username": w.fake.Options().Username, "password": password},
		openNebula, noEnv, noHome)
	if err != nil {
		t.Fatal(err)
	}
	return quick(c)
}

// quick makes a connector's waits and retries short.
func quick(c *Connector) *Connector {
	c.retry = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.poll = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.settle = 300 * time.Millisecond
	c.softStop = time.Second
	return c
}

func noEnv(string) string { return "" }

func noHome() (string, error) { return "", errors.New("no home folder in tests") }

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

// TestMain keeps the tests from reading the developer's own OpenNebula
// and StratusLab credentials.
func TestMain(m *testing.M) {
	for _, v := range []string{EnvEndpoint, EnvUsername, EnvPassword, EnvXMLRPC, EnvAuth, EnvStratusLabEndpoint, EnvStratusLabUsername, EnvStratusLabPassword, EnvStratusLabSection} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

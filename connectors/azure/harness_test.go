package azure

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/azure/azurefake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// The marketplace image the tests start from: registered with its
// version, asked for as latest.
const (
	testImageVersion = "Debian:debian-12:12-gen2:0.20250101.1966"
	testImage        = "Debian:debian-12:12-gen2:latest"
)

// wiring says how a connector reaches its fake.
type wiring int

const (
	// inProcess: the fake is the SDK clients' and the credential's
	// transport.
	inProcess wiring = iota
	// overHTTPS: the fake is served over HTTPS on loopback with a CA of
	// its own, reached through endpoint, authority_host and ca_file.
	overHTTPS
)

func (w wiring) String() string {
	if w == overHTTPS {
		return "https"
	}
	return "in-process"
}

// world is a fake Azure and a connector pointed at it.
type world struct {
	t     *testing.T
	fake  *azurefake.Fake
	cloud *fakecloud.Cloud
	conn  *Connector
	how   wiring
	srv   *azurefake.Server // overHTTPS only
	ca    string            // the CA file, overHTTPS only
}

// newWorld starts a fake with the test image and a connector on it,
// through the service principal of the provider settings.
func newWorld(t *testing.T, how wiring, opts ...func(*azurefake.Options)) *world {
	t.Helper()
	o := azurefake.Options{Cloud: fakecloud.Options{Log: t.Logf}, PollInterval: 5 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	fake, err := azurefake.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	if err := fake.AddImage(testImageVersion, "debian-12", nil); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, fake: fake, cloud: fake.Cloud(), how: how}
	if how == overHTTPS {
		w.srv, err = fake.StartTLS()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.srv.Close)
		w.ca = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(w.ca, w.srv.CAPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.conn = w.connector(w.settings(nil))
	return w
}

// settings are provider settings that reach the world's fake with its
// service principal; extra overrides them (a nil value removes one).
func (w *world) settings(extra map[string]any) connectors.Settings {
	s := connectors.Settings{"subscription_id": azurefake.DefaultSubscriptionID, "location": azurefake.DefaultLocation,
		"tenant_id": azurefake.DefaultTenantID, "client_id": azurefake.DefaultClientID, "client_secret": azurefake.DefaultClientSecret}
	if w.how == overHTTPS {
		s["endpoint"], s["authority_host"], s["ca_file"] = w.srv.URL, w.srv.URL, w.ca
	}
	for k, v := range extra {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	return s
}

// connector makes a connector of the world's fake whose retries and polls
// are quick.
func (w *world) connector(settings connectors.Settings) *Connector {
	w.t.Helper()
	c, err := w.newConnector(settings)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) newConnector(settings connectors.Settings) (*Connector, error) {
	var c *Connector
	var err error
	if w.how == overHTTPS {
		var cc connectors.Connector
		if cc, err = New(context.Background(), settings); err == nil {
			c = cc.(*Connector)
		}
	} else {
		c, err = newConnector(context.Background(), settings, w.fake)
	}
	if err != nil {
		return nil, err
	}
	c.retry = connectors.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	c.pollEvery = 10 * time.Millisecond
	return c, nil
}

func (w *world) harness() *connectortest.Harness {
	return &connectortest.Harness{Connector: w.conn, Cloud: w.cloud, ImageID: testImage, Name: Name}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestConformance(t *testing.T) {
	for _, how := range []wiring{inProcess, overHTTPS} {
		t.Run(how.String(), func(t *testing.T) {
			connectortest.Run(t, func(t *testing.T) *connectortest.Harness { return newWorld(t, how).harness() })
		})
	}
}

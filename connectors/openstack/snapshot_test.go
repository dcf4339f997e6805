package openstack

import (
	"context"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

func TestSnapshotOfAStoppedServerAndARetriedSnapshot(t *testing.T) {
	f, img := newFakeWith(t, openstackfake.Options{}, fakecloud.Options{ImageDelay: 300 * time.Millisecond})
	conn := connectTo(t, f, settingsFor(f))
	m, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, conn, m.ID)
	// A Snapshot that gives up while Glance still writes the image…
	short, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := conn.Snapshot(short, m.ID, "base-v1", map[string]string{"slipstream-image": "base"}); err == nil {
		t.Fatal("Snapshot within 150 ms of an image that takes 300 ms: no error")
	}
	// …and is called again takes the same image.
	id, err := conn.Snapshot(ctxFor(t), m.ID, "base-v1", map[string]string{"slipstream-image": "base"})
	if err != nil {
		t.Fatal(err)
	}
	if imgs := f.Cloud().Images(); len(imgs) != 2 {
		t.Errorf("%d images after two snapshots of one name, want the base and one", len(imgs))
	}
	fi, _ := f.Cloud().Image(id)
	if fi.State != "available" || fi.Labels["slipstream-image"] != "base" || fi.Source != m.ID {
		t.Errorf("the snapshot: %+v", fi)
	}
	d, err := conn.Describe(ctxFor(t), m.ID)
	if err != nil || d.State != connectors.StateStopped {
		t.Errorf("the server after Snapshot: %v, %+v, want stopped", err, d)
	}
}

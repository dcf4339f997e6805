package azure

import (
	"slices"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// snapshotAndReuse snapshots a running builder, starts a machine from
// the image, and deletes both; it returns the image's id.
func snapshotAndReuse(t *testing.T, w *world, labels map[string]string) string {
	t.Helper()
	h := w.harness()
	h.Connector = w.conn
	builder, err := w.conn.Create(ctxFor(t), h.Spec("dep-build", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	h2running(t, w, builder.ID)
	img, err := w.conn.Snapshot(ctxFor(t), builder.ID, "app-0a1b2c3d", labels)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	fi, err := w.cloud.Image(img)
	if err != nil || fi.State != "available" || fi.Source != builder.ID {
		t.Fatalf("the fake cloud's image %s: %+v, %v; want it available, made from %s", img, fi, err, builder.ID)
	}
	if fi.Labels["slipstream-image"] != labels["slipstream-image"] {
		t.Errorf("the image's tags %v lack the labels %v", fi.Labels, labels)
	}
	// The builder stays deallocated, and its deployment's group goes with
	// it, but not the image.
	got, err := w.conn.Describe(ctxFor(t), builder.ID)
	if err != nil || got.State != connectors.StateStopped {
		t.Errorf("the builder after the snapshot: %+v, %v; want stopped", got, err)
	}
	if err := w.conn.Delete(ctxFor(t), builder.ID); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(w.fake.ResourceGroups(), "slipstream-dep-build") {
		t.Errorf("the builder's group is left after its last VM")
	}
	spec := h.Spec("dep-use", "web.1")
	spec.ImageID = img
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := w.conn.Create(ctxFor(t), spec)
	if err != nil {
		t.Fatalf("a machine from the image: %v", err)
	}
	if got := h2running(t, w, m.ID); got.ImageID != img {
		t.Errorf("the machine's image is %q, want %q", got.ImageID, img)
	}
	if fm, _ := w.cloud.Machine(m.ID); fm.ImageID != img {
		t.Errorf("the fake cloud's machine started from %q, want %q", fm.ImageID, img)
	}
	if err := w.conn.Delete(ctxFor(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.conn.DeleteImage(ctxFor(t), img); err != nil {
		t.Fatalf("DeleteImage: %v", err)
	}
	if _, err := w.cloud.Image(img); err == nil {
		t.Errorf("the image is still in the fake cloud after DeleteImage")
	}
	if err := w.conn.DeleteImage(ctxFor(t), img); err != nil {
		t.Errorf("DeleteImage of a deleted image: %v", err)
	}
	return img
}

// TestSnapshotManagedImage: without a gallery, the image is a managed
// image in the image group, which is made for it and outlives the
// builder's deployment.
func TestSnapshotManagedImage(t *testing.T) {
	w := newWorld(t, overHTTPS)
	img := snapshotAndReuse(t, w, map[string]string{"slipstream-image": "app", connectors.LabelDeployment: "dep-build"})
	if !strings.HasSuffix(img, "/resourceGroups/slipstream-images/providers/Microsoft.Compute/images/app-0a1b2c3d") {
		t.Errorf("image id %s: want a managed image in slipstream-images", img)
	}
	if !slices.Contains(w.fake.ResourceGroups(), "slipstream-images") {
		t.Errorf("the image group is gone")
	}
	if tags := w.fake.ResourceGroupTags("slipstream-images"); tags[tagManaged] != imageGroupTag || tags[connectors.LabelDeployment] != "" {
		t.Errorf("the image group's tags %v: want it marked as SlipStream's images, of no deployment", tags)
	}
}

// TestSnapshotGalleryVersion: with a gallery, the image is a version of
// an image definition named after the recipe's image, made when missing.
func TestSnapshotGalleryVersion(t *testing.T) {
	w := newWorld(t, inProcess)
	gallery := w.fake.AddGallery("gallery-rg", "shop_gallery")
	w.conn = w.connector(w.settings(map[string]any{"gallery": gallery}))
	img := snapshotAndReuse(t, w, map[string]string{"slipstream-image": "app"})
	if !strings.HasPrefix(img, gallery+"/images/app/versions/1.") {
		t.Errorf("image id %s: want a version of %s/images/app", img, gallery)
	}
	if v := versionOf("app-0a1b2c3d"); !strings.HasSuffix(img, "/versions/"+v) {
		t.Errorf("the version %s is not derived from the snapshot's name (%s)", img, v)
	}
	if slices.Contains(w.fake.ResourceGroups(), "slipstream-images") {
		t.Errorf("a managed image group was made although a gallery is configured")
	}
	// A second snapshot of the same image reuses the definition.
	snapshotAndReuse(t, w, map[string]string{"slipstream-image": "app"})
}

// TestSnapshotFailures: a snapshot of a VM that is gone is not found; a
// capture Azure refuses is permanent with its code; DeleteImage refuses
// an image SlipStream did not make.
func TestSnapshotFailures(t *testing.T) {
	w := newWorld(t, inProcess)
	m, err := w.conn.Create(ctxFor(t), w.harness().Spec("dep-snapfail", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	h2running(t, w, m.ID)
	gone := strings.Replace(m.ID, "web-1", "web-9", 1)
	if _, err := w.conn.Snapshot(ctxFor(t), gone, "x", nil); !connectors.IsNotFound(err) {
		t.Errorf("Snapshot of a VM that does not exist: %v, want not found", err)
	}
	if _, err := w.conn.Snapshot(ctxFor(t), "not-an-id", "x", nil); !connectors.IsNotFound(err) {
		t.Errorf("Snapshot of a malformed id: %v, want not found", err)
	}
	// The machine dies while it is deallocated: generalize then fails.
	w.cloud.Faults.Throttle(1, "VirtualMachinesClient.Generalize")
	_, err = w.conn.Snapshot(ctxFor(t), m.ID, "x", nil)
	if ce := asError(t, err); ce.Kind != connectors.KindTransient || ce.Op != "VirtualMachines.Generalize" {
		t.Errorf("a throttled generalize: %v (kind %s, op %s)", err, ce.Kind, ce.Op)
	}
	// The retried snapshot finds the VM deallocated and carries on.
	img, err := w.conn.Snapshot(ctxFor(t), m.ID, "x", nil)
	if err != nil {
		t.Fatalf("the retried snapshot: %v", err)
	}
	if fi, err := w.cloud.Image(img); err != nil || fi.State != "available" {
		t.Errorf("the retried snapshot's image: %+v, %v", fi, err)
	}
	err = w.conn.DeleteImage(ctxFor(t), testImage)
	if ce := asError(t, err); ce.Kind != connectors.KindPermanent || ce.Code != "InvalidImageID" {
		t.Errorf("DeleteImage of a marketplace image: %v", err)
	}
	if _, err := w.cloud.Image(testImageVersion); err != nil {
		t.Errorf("the marketplace image is gone: %v", err)
	}
	if n := len(w.cloud.Images()); n != 2 {
		t.Errorf("the fake cloud holds %d images, want the base and the snapshot", n)
	}
}

package guest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestSnapshot: the upper layer of a stopped guest, copied, is the top
// layer of an image whose guests see the first guest's files, and not the
// files it deleted (whiteouts) nor the content of folders it replaced
// (opaque folders).
func TestSnapshot(t *testing.T) {
	image := baseImage(t)
	r := newRuntime(t, Options{UserDataOnly: true})
	userData := `#!/bin/sh
set -e
mkdir -p /opt/app && echo v1 > /opt/app/version
ln /opt/app/version /opt/app/version-link
ln -s version /opt/app/current
rm /etc/motd
rm -rf /etc/update-motd.d && mkdir /etc/update-motd.d && echo new > /etc/update-motd.d/only
chmod 4755 /opt/app/version
`
	first := boot(t, r, fakecloud.BootSpec{ID: "i-first", Layers: []string{image}, UserData: []byte(userData)})
	if res := waitBooted(t, first); len(res.Failed()) > 0 {
		t.Fatalf("user-data failed: %+v", res)
	}
	ctx := context.Background()
	if err := first.Snapshot(ctx, t.TempDir()); err == nil {
		t.Error("Snapshot of a running guest")
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(t.TempDir(), "layer")
	if err := os.Mkdir(layer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := first.Snapshot(ctx, layer); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(layer, "etc/motd"))
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the whiteout of /etc/motd in the layer: %v, %v", fi, err)
	}

	second := boot(t, r, fakecloud.BootSpec{ID: "i-second", Layers: []string{layer, image},
		UserData: []byte("#!/bin/sh\necho second > /root/second\n")})
	waitBooted(t, second)
	script := `set -e
cat /opt/app/version
test "$(stat -c %i /opt/app/version)" = "$(stat -c %i /opt/app/version-link)" && echo hardlink
readlink /opt/app/current
stat -c %a /opt/app/version
test -e /etc/motd && echo motd-present || echo motd-deleted
ls /etc/update-motd.d
cat /root/second
test -e /var/lib/fakecloud/user-data && echo has-first-user-data
`
	out, err := second.Exec(ctx, "sh", "-c", script)
	want := "v1\nhardlink\nversion\n4755\nmotd-deleted\nonly\nsecond\nhas-first-user-data\n"
	if err != nil || string(out) != want {
		t.Errorf("the new guest sees:\n%s(%v)\nwant:\n%s", out, err, want)
	}
	// The image layers are shared and untouched.
	if _, err := os.Stat(filepath.Join(image, "etc/motd")); err != nil {
		t.Errorf("the base image lost /etc/motd: %v", err)
	}
	if _, err := os.Stat(filepath.Join(layer, "root/second")); !os.IsNotExist(err) {
		t.Errorf("the second guest wrote into the snapshot layer: %v", err)
	}
}

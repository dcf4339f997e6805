package guest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBaseImage builds (once per machine: it is cached) or finds the base
// image and checks its recipe and configuration.
func TestBaseImage(t *testing.T) {
	rootfs := baseImage(t)
	stamp, err := ReadImageStamp(filepath.Dir(rootfs))
	if err != nil {
		t.Fatal(err)
	}
	if stamp.Recipe != recipeHash() || !strings.HasPrefix(stamp.CloudInitVersion, "22.4") {
		t.Errorf("stamp: %+v", stamp)
	}
	cfg, err := os.ReadFile(filepath.Join(rootfs, "etc/cloud/cloud.cfg.d", cloudConfigName))
	if err != nil || string(cfg) != cloudConfig {
		t.Errorf("cloud-init configuration: %v", err)
	}
	if host, _ := os.ReadFile(filepath.Join(rootfs, "etc/hostname")); string(host) != "localhost\n" {
		t.Errorf("the image's /etc/hostname is %q", host)
	}
	if debs, _ := filepath.Glob(filepath.Join(rootfs, "var/cache/apt/archives/*.deb")); len(debs) > 0 {
		t.Errorf("%d .deb files left in the image", len(debs))
	}
	// A second call finds it at once.
	start := time.Now()
	again, err := BaseImage(context.Background(), ImageOptions{})
	if err != nil || again != rootfs || time.Since(start) > time.Second {
		t.Errorf("second BaseImage: %q, %v after %v", again, err, time.Since(start))
	}
}

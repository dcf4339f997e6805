package guest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// TestBootErrors: a boot that cannot happen says why and leaves nothing
// (no guest, namespace or folder) behind.
func TestBootErrors(t *testing.T) {
	requireRoot(t)
	r := newRuntime(t, Options{UserDataOnly: true})
	comma := filepath.Join(t.TempDir(), "with,comma")
	os.Mkdir(comma, 0o755)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name   string
		ctx    context.Context
		layers []string
		want   string
	}{
		{"no layers", context.Background(), nil, "no image layers"},
		{"a file", context.Background(), []string{file}, "not a folder"},
		{"a comma", context.Background(), []string{comma}, "without commas"},
		{"no overlay possible", context.Background(), []string{"/proc"}, "did not start: mounting the overlay"},
		{"cancelled", cancelled, []string{t.TempDir()}, "context canceled"},
	} {
		_, err := r.Boot(c.ctx, fakecloud.BootSpec{ID: "i-" + strings.ReplaceAll(c.name, " ", "-"), Layers: c.layers})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if got := r.Instances(); len(got) != 0 {
		t.Errorf("guests left: %d", len(got))
	}
	entries, _ := os.ReadDir(r.StateDir())
	if len(entries) != 0 {
		t.Errorf("the state folder holds %d entries", len(entries))
	}
	netns, _ := os.ReadDir("/run/netns")
	for _, e := range netns {
		if strings.HasPrefix(e.Name(), r.ID()+"-") {
			t.Errorf("namespace %s is left", e.Name())
		}
	}

	// A closed runtime boots nothing.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, err := r.Boot(ctx, fakecloud.BootSpec{ID: "i-late", Layers: []string{t.TempDir()}}); err == nil {
		t.Error("Boot on a closed runtime")
	}
}

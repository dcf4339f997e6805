package guest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestGuestHostname(t *testing.T) {
	for _, c := range []struct{ name, id, want string }{
		{"web-1", "i-1", "web-1"},
		{"db.example.com", "i-1", "db.example.com"},
		{"My Web Server", "i-1", "my-web-server"},
		{"", "i-0abc", "i-0abc"},
		{"***", "i-0abc", "i-0abc"},
		{"", "", "guest"},
		{"-lead", "x", "lead"},
		{strings.Repeat("a", 70), "x", strings.Repeat("a", 63)},
		{"ünïcode", "x", "n-code"},
	} {
		if got := guestHostname(c.name, c.id); got != c.want {
			t.Errorf("guestHostname(%q, %q) = %q, want %q", c.name, c.id, got, c.want)
		}
	}
}

// FuzzGuestHostname: whatever a cloud API accepted as a machine name, the
// guest gets a valid hostname, and a valid one is kept as it is.
func FuzzGuestHostname(f *testing.F) {
	for _, s := range []string{"web-1", "My Server", "", "a.b.c", "-", "x..y", strings.Repeat("é", 40), "i-0123456789abcdef0", "a\x00b"} {
		f.Add(s, "i-0abc")
	}
	f.Fuzz(func(t *testing.T, name, id string) {
		h := guestHostname(name, id)
		if !validHostname(h) {
			t.Fatalf("guestHostname(%q, %q) = %q, not a valid hostname", name, id, h)
		}
		if validHostname(name) && h != name {
			t.Fatalf("valid %q became %q", name, h)
		}
	})
}

// FuzzMetaData: the NoCloud meta-data is always valid JSON (so YAML) that
// gives back the id, hostname and keys as given.
func FuzzMetaData(f *testing.F) {
	f.Add("i-1", "web-1", "ssh-ed25519 AAAA x@y")
	f.Add("", "", "")
	f.Add("id: with: colons", "host\n- list", "key\"quote\\")
	f.Fuzz(func(t *testing.T, id, hostname, key string) {
		var md struct {
			InstanceID    string   `json:"instance-id"`
			LocalHostname string   `json:"local-hostname"`
			PublicKeys    []string `json:"public-keys"`
		}
		keys := []string{key}
		if err := json.Unmarshal(metaData(id, hostname, keys), &md); err != nil {
			t.Fatal(err)
		}
		// (JSON has no invalid UTF-8: such bytes become U+FFFD.)
		if utf8.ValidString(id) && md.InstanceID != id {
			t.Fatalf("instance-id %q became %q", id, md.InstanceID)
		}
		if utf8.ValidString(hostname) && md.LocalHostname != hostname {
			t.Fatalf("local-hostname %q became %q", hostname, md.LocalHostname)
		}
		if len(md.PublicKeys) != 1 {
			t.Fatalf("keys %q", md.PublicKeys)
		}
	})
}

func TestOverlayOptions(t *testing.T) {
	got, err := overlayOptions([]string{"/l/top", "/l/base"}, "/s/upper", "/s/work")
	want := "lowerdir=/l/top:/l/base,upperdir=/s/upper,workdir=/s/work,index=off,metacopy=off"
	if err != nil || got != want {
		t.Errorf("overlayOptions = %q, %v", got, err)
	}
	for _, bad := range [][]string{nil, {"relative"}, {"/with,comma"}, {"/with:colon"}, {strings.Repeat("/x", 2100)}} {
		if _, err := overlayOptions(bad, "/u", "/w"); err == nil {
			t.Errorf("overlayOptions(%q) accepted", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	os.WriteFile(path, []byte("stage init-local 0\nstage init 1\n"), 0o644)
	res, finished := parseStatus(path)
	if finished || !reflect.DeepEqual(res.Stages, []StageResult{{"init-local", 0}, {"init", 1}}) {
		t.Errorf("parseStatus = %+v, %v", res, finished)
	}
	os.WriteFile(path, []byte("stage init-local 0\nstage init 1\nstage x error\nfinished\n"), 0o644)
	res, finished = parseStatus(path)
	if !finished || len(res.Failed()) != 2 || res.Failed()[1] != (StageResult{"x", -1}) {
		t.Errorf("parseStatus = %+v, %v", res, finished)
	}
}

func TestRecipeHash(t *testing.T) {
	if h := recipeHash(); len(h) != 10 || h != recipeHash() {
		t.Errorf("recipeHash %q", h)
	}
	if !strings.HasPrefix(imageName(), "debian12-cloudinit-") {
		t.Errorf("imageName %q", imageName())
	}
	// The configuration is what cloud-init reads: no tabs (YAML), and the
	// modules that reach the machine are off.
	if strings.Contains(cloudConfig, "\t") {
		t.Error("a tab in cloudConfig")
	}
	for _, off := range []string{"growpart", "resizefs", "disk_setup", "mounts", "ntp", "seed_random", "keyboard", "grub-dpkg", "lxd"} {
		if strings.Contains(cloudConfig, " - "+off+"\n") {
			t.Errorf("module %s is on", off)
		}
	}
}

func TestGuestFilesContent(t *testing.T) {
	hosts := etcHosts("10.1.2.3", "web-1", "10.1.2.1")
	if !strings.Contains(hosts, "10.1.2.3\tweb-1\n") || !strings.Contains(hosts, "10.1.2.1\tgateway\n") || !strings.HasPrefix(hosts, "127.0.0.1\tlocalhost\n") {
		t.Errorf("etcHosts:\n%s", hosts)
	}
	if rc := resolvConf("10.1.2.1"); !strings.Contains(rc, "nameserver 10.1.2.1\n") {
		t.Errorf("resolvConf:\n%s", rc)
	}
	if got := splitNul([]byte("user.a\x00trusted.overlay.opaque\x00")); !reflect.DeepEqual(got, []string{"user.a", "trusted.overlay.opaque"}) {
		t.Errorf("splitNul = %q", got)
	}
	if got := tail([]byte("a\nb\nc\n"), 2); got != "b\nc" {
		t.Errorf("tail = %q", got)
	}
}

// TestImageCache: an image folder counts only with the stamp of this
// recipe and a cloud-init in it; the cache lock is exclusive.
func TestImageCache(t *testing.T) {
	dir := t.TempDir()
	if imageReady(dir) {
		t.Error("an empty folder is an image")
	}
	os.MkdirAll(filepath.Join(dir, "rootfs/usr/bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "rootfs/usr/bin/cloud-init"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "image.json"), []byte(`{"recipe": "0000000000"}`), 0o644)
	if imageReady(dir) {
		t.Error("an image of another recipe is ready")
	}
	os.WriteFile(filepath.Join(dir, "image.json"), []byte(`{"recipe": "`+recipeHash()+`"}`), 0o644)
	if !imageReady(dir) {
		t.Error("the image is not ready")
	}

	lock := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(context.Background(), lock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, lock); err == nil {
		t.Fatal("the lock was taken twice")
	}
	unlock()
	unlock2, err := lockFile(context.Background(), lock)
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

func TestImageCacheDir(t *testing.T) {
	t.Setenv("SLIPSTREAM_IMAGE_CACHE", "/somewhere/images")
	if got, _ := imageCacheDir(""); got != "/somewhere/images" {
		t.Errorf("with SLIPSTREAM_IMAGE_CACHE: %q", got)
	}
	if got, _ := imageCacheDir("/given"); got != "/given" {
		t.Errorf("given: %q", got)
	}
	t.Setenv("SLIPSTREAM_IMAGE_CACHE", "")
	t.Setenv("HOME", "/home/x")
	if got, _ := imageCacheDir(""); got != "/home/x/.cache/slipstream/images" {
		t.Errorf("default: %q", got)
	}
}

package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/internal/hostfs"
)

// ImageOptions configure BaseImage. The zero value is fine.
type ImageOptions struct {
	// CacheDir holds the built images. Default $SLIPSTREAM_IMAGE_CACHE,
	// else ~/.cache/slipstream/images. It must be outside the repository
	// (an image is a whole Debian system).
	CacheDir string
	// Mirror is the Debian mirror debootstrap downloads from. Default
	// http://deb.debian.org/debian.
	Mirror string
	// Log, when set, hears progress: the first build takes minutes.
	Log func(format string, args ...any)
}

// DefaultMirror is the Debian mirror images are built from by default.
const DefaultMirror = "http://deb.debian.org/debian"

// ImageStamp is the record of what was built, image.json beside the
// image's rootfs folder.
type ImageStamp struct {
	Recipe           string    `json:"recipe"` // recipeHash
	Suite            string    `json:"suite"`
	Variant          string    `json:"variant"`
	Packages         []string  `json:"packages"`
	Mirror           string    `json:"mirror"`
	CloudInitVersion string    `json:"cloud_init_version"`
	DebootstrapLog   string    `json:"debootstrap_log,omitempty"` // where the build's log was kept
	Built            time.Time `json:"built"`
	BuildTime        string    `json:"build_time"`
}

// BaseImage returns the root folder of the fake clouds' base image, a
// Debian 12 with cloud-init configured for guests (see cloudConfig),
// building it first if the cache does not have it: with debootstrap, into
// a temporary folder that is renamed into place once complete, under a
// lock so that processes asking at the same time build it once. The
// folder is shared by every guest as a read-only overlay layer: never
// write to it.
//
// Building needs root, debootstrap (apt-get install debootstrap) and the
// Debian mirror; it takes about 1.5 minutes and 350 MB.
func BaseImage(ctx context.Context, opts ImageOptions) (string, error) {
	cache, err := imageCacheDir(opts.CacheDir)
	if err != nil {
		return "", err
	}
	if opts.Mirror == "" {
		opts.Mirror = DefaultMirror
	}
	name := imageName()
	dir := filepath.Join(cache, name)
	rootfs := filepath.Join(dir, "rootfs")
	if imageReady(dir) {
		return rootfs, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("guest: building the base image %s needs root", dir)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil { // #nosec G301 -- the image cache holds Debian trees, nothing secret; world-readable like them (see buildImage)
		return "", fmt.Errorf("guest: image cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "."+name+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if imageReady(dir) { // built by another process while this one waited
		return rootfs, nil
	}
	// What is left of a build that was interrupted: only the holder of the
	// lock builds, so these are nobody's.
	old, _ := filepath.Glob(filepath.Join(cache, ".build-"+name+"-*"))
	for _, o := range old {
		if err := removeTree(o); err != nil {
			return "", fmt.Errorf("guest: removing an interrupted image build: %w", err)
		}
	}
	if err := removeTree(dir); err != nil { // a folder without its stamp
		return "", fmt.Errorf("guest: removing an incomplete image: %w", err)
	}
	if err := buildImage(ctx, cache, dir, opts); err != nil {
		return "", err
	}
	return rootfs, nil
}

func imageCacheDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("SLIPSTREAM_IMAGE_CACHE")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("guest: no image cache folder: set SLIPSTREAM_IMAGE_CACHE (%v)", err)
		}
		dir = filepath.Join(home, ".cache", "slipstream", "images")
	}
	return filepath.Abs(dir)
}

// imageReady says whether dir holds a complete image of this recipe.
func imageReady(dir string) bool {
	stamp, err := ReadImageStamp(dir)
	if err != nil || stamp.Recipe != recipeHash() {
		return false
	}
	fi, err := os.Stat(filepath.Join(dir, "rootfs", "usr", "bin", "cloud-init"))
	return err == nil && fi.Mode().IsRegular()
}

// ReadImageStamp reads the stamp of an image folder (the parent of the
// folder BaseImage returns).
func ReadImageStamp(dir string) (*ImageStamp, error) {
	data, err := os.ReadFile(filepath.Join(dir, "image.json")) // #nosec G304 -- the stamp of an image folder in the image cache (SLIPSTREAM_IMAGE_CACHE or the user's)
	if err != nil {
		return nil, err
	}
	s := new(ImageStamp)
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("guest: %s: %w", filepath.Join(dir, "image.json"), err)
	}
	return s, nil
}

// lockFile takes an flock on path (released when the process dies),
// waiting as long as ctx lets it.
func lockFile(ctx context.Context, path string) (func(), error) {
	unlock, err := hostfs.Lock(ctx, path, 100*time.Millisecond, "another process is building the image")
	if err != nil {
		return nil, fmt.Errorf("guest: %w", err)
	}
	return unlock, nil
}

// BaseImageIfCached returns the base image's root folder if the cache has
// it, and an error otherwise; it never builds.
func BaseImageIfCached(opts ImageOptions) (string, error) {
	cache, err := imageCacheDir(opts.CacheDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, imageName())
	if !imageReady(dir) {
		return "", fmt.Errorf("guest: the base image %s is not built", dir)
	}
	return filepath.Join(dir, "rootfs"), nil
}

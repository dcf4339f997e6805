package cloudsigmafake

import (
	"errors"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// A clone in CloudSigma is a copy: deleting its source changes nothing
// for it. In the Cloud a drive's content is an image other drives and
// machines may still use (its layer is under theirs), so the image of a
// deleted drive is removed once nothing uses it any more.

// collectImages removes the images of deleted drives that nothing uses
// any more.
func (f *Fake) collectImages() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collectImagesLocked()
}

// collectImagesLocked is collectImages with f.mu held.
func (f *Fake) collectImagesLocked() {
	for id := range f.doomed {
		if f.imageInUse(id) {
			continue
		}
		err := f.cloud.DeleteImage(id)
		if err == nil || errors.Is(err, fakecloud.ErrImageNotFound) {
			delete(f.doomed, id)
		}
		// Otherwise a machine that is still terminating uses it: the next
		// request tries again.
	}
}

// imageInUse reports whether a drive still has the image's content.
func (f *Fake) imageInUse(id string) bool {
	for _, d := range f.drives {
		if d.image == id {
			return true
		}
	}
	return false
}

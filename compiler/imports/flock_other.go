//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package imports

import "context"

// lockFile is a no-op where flock is unavailable. The cache stays
// consistent without it, because every new mirror and tree is built in a
// temporary folder and renamed into place; two concurrent fetches into the
// same existing mirror may then fail with git's "cannot lock ref" and
// succeed when retried.
func lockFile(ctx context.Context, path string) (func(), error) {
	return func() {}, nil
}

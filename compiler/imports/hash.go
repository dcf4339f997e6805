package imports

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"
)

// HashDir returns the content hash of a folder in the "h1:" format of Go's
// go.sum (golang.org/x/mod/sumdb/dirhash Hash1): a SHA-256 over the sorted
// list of the files' relative slash-separated paths and SHA-256 sums.
//
// Folders and files named ".git" are skipped at any depth, so a local import
// that is also a git checkout hashes like its content. Symbolic links are
// not followed: a link is hashed as a file holding its target path (which is
// what git stores), so the hash never depends on anything outside dir and a
// link cycle cannot hang it. For a folder without links the result equals
// dirhash.HashDir(dir, "", dirhash.Hash1). Empty folders, file modes and
// times do not count.
func HashDir(dir string) (string, error) {
	// Walk the real folder even when dir itself is a link to it.
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("cannot hash %s: %w", dir, err)
	}
	links := map[string]string{} // relative name -> link target
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a worktree's or submodule's ".git" pointer file
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			links[name] = filepath.ToSlash(target)
		case d.Type().IsRegular():
			// keep
		default:
			return fmt.Errorf("%s is not a regular file, folder or symbolic link", p)
		}
		files = append(files, name)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("cannot hash %s: %w", dir, err)
	}
	h, err := dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		if target, ok := links[name]; ok {
			return io.NopCloser(strings.NewReader(target)), nil
		}
		return os.Open(filepath.Join(root, filepath.FromSlash(name))) // #nosec G304 -- name is a regular file the walk above found under root (links are hashed as their target text, never followed)
	})
	if err != nil {
		return "", fmt.Errorf("cannot hash %s: %w", dir, err)
	}
	return h, nil
}

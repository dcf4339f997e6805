package imports

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// extractTar writes the entries of a "git archive --format=tar" stream
// under dst, which must exist and be empty.
//
// Symbolic links are written as plain files holding the link's target, the
// way git itself checks them out with core.symlinks=false. A link in a
// fetched repository could otherwise point anywhere on the machine
// (directly, or through a chain of links that each look harmless), and the
// compiler would read and embed that file; and whether such a link resolves
// would depend on the machine, so the content hash would too.
func extractTar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading git archive: %w", err)
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
			// git archive records the commit id in a pax global header.
			continue
		}
		name, err := archivePath(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue // the archive's root folder
		}
		target := filepath.Join(dst, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil { // #nosec G301 -- a fetched source tree gets git's checkout modes, readable like the rest of the cache (see materialise)
				return err
			}
		case tar.TypeReg:
			mode := os.FileMode(0o644)
			if hdr.Mode&0o111 != 0 {
				mode = 0o755
			}
			if err := writeFile(target, tr, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := writeFile(target, strings.NewReader(hdr.Linkname), 0o644); err != nil {
				return err
			}
		default:
			return fmt.Errorf("git archive entry %q has unsupported type %q", hdr.Name, hdr.Typeflag)
		}
	}
}

// archivePath cleans an entry name and refuses any that would land outside
// the destination. git never produces such names; the check makes the
// extraction safe whatever the stream holds.
func archivePath(name string) (string, error) {
	clean := path.Clean(strings.TrimSuffix(name, "/"))
	if clean == "." {
		return "", nil
	}
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") ||
		(filepath.Separator == '\\' && strings.Contains(name, "\\")) {
		return "", fmt.Errorf("git archive entry %q points outside the tree", name)
	}
	return clean, nil
}

// writeFile creates a new file; O_EXCL makes a duplicate entry an error
// instead of a silent overwrite.
func writeFile(target string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil { // #nosec G301 -- git's checkout mode for a fetched tree's folders, as in extractTar
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode) // #nosec G304 -- target is under the fresh extraction folder: archivePath refused names that leave it
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close() // the extraction fails, and materialise removes the whole folder
		return err
	}
	return f.Close()
}

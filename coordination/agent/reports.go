package agent

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxReport bounds the report tarball the agent builds; the coordinator
// refuses bigger ones. Files that do not fit are left out, and the
// tarball says so in SKIPPED.txt.
const MaxReport = 16 << 20

// packReports tars and gzips the report folder and the scripts' logs
// (under logs/). The result stays under limit bytes.
func packReports(reportDir, logDir string, limit int) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	var skipped []string
	// Uncompressed size is the bound checked: a safe upper bound of the
	// compressed size, known before writing.
	budget := int64(limit) - 64<<10 // room for headers and SKIPPED.txt
	add := func(root, prefix string) error {
		// Files are opened through an os.Root: the scripts write these
		// folders while we walk them, and a file swapped for a symbolic
		// link must not bring a file from elsewhere into the report.
		var dir *os.Root
		defer func() {
			if dir != nil {
				_ = dir.Close()
			}
		}()
		return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == root {
					return nil
				}
				return err
			}
			if !d.Type().IsRegular() {
				return nil // folders are implied; links and devices are not reports
			}
			rel, _ := filepath.Rel(root, path)
			name := filepath.ToSlash(filepath.Join(prefix, rel))
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Size() > budget {
				skipped = append(skipped, fmt.Sprintf("%s (%d bytes)", name, info.Size()))
				return nil
			}
			if dir == nil {
				if dir, err = os.OpenRoot(root); err != nil {
					return err
				}
			}
			f, err := dir.Open(rel)
			if err != nil {
				return err
			}
			defer f.Close()
			hdr := &tar.Header{Name: name, Mode: 0o644, Size: info.Size(), ModTime: info.ModTime(), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			n, err := io.Copy(tw, io.LimitReader(f, info.Size()))
			if err != nil {
				return err
			}
			if n < info.Size() { // shrank while being read: pad, the header is written
				if _, err := tw.Write(make([]byte, info.Size()-n)); err != nil {
					return err
				}
			}
			budget -= info.Size() + 512
			return nil
		})
	}
	if err := add(reportDir, ""); err != nil {
		return nil, err
	}
	if err := add(logDir, "logs"); err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		var note bytes.Buffer
		fmt.Fprintf(&note, "Left out of this report to stay under %d bytes:\n", limit)
		for _, s := range skipped {
			fmt.Fprintln(&note, s)
		}
		if err := tw.WriteHeader(&tar.Header{Name: "SKIPPED.txt", Mode: 0o644, Size: int64(note.Len()), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(note.Bytes()); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

package compiler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler/imports"
)

// Importer resolves import blocks: local folders directly, git sources
// through a shared cache and the root folder's lock file.
type Importer struct {
	Fetcher  *imports.Fetcher
	Lock     *imports.Lock
	LockPath string
	Mode     imports.Mode

	// fetchedRoots are the trees of fetched repositories: a local import
	// made from inside one must stay inside it, so that a remote recipe
	// cannot read the cache around it or files elsewhere on the machine.
	fetchedRoots []string
	used         []imports.Source
	lockBroken   bool
}

// DefaultCacheDir is where fetched recipes are kept: $SLIPSTREAM_CACHE_DIR,
// else the user's cache folder.
func DefaultCacheDir() string {
	if d := os.Getenv("SLIPSTREAM_CACHE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "slipstream", "recipes")
	}
	return filepath.Join(os.TempDir(), "slipstream-recipes")
}

// NewImporter prepares import resolution for the recipe at path, reading
// its lock file.
func NewImporter(path string, mode imports.Mode, cacheDir string) (*Importer, hcl.Diagnostics) {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	lockPath := filepath.Join(dir, imports.LockFileName)
	lock, diags := imports.LoadLock(lockPath)
	return &Importer{
		Fetcher:  &imports.Fetcher{CacheDir: cacheDir},
		Lock:     lock,
		LockPath: lockPath,
		Mode:     mode,
		// A lock loaded with errors would lose its invalid entries if saved.
		lockBroken: diags.HasErrors(),
	}, diags
}

// Resolve implements ImportResolver.
func (r *Importer) Resolve(fromDir string, imp *Import) (string, hcl.Diagnostics) {
	fail := func(summary, detail string) (string, hcl.Diagnostics) {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: imp.SourceRange.Ptr(), Context: imp.DeclRange.Ptr()}}
	}
	src, err := imports.ParseSource(imp.Source)
	if err != nil {
		return fail("Invalid import source", err.Error())
	}
	if src.Kind == imports.Local {
		f, err := imports.LocalFetch(fromDir, src)
		if err != nil {
			return fail("Cannot import", err.Error())
		}
		if root := r.enclosingRoot(fromDir); root != "" && !within(f.Dir, root) {
			return fail("Import leaves its repository",
				fmt.Sprintf("Import %q of a fetched recipe points at %s, outside the repository it was fetched from; a fetched recipe may only import its own folders or other git sources.", imp.Name, f.Dir))
		}
		return f.Dir, nil
	}
	f, err := r.Lock.Resolve(context.Background(), r.Fetcher, src, r.Mode)
	if err != nil {
		return fail("Cannot fetch import", err.Error())
	}
	r.used = append(r.used, src)
	r.fetchedRoots = append(r.fetchedRoots, f.Root)
	return f.Dir, nil
}

// Confinement implements ImportResolver: the fetched repository's tree
// that dir is in, or "" for a local folder.
func (r *Importer) Confinement(dir string) string { return r.enclosingRoot(dir) }

func (r *Importer) enclosingRoot(dir string) string {
	abs, _ := filepath.Abs(dir)
	for _, root := range r.fetchedRoots {
		if within(abs, root) {
			return root
		}
	}
	return ""
}

func within(path, root string) bool {
	path, root = filepath.Clean(path), filepath.Clean(root)
	return path == root || strings.HasPrefix(path, root+string(filepath.Separator))
}

// Save drops lock entries of imports that are gone and writes the lock file
// when it changed. Call it only after a load without errors, so a failed
// fetch never removes an entry.
func (r *Importer) Save() hcl.Diagnostics {
	if r.Mode == imports.ModeReadOnly || r.lockBroken {
		return nil
	}
	r.Lock.Retain(r.used)
	if err := r.Lock.Save(r.LockPath); err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot write the lock file", Detail: err.Error()}}
	}
	return nil
}

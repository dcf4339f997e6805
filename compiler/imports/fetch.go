package imports

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/compiler/internal/didyoumean"
)

// Fetcher downloads git imports into a cache folder. The zero value is not
// usable: CacheDir must be set. A Fetcher holds no state between calls, so
// one value may be shared by goroutines, and several processes may share a
// CacheDir.
//
// The cache holds
//
//	CacheDir/git/<key>.git    a bare clone of each repository (all branches and tags)
//	CacheDir/git/<key>.lock   serialises processes updating that clone
//	CacheDir/trees/<commit>/  the files of one commit, never modified once created
//	CacheDir/home/            HOME for git, so user configuration stays out
//
// where <key> is derived from a hash of the repository URL.
type Fetcher struct {
	// CacheDir is the cache folder; relative paths are taken from the
	// working directory. It is created when missing.
	CacheDir string
	// GitPath is the git binary, "git" (looked up on PATH) when empty.
	GitPath string
	// Env is appended to git's environment after slipc's own settings, so it
	// can override them (for example GIT_CONFIG_GLOBAL to bring back the
	// user's credential helpers, or GIT_SSH_COMMAND).
	Env []string
	// Timeout bounds each git command; DefaultGitTimeout when zero. The
	// context passed to Fetch bounds the whole operation.
	Timeout time.Duration
}

// Fetched is an import that has been placed on disk.
type Fetched struct {
	// Dir is the absolute path of the imported folder: the source's
	// subdirectory inside the materialised tree, or the local folder.
	Dir string
	// Root is the materialised tree of the whole commit, of which Dir is a
	// part (git sources), or Dir itself (local sources). A local import
	// found inside a fetched recipe should be refused if it resolves
	// outside Root: it would read the cache around the tree, or the
	// machine, instead of the pinned repository.
	Root string
	// Commit is the full commit id the tree was taken from ("" for local
	// sources).
	Commit string
	// Hash is HashDir(Dir).
	Hash string
}

// cache is a Fetcher bound to its absolute cache folder for one call, so
// that the Fetcher itself is never written to and stays safe to share.
type cache struct {
	*Fetcher
	root string
}

func (f *Fetcher) open() (*cache, error) {
	if f.CacheDir == "" {
		return nil, errors.New("imports: Fetcher.CacheDir is not set")
	}
	root, err := filepath.Abs(f.CacheDir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"git", "trees", "home"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil { // #nosec G301 -- the recipe cache (CacheDir) holds fetched source code, world-readable like Go's module cache; materialise's trees are 0755 on purpose
			return nil, fmt.Errorf("cannot create the import cache: %w", err)
		}
	}
	return &cache{Fetcher: f, root: root}, nil
}

// Fetch resolves src.Ref as the repository has it now and materialises that
// commit. It always contacts the remote, so a moved tag or an advanced
// branch is seen; use FetchCommit to build from a locked commit instead.
func (f *Fetcher) Fetch(ctx context.Context, src Source) (Fetched, error) {
	if src.Kind != Git {
		return Fetched{}, fmt.Errorf("imports: Fetch needs a git source, got %s source %q", src.Kind, src)
	}
	c, err := f.open()
	if err != nil {
		return Fetched{}, err
	}
	unlock, err := c.lockRepo(ctx, src.Repo)
	if err != nil {
		return Fetched{}, err
	}
	defer unlock()

	mirror, _, err := c.syncMirror(ctx, src.Repo, true)
	if err != nil {
		return Fetched{}, err
	}
	commit, err := c.resolve(ctx, mirror, src)
	if err != nil {
		return Fetched{}, err
	}
	tree, err := c.materialise(ctx, mirror, commit)
	if err != nil {
		return Fetched{}, err
	}
	return finish(src, commit, tree)
}

// FetchCommit materialises the given commit of src's repository, ignoring
// src.Ref: this is how a locked build gets the commit the lock file pins
// even after the tag it came from has moved. It works offline when the
// commit is already in the cache, and contacts the remote only when the
// commit is missing from the local clone.
func (f *Fetcher) FetchCommit(ctx context.Context, src Source, commit string) (Fetched, error) {
	if src.Kind != Git {
		return Fetched{}, fmt.Errorf("imports: FetchCommit needs a git source, got %s source %q", src.Kind, src)
	}
	if !isFullCommit(commit) {
		return Fetched{}, fmt.Errorf("imports: %q is not a full commit id", commit)
	}
	c, err := f.open()
	if err != nil {
		return Fetched{}, err
	}
	// A materialised tree is complete and immutable (it was renamed into
	// place), so it can be used without taking the repository lock.
	tree := c.treeDir(commit)
	if isDir(tree) {
		return finish(src, commit, tree)
	}

	unlock, err := c.lockRepo(ctx, src.Repo)
	if err != nil {
		return Fetched{}, err
	}
	defer unlock()

	mirror, cloned, err := c.syncMirror(ctx, src.Repo, false)
	if err != nil {
		return Fetched{}, err
	}
	if !cloned && !c.hasCommit(ctx, mirror, commit) {
		if _, _, err := c.syncMirror(ctx, src.Repo, true); err != nil {
			return Fetched{}, err
		}
	}
	if !c.hasCommit(ctx, mirror, commit) {
		// The commit may survive on the server without any branch or tag
		// (after a force-push); many servers serve such commits by id.
		_, _ = c.run(ctx, mirror, "fetch", "--quiet", "origin", commit)
	}
	if !c.hasCommit(ctx, mirror, commit) {
		return Fetched{}, fmt.Errorf("commit %s is no longer available in %s (was it removed by a force-push?); "+
			"run `slipc compile -upgrade` to lock the commit %s points at now", commit, src.Repo, refName(src.Ref))
	}
	tree, err = c.materialise(ctx, mirror, commit)
	if err != nil {
		return Fetched{}, err
	}
	return finish(src, commit, tree)
}

// LocalFetch resolves a local source against the folder of the recipe that
// imports it and hashes it. Nothing is copied: Dir is the folder itself.
func LocalFetch(baseDir string, src Source) (Fetched, error) {
	if src.Kind != Local {
		return Fetched{}, fmt.Errorf("imports: LocalFetch needs a local source, got %s source %q", src.Kind, src)
	}
	dir := filepath.FromSlash(src.Path)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(baseDir, dir)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Fetched{}, err
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Fetched{}, fmt.Errorf("import source %q: folder %s does not exist", src, dir)
	case err != nil:
		return Fetched{}, fmt.Errorf("import source %q: %w", src, err)
	case !info.IsDir():
		return Fetched{}, fmt.Errorf("import source %q: %s is not a folder", src, dir)
	}
	hash, err := HashDir(dir)
	if err != nil {
		return Fetched{}, fmt.Errorf("import source %q: %w", src, err)
	}
	return Fetched{Dir: dir, Root: dir, Hash: hash}, nil
}

// finish locates the source's subdirectory in a materialised tree and
// hashes it.
func finish(src Source, commit, tree string) (Fetched, error) {
	dir := tree
	if src.Subdir != "" {
		dir = filepath.Join(tree, filepath.FromSlash(src.Subdir))
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Fetched{}, fmt.Errorf("subdirectory %q not found in %s at commit %s (ref %s)",
			src.Subdir, src.Repo, shortCommit(commit), refName(src.Ref))
	case err != nil:
		return Fetched{}, err
	case !info.IsDir():
		return Fetched{}, fmt.Errorf("%q in %s at commit %s is a file, not a folder",
			src.Subdir, src.Repo, shortCommit(commit))
	}
	hash, err := HashDir(dir)
	if err != nil {
		return Fetched{}, err
	}
	return Fetched{Dir: dir, Root: tree, Commit: commit, Hash: hash}, nil
}

// repoKey names a repository's clone in the cache. Hashing the URL keeps the
// name short and free of characters a file system might not accept.
func repoKey(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return hex.EncodeToString(sum[:16])
}

func (c *cache) mirrorDir(repo string) string {
	return filepath.Join(c.root, "git", repoKey(repo)+".git")
}

func (c *cache) treeDir(commit string) string {
	return filepath.Join(c.root, "trees", commit)
}

// lockRepo serialises processes working on one repository's clone: two
// concurrent "git fetch" runs into one repository fail on each other's ref
// locks.
func (c *cache) lockRepo(ctx context.Context, repo string) (func(), error) {
	unlock, err := lockFile(ctx, filepath.Join(c.root, "git", repoKey(repo)+".lock"))
	if err != nil {
		return nil, fmt.Errorf("cannot lock the import cache for %s: %w", repo, err)
	}
	return unlock, nil
}

// syncMirror makes sure the cache has a clone of repo and returns its path
// and whether it was cloned just now. An existing clone is brought up to
// date only when update is set; a new one is always complete. New clones are made in a temporary folder and
// renamed into place, so an interrupted clone never looks like a finished
// one.
func (c *cache) syncMirror(ctx context.Context, repo string, update bool) (mirror string, cloned bool, err error) {
	mirror = c.mirrorDir(repo)
	if isDir(mirror) {
		if update {
			// The refspecs (set at clone time) force-update moved tags and
			// --prune drops deleted branches and tags.
			if _, err := c.run(ctx, mirror, "fetch", "--quiet", "--prune", "origin"); err != nil {
				return "", false, fmt.Errorf("cannot fetch %s: %w", repo, err)
			}
		}
		return mirror, false, nil
	}

	tmp, err := os.MkdirTemp(filepath.Join(c.root, "git"), ".tmp-"+repoKey(repo)+"-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	// A bare clone rather than --mirror: --mirror would also copy the
	// refs/pull/* and similar refs that hosting services advertise, which
	// can be far bigger than the branches and tags an import can name.
	if _, err := c.run(ctx, "", "clone", "--bare", "--quiet", "--", repo, tmp); err != nil {
		return "", false, fmt.Errorf("cannot clone %s: %w", repo, err)
	}
	// A bare clone copies branches and tags but records no refspec, so
	// later fetches would not update them; give it mirror-like ones.
	for _, spec := range []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"} {
		if _, err := c.run(ctx, tmp, "config", "--add", "remote.origin.fetch", spec); err != nil {
			return "", false, fmt.Errorf("cannot configure the clone of %s: %w", repo, err)
		}
	}
	if err := os.Rename(tmp, mirror); err != nil {
		// Another process may have finished the same clone first; its
		// clone is as good as ours.
		if !isDir(mirror) {
			return "", false, fmt.Errorf("cannot store the clone of %s: %w", repo, err)
		}
	}
	return mirror, true, nil
}

// hasCommit reports whether the clone holds commit.
func (c *cache) hasCommit(ctx context.Context, mirror, commit string) bool {
	_, err := c.run(ctx, mirror, "cat-file", "-e", commit+"^{commit}")
	return err == nil
}

// resolve turns src.Ref into a full commit id, trying it as a tag, then as
// a branch, then as a (possibly abbreviated) commit id, the order in which
// a release tag is the most likely meaning. An empty ref means the remote's
// default branch.
func (c *cache) resolve(ctx context.Context, mirror string, src Source) (string, error) {
	if src.Ref == "" {
		return c.resolveDefault(ctx, mirror, src.Repo)
	}
	candidates := []string{"refs/tags/" + src.Ref, "refs/heads/" + src.Ref}
	if src.Ref == "HEAD" {
		candidates = append(candidates, "HEAD")
	}
	if isHex(src.Ref) && len(src.Ref) >= 7 {
		candidates = append(candidates, src.Ref)
	}
	for _, cand := range candidates {
		out, err := c.run(ctx, mirror, "rev-parse", "--verify", "--quiet", cand+"^{commit}")
		if err == nil {
			return strings.TrimSpace(string(out)), nil
		}
		var ge *gitError
		if errors.As(err, &ge) && strings.Contains(ge.detail, "ambiguous") {
			return "", fmt.Errorf("ref %q is ambiguous in %s: %s; give more digits of the commit id", src.Ref, src.Repo, ge.detail)
		}
	}
	// A full commit id that no branch or tag reaches: ask the server for it
	// by id, which most servers allow.
	if isFullCommit(src.Ref) {
		if _, err := c.run(ctx, mirror, "fetch", "--quiet", "origin", src.Ref); err == nil && c.hasCommit(ctx, mirror, src.Ref) {
			return src.Ref, nil
		}
	}
	msg := fmt.Sprintf("ref %q not found in %s", src.Ref, src.Repo)
	if s := didyoumean.Suggest(src.Ref, c.refNames(ctx, mirror)); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return "", errors.New(msg)
}

// resolveDefault asks the remote which branch its HEAD names. The clone's
// own HEAD was set at clone time and goes stale if the default branch is
// renamed later, so it is only the fallback.
func (c *cache) resolveDefault(ctx context.Context, mirror, repo string) (string, error) {
	out, err := c.run(ctx, mirror, "ls-remote", "--symref", "origin", "HEAD")
	if err != nil {
		return "", fmt.Errorf("cannot read the default branch of %s: %w", repo, err)
	}
	head := "HEAD"
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "ref: refs/heads/main\tHEAD"
		if target, ok := strings.CutPrefix(sc.Text(), "ref: "); ok {
			if name, _, ok := strings.Cut(target, "\t"); ok && strings.HasPrefix(name, "refs/heads/") {
				head = name
			}
		}
	}
	out, err = c.run(ctx, mirror, "rev-parse", "--verify", "--quiet", head+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%s has no default branch to import; add ?ref= to the source", repo)
	}
	return strings.TrimSpace(string(out)), nil
}

// refNames lists the clone's tags and branches for a did-you-mean hint.
func (c *cache) refNames(ctx context.Context, mirror string) []string {
	out, err := c.run(ctx, mirror, "for-each-ref", "--format=%(refname)", "refs/tags", "refs/heads")
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if n, ok := strings.CutPrefix(l, "refs/tags/"); ok {
			names = append(names, n)
		} else if n, ok := strings.CutPrefix(l, "refs/heads/"); ok {
			names = append(names, n)
		}
	}
	return names
}

// materialise writes commit's files to CacheDir/trees/<commit> unless they
// are there already, and returns that folder. The files are extracted from
// "git archive" into a temporary folder that is renamed into place, so
// readers never see a half-written tree and concurrent writers simply race
// to the same result.
func (c *cache) materialise(ctx context.Context, mirror, commit string) (string, error) {
	dst := c.treeDir(commit)
	if isDir(dst) {
		return dst, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(c.root, "trees"), ".tmp-"+shortCommit(commit)+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	// MkdirTemp made it 0700; a fetched tree is source code, readable by
	// all like a git checkout.
	if err := os.Chmod(tmp, 0o755); err != nil { // #nosec G302 -- source code, see above
		return "", err
	}
	err = c.stream(ctx, mirror, func(r io.Reader) error { return extractTar(r, tmp) },
		"archive", "--format=tar", commit)
	if err != nil {
		return "", fmt.Errorf("cannot extract commit %s: %w", shortCommit(commit), err)
	}
	if err := os.Rename(tmp, dst); err != nil && !isDir(dst) {
		return "", fmt.Errorf("cannot store commit %s in the cache: %w", shortCommit(commit), err)
	}
	return dst, nil
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// isFullCommit accepts SHA-1 (40) and SHA-256 (64) object ids in the lower
// case git prints, so that one commit has one spelling in the lock file.
func isFullCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	return isHex(s) && strings.ToLower(s) == s
}

// shortCommit abbreviates a commit id for messages.
func shortCommit(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// refName is how messages name src.Ref.
func refName(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return ref
}

package imports

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is a repository with:
//
//	c1  images/debian/main.slip.hcl = "version = 1"   tags v1, v1-annotated
//	c2  images/debian/main.slip.hcl = "version = 2"   branch main (HEAD)
//	c3  images/debian/main.slip.hcl = "feature"       branch feature (from c1)
type fixture struct {
	*testRepo
	c1, c2, c3 string
}

const debianFile = "images/debian/main.slip.hcl"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r := newTestRepo(t)
	f := &fixture{testRepo: r}
	f.c1 = r.commit("one", map[string]string{debianFile: "version = 1\n", "README.md": "readme\n"})
	r.git("tag", "v1")
	r.git("tag", "-a", "-m", "annotated", "v1-annotated")
	f.c2 = r.commit("two", map[string]string{debianFile: "version = 2\n"})
	r.git("checkout", "--quiet", "-b", "feature", f.c1)
	f.c3 = r.commit("three", map[string]string{debianFile: "feature\n"})
	r.git("checkout", "--quiet", "main")
	return f
}

func newFetcher(t *testing.T) *Fetcher {
	return &Fetcher{CacheDir: filepath.Join(t.TempDir(), "cache")}
}

func TestFetchRefs(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	tests := []struct {
		ref, commit, content string
	}{
		{"v1", fx.c1, "version = 1\n"},
		{"v1-annotated", fx.c1, "version = 1\n"}, // peeled to its commit
		{"main", fx.c2, "version = 2\n"},
		{"feature", fx.c3, "feature\n"},
		{"", fx.c2, "version = 2\n"}, // the default branch
		{fx.c1, fx.c1, "version = 1\n"},
		{fx.c3[:10], fx.c3, "feature\n"},
	}
	for _, tt := range tests {
		got, err := f.Fetch(context.Background(), fx.source("images/debian", tt.ref))
		if err != nil {
			t.Errorf("Fetch(ref %q): %v", tt.ref, err)
			continue
		}
		if got.Commit != tt.commit {
			t.Errorf("Fetch(ref %q).Commit = %s, want %s", tt.ref, got.Commit, tt.commit)
		}
		wantDir := filepath.Join(f.CacheDir, "trees", tt.commit, "images", "debian")
		if abs, _ := filepath.Abs(wantDir); got.Dir != abs {
			t.Errorf("Fetch(ref %q).Dir = %s, want %s", tt.ref, got.Dir, abs)
		}
		if root, _ := filepath.Abs(filepath.Join(f.CacheDir, "trees", tt.commit)); got.Root != root {
			t.Errorf("Fetch(ref %q).Root = %s, want %s", tt.ref, got.Root, root)
		}
		if c := mustRead(t, filepath.Join(got.Dir, "main.slip.hcl")); c != tt.content {
			t.Errorf("Fetch(ref %q) content = %q, want %q", tt.ref, c, tt.content)
		}
		if h, err := HashDir(got.Dir); err != nil || h != got.Hash {
			t.Errorf("Fetch(ref %q).Hash = %s, HashDir = %s, %v", tt.ref, got.Hash, h, err)
		}
	}
}

func TestFetchRepoRoot(t *testing.T) {
	fx := newFixture(t)
	got, err := newFetcher(t).Fetch(context.Background(), fx.source("", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if c := mustRead(t, filepath.Join(got.Dir, "README.md")); c != "readme\n" {
		t.Errorf("README = %q", c)
	}
	if _, err := os.Stat(filepath.Join(got.Dir, ".git")); !os.IsNotExist(err) {
		t.Errorf("the materialised tree has a .git: %v", err)
	}
}

// The default branch is asked of the remote each time, so renaming it (here:
// pointing the origin's HEAD elsewhere) is seen by an existing cache.
func TestFetchDefaultBranchFollowsRemoteHEAD(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	got, err := f.Fetch(context.Background(), fx.source("", ""))
	if err != nil || got.Commit != fx.c2 {
		t.Fatalf("Fetch = %+v, %v; want commit %s", got, err, fx.c2)
	}
	fx.git("symbolic-ref", "HEAD", "refs/heads/feature")
	got, err = f.Fetch(context.Background(), fx.source("", ""))
	if err != nil || got.Commit != fx.c3 {
		t.Fatalf("after changing HEAD, Fetch = %+v, %v; want commit %s", got, err, fx.c3)
	}
}

func TestFetchReusesCache(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	ctx := context.Background()
	src := fx.source("images/debian", "main")
	if _, err := f.Fetch(ctx, src); err != nil {
		t.Fatal(err)
	}
	c, err := f.open()
	if err != nil {
		t.Fatal(err)
	}
	mirror := c.mirrorDir(src.Repo)
	marker := filepath.Join(mirror, "slipstream-test-marker")
	mustWrite(t, marker, "still here")

	c4 := fx.commit("four", map[string]string{debianFile: "version = 4\n"})
	got, err := f.Fetch(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Commit != c4 {
		t.Errorf("second Fetch did not see the new commit: got %s, want %s", got.Commit, c4)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("second Fetch re-cloned the repository (marker gone): %v", err)
	}
	// Nothing but the clone and its lock file is left in git/.
	entries, _ := os.ReadDir(filepath.Join(c.root, "git"))
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("cache git/ holds %v, want one clone and one lock", names)
	}
	// No temporary trees are left behind either.
	trees, _ := os.ReadDir(filepath.Join(c.root, "trees"))
	for _, e := range trees {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover temporary tree %s", e.Name())
		}
	}
}

func TestFetchSeesMovedTagAndDeletedBranch(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	ctx := context.Background()
	if got, err := f.Fetch(ctx, fx.source("", "v1")); err != nil || got.Commit != fx.c1 {
		t.Fatalf("Fetch v1 = %+v, %v", got, err)
	}
	fx.git("tag", "-f", "v1", fx.c2)
	if got, err := f.Fetch(ctx, fx.source("", "v1")); err != nil || got.Commit != fx.c2 {
		t.Fatalf("after moving v1, Fetch = %+v, %v; want %s", got, err, fx.c2)
	}
	fx.git("branch", "-D", "feature")
	_, err := f.Fetch(ctx, fx.source("", "feature"))
	if err == nil || !strings.Contains(err.Error(), `ref "feature" not found`) {
		t.Fatalf("Fetch of a deleted branch: %v", err)
	}
}

func TestFetchUnknownRef(t *testing.T) {
	fx := newFixture(t)
	_, err := newFetcher(t).Fetch(context.Background(), fx.source("images/debian", "v9"))
	want := `ref "v9" not found in ` + fx.url()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
	if !strings.Contains(err.Error(), `; did you mean "v1"?`) {
		t.Errorf("error %q has no did-you-mean hint", err)
	}
	// An unknown commit id is reported the same way.
	_, err = newFetcher(t).Fetch(context.Background(), fx.source("", strings.Repeat("ab", 20)))
	if err == nil || !strings.Contains(err.Error(), "not found in") {
		t.Fatalf("unknown commit: %v", err)
	}
}

func TestFetchMissingSubdir(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	_, err := f.Fetch(context.Background(), fx.source("images/nope", "v1"))
	want := `subdirectory "images/nope" not found in ` + fx.url() + " at commit " + fx.c1[:12] + " (ref v1)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant       %s", err, want)
	}
	_, err = f.Fetch(context.Background(), fx.source("README.md", "v1"))
	if err == nil || !strings.Contains(err.Error(), "is a file, not a folder") {
		t.Fatalf("subdir naming a file: %v", err)
	}
}

func TestFetchMissingRepository(t *testing.T) {
	requireGit(t)
	src, _ := ParseSource("git::file://" + filepath.ToSlash(t.TempDir()) + "/nothing.git?ref=v1")
	_, err := newFetcher(t).Fetch(context.Background(), src)
	if err == nil || !strings.Contains(err.Error(), "cannot clone") || !strings.Contains(err.Error(), "fatal:") {
		t.Fatalf("error = %v, want git's explanation of the failed clone", err)
	}
}

func TestFetchGitMissingOrSlow(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	f.GitPath = filepath.Join(t.TempDir(), "no-such-git")
	_, err := f.Fetch(context.Background(), fx.source("", "v1"))
	if err == nil || !strings.Contains(err.Error(), "slipc needs git") {
		t.Errorf("missing git: %v", err)
	}

	f = newFetcher(t)
	f.Timeout = time.Nanosecond
	_, err = f.Fetch(context.Background(), fx.source("", "v1"))
	if err == nil || !strings.Contains(err.Error(), "timed out after 1ns") {
		t.Errorf("timeout: %v", err)
	}
}

// slipc may run inside a git hook, where GIT_DIR and friends point at the
// user's repository; they must not leak into the cache's git commands.
func TestFetchIgnoresInheritedGitEnvironment(t *testing.T) {
	fx := newFixture(t)
	t.Setenv("GIT_DIR", filepath.Join(t.TempDir(), "bogus"))
	t.Setenv("GIT_WORK_TREE", t.TempDir())
	got, err := newFetcher(t).Fetch(context.Background(), fx.source("", "v1"))
	if err != nil || got.Commit != fx.c1 {
		t.Fatalf("Fetch = %+v, %v", got, err)
	}
}

func TestFetchConcurrent(t *testing.T) {
	fx := newFixture(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	src := fx.source("images/debian", "v1")
	const n = 4
	results := make([]Fetched, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Fetchers, as separate processes would have.
			results[i], errs[i] = (&Fetcher{CacheDir: cacheDir}).Fetch(context.Background(), src)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("fetch %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Errorf("fetch %d = %+v, fetch 0 = %+v", i, results[i], results[0])
		}
	}
}

func TestFetchSymlinkBecomesPlainFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	fx := newFixture(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(fx.dir, "images", "debian", "passwd")); err != nil {
		t.Fatal(err)
	}
	fx.commit("link", nil)
	got, err := newFetcher(t).Fetch(context.Background(), fx.source("images/debian", "main"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(got.Dir, "passwd")
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Mode().IsRegular() || mustRead(t, p) != "/etc/passwd" {
		t.Errorf("symlink materialised as %v holding %q, want a plain file holding its target", info.Mode(), mustRead(t, p))
	}
}

func TestFetchCommit(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	ctx := context.Background()
	src := fx.source("images/debian", "v1")
	first, err := f.Fetch(ctx, src)
	if err != nil {
		t.Fatal(err)
	}

	// The ref is ignored: any commit of the repository can be taken.
	got, err := f.FetchCommit(ctx, src, fx.c3)
	if err != nil || got.Commit != fx.c3 || mustRead(t, filepath.Join(got.Dir, "main.slip.hcl")) != "feature\n" {
		t.Fatalf("FetchCommit(c3) = %+v, %v", got, err)
	}

	// Once the commit is cached, no git is needed at all: remove the origin
	// and make git unrunnable.
	if err := os.RemoveAll(fx.dir); err != nil {
		t.Fatal(err)
	}
	offline := *f
	offline.GitPath = filepath.Join(t.TempDir(), "no-such-git")
	got, err = offline.FetchCommit(ctx, src, fx.c1)
	if err != nil || got != first {
		t.Fatalf("offline FetchCommit = %+v, %v; want %+v", got, err, first)
	}
	// A commit in the local clone but not yet materialised needs git but
	// not the origin.
	got, err = f.FetchCommit(ctx, src, fx.c2)
	if err != nil || got.Commit != fx.c2 {
		t.Fatalf("FetchCommit(c2) from the clone = %+v, %v", got, err)
	}

	if _, err := f.FetchCommit(ctx, src, "v1"); err == nil || !strings.Contains(err.Error(), "not a full commit id") {
		t.Errorf("FetchCommit(v1): %v", err)
	}
	if _, err := f.FetchCommit(ctx, src, strings.ToUpper(fx.c1)); err == nil {
		t.Error("FetchCommit accepted an upper-case commit id")
	}
}

func TestFetchCommitGone(t *testing.T) {
	fx := newFixture(t)
	f := newFetcher(t)
	src := fx.source("", "v1")
	if _, err := f.Fetch(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	_, err := f.FetchCommit(context.Background(), src, strings.Repeat("ab", 20))
	if err == nil || !strings.Contains(err.Error(), "is no longer available in "+fx.url()) ||
		!strings.Contains(err.Error(), "slipc compile -upgrade") {
		t.Fatalf("error = %v", err)
	}
}

func TestFetchRejectsWrongKind(t *testing.T) {
	local, _ := ParseSource("./x")
	f := &Fetcher{CacheDir: t.TempDir()}
	if _, err := f.Fetch(context.Background(), local); err == nil {
		t.Error("Fetch accepted a local source")
	}
	if _, err := f.FetchCommit(context.Background(), local, strings.Repeat("a", 40)); err == nil {
		t.Error("FetchCommit accepted a local source")
	}
	git, _ := ParseSource("git::https://example.com/r.git")
	if _, err := LocalFetch(t.TempDir(), git); err == nil {
		t.Error("LocalFetch accepted a git source")
	}
	if _, err := (&Fetcher{}).Fetch(context.Background(), git); err == nil || !strings.Contains(err.Error(), "CacheDir") {
		t.Errorf("Fetch without CacheDir: %v", err)
	}
}

func TestLocalFetch(t *testing.T) {
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "common", "a.slip.hcl"), "a\n")
	mustWrite(t, filepath.Join(root, "app", "main.slip.hcl"), "main\n")
	base := filepath.Join(root, "app")

	src, _ := ParseSource("../common")
	got, err := LocalFetch(base, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir != filepath.Join(root, "common") || got.Root != got.Dir || got.Commit != "" {
		t.Errorf("LocalFetch = %+v", got)
	}
	if h, _ := HashDir(filepath.Join(root, "common")); got.Hash != h {
		t.Errorf("Hash = %s, want %s", got.Hash, h)
	}

	abs, _ := ParseSource(filepath.ToSlash(filepath.Join(root, "common")))
	if got2, err := LocalFetch("/elsewhere", abs); err != nil || got2 != got {
		t.Errorf("absolute LocalFetch = %+v, %v", got2, err)
	}

	missing, _ := ParseSource("../nope")
	if _, err := LocalFetch(base, missing); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	file, _ := ParseSource("./main.slip.hcl")
	if _, err := LocalFetch(base, file); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("file: %v", err)
	}
}

// A commit no branch or tag reaches any more (say, after a force-push) can
// still be fetched by id while the server keeps it, both as a ref and as a
// locked commit for a cache that never saw it.
func TestFetchUnreachableCommit(t *testing.T) {
	fx := newFixture(t)
	fx.git("checkout", "--quiet", "-b", "tmp")
	hidden := fx.commit("hidden", map[string]string{"hidden.txt": "h\n"})
	fx.git("checkout", "--quiet", "main")
	fx.git("branch", "-D", "tmp")

	got, err := newFetcher(t).Fetch(context.Background(), fx.source("", hidden))
	if err != nil || got.Commit != hidden {
		t.Fatalf("Fetch by id = %+v, %v", got, err)
	}
	got, err = newFetcher(t).FetchCommit(context.Background(), fx.source("", "v1"), hidden)
	if err != nil || mustRead(t, filepath.Join(got.Dir, "hidden.txt")) != "h\n" {
		t.Fatalf("FetchCommit = %+v, %v", got, err)
	}
}

// TestHelperFetchProcess is not a test: TestFetchConcurrentProcesses runs the
// test binary again with it selected, to fetch from a separate process.
func TestHelperFetchProcess(t *testing.T) {
	cacheDir, source := os.Getenv("SLIPSTREAM_TEST_CACHE"), os.Getenv("SLIPSTREAM_TEST_SOURCE")
	if cacheDir == "" {
		t.Skip("helper process only")
	}
	src, err := ParseSource(source)
	if err != nil {
		t.Fatal(err)
	}
	got, err := (&Fetcher{CacheDir: cacheDir}).Fetch(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESULT %s %s %s\n", got.Commit, got.Hash, got.Dir)
}

func TestFetchConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	fx := newFixture(t)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	src := fx.source("images/debian", "v1")
	const n = 3
	cmds := make([]*exec.Cmd, n)
	outs := make([]*strings.Builder, n)
	for i := range n {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestHelperFetchProcess$", "-test.v")
		cmds[i].Env = append(os.Environ(), "SLIPSTREAM_TEST_CACHE="+cacheDir, "SLIPSTREAM_TEST_SOURCE="+src.String())
		outs[i] = &strings.Builder{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	var results []string
	for i := range n {
		if err := cmds[i].Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		for _, l := range strings.Split(outs[i].String(), "\n") {
			if r, ok := strings.CutPrefix(l, "RESULT "); ok {
				results = append(results, r)
			}
		}
	}
	if len(results) != n {
		t.Fatalf("got %d results: %q", len(results), results)
	}
	for _, r := range results[1:] {
		if r != results[0] {
			t.Errorf("processes disagree: %q vs %q", r, results[0])
		}
	}
	if !strings.HasPrefix(results[0], fx.c1+" ") {
		t.Errorf("result %q, want commit %s", results[0], fx.c1)
	}
}

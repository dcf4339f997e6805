package imports

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requireGit skips git-backed tests on machines without git.
func requireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not on PATH")
	}
}

// testRepo is a git repository in a temporary folder that tests commit to
// and fetch from through a file:// URL.
type testRepo struct {
	t    testing.TB
	dir  string
	home string
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	requireGit(t)
	r := &testRepo{t: t, dir: filepath.Join(t.TempDir(), "origin"), home: t.TempDir()}
	r.git("init", "--quiet", "--initial-branch=main", r.dir)
	return r
}

// url is the repository's address as a git:: source would name it.
func (r *testRepo) url() string { return "file://" + filepath.ToSlash(r.dir) }

// source builds the git:: source for a subdir and ref of this repository.
func (r *testRepo) source(subdir, ref string) Source {
	r.t.Helper()
	s := "git::" + r.url()
	if subdir != "" {
		s += "//" + subdir
	}
	if ref != "" {
		s += "?ref=" + ref
	}
	src, err := ParseSource(s)
	if err != nil {
		r.t.Fatal(err)
	}
	return src
}

// git runs git in the repository with a fixed identity and no outside
// configuration, and returns its trimmed output.
func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	if _, err := os.Stat(r.dir); err == nil {
		cmd.Dir = r.dir
	}
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "HOME="+r.home,
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path -> content, "" deletes) and commits them,
// returning the new commit id.
func (r *testRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "--all")
	r.git("commit", "--quiet", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

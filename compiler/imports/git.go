package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultGitTimeout bounds each git command when Fetcher.Timeout is zero. A
// clone of a large repository over a slow link can take minutes; a hung SSH
// prompt or dead server must not hang slipc forever.
const DefaultGitTimeout = 10 * time.Minute

// gitConfig is passed as -c options to every git command.
var gitConfig = []string{
	// Tests and air-gapped setups use file:// URLs, which git >= 2.38.1
	// refuses in some contexts unless allowed explicitly.
	"protocol.file.allow=always",
	// The content hash must not depend on the machine's line-ending
	// settings, since git archive applies them.
	"core.autocrlf=false",
	"core.eol=lf",
	// A detached background gc would outlive the command and race with
	// whoever removes or renames the cache next (tests' TempDir cleanup).
	"gc.autoDetach=false",
	"maintenance.auto=false",
	// Never open a credential or SSH passphrase prompt we cannot answer.
	"core.askPass=",
	"credential.interactive=false",
}

// gitError is a failed git command, summarised by the line of stderr that
// explains it.
type gitError struct {
	op     string // "git clone", "git fetch", ...
	detail string // the explaining stderr line, or the exec error
}

func (e *gitError) Error() string { return e.op + " failed: " + e.detail }

// gitPath returns the git binary to run.
func (f *Fetcher) gitPath() string {
	if f.GitPath != "" {
		return f.GitPath
	}
	return "git"
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultGitTimeout
}

// env builds git's environment: the caller's, minus any GIT_* variables
// (slipc run from a git hook inherits GIT_DIR, which would point every
// command at the wrong repository), plus isolation from system and user
// configuration so that url.insteadOf, hooks or autocrlf on one machine
// cannot change what another resolves. f.Env comes last and so wins: a
// caller who wants the user's credential helper can pass
// GIT_CONFIG_GLOBAL=/home/me/.gitconfig.
func (f *Fetcher) env(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(strings.ToUpper(kv), "GIT_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		// ssh must fail rather than ask whether to trust a host key.
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
		"LC_ALL=C", // stderr in English, so errors read the same everywhere
	)
	return append(env, f.Env...)
}

// command prepares a git command. The caller's context is narrowed by the
// per-command timeout; cancel must be called when the command is done.
func (c *cache) command(ctx context.Context, gitDir string, args ...string) (*exec.Cmd, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	full := make([]string, 0, 2*len(gitConfig)+len(args)+1)
	for _, c := range gitConfig {
		full = append(full, "-c", c)
	}
	if gitDir != "" {
		full = append(full, "--git-dir="+gitDir)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, c.gitPath(), full...) // #nosec G204 -- git (Fetcher.GitPath or PATH's) with argv, no shell; ParseSource refuses hosts, users and refs that start with "-", and clone puts "--" before the URL
	cmd.Env = c.env(filepath.Join(c.root, "home"))
	// Run outside any repository the user may be standing in.
	cmd.Dir = c.root
	// If git is killed its children (ssh, remote helpers) may keep the
	// pipes open; don't wait on them forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd, ctx, cancel
}

// run runs git and returns its stdout. On failure the error names the git
// operation and carries git's own explanation.
func (c *cache) run(ctx context.Context, gitDir string, args ...string) ([]byte, error) {
	cmd, ctx, cancel := c.command(ctx, gitDir, args...)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), c.wrapGitError(ctx, args, &stderr, err)
	}
	return stdout.Bytes(), nil
}

// stream runs git and hands its stdout to consume while it runs (git archive
// is piped straight into the tar reader rather than buffered).
func (c *cache) stream(ctx context.Context, gitDir string, consume func(io.Reader) error, args ...string) error {
	cmd, ctx, cancel := c.command(ctx, gitDir, args...)
	defer cancel()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return c.wrapGitError(ctx, args, &stderr, err)
	}
	consumeErr := consume(out)
	if consumeErr == nil {
		// tar stops reading at the end-of-archive marker; drain the
		// record padding so git can exit and Wait may be called.
		_, consumeErr = io.Copy(io.Discard, out)
	}
	if consumeErr != nil {
		// Stop git rather than let it block on a pipe nobody reads.
		cancel()
	}
	waitErr := cmd.Wait()
	if waitErr != nil && consumeErr == nil {
		return c.wrapGitError(ctx, args, &stderr, waitErr)
	}
	return consumeErr
}

func (c *cache) wrapGitError(ctx context.Context, args []string, stderr *bytes.Buffer, err error) error {
	op := "git"
	if len(args) > 0 {
		op = "git " + args[0]
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return &gitError{op: op, detail: fmt.Sprintf("cannot run %q (%v); slipc needs git to fetch git:: imports", c.gitPath(), err)}
	}
	// exec.CommandContext reports a kill, not why; say it was the clock.
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return &gitError{op: op, detail: fmt.Sprintf("timed out after %s", c.timeout())}
		}
		return &gitError{op: op, detail: ctxErr.Error()}
	}
	if line := explainLine(stderr.String()); line != "" {
		return &gitError{op: op, detail: line}
	}
	return &gitError{op: op, detail: err.Error()}
}

// explainLine picks the line of git's stderr that says what went wrong:
// the last "fatal:" or "error:" line (git often follows it with advice),
// passing over the generic ones git adds after the specific cause, such as
// "fatal: Could not read from remote repository." after "fatal: '/x' does
// not appear to be a git repository"; else the last non-empty line.
func explainLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var generic string
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "fatal:") && !strings.HasPrefix(l, "error:") {
			continue
		}
		if isGenericGitError(l) {
			if generic == "" {
				generic = l
			}
			continue
		}
		return l
	}
	if generic != "" {
		return generic
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

func isGenericGitError(line string) bool {
	for _, g := range []string{
		"Could not read from remote repository",
		"the remote end hung up unexpectedly",
		"early EOF",
		"index-pack failed",
		"fetch-pack: invalid index-pack output",
	} {
		if strings.Contains(line, g) {
			return true
		}
	}
	return false
}

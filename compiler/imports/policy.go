package imports

import (
	"context"
	"errors"
	"fmt"
)

// Errors returned (wrapped) by Verify and Resolve; test for them with
// errors.Is. The messages themselves are written for the person running
// slipc.
var (
	// ErrNotLocked: the lock file has no entry for the source.
	ErrNotLocked = errors.New("import is not locked")
	// ErrRefMoved: the ref now resolves to another commit than the locked
	// one (a moved tag or an advanced branch).
	ErrRefMoved = errors.New("ref no longer points at the locked commit")
	// ErrHashMismatch: the locked commit's content does not have the locked
	// hash.
	ErrHashMismatch = errors.New("content hash mismatch")
)

// lockError carries a full message and the sentinel it is an instance of.
type lockError struct {
	kind error
	msg  string
}

func (e *lockError) Error() string { return e.msg }
func (e *lockError) Unwrap() error { return e.kind }

// Verify checks a fetched import against the lock file. It returns nil when
// the entry for src has f's commit and hash, and otherwise an error wrapping
//
//   - ErrNotLocked when there is no entry: the caller decides whether to Add
//     one (the default) or to fail (a read-only lock);
//   - ErrRefMoved when f.Commit is not the locked commit, which, for f from
//     Fetch, means the ref has moved since it was locked;
//   - ErrHashMismatch when the commit matches but the content does not.
//     Git commit ids cover the content, so this means the cached tree was
//     edited, or the lock file's hash was.
func (l *Lock) Verify(src Source, f Fetched) error {
	key := src.String()
	e, ok := l.Entries[key]
	if !ok {
		return &lockError{ErrNotLocked, fmt.Sprintf("%s is not in the lock file", key)}
	}
	if e.Commit != f.Commit {
		return &lockError{ErrRefMoved, fmt.Sprintf(
			"the lock file pins %s for %s but ref %s now points at %s; run `slipc compile -upgrade` to accept it",
			shortCommit(e.Commit), key, refName(src.Ref), shortCommit(f.Commit))}
	}
	if e.Hash != f.Hash {
		return &lockError{ErrHashMismatch, fmt.Sprintf(
			"content hash mismatch for %s at commit %s: the lock file has %s but %s hashes to %s "+
				"(the cached copy or the repository was tampered with)",
			key, shortCommit(e.Commit), e.Hash, f.Dir, f.Hash)}
	}
	return nil
}

// Mode is how Resolve treats the lock file.
type Mode int

const (
	// ModeLocked is the default. A locked import is fetched at its locked
	// commit (FetchCommit), whatever its ref points at now, and its hash
	// verified; an import missing from the lock is fetched at its ref and
	// added. The build is reproducible once locked, and works offline
	// while the cache holds the locked commits.
	ModeLocked Mode = iota
	// ModeUpgrade ("slipc compile -upgrade") fetches every import at its
	// ref as it is now and rewrites its entry.
	ModeUpgrade
	// ModeReadOnly is ModeLocked without writes: an import missing from
	// the lock is an error (ErrNotLocked). Meant for CI, where an
	// incomplete lock file should fail the build rather than be completed
	// on the fly.
	ModeReadOnly
)

// Resolve fetches a git import according to mode, updating l as described
// for each mode; the caller then calls Retain and Save. Local sources are
// not locked: use LocalFetch for them.
func (l *Lock) Resolve(ctx context.Context, f *Fetcher, src Source, mode Mode) (Fetched, error) {
	if src.Kind != Git {
		return Fetched{}, fmt.Errorf("imports: %s is a %s source; only git sources are locked", src, src.Kind)
	}
	entry, locked := l.Get(src)
	if mode == ModeUpgrade || (!locked && mode == ModeLocked) {
		fetched, err := f.Fetch(ctx, src)
		if err != nil {
			return Fetched{}, err
		}
		// An upgrade accepts a new commit, never new content for the
		// commit already locked: that can only be tampering.
		if locked && entry.Commit == fetched.Commit {
			if err := l.Verify(src, fetched); err != nil {
				return Fetched{}, err
			}
		}
		l.Add(src, fetched)
		return fetched, nil
	}
	if !locked {
		return Fetched{}, &lockError{ErrNotLocked, fmt.Sprintf(
			"%s is not in the lock file, which may not be changed in this run; run `slipc compile` to add it", src)}
	}
	fetched, err := f.FetchCommit(ctx, src, entry.Commit)
	if err != nil {
		return Fetched{}, err
	}
	if err := l.Verify(src, fetched); err != nil {
		return Fetched{}, err
	}
	return fetched, nil
}

// CheckUpstream fetches src at its ref as the repository has it now and
// verifies the result against the lock without changing it. It reports
// ErrRefMoved when a locked tag was moved or a locked branch has advanced,
// which a locked build (ModeLocked) deliberately does not notice; a
// "slipc lock -check" style command or a scheduled CI job can use it to tell
// that an upgrade is due.
func (l *Lock) CheckUpstream(ctx context.Context, f *Fetcher, src Source) (Fetched, error) {
	fetched, err := f.Fetch(ctx, src)
	if err != nil {
		return Fetched{}, err
	}
	return fetched, l.Verify(src, fetched)
}

package connectors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is how Retry and WaitFor space their attempts: exponential from
// Initial to Max, with full jitter (each wait is drawn from [Initial/2,
// the current bound]), so that many machines throttled at once do not
// come back at once.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff serves API retries: 0.5 s doubling up to 20 s.
var DefaultBackoff = Backoff{Initial: 500 * time.Millisecond, Max: 20 * time.Second}

// wait is the pause before attempt n (1 = the first retry).
func (b Backoff) wait(n int) time.Duration {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	bound := b.Initial
	for i := 1; i < n && bound < b.Max; i++ {
		bound *= 2
	}
	bound = min(bound, b.Max)
	lo := b.Initial / 2
	if bound <= lo {
		return bound
	}
	return lo + rand.N(bound-lo+1) // #nosec G404 -- retry jitter, not a secret: predictability costs nothing
}

// RetryObserver hears about each retry (for logs); it may be nil.
type RetryObserver func(attempt int, wait time.Duration, err error)

// Retry calls op until it succeeds, fails with an error that is not
// transient (KindOf), or the context ends. Between attempts it waits as b
// says; a wait that would pass the context's deadline is not started: the
// last error is returned at once, with the number of attempts made, so a
// timeout shows the cloud's own message rather than "context deadline
// exceeded".
func Retry(ctx context.Context, b Backoff, observe RetryObserver, op func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !IsTransient(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		w := b.wait(attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < w {
			return &GaveUpError{Attempts: attempt, Err: err}
		}
		if observe != nil {
			observe(attempt, w, err)
		}
		t := time.NewTimer(w)
		select {
		case <-ctx.Done():
			t.Stop()
			return &GaveUpError{Attempts: attempt, Err: err}
		case <-t.C:
		}
	}
}

// GaveUpError is a transient error that was retried until the time ran
// out.
type GaveUpError struct {
	Attempts int
	Err      error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("still failing after %d attempts within the timeout: %v", e.Attempts, e.Err)
}

func (e *GaveUpError) Unwrap() error { return e.Err }

// WaitFor polls check until it reports done, fails with an error that is
// not transient, or the context ends (then the error names what was
// awaited and the last thing check said). Transient errors from check are
// polled through. The first check is immediate; later ones follow b.
func WaitFor(ctx context.Context, b Backoff, what string, check func(context.Context) (done bool, status string, err error)) error {
	last := ""
	for attempt := 1; ; attempt++ {
		done, status, err := check(ctx)
		switch {
		case err != nil && !IsTransient(err):
			return err
		case err != nil:
			last = err.Error()
		case done:
			return nil
		default:
			last = status
		}
		t := time.NewTimer(b.wait(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			if last != "" {
				return fmt.Errorf("waiting for %s: %w (last seen: %s)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// PollBackoff serves waits for a machine or image to change state: 0.2 s
// doubling up to 5 s, so that a fake cloud answers a wait in a fraction
// of a second and a real one is asked at most every few seconds.
var PollBackoff = Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second}

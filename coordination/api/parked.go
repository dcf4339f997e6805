package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/connlimit"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// Parked long-polls.
//
// Thousands of machines each keep a blocking get open (ss-get, or the
// agent following the run's state). Served by net/http, each held two
// goroutines and the connection's buffers, about 25 KB: 250 MB at 10,000
// machines. A get that cannot be answered at once is therefore parked:
// the connection is taken over from the HTTP server, its goroutines end,
// and the coordinator calls back when the key may have changed (or the
// wait runs out). The answer is then written on the connection with
// "Connection: close": the client's next request opens a new one.

// pollFunc answers a long-poll within wait with the body of its answer:
// a parameter's get (Get, or WaitChange), or the run's (WaitRun).
type pollFunc func(ctx context.Context, wait time.Duration) (any, error)

// registerFunc registers fn to be called when the answer may have
// changed: Coordinator.Park for a parameter, ParkRun for the run.
type registerFunc func(fn func()) (cancel func(), err error)

// notYet reports whether a non-blocking get's error means "wait".
func notYet(err error) bool {
	return errors.Is(err, coordinator.ErrNotSet) || errors.Is(err, coordinator.ErrTimeout)
}

// park answers the request now if it can, or parks it; it reports false
// when the request must be served by blocking instead (the connection
// cannot be taken over, as with HTTP/2).
func (s *Server) park(w http.ResponseWriter, r *http.Request, wait time.Duration, get pollFunc, register registerFunc) bool {
	if v, err := get(r.Context(), 0); !notYet(err) {
		answer(w, v, err)
		return true
	}
	p := &parked{get: get, deadline: time.Now().Add(wait), ready: make(chan net.Conn, 1)}
	if lw, ok := w.(*loggedWriter); ok {
		rl := lw.requestLog
		p.log = &rl
	}
	cancel, err := register(p.fire)
	if err != nil {
		fail(w, err)
		return true
	}
	p.cancel = cancel
	// From here every path hands finish the connection, or nil when the
	// request was answered otherwise, in case the registration fired.
	// Read again: a set committed between the first read and the
	// registration is caught here.
	if v, err := get(r.Context(), 0); !notYet(err) {
		cancel()
		p.ready <- nil
		answer(w, v, err)
		return true
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		cancel()
		p.ready <- nil
		return false
	}
	// A request pipelined after this one is dropped with the connection
	// (the answer says Connection: close). While parked, the connection
	// does not count against the connections served at once.
	connlimit.Release(conn)
	p.timer = time.AfterFunc(wait, p.fire)
	p.ready <- conn
	return true
}

func answer(w http.ResponseWriter, body any, err error) {
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// parked is one parked get.
type parked struct {
	get      pollFunc
	deadline time.Time
	cancel   func()
	timer    *time.Timer
	ready    chan net.Conn // the taken-over connection, or nil
	once     sync.Once
	log      *requestLog // the request's, for an internal error in the answer
}

// fire is called by the coordinator's watch (which must not be blocked)
// or by the wait's timer: the answer is worked out on a goroutine of its
// own.
func (p *parked) fire() {
	p.once.Do(func() { go p.finish() })
}

func (p *parked) finish() {
	// The registration may fire before the connection was taken over.
	conn := <-p.ready
	if conn == nil {
		return // answered without parking
	}
	p.cancel()
	p.timer.Stop()
	defer conn.Close()

	// Usually the value is there now; if the wake-up was for something
	// else (another key's abort that this get ignores), wait the rest of
	// the time the ordinary way.
	left := time.Until(p.deadline)
	ctx, cancel := context.WithTimeout(context.Background(), left+5*time.Second)
	defer cancel()
	v, err := p.get(ctx, max(left, 0))
	if left <= 0 && errors.Is(err, coordinator.ErrNotSet) {
		// The wait ran out: a timeout, as a blocking get would say.
		err = fmt.Errorf("%w (%v)", coordinator.ErrTimeout, err)
	}
	rw := &rawResponse{header: http.Header{}, log: p.log}
	answer(rw, v, err)
	// The client may have gone while it waited: there is no one left to
	// tell of a failed write, and the connection is closed either way.
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = rw.writeTo(bufio.NewWriterSize(conn, 512))
}

// rawResponse is an http.ResponseWriter that writes an HTTP/1.1 response
// on a taken-over connection, so the API's usual helpers answer parked
// gets too.
type rawResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	log    *requestLog
}

func (r *rawResponse) internal(err error) bool {
	return r.log != nil && r.log.internal(err)
}

func (r *rawResponse) Header() http.Header { return r.header }

func (r *rawResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *rawResponse) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *rawResponse) writeTo(w *bufio.Writer) error {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.header.Set("Content-Length", strconv.Itoa(r.body.Len()))
	r.header.Set("Connection", "close")
	r.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	// A bufio.Writer keeps its first error and Flush returns it.
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", r.status, http.StatusText(r.status))
	_ = r.header.Write(w)
	_, _ = w.WriteString("\r\n")
	_, _ = w.Write(r.body.Bytes())
	return w.Flush()
}

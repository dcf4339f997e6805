package connlimit

import (
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// listenBacklog1 is a loopback listener whose kernel accept queue holds a
// single connection (net.Listen always asks for net.core.somaxconn).
func listenBacklog1(t *testing.T) net.Listener {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "backlog-1 listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestListener_queuesBeyondTheKernelBacklog: with one slot and a kernel
// queue of one, 40 clients connect one after the other while nothing is
// served; the listener takes each from the kernel as it comes and queues
// it. Left in the kernel's queue, the third client's handshake would have
// been dropped and retried a second later, and so on. They are then served
// one at a time.
func TestListener_queuesBeyondTheKernelBacklog(t *testing.T) {
	const clients = 40
	l := NewListener(listenBacklog1(t), 1)
	t.Cleanup(func() { l.Close() })

	for i := range clients {
		c, err := net.DialTimeout("tcp", l.Addr().String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{byte(i)})
		deadline := time.Now().Add(10 * time.Second)
		for l.Queued() <= i && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if q := l.Queued(); q != i+1 {
			t.Fatalf("%d connections queued by the listener after %d clients connected", q, i+1)
		}
	}
	for i := range clients {
		c := expectAccepted(t, acceptAsync(l))
		if got := l.InUse(); got != 1 {
			t.Fatalf("InUse = %d while serving connection %d, want 1", got, i)
		}
		buf := make([]byte, 1)
		if _, err := io.ReadFull(c, buf); err != nil || buf[0] != byte(i) {
			t.Fatalf("connection %d read %v, %v: not served in the order they came", i, buf, err)
		}
		c.Close()
	}
}

// TestListener_closeClosesQueuedConnections: clients still waiting for a
// slot when the listener closes see their connection closed.
func TestListener_closeClosesQueuedConnections(t *testing.T) {
	l := listen(t, 1)
	dial(t, l)
	expectAccepted(t, acceptAsync(l))
	waiting := dial(t, l)
	deadline := time.Now().Add(5 * time.Second)
	for l.Queued() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	l.Close()
	waiting.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := waiting.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a queued client read %v after Close, want EOF", err)
	}
}

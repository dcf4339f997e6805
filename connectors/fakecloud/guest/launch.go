package guest

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// launchInit starts the guest's PID 1 — this program again, see pid1.go —
// in the instance's network namespace and new mount, UTS, IPC and PID
// namespaces, and waits until it reports that the root is mounted and the
// first stage has started. On failure nothing of the boot is left running.
func launchInit(ctx context.Context, i *Instance) (*exec.Cmd, error) {
	// 0600: the console shows what cloud-init and the user-data print, and
	// only the runtime (root) reads it and the status file.
	console, err := os.OpenFile(i.ConsolePath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer console.Close()
	status, err := os.OpenFile(i.statusPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer status.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()

	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{"fakecloud-guest-init", i.ep.Name},
		// container= tells cloud-init (util.is_container) and others that
		// this is no virtual machine.
		// GOMAXPROCS=1: PID 1 mostly waits; fewer threads, less memory.
		Env: []string{initEnv + "=" + i.bootConfigPath(), "container=slipstream-fakecloud", "GOMAXPROCS=1",
			"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Dir:        "/",
		ExtraFiles: []*os.File{console, readyW, status}, // fdConsole, fdReady, fdStatus
		SysProcAttr: &syscall.SysProcAttr{
			// Its own session: a ^C to the test's process group does not
			// reach it, and it outlives this process if this one is killed
			// (CleanupStale removes it then).
			Setsid:     true,
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWPID,
		},
	}
	err = startInNetns(i.ep.NetNS, cmd)
	_ = readyW.Close() // our copy of the write end, closed so that the read sees EOF once PID 1 closes its own
	if err != nil {
		return nil, fmt.Errorf("starting PID 1: %w", err)
	}
	answer := make(chan string, 1)
	go func() {
		data, _ := io.ReadAll(readyR)
		answer <- string(data)
	}()
	fail := func(err error) (*exec.Cmd, error) {
		// Ending the half-started boot: err says why, and Wait's answer
		// would be the SIGKILL.
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, err
	}
	select {
	case a := <-answer:
		if a != "ok" {
			if a == "" {
				a = "it ended without saying why"
			}
			return fail(fmt.Errorf("the guest did not start: %s; console:\n%s", a, fileTail(i.ConsolePath(), 20)))
		}
	case <-ctx.Done():
		return fail(fmt.Errorf("the guest did not start: %w; console:\n%s", ctx.Err(), fileTail(i.ConsolePath(), 20)))
	}
	return cmd, nil
}

// startInNetns starts cmd in the network namespace at path. A child is
// made in the namespaces of the thread that forks it, so the fork happens
// on a thread of its own that joins the namespace first and is never
// given back to the Go scheduler (it ends with its goroutine): no other
// goroutine ever runs in the guest's network namespace.
func startInNetns(path string, cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // and never unlocked
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("network namespace %s: %w", path, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

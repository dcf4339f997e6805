package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The guest's PID 1 is this very program, started again by the runtime
// (as /proc/self/exe) in the guest's new namespaces with initEnv naming
// its boot configuration: the init function below sees it before main
// runs and never returns. So any binary that links this package — a test
// binary, the provider with a fake cloud — can boot guests, and the guest
// needs nothing of its own beyond its image.
const initEnv = "SLIPSTREAM_FAKECLOUD_GUEST_INIT"

// The files the runtime hands to PID 1, as ExtraFiles.
const (
	fdConsole = 3 // the console log (append)
	fdReady   = 4 // a pipe: "ok", or why the guest could not start, then EOF
	fdStatus  = 5 // the status file: one line per boot event (statusLine)
)

func init() {
	if path := os.Getenv(initEnv); path != "" && os.Getpid() == 1 {
		// Locked for good: the capabilities PID 1 drops are the calling
		// thread's, and the stages are forked from it (see dropCapabilities).
		runtime.LockOSThread()
		os.Exit(pid1Main(path))
	}
}

// bootConfig is what PID 1 needs to know, written by the runtime as JSON.
type bootConfig struct {
	ID       string   `json:"id"`
	Hostname string   `json:"hostname"`
	Layers   []string `json:"layers"` // lower dirs, top first
	Upper    string   `json:"upper"`
	Work     string   `json:"work"`
	Root     string   `json:"root"` // where the overlay is mounted before pivot_root
	UserData []byte   `json:"user_data"`
	SSHKeys  []string `json:"ssh_keys"`
	IP       string   `json:"ip"`
	Gateway  string   `json:"gateway"`
	// UserDataOnly: run a #! user-data with its interpreter, no cloud-init.
	UserDataOnly bool `json:"user_data_only"`
}

// pid1 is the guest's init: it mounts the guest's root, starts the boot
// stages one after the other, and then reaps orphans until it is killed.
type pid1 struct {
	console *os.File
	status  *os.File
	devNull *os.File
	sigchld chan os.Signal
}

func pid1Main(cfgPath string) int {
	// Signals from inside the guest (a stray kill -TERM 1) must not end it;
	// the runtime stops a guest with SIGKILL, which cannot be caught. They
	// are caught and dropped, not ignored: an ignored signal stays ignored
	// in every program PID 1 starts, and the guest's daemons must be able
	// to be stopped with them.
	dropped := make(chan os.Signal, 8)
	signal.Notify(dropped, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for range dropped {
		}
	}()
	closeInheritedFiles()
	if name, err := unix.BytePtrFromString("fakecloud-init"); err == nil { // rather than "exe", in ps
		// Cosmetic, so an error changes nothing.
		_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0) // #nosec G103 -- prctl takes the name as a C string pointer; name lives across the call
	}
	for _, fd := range []int{fdConsole, fdReady, fdStatus} {
		syscall.CloseOnExec(fd)
	}
	p := &pid1{console: os.NewFile(fdConsole, "console"), status: os.NewFile(fdStatus, "status"),
		sigchld: make(chan os.Signal, 16)}
	ready := os.NewFile(fdReady, "ready")
	signal.Notify(p.sigchld, syscall.SIGCHLD)

	cfg, err := readBootConfig(cfgPath)
	if err == nil {
		p.logf("booting %s (%s) at %s", cfg.ID, cfg.Hostname, cfg.IP)
		err = setupRoot(cfg)
	}
	if err == nil {
		err = writeGuestFiles(cfg)
	}
	if err == nil {
		p.devNull, err = os.OpenFile("/dev/null", os.O_RDWR, 0)
	}
	stages := cloudInitStages
	if err == nil && cfg.UserDataOnly {
		var note string
		stages, note, err = userDataStages(cfg)
		if note != "" {
			p.logf("%s", note)
		}
	}
	if err == nil {
		err = dropCapabilities()
	}
	if err != nil {
		p.logf("the guest cannot start: %v", err)
		fmt.Fprint(ready, err)
		return 1
	}
	p.runStages(stages, func() {
		fmt.Fprint(ready, "ok")
		_ = ready.Close() // a pipe: the runtime reads "ok" then EOF, and a failed Close tells PID 1 nothing to act on
	})
	p.writeStatus("finished")
	p.reapForever()
	return 0
}

// closeInheritedFiles closes what PID 1 got from its parent besides
// stdin, stdout, stderr and its three files: descriptors that the
// runtime's own process inherited without close-on-exec (a test harness's
// pipe, say). Held by a guest that outlives the test, such a pipe would
// keep whoever reads it waiting. The Go runtime opens its own files
// close-on-exec, so those are the only ones without the flag.
func closeInheritedFiles() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= fdStatus {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			_ = unix.Close(fd) // a stray descriptor we only want gone
		}
	}
}

func readBootConfig(path string) (*bootConfig, error) {
	data, err := os.ReadFile(path) // #nosec G304 G703 -- the boot config the runtime wrote (0600) and named in PID 1's environment
	if err != nil {
		return nil, err
	}
	cfg := new(bootConfig)
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// A stage is one program of the boot, run to its end before the next.
type stage struct {
	name string
	argv []string
}

// cloudInitStages are what cloud-init's four systemd units run, in order.
var cloudInitStages = []stage{
	{"init-local", []string{"/usr/bin/cloud-init", "init", "--local"}},
	{"init", []string{"/usr/bin/cloud-init", "init"}},
	{"modules-config", []string{"/usr/bin/cloud-init", "modules", "--mode", "config"}},
	{"modules-final", []string{"/usr/bin/cloud-init", "modules", "--mode", "final"}},
}

// stageEnv is the environment of the stages: what systemd gives
// cloud-init's units on Debian (no HOME, as there).
var stageEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}

// runStages runs the stages in turn, each in a session of its own with
// stdout and stderr on the console. started is called once the first has
// started (or none could).
func (p *pid1) runStages(stages []stage, started func()) {
	defer func() {
		if started != nil {
			started()
		}
	}()
	for _, st := range stages {
		t0 := time.Now()
		// #nosec G204 -- the fixed cloud-init stages, or the machine's own user-data script (light mode): running them is what booting the guest means
		pid, err := syscall.ForkExec(st.argv[0], st.argv, &syscall.ProcAttr{
			Dir:   "/",
			Env:   stageEnv,
			Files: []uintptr{p.devNull.Fd(), p.console.Fd(), p.console.Fd()},
			Sys:   &syscall.SysProcAttr{Setsid: true},
		})
		if started != nil {
			started()
			started = nil
		}
		if err != nil {
			p.logf("stage %s: %v", st.name, err)
			p.writeStatus(fmt.Sprintf("stage %s error", st.name))
			continue
		}
		code := p.waitFor(pid)
		p.logf("stage %s exited with status %d after %v", st.name, code, time.Since(t0).Round(time.Millisecond))
		p.writeStatus(fmt.Sprintf("stage %s %d", st.name, code))
	}
}

// waitFor reaps children until pid ends, and returns its exit status
// (128+signal when killed).
func (p *pid1) waitFor(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return -1
		}
		if got == pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}

// reapForever is PID 1's work once the stages are done: collect the
// orphans that the guest's processes leave (a supervisor started with
// setsid by a user-data outlives the script that started it).
func (p *pid1) reapForever() {
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == nil, errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.ECHILD):
			<-p.sigchld // no children now: wait until one ends
		default:
			p.logf("wait: %v", err)
			time.Sleep(time.Second)
		}
	}
}

func (p *pid1) logf(format string, args ...any) {
	fmt.Fprintf(p.console, "[fakecloud-guest %s] %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// writeStatus appends an event to the status file that the runtime reads
// (Instance.WaitBooted).
func (p *pid1) writeStatus(line string) {
	fmt.Fprintln(p.status, line)
}

// droppedCapabilities are taken out of the bounding set before any stage
// runs: the clock, kernel modules, raw I/O and device nodes, the kernel
// log, wake alarms, accounting, audit, BPF, perf and MAC policy are the
// machine's, not the guest's, and no namespace isolates them.
var droppedCapabilities = []uintptr{
	unix.CAP_SYS_TIME, unix.CAP_SYS_MODULE, unix.CAP_SYS_RAWIO, unix.CAP_MKNOD, unix.CAP_SYSLOG,
	unix.CAP_WAKE_ALARM, unix.CAP_SYS_PACCT, unix.CAP_AUDIT_CONTROL, unix.CAP_BPF, unix.CAP_PERFMON,
	unix.CAP_MAC_ADMIN, unix.CAP_MAC_OVERRIDE,
}

// dropCapabilities drops them on the calling thread, which the init
// function has locked and from which every stage is forked: the bounding
// set is per thread and inherited by the children it forks.
func dropCapabilities() error {
	var errs []string
	for _, c := range droppedCapabilities {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Sprintf("capability %d: %v", c, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("dropping capabilities: %s", strings.Join(errs, "; "))
	}
	return nil
}

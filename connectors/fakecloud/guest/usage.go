package guest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/internal/hostfs"
)

// Usage is what a running guest costs this machine now.
type Usage struct {
	// Processes are the guest's processes (its PID namespace), PID 1
	// included; Commands their names, in /proc order.
	Processes int
	Commands  []string
	// RSS sums the processes' resident memory; PSS their proportional
	// share, which divides pages shared between processes (and guests:
	// the image's files, PID 1's text) among them — the better measure
	// of what one more guest costs.
	RSS, PSS uint64 // bytes
	// Anon sums the processes' anonymous memory (heaps, stacks): what is
	// theirs alone, not pages of files that other guests share.
	Anon uint64 // bytes
	// CPU is the processor time the guest used since its boot: that of its
	// processes, and of those that ended and were collected by PID 1 (the
	// boot stages, cloud-init's children).
	CPU time.Duration
}

// Usage measures the running guest's processes and memory, from /proc.
func (i *Instance) Usage() (Usage, error) {
	pid := i.InitPID()
	if pid == 0 {
		return Usage{}, fmt.Errorf("guest %s is not running", i.ep.Name)
	}
	ns, err := pidNamespace(pid)
	if err != nil {
		return Usage{}, fmt.Errorf("guest %s: %w", i.ep.Name, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, err := pidNamespace(p); err != nil || got != ns {
			continue
		}
		rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue // gone meanwhile
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		u.Processes++
		u.Commands = append(u.Commands, strings.TrimSpace(string(comm)))
		u.RSS += kbField(string(rollup), "Rss:") * 1024
		u.PSS += kbField(string(rollup), "Pss:") * 1024
		u.Anon += kbField(string(rollup), "Anonymous:") * 1024
		u.CPU += cpuTime(p, p == pid)
	}
	return u, nil
}

// kbField reads a "Name:   123 kB" line.
func kbField(text, name string) uint64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// cpuTime is a process's user and system time from /proc/<pid>/stat,
// with that of its collected children when children is set.
func cpuTime(pid int, children bool) time.Duration {
	f, ok := hostfs.StatFields(pid)
	// f[0] is field 3 (state): utime, stime, cutime, cstime are fields
	// 14 to 17, in clock ticks (USER_HZ, 100 on Linux).
	if !ok || len(f) < 15 {
		return 0
	}
	fields := []int{11, 12}
	if children {
		fields = append(fields, 13, 14)
	}
	var ticks uint64
	for _, k := range fields {
		n, _ := strconv.ParseUint(f[k], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond // #nosec G115 -- CPU time in clock ticks from /proc, nowhere near 2^63
}

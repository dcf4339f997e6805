package fakecloud

import (
	"sync"
	"time"
)

// FaultKind is a failure a fake cloud can be told to give. Each wire fake
// answers it with its own cloud's error (code, HTTP status, message), so
// that the connectors' classification of real errors is what the tests
// exercise.
type FaultKind string

const (
	// FaultThrottle: the API refuses a call for the caller's request
	// rate (EC2 RequestLimitExceeded, HTTP 429).
	FaultThrottle FaultKind = "throttle"
	// FaultUnavailable: the API itself fails (HTTP 503).
	FaultUnavailable FaultKind = "unavailable"
	// FaultCapacity: no capacity for the machine asked for
	// (InsufficientInstanceCapacity, Nova's "No valid host").
	FaultCapacity FaultKind = "capacity"
	// FaultQuota: the account's machine quota is used up
	// (InstanceLimitExceeded, Nova 403 quota).
	FaultQuota FaultKind = "quota"
)

// Fault is an injected failure, returned by Cloud methods; wire fakes
// turn it into their cloud's error answer.
type Fault struct {
	Kind FaultKind
	Op   string
}

func (f *Fault) Error() string { return "injected fault " + string(f.Kind) + " on " + f.Op }

// Faults is what a fake cloud is told to get wrong. Counts apply to the
// next calls or machines and run down; the zero value injects nothing.
// Every method is safe for concurrent use, also while the cloud serves.
type Faults struct {
	mu           sync.Mutex
	throttle     int
	throttleOps  map[string]bool // only these ops, when set
	unavailable  int
	capacity     int
	quota        int
	stuckPending int
	dieAfter     []time.Duration
	latency      time.Duration
	bootDelay    *time.Duration
}

// Throttle makes the next n API calls fail as throttled; with ops given,
// only calls of those operations (as the wire fake names them: EC2
// actions like "RunInstances", "METHOD /path" patterns for REST fakes)
// count.
func (f *Faults) Throttle(n int, ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = n
	f.throttleOps = nil
	if len(ops) > 0 {
		f.throttleOps = map[string]bool{}
		for _, op := range ops {
			f.throttleOps[op] = true
		}
	}
}

// Unavailable makes the next n API calls fail with the cloud's "service
// unavailable".
func (f *Faults) Unavailable(n int) { f.set(&f.unavailable, n) }

// NoCapacity makes the next n machine creations fail for lack of
// capacity.
func (f *Faults) NoCapacity(n int) { f.set(&f.capacity, n) }

// OverQuota makes the next n machine creations fail for the account's
// quota.
func (f *Faults) OverQuota(n int) { f.set(&f.quota, n) }

// StuckPending makes the next n machines accepted never leave pending.
func (f *Faults) StuckPending(n int) { f.set(&f.stuckPending, n) }

// DieAfterBoot makes the next n machines die this long after they booted:
// their processes end and the cloud reports them failed.
func (f *Faults) DieAfterBoot(n int, after time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dieAfter = nil
	for range n {
		f.dieAfter = append(f.dieAfter, after)
	}
}

// Latency delays every API answer by d (slow APIs).
func (f *Faults) Latency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// BootDelay overrides the cloud's Options.BootDelay for machines accepted
// from now on.
func (f *Faults) BootDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bootDelay = &d
}

// Reset clears every fault.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle, f.throttleOps, f.unavailable, f.capacity, f.quota, f.stuckPending = 0, nil, 0, 0, 0, 0
	f.dieAfter, f.latency, f.bootDelay = nil, 0, nil
}

func (f *Faults) set(p *int, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*p = n
}

func take(p *int) bool {
	if *p > 0 {
		*p--
		return true
	}
	return false
}

// enter is called at the start of every API call: it waits out the
// latency and returns a throttle or unavailable fault when one is due.
func (f *Faults) enter(op string) (time.Duration, *Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttle > 0 && (f.throttleOps == nil || f.throttleOps[op]) {
		f.throttle--
		return f.latency, &Fault{Kind: FaultThrottle, Op: op}
	}
	if take(&f.unavailable) {
		return f.latency, &Fault{Kind: FaultUnavailable, Op: op}
	}
	return f.latency, nil
}

// creating is called before a machine is accepted.
func (f *Faults) creating(op string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if take(&f.capacity) {
		return &Fault{Kind: FaultCapacity, Op: op}
	}
	if take(&f.quota) {
		return &Fault{Kind: FaultQuota, Op: op}
	}
	return nil
}

// fate is decided once per accepted machine: whether it stays pending,
// whether (and when) it dies after booting, and its boot delay.
func (f *Faults) fate(defaultDelay time.Duration) (stuck bool, die time.Duration, dies bool, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delay = defaultDelay
	if f.bootDelay != nil {
		delay = *f.bootDelay
	}
	if take(&f.stuckPending) {
		return true, 0, false, delay
	}
	if len(f.dieAfter) > 0 {
		die, f.dieAfter = f.dieAfter[0], f.dieAfter[1:]
		return false, die, true, delay
	}
	return false, 0, false, delay
}

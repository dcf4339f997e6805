package connectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

var ec2Like = []Offer{
	{Name: "t3.micro", CPU: 2, RAMMB: 1024},
	{Name: "t3.small", CPU: 2, RAMMB: 2048},
	{Name: "t3.medium", CPU: 2, RAMMB: 4096},
	{Name: "c5.large", CPU: 2, RAMMB: 4096},
	{Name: "m5.large", CPU: 2, RAMMB: 8192},
	{Name: "c5.xlarge", CPU: 4, RAMMB: 8192},
	{Name: "m5.xlarge", CPU: 4, RAMMB: 16384},
	{Name: "m5.24xlarge", CPU: 96, RAMMB: 393216},
}

func TestPickOffer(t *testing.T) {
	for _, tc := range []struct {
		want Size
		name string
	}{
		{Size{}, "t3.micro"},
		{Size{CPU: 1, RAMGB: 1}, "t3.micro"},
		{Size{CPU: 2, RAMGB: 1.5}, "t3.small"},
		{Size{CPU: 2, RAMGB: 4}, "c5.large"}, // ties on size go by name
		{Size{CPU: 4, RAMGB: 2}, "c5.xlarge"},
		{Size{CPU: 4, RAMGB: 8, DiskGB: 500}, "c5.xlarge"}, // EBS: any disk fits
		{Size{CPU: 96, RAMGB: 300}, "m5.24xlarge"},
	} {
		got, err := PickOffer("ec2", ec2Like, tc.want)
		if err != nil || got.Name != tc.name {
			t.Errorf("PickOffer(%s) = %q, %v; want %q", tc.want, got.Name, err, tc.name)
		}
	}
}

func TestPickOffer_diskAndNoFit(t *testing.T) {
	flavors := []Offer{{Name: "m1.small", CPU: 1, RAMMB: 2048, DiskGB: 20}, {Name: "m1.medium", CPU: 2, RAMMB: 4096, DiskGB: 40}}
	got, err := PickOffer("openstack", flavors, Size{CPU: 1, RAMGB: 1, DiskGB: 30})
	if err != nil || got.Name != "m1.medium" {
		t.Errorf("a 30 GB disk: %q, %v; want m1.medium", got.Name, err)
	}
	_, err = PickOffer("openstack", flavors, Size{CPU: 8, RAMGB: 64})
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != KindPermanent || ce.Code != "NoFittingOffer" || !strings.Contains(err.Error(), "m1.medium (2 CPU, 4 GB RAM, 40 GB disk)") {
		t.Errorf("no fit: %v", err)
	}
	if _, err := PickOffer("x", nil, Size{CPU: 1}); err == nil {
		t.Error("no offers at all: no error")
	}
}

func TestPickOffer_free(t *testing.T) {
	limits := []Offer{{Free: true, CPU: 40, RAMMB: 128 * 1024, DiskGB: 1000}}
	got, err := PickOffer("cloudsigma", limits, Size{CPU: 2, RAMGB: 3.5, DiskGB: 20})
	if err != nil || !got.Free || got.CPU != 2 || got.RAMMB != 3584 || got.DiskGB != 20 {
		t.Errorf("free sizing: %+v, %v", got, err)
	}
	got, _ = PickOffer("cloudsigma", limits, Size{})
	if got.CPU != 1 || got.RAMMB != 1024 {
		t.Errorf("no size asked: %+v, want at least 1 core and 1 GB", got)
	}
	if _, err := PickOffer("cloudsigma", limits, Size{CPU: 64}); err == nil || !strings.Contains(err.Error(), "40 CPU") {
		t.Errorf("beyond the limits: %v", err)
	}
}

func TestMachineName(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"lamp-1a2b3c4d", "web.2"}:          "lamp-1a2b3c4d-web-2",
		{"Shop_X", "db.1"}:                  "shop-x-db-1",
		{"--a--", ".b."}:                    "a-b",
		{"", ""}:                            "machine",
		{"ünïcode", "n.1"}:                  "n-code-n-1",
		{strings.Repeat("a", 80), "web.10"}: "",
	} {
		got := MachineName(in[0], in[1])
		if len(got) > 63 || strings.HasPrefix(got, "-") || strings.HasSuffix(got, "-") || strings.Contains(got, "--") {
			t.Errorf("MachineName(%q, %q) = %q: not a DNS label", in[0], in[1], got)
		}
		if want != "" && got != want {
			t.Errorf("MachineName(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
	if MachineName(strings.Repeat("a", 80), "web.1") == MachineName(strings.Repeat("a", 80), "web.2") {
		t.Error("long names of two instances are the same")
	}
}

func TestSpecHash(t *testing.T) {
	base := MachineSpec{Deployment: "d", Instance: "w.1", ImageID: "ami-1", UserData: "#!/bin/sh\n", Type: "t3.small",
		Settings: Settings{"subnet_id": "s-1", "security_group_ids": []string{"a", "b"}},
		Labels:   map[string]string{LabelDeployment: "d", LabelInstance: "w.1"}}
	h := SpecHash(base)
	same := base
	same.Labels = map[string]string{LabelInstance: "w.1", LabelDeployment: "d", LabelSpec: "whatever"}
	if SpecHash(same) != h {
		t.Error("the hash depends on map order or on LabelSpec")
	}
	for name, change := range map[string]func(*MachineSpec){
		"image":     func(s *MachineSpec) { s.ImageID = "ami-2" },
		"user-data": func(s *MachineSpec) { s.UserData += "x" },
		"type":      func(s *MachineSpec) { s.Type = "t3.large" },
		"setting":   func(s *MachineSpec) { s.Settings = Settings{"subnet_id": "s-2"} },
		"key":       func(s *MachineSpec) { s.SSHPublicKey = "ssh-ed25519 AAAA" },
	} {
		s := base
		change(&s)
		if SpecHash(s) == h {
			t.Errorf("changing the %s leaves the hash as it was", name)
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{&Error{Kind: KindTransient}, KindTransient},
		{fmt.Errorf("wrapped: %w", &Error{Kind: KindNotFound}), KindNotFound},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, KindTransient},
		{context.DeadlineExceeded, KindPermanent},
		{context.Canceled, KindPermanent},
		{errors.New("something"), KindPermanent},
		{&GaveUpError{Attempts: 3, Err: &Error{Kind: KindTransient}}, KindTransient},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
	for status, want := range map[int]Kind{404: KindNotFound, 409: KindTransient, 429: KindTransient, 503: KindTransient, 400: KindPermanent, 403: KindPermanent} {
		if got := HTTPKind(status); got != want {
			t.Errorf("HTTPKind(%d) = %s, want %s", status, got, want)
		}
	}
	e := &Error{Cloud: "ec2", Op: "RunInstances", Code: "InsufficientInstanceCapacity", Message: "We currently do not have sufficient capacity."}
	if got := e.Error(); got != "ec2 RunInstances: InsufficientInstanceCapacity: We currently do not have sufficient capacity." {
		t.Errorf("Error() = %q", got)
	}
}

func TestRetry(t *testing.T) {
	fast := Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond}
	calls, seen := 0, 0
	err := Retry(context.Background(), fast, func(int, time.Duration, error) { seen++ }, func(context.Context) error {
		calls++
		if calls < 4 {
			return &Error{Cloud: "x", Kind: KindTransient, Code: "Throttling"}
		}
		return nil
	})
	if err != nil || calls != 4 || seen != 3 {
		t.Errorf("Retry: err %v after %d calls, %d retries seen; want nil after 4, 3", err, calls, seen)
	}
	calls = 0
	perm := &Error{Cloud: "x", Kind: KindPermanent, Code: "InstanceLimitExceeded"}
	if err := Retry(context.Background(), fast, nil, func(context.Context) error { calls++; return perm }); err != perm || calls != 1 {
		t.Errorf("a permanent error: %v after %d calls; want it at once", err, calls)
	}
	// A deadline that the next wait would pass: the last error, at once.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Retry(ctx, Backoff{Initial: time.Second, Max: time.Second}, nil, func(context.Context) error {
		return &Error{Cloud: "ec2", Kind: KindTransient, Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	})
	var gave *GaveUpError
	if !errors.As(err, &gave) || !strings.Contains(err.Error(), "RequestLimitExceeded") || time.Since(start) > 500*time.Millisecond {
		t.Errorf("retrying past the deadline: %v after %v", err, time.Since(start))
	}
}

func TestBackoffWait(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for n := 1; n < 20; n++ {
		w := b.wait(n)
		if w < 50*time.Millisecond || w > time.Second {
			t.Fatalf("wait(%d) = %v, outside [Initial/2, Max]", n, w)
		}
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	err := WaitFor(context.Background(), Backoff{Initial: time.Millisecond, Max: time.Millisecond}, "x", func(context.Context) (bool, string, error) {
		n++
		switch n {
		case 1:
			return false, "pending", nil
		case 2:
			return false, "", &Error{Kind: KindTransient}
		}
		return true, "", nil
	})
	if err != nil || n != 3 {
		t.Errorf("WaitFor: %v after %d checks", err, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = WaitFor(ctx, Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, "machine i-1 to run", func(context.Context) (bool, string, error) {
		return false, "pending", nil
	})
	if err == nil || !strings.Contains(err.Error(), "machine i-1 to run") || !strings.Contains(err.Error(), "last seen: pending") {
		t.Errorf("WaitFor past the deadline: %v", err)
	}
	boom := &Error{Kind: KindPermanent, Message: "boom"}
	if err := WaitFor(context.Background(), PollBackoff, "x", func(context.Context) (bool, string, error) { return false, "", boom }); err != boom {
		t.Errorf("a permanent error: %v", err)
	}
}

func TestSettings(t *testing.T) {
	s := Settings{"a": "x", "n": int64(3), "b": true, "l": []string{"p"}, "m": map[string]string{"k": "v"}}
	if s.String("a") != "x" || s.Int("n") != 3 || !s.Bool("b") || s.Strings("l")[0] != "p" || s.Map("m")["k"] != "v" || s.String("none") != "" || !s.Has("a") {
		t.Errorf("getters: %+v", s)
	}
	if err := s.Check(); err != nil {
		t.Error(err)
	}
	if err := (Settings{"bad": 1.5}).Check(); err == nil {
		t.Error("a float64 setting passes Check")
	}
}

// TestBatchNames: batch names fit the length asked for and never repeat,
// within a batch or across batches (a pool starts its machines in
// several, and CloudStack and Azure refuse a second machine of a name).
func TestBatchNames(t *testing.T) {
	seen := map[string]bool{}
	for range 3 {
		for _, n := range BatchNames(strings.Repeat("b", 63), 12, 63) {
			if len(n) > 63 || !regexp.MustCompile(`^b{54}-[0-9a-f]{8}$`).MatchString(n) || seen[n] {
				t.Errorf("batch name %q: too long, malformed or repeated", n)
			}
			seen[n] = true
		}
	}
	if got := BatchNames("shop-1a2b3c4d-web", 1, 63)[0]; !regexp.MustCompile(`^shop-1a2b3c4d-web-[0-9a-f]{8}$`).MatchString(got) {
		t.Errorf("BatchNames of a short base: %q", got)
	}
	if got := BatchNames("a-------", 1, 12)[0]; !regexp.MustCompile(`^a-[0-9a-f]{8}$`).MatchString(got) {
		t.Errorf("a cut base keeps no trailing dash: %q", got)
	}
}

package ec2

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/connectortest"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// loseAnswers lets the first n requests of an action reach the fake, then
// drops the connection instead of answering: the call happened, and the
// caller never heard.
func loseAnswers(action string, n int32) func(http.Handler) http.Handler {
	var lost atomic.Int32
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !strings.Contains(string(body), "Action="+action+"&") || lost.Add(1) > n {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
	}
}

func TestCreateIsIdempotentWhenTheAnswerIsLost(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, loseAnswers("RunInstances", 1))
	spec := f.spec("dep-lost", "web.1")
	var m *connectors.Machine
	attempts := 0
	err := connectors.Retry(ctx(t), connectors.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}, nil, func(ctx context.Context) error {
		attempts++
		var err error
		m, err = f.conn.Create(ctx, spec)
		if attempts == 1 && !connectors.IsTransient(err) {
			t.Errorf("a create whose answer was lost: %v, want a transient error", err)
		}
		return err
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if attempts != 2 {
		t.Errorf("%d attempts, want 2", attempts)
	}
	live := f.cloud.Machines(fakecloud.Live)
	if len(live) != 1 {
		t.Fatalf("the cloud holds %d machines after one create whose answer was lost, want 1", len(live))
	}
	if live[0].ID != m.ID {
		t.Errorf("the retry answered %s, the cloud holds %s", m.ID, live[0].ID)
	}
	if n := f.cloud.Calls("RunInstances"); n != 2 {
		t.Errorf("RunInstances was called %d times, want 2", n)
	}
}

func TestCreateAgainAfterDelete(t *testing.T) {
	for _, retention := range []time.Duration{0, time.Hour} {
		t.Run("retention "+retention.String(), func(t *testing.T) {
			f := newFixtureOn(t, fakecloud.Options{TerminatedRetention: retention}, ec2fake.Options{}, nil)
			spec := f.spec("dep-again", "web.1")
			first, err := f.conn.Create(ctx(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.conn.Delete(ctx(t), first.ID); err != nil {
				t.Fatal(err)
			}
			// The same spec again (a replacement): EC2 would answer the
			// first token with the terminated machine.
			second, err := f.conn.Create(ctx(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			if second.ID == first.ID || !second.State.Alive() {
				t.Fatalf("the second create answered %s (%s); the first machine was %s", second.ID, second.State, first.ID)
			}
			// Its retry is still idempotent.
			again, err := f.conn.Create(ctx(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			if again.ID != second.ID {
				t.Errorf("a retry of the second create started %s, not %s", again.ID, second.ID)
			}
			if n := len(f.cloud.Machines(fakecloud.Live)); n != 1 {
				t.Errorf("%d live machines, want 1", n)
			}
			// 1 for the first machine, then 2 for each later create: the
			// first token (answered with the terminated machine) and the
			// next one.
			if n := f.cloud.Calls("RunInstances"); n != 5 {
				t.Errorf("%d RunInstances calls, want 5", n)
			}
		})
	}
}

func TestUserDataLimit(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	spec := f.spec("dep-ud", "web.1")
	spec.UserData = strings.Repeat("#", maxUserData)
	if _, err := f.conn.Create(ctx(t), spec); err != nil {
		t.Fatalf("user-data of exactly %d bytes: %v", maxUserData, err)
	}
	spec = f.spec("dep-ud", "web.2")
	spec.UserData = strings.Repeat("#", maxUserData+1)
	calls := f.cloud.Calls("RunInstances")
	_, err := f.conn.Create(ctx(t), spec)
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.KindPermanent || ce.Code != "UserDataTooLarge" || !strings.Contains(ce.Error(), "16384") {
		t.Errorf("user-data of %d bytes: %v, want a permanent UserDataTooLarge error naming the limit", maxUserData+1, err)
	}
	if f.cloud.Calls("RunInstances") != calls {
		t.Errorf("the connector called RunInstances with user-data it knew too big")
	}
}

func TestListPages(t *testing.T) {
	f := newFixture(t, ec2fake.Options{PageLimit: 5}, nil)
	spec := f.spec("dep-many", "")
	if _, err := f.conn.CreateBatch(ctx(t), spec, 23); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.Create(ctx(t), f.spec("dep-other", "web.1")); err != nil {
		t.Fatal(err)
	}
	list, err := f.conn.List(ctx(t), "dep-many")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range list {
		seen[m.ID] = true
	}
	if len(list) != 23 || len(seen) != 23 {
		t.Errorf("List found %d machines (%d distinct), want 23", len(list), len(seen))
	}
	if n := f.cloud.Calls("DescribeInstances"); n < 5 {
		t.Errorf("List made %d DescribeInstances calls for 23 machines in pages of 5", n)
	}
}

func TestBatchIsIdempotent(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, loseAnswers("RunInstances", 1))
	spec := f.spec("dep-batch", "")
	if _, err := f.conn.CreateBatch(ctx(t), spec, 4); !connectors.IsTransient(err) {
		t.Fatalf("a batch whose answer was lost: %v, want a transient error", err)
	}
	ms, err := f.conn.CreateBatch(ctx(t), spec, 4)
	if err != nil || len(ms) != 4 {
		t.Fatalf("the retried batch: %d machines, %v", len(ms), err)
	}
	if n := len(f.cloud.Machines(fakecloud.Live)); n != 4 {
		t.Errorf("the cloud holds %d machines after a retried batch of 4", n)
	}
}

func TestInstanceSettings(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	// An existing key pair, imported by someone else.
	other := f.connect(t, connectors.Settings{"access_key": testAccessKey, "secret_key": testSecretKey})
	keyName, err := other.ensureKeyPair(ctx(t), connectortest.TestPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	spec := f.spec("dep-set", "db.1")
	spec.Settings = connectors.Settings{
		"subnet_id":          "subnet-0123456789abcdef0",
		"security_group_ids": []string{"sg-0123456789abcdef0", "sg-00000000000000001"},
		"key_name":           keyName,
		"tags":               map[string]string{"cost-centre": "42", connectors.LabelDeployment: "not-this"},
	}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := f.conn.Create(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.conn.Describe(ctx(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["cost-centre"] != "42" || got.Labels[connectors.LabelDeployment] != "dep-set" {
		t.Errorf("labels %v: want the tags setting, with the spec's labels winning", got.Labels)
	}
	if _, has := got.Labels["Name"]; has || got.Name != spec.Name {
		t.Errorf("Name %q, labels %v: the Name tag is the name, not a label", got.Name, got.Labels)
	}
	want := connectors.Settings{"subnet_id": "subnet-0123456789abcdef0", "security_group_ids": []string{"sg-0123456789abcdef0", "sg-00000000000000001"}, "key_name": keyName}
	for k, v := range want {
		if g, w := strings.Join(toStrings(got.Settings[k]), ","), strings.Join(toStrings(v), ","); g != w {
			t.Errorf("setting %s = %q, want %q", k, g, w)
		}
	}
	fm, _ := f.cloud.Machine(m.ID)
	if fm.KeyName != keyName || len(fm.SSHKeys) != 1 {
		t.Errorf("the machine has key pair %q and keys %q", fm.KeyName, fm.SSHKeys)
	}
	if n := len(f.cloud.Keys()); n != 1 {
		t.Errorf("%d key pairs, want the existing one only", n)
	}
}

func toStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return v
	}
	return nil
}

func TestPublicAddress(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	spec := f.spec("dep-pub", "web.1")
	spec.Settings = connectors.Settings{"associate_public_ip": true, "subnet_id": "subnet-0123456789abcdef0", "security_group_ids": []string{"sg-0123456789abcdef0"}}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := f.conn.Create(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	var got *connectors.Machine
	err = connectors.WaitFor(ctx(t), connectors.PollBackoff, "the machine to run", func(ctx context.Context) (bool, string, error) {
		got, err = f.conn.Describe(ctx, m.ID)
		return err == nil && got.State == connectors.StateRunning, "", err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.PublicIP == "" || got.PrivateIP == "" {
		t.Errorf("addresses public %q, private %q", got.PublicIP, got.PrivateIP)
	}
	if got.Settings.String("subnet_id") != "subnet-0123456789abcdef0" {
		t.Errorf("settings %v", got.Settings)
	}
}

func TestRootVolume(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	for _, tc := range []struct{ ask, want int }{{20, 20}, {4, 8}, {0, 8}} {
		spec := f.spec("dep-disk", "web.1")
		spec.Size.DiskGB = tc.ask
		spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
		m, err := f.conn.Create(ctx(t), spec)
		if err != nil {
			t.Fatalf("disk %d GB: %v", tc.ask, err)
		}
		if fm, _ := f.cloud.Machine(m.ID); fm.DiskGB != tc.want {
			t.Errorf("asked for %d GB on an 8 GB image: the root volume is %d GB, want %d", tc.ask, fm.DiskGB, tc.want)
		}
	}
	spec := f.spec("dep-disk", "web.2")
	spec.Size.DiskGB, spec.ImageID = 10, "ami-00000000000000000"
	if _, err := f.conn.Create(ctx(t), spec); connectors.KindOf(err) != connectors.KindPermanent || !strings.Contains(err.Error(), spec.ImageID) {
		t.Errorf("an unknown image: %v, want a permanent error naming it", err)
	}
}

func TestTypeFromSize(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	spec := f.spec("dep-size", "web.1")
	spec.Type, spec.Size = "", connectors.Size{CPU: 2, RAMGB: 3}
	spec.Labels[connectors.LabelSpec] = connectors.SpecHash(spec)
	m, err := f.conn.Create(ctx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	// The smallest x86 type with 2 CPUs and 3 GB: c5.large and t3.medium
	// (4 GiB) tie; the name decides. a1.large is as small but arm64.
	if m.Type != "c5.large" {
		t.Errorf("a machine without a type got %q, want c5.large", m.Type)
	}
}

func TestFailedMachine(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	f.cloud.Faults.DieAfterBoot(1, time.Millisecond)
	m, err := f.conn.Create(ctx(t), f.spec("dep-die", "web.1"))
	if err != nil {
		t.Fatal(err)
	}
	var got *connectors.Machine
	err = connectors.WaitFor(ctx(t), connectors.PollBackoff, "the machine to fail", func(ctx context.Context) (bool, string, error) {
		got, err = f.conn.Describe(ctx, m.ID)
		return err == nil && got.State == connectors.StateError, "", err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Reason, "Server.InternalError") {
		t.Errorf("the failed machine's reason is %q", got.Reason)
	}
}

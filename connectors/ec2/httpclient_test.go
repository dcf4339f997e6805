package ec2

import (
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
)

// TestLargeAnswersOverAFastServer reads many answers bigger than the
// transport's buffer from a server that answers before the client has
// finished with the request: without readOnlyBodies, a few in a hundred
// fail with "use of closed network connection".
func TestLargeAnswersOverAFastServer(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	if _, err := f.conn.CreateBatch(ctx(t), f.spec("dep-big", ""), 30); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if list, err := f.conn.List(ctx(t), "dep-big"); err != nil || len(list) != 30 {
			t.Fatalf("List %d: %d machines, %v", i, len(list), err)
		}
	}
}

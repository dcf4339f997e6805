package ec2

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func TestSnapshotOfAPendingMachine(t *testing.T) {
	f := newFixtureOn(t, fakecloud.Options{BootDelay: 100 * time.Millisecond, StopDelay: 20 * time.Millisecond}, ec2fake.Options{}, nil)
	m, err := f.conn.Create(ctx(t), f.spec("dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	// EC2 refuses to stop a pending instance: Snapshot waits for it to
	// run, then stops it.
	img, err := f.conn.Snapshot(ctx(t), m.ID, "builder-image", map[string]string{"slipstream-image": "builder"})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.cloud.Image(img)
	if err != nil || fi.State != "available" || fi.Labels["slipstream-image"] != "builder" {
		t.Errorf("the image %s: %+v, %v", img, fi, err)
	}
}

func TestSnapshotRetriedAfterItsAnswerWasLost(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, loseAnswers("CreateImage", 1))
	m, err := f.conn.Create(ctx(t), f.spec("dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.Snapshot(ctx(t), m.ID, "builder-image", nil); !connectors.IsTransient(err) {
		t.Fatalf("a snapshot whose CreateImage answer was lost: %v, want a transient error", err)
	}
	img, err := f.conn.Snapshot(ctx(t), m.ID, "builder-image", nil)
	if err != nil {
		t.Fatalf("the retried snapshot: %v", err)
	}
	if n := len(f.cloud.Images()); n != 2 {
		t.Errorf("%d images, want the base image and one snapshot", n)
	}
	if fi, _ := f.cloud.Image(img); fi.Source != m.ID {
		t.Errorf("the retry returned %s, made from %q", img, fi.Source)
	}
	// An image of that name from another machine is not ours.
	other, err := f.conn.Create(ctx(t), f.spec("dep-snap", "builder.2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.Snapshot(ctx(t), other.ID, "builder-image", nil); codeOf(err) != "InvalidAMIName.Duplicate" {
		t.Errorf("a name taken by another machine's image: %v", err)
	}
}

func TestDeleteImageDeletesItsSnapshots(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	m, err := f.conn.Create(ctx(t), f.spec("dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.conn.Snapshot(ctx(t), m.ID, "builder-image", nil)
	if err != nil {
		t.Fatal(err)
	}
	snapshots := func() int {
		out, err := f.conn.api.DescribeSnapshots(ctx(t), &awsec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Snapshots)
	}
	if n := snapshots(); n != 2 {
		t.Fatalf("%d snapshots, want the base image's and the new one", n)
	}
	if err := f.conn.DeleteImage(ctx(t), img); err != nil {
		t.Fatal(err)
	}
	if n := snapshots(); n != 1 {
		t.Errorf("%d snapshots after DeleteImage, want the base image's only", n)
	}
	if err := f.conn.DeleteImage(ctx(t), "ami-00000000000000000"); err != nil {
		t.Errorf("deleting an image that never existed: %v", err)
	}
	if err := f.conn.DeleteImage(ctx(t), "not-an-ami"); err != nil {
		t.Errorf("deleting a malformed image id: %v", err)
	}
}

func TestSnapshotOfATerminatedMachine(t *testing.T) {
	f := newFixtureOn(t, fakecloud.Options{TerminatedRetention: time.Hour}, ec2fake.Options{}, nil)
	m, err := f.conn.Create(ctx(t), f.spec("dep-snap", "builder.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.conn.Delete(ctx(t), m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.Snapshot(ctx(t), m.ID, "x-image", nil); !connectors.IsNotFound(err) {
		t.Errorf("a snapshot of a deleted machine: %v, want not found", err)
	}
	c, cancel := context.WithTimeout(ctx(t), time.Second)
	defer cancel()
	out, err := f.conn.api.DescribeImages(c, &awsec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil || len(out.Images) != 1 || aws.ToString(out.Images[0].Name) == "x-image" {
		t.Errorf("images: %v %+v", err, out)
	}
}

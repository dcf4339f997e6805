package ec2fake

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func TestCreateImageFromARunningInstance(t *testing.T) {
	e := newEnv(t, Options{})
	id := aws.ToString(e.run(t, 1, func(in *ec2.RunInstancesInput) {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(12)}}}
	}).Instances[0].InstanceId)
	e.waitState(t, id, fakecloud.Running)
	out, err := e.api.CreateImage(ctxFor(t), &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("lamp base (2025-01-01)"),
		TagSpecifications: []types.TagSpecification{
			{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("slipstream-image"), Value: aws.String("lamp")}}},
			{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("slipstream-image"), Value: aws.String("lamp-root")}}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	img := aws.ToString(out.ImageId)
	// EC2 reboots the instance for the image: it runs again after.
	e.waitState(t, id, fakecloud.Running)
	if _, err := e.cloud.WaitMachine(ctxFor(t), id, func(fakecloud.Machine) bool {
		fi, _ := e.cloud.Image(img)
		return fi.State == "available"
	}); err != nil {
		t.Fatal(err)
	}
	images, err := e.api.DescribeImages(ctxFor(t), &ec2.DescribeImagesInput{ImageIds: []string{img}})
	if err != nil || len(images.Images) != 1 {
		t.Fatalf("DescribeImages: %v", err)
	}
	got := images.Images[0]
	if got.State != types.ImageStateAvailable || aws.ToString(got.SourceInstanceId) != id || aws.ToString(got.RootDeviceName) != "/dev/xvda" ||
		aws.ToString(got.OwnerId) != DefaultAccountID || len(got.Tags) != 1 || aws.ToString(got.Tags[0].Value) != "lamp" {
		t.Errorf("the image: %+v", got)
	}
	snap := aws.ToString(got.BlockDeviceMappings[0].Ebs.SnapshotId)
	if aws.ToInt32(got.BlockDeviceMappings[0].Ebs.VolumeSize) != 12 || !validID("snap", snap) {
		t.Errorf("the image's root: %+v", got.BlockDeviceMappings[0].Ebs)
	}
	snaps, err := e.api.DescribeSnapshots(ctxFor(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}})
	if err != nil || len(snaps.Snapshots) != 1 || snaps.Snapshots[0].State != types.SnapshotStateCompleted ||
		aws.ToString(snaps.Snapshots[0].Tags[0].Value) != "lamp-root" || aws.ToInt32(snaps.Snapshots[0].VolumeSize) != 12 {
		t.Errorf("DescribeSnapshots: %v %+v", err, snaps)
	}
	// Machines start from it.
	m := e.run(t, 1, func(in *ec2.RunInstancesInput) { in.ImageId = aws.String(img) })
	if aws.ToString(m.Instances[0].ImageId) != img {
		t.Errorf("a machine of the image has image %s", aws.ToString(m.Instances[0].ImageId))
	}

	_, err = e.api.CreateImage(ctxFor(t), &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("lamp base (2025-01-01)")})
	wantCode(t, "a name in use", err, "InvalidAMIName.Duplicate")
	_, err = e.api.CreateImage(ctxFor(t), &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("lamp*")})
	wantCode(t, "a bad name", err, "InvalidAMIName.Malformed")
	_, err = e.api.CreateImage(ctxFor(t), &ec2.CreateImageInput{InstanceId: aws.String("i-00000000000000000"), Name: aws.String("x-1")})
	wantCode(t, "an unknown instance", err, "InvalidInstanceID.NotFound")
}

func TestDeregisterImageAndItsSnapshot(t *testing.T) {
	e := newEnv(t, Options{})
	id := aws.ToString(e.run(t, 1).Instances[0].InstanceId)
	e.waitState(t, id, fakecloud.Running)
	e.cloud.Stop(id)
	e.waitState(t, id, fakecloud.Stopped)
	out, err := e.api.CreateImage(ctxFor(t), &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("img-1"), NoReboot: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	img := aws.ToString(out.ImageId)
	if m, _ := e.cloud.Machine(id); m.State != fakecloud.Stopped {
		t.Errorf("imaging a stopped instance left it %s", m.State)
	}
	images, _ := e.api.DescribeImages(ctxFor(t), &ec2.DescribeImagesInput{ImageIds: []string{img}})
	snap := aws.ToString(images.Images[0].BlockDeviceMappings[0].Ebs.SnapshotId)

	_, err = e.api.DeleteSnapshot(ctxFor(t), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	wantCode(t, "deleting the snapshot of a registered image", err, "InvalidSnapshot.InUse")
	if _, err := e.api.DeregisterImage(ctxFor(t), &ec2.DeregisterImageInput{ImageId: aws.String(img)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.DescribeImages(ctxFor(t), &ec2.DescribeImagesInput{ImageIds: []string{img}})
	wantCode(t, "a deregistered image", err, "InvalidAMIID.NotFound")
	_, err = e.api.DeregisterImage(ctxFor(t), &ec2.DeregisterImageInput{ImageId: aws.String(img)})
	wantCode(t, "deregistering again", err, "InvalidAMIID.NotFound")
	// The snapshot outlives its image until deleted.
	if _, err := e.api.DescribeSnapshots(ctxFor(t), &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snap}}); err != nil {
		t.Errorf("the snapshot went with its image: %v", err)
	}
	if _, err := e.api.DeleteSnapshot(ctxFor(t), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.DeleteSnapshot(ctxFor(t), &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snap)})
	wantCode(t, "deleting the snapshot again", err, "InvalidSnapshot.NotFound")
	_, err = e.api.DeleteSnapshot(ctxFor(t), &ec2.DeleteSnapshotInput{SnapshotId: aws.String("vol-12345678")})
	wantCode(t, "a malformed snapshot id", err, "InvalidSnapshotID.Malformed")

	// DeleteAssociatedSnapshots takes the snapshot along.
	out, err = e.api.CreateImage(ctxFor(t), &ec2.CreateImageInput{InstanceId: aws.String(id), Name: aws.String("img-2")})
	if err != nil {
		t.Fatal(err)
	}
	dereg, err := e.api.DeregisterImage(ctxFor(t), &ec2.DeregisterImageInput{ImageId: out.ImageId, DeleteAssociatedSnapshots: aws.Bool(true)})
	if err != nil || len(dereg.DeleteSnapshotResults) != 1 {
		t.Fatalf("DeregisterImage with its snapshots: %v %+v", err, dereg)
	}
	snaps, err := e.api.DescribeSnapshots(ctxFor(t), &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}})
	if err != nil || len(snaps.Snapshots) != 1 {
		t.Errorf("snapshots left: %v %+v (want the base image's only)", err, snaps)
	}
}

func TestDescribeImages(t *testing.T) {
	e := newEnv(t, Options{PageLimit: 5})
	for i := range 7 {
		if _, err := e.srv.AddImage(BaseImage{Name: "debian-13-" + string(rune('a'+i)), OwnerAlias: "amazon", OwnerID: "136693071363",
			Architecture: "arm64", Tags: map[string]string{"distro": "debian"}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(in *ec2.DescribeImagesInput) int {
		t.Helper()
		n := 0
		pages := ec2.NewDescribeImagesPaginator(e.api, in)
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctxFor(t))
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.Images)
		}
		return n
	}
	filter := func(name string, values ...string) []types.Filter {
		return []types.Filter{{Name: aws.String(name), Values: values}}
	}
	tests := []struct {
		name string
		in   *ec2.DescribeImagesInput
		want int
	}{
		{"all in pages", &ec2.DescribeImagesInput{MaxResults: aws.Int32(5)}, 8},
		{"self", &ec2.DescribeImagesInput{Owners: []string{"self"}}, 1},
		{"amazon", &ec2.DescribeImagesInput{Owners: []string{"amazon"}}, 7},
		{"by name", &ec2.DescribeImagesInput{Filters: filter("name", "debian-13-*")}, 7},
		{"by tag", &ec2.DescribeImagesInput{Filters: filter("tag:distro", "debian")}, 7},
		{"by architecture", &ec2.DescribeImagesInput{Filters: filter("architecture", "x86_64")}, 1},
	}
	for _, tc := range tests {
		if got := count(tc.in); got != tc.want {
			t.Errorf("%s: %d images, want %d", tc.name, got, tc.want)
		}
	}
	_, err := e.api.DescribeImages(ctxFor(t), &ec2.DescribeImagesInput{ImageIds: []string{"debian-12"}})
	wantCode(t, "a malformed id", err, "InvalidAMIID.Malformed")
}

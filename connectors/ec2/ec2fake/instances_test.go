package ec2fake

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

func TestRunInstancesChecks(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name string
		edit func(*ec2.RunInstancesInput)
		code string
	}{
		{"malformed image", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("debian") }, "InvalidAMIID.Malformed"},
		{"unknown image", func(in *ec2.RunInstancesInput) { in.ImageId = aws.String("ami-00000000000000000") }, "InvalidAMIID.NotFound"},
		{"unknown type", func(in *ec2.RunInstancesInput) { in.InstanceType = "t3.gigantic" }, "InvalidParameterValue"},
		{"min over max", func(in *ec2.RunInstancesInput) { in.MinCount = aws.Int32(3) }, "InvalidParameterValue"},
		{"unknown key pair", func(in *ec2.RunInstancesInput) { in.KeyName = aws.String("nobody") }, "InvalidKeyPair.NotFound"},
		{"user-data over 16 KB", func(in *ec2.RunInstancesInput) {
			in.UserData = aws.String(base64.StdEncoding.EncodeToString(make([]byte, maxUserData+1)))
		}, "InvalidParameterValue"},
		{"interface and subnet", func(in *ec2.RunInstancesInput) {
			in.SubnetId = aws.String("subnet-0123456789abcdef0")
			in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), AssociatePublicIpAddress: aws.Bool(true)}}
		}, "InvalidParameterCombination"},
		{"interface and groups", func(in *ec2.RunInstancesInput) {
			in.SecurityGroupIds = []string{"sg-0123456789abcdef0"}
			in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0)}}
		}, "InvalidParameterCombination"},
		{"malformed subnet", func(in *ec2.RunInstancesInput) { in.SubnetId = aws.String("default") }, "InvalidSubnetID.Malformed"},
		{"malformed group", func(in *ec2.RunInstancesInput) { in.SecurityGroupIds = []string{"web"} }, "InvalidGroupId.Malformed"},
		{"unknown group name", func(in *ec2.RunInstancesInput) { in.SecurityGroups = []string{"web"} }, "InvalidGroup.NotFound"},
		{"root smaller than its snapshot", func(in *ec2.RunInstancesInput) {
			in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(4)}}}
		}, "InvalidBlockDeviceMapping"},
		{"reserved tag", func(in *ec2.RunInstancesInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("me")}}}}
		}, "InvalidParameterValue"},
		{"tags for an image", func(in *ec2.RunInstancesInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeImage, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}}
		}, "InvalidParameterValue"},
		{"too many tags", func(in *ec2.RunInstancesInput) {
			var tags []types.Tag
			for i := range 51 {
				tags = append(tags, types.Tag{Key: aws.String("k" + strings.Repeat("x", i)), Value: aws.String("v")})
			}
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}}
		}, "TagLimitExceeded"},
		{"long client token", func(in *ec2.RunInstancesInput) { in.ClientToken = aws.String(strings.Repeat("t", 65)) }, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &ec2.RunInstancesInput{ImageId: aws.String(e.image), InstanceType: "t3.micro", MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
			tc.edit(in)
			_, err := e.api.RunInstances(ctxFor(t), in)
			wantCode(t, tc.name, err, tc.code)
		})
	}
	if n := len(e.cloud.Machines(nil)); n != 0 {
		t.Errorf("refused runs made %d machines", n)
	}
	e.cloud.Faults.NoCapacity(1)
	_, err := e.api.RunInstances(ctxFor(t), &ec2.RunInstancesInput{ImageId: aws.String(e.image), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantCode(t, "no capacity", err, "InsufficientInstanceCapacity")
	e.cloud.Faults.OverQuota(1)
	_, err = e.api.RunInstances(ctxFor(t), &ec2.RunInstancesInput{ImageId: aws.String(e.image), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	wantCode(t, "over quota", err, "InstanceLimitExceeded")
}

func TestRunInstancesAnswer(t *testing.T) {
	e := newEnv(t, Options{})
	ud := "#!/bin/sh\necho été\n"
	out := e.run(t, 3, func(in *ec2.RunInstancesInput) {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(ud)))
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(30)}}}
		in.TagSpecifications = []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("web")}, {Key: aws.String("team"), Value: aws.String("qa")}}},
			{ResourceType: types.ResourceTypeVolume, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("qa")}}},
		}
	})
	if !validID("r", aws.ToString(out.ReservationId)) || aws.ToString(out.OwnerId) != DefaultAccountID || len(out.Instances) != 3 {
		t.Fatalf("reservation %q of %q with %d instances", aws.ToString(out.ReservationId), aws.ToString(out.OwnerId), len(out.Instances))
	}
	for i, inst := range out.Instances {
		id := aws.ToString(inst.InstanceId)
		if !validID("i", id) || len(id) != 19 {
			t.Errorf("instance id %q is not shaped like EC2's", id)
		}
		if aws.ToInt32(inst.AmiLaunchIndex) != int32(i) || inst.State.Name != types.InstanceStateNamePending || aws.ToInt32(inst.State.Code) != 0 {
			t.Errorf("instance %d: launch index %d, state %v", i, aws.ToInt32(inst.AmiLaunchIndex), inst.State)
		}
		if inst.InstanceType != "t3.micro" || aws.ToString(inst.SubnetId) != defaultSubnet || aws.ToString(inst.VpcId) != defaultVPC ||
			len(inst.SecurityGroups) != 1 || aws.ToString(inst.SecurityGroups[0].GroupName) != "default" {
			t.Errorf("instance %d: type %s, subnet %s, vpc %s, groups %v", i, inst.InstanceType, aws.ToString(inst.SubnetId), aws.ToString(inst.VpcId), inst.SecurityGroups)
		}
		if aws.ToString(inst.RootDeviceName) != "/dev/xvda" || len(inst.BlockDeviceMappings) != 1 || !validID("vol", aws.ToString(inst.BlockDeviceMappings[0].Ebs.VolumeId)) {
			t.Errorf("instance %d: root %s, block devices %v", i, aws.ToString(inst.RootDeviceName), inst.BlockDeviceMappings)
		}
		if inst.LaunchTime == nil || time.Since(*inst.LaunchTime) > time.Minute {
			t.Errorf("instance %d: launch time %v", i, inst.LaunchTime)
		}
		m, _ := e.cloud.Machine(id)
		if string(m.UserData) != ud || m.DiskGB != 30 || m.Name != "web" || m.Labels["team"] != "qa" || m.CPU != 2 || m.RAMMB != 1024 {
			t.Errorf("the fake's machine: user-data %q, disk %d, name %q, labels %v, %d CPU %d MB", m.UserData, m.DiskGB, m.Name, m.Labels, m.CPU, m.RAMMB)
		}
	}
}

func TestClientToken(t *testing.T) {
	e := newEnv(t, Options{})
	withToken := func(tok string, typ types.InstanceType) func(*ec2.RunInstancesInput) {
		return func(in *ec2.RunInstancesInput) {
			in.ClientToken, in.InstanceType = aws.String(tok), typ
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance,
				Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}}}
		}
	}
	first := e.run(t, 2, withToken("token-1", "t3.micro"))
	// The same request again, tags in another order: the same answer.
	again := e.run(t, 2, withToken("token-1", "t3.micro"), func(in *ec2.RunInstancesInput) {
		slices.Reverse(in.TagSpecifications[0].Tags)
	})
	if aws.ToString(again.ReservationId) != aws.ToString(first.ReservationId) || aws.ToString(again.Instances[1].InstanceId) != aws.ToString(first.Instances[1].InstanceId) {
		t.Errorf("a repeated token answered reservation %s, first %s", aws.ToString(again.ReservationId), aws.ToString(first.ReservationId))
	}
	if aws.ToString(again.Instances[0].ClientToken) != "token-1" {
		t.Errorf("the instance's client token is %q", aws.ToString(again.Instances[0].ClientToken))
	}
	if n := len(e.cloud.Machines(nil)); n != 2 {
		t.Errorf("%d machines after a repeated token, want 2", n)
	}
	_, err := e.api.RunInstances(ctxFor(t), &ec2.RunInstancesInput{ImageId: aws.String(e.image), InstanceType: "t3.small",
		MinCount: aws.Int32(2), MaxCount: aws.Int32(2), ClientToken: aws.String("token-1")})
	wantCode(t, "the token with other parameters", err, "IdempotentParameterMismatch")

	// After termination the token answers the terminated instances.
	for _, inst := range first.Instances {
		e.cloud.Terminate(aws.ToString(inst.InstanceId))
		e.waitState(t, aws.ToString(inst.InstanceId), fakecloud.Terminated)
	}
	dead := e.run(t, 2, withToken("token-1", "t3.micro"))
	if dead.Instances[0].State.Name != types.InstanceStateNameTerminated {
		t.Errorf("a token of terminated instances answers them %s", dead.Instances[0].State.Name)
	}
	if n := len(e.cloud.Machines(nil)); n != 2 {
		t.Errorf("%d machines, want the 2 terminated ones", n)
	}
}

func TestDescribeInstances(t *testing.T) {
	e := newEnv(t, Options{PageLimit: 5})
	tag := func(k, v string) func(*ec2.RunInstancesInput) {
		return func(in *ec2.RunInstancesInput) {
			in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String(k), Value: aws.String(v)}}}}
		}
	}
	a := e.run(t, 4, tag("Name", "web-a"))
	e.run(t, 5, tag("Name", "web-b"))
	c := e.run(t, 3, tag("role", "db"))
	e.cloud.Terminate(aws.ToString(c.Instances[0].InstanceId))

	count := func(filters ...types.Filter) int {
		t.Helper()
		n := 0
		pages := ec2.NewDescribeInstancesPaginator(e.api, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)})
		seen := map[string]bool{}
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctxFor(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Reservations {
				for _, inst := range r.Instances {
					if seen[aws.ToString(inst.InstanceId)] {
						t.Errorf("instance %s on two pages", aws.ToString(inst.InstanceId))
					}
					seen[aws.ToString(inst.InstanceId)] = true
					n++
				}
			}
		}
		return n
	}
	filter := func(name string, values ...string) types.Filter {
		return types.Filter{Name: aws.String(name), Values: values}
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    int
	}{
		{"all, in pages of 5", nil, 12},
		{"tag", []types.Filter{filter("tag:Name", "web-a")}, 4},
		{"tag wildcard", []types.Filter{filter("tag:Name", "web-*")}, 9},
		{"tag-key", []types.Filter{filter("tag-key", "role")}, 3},
		{"state", []types.Filter{filter("tag-key", "role"), filter("instance-state-name", "pending", "running")}, 2},
		{"instance-id", []types.Filter{filter("instance-id", aws.ToString(a.Instances[0].InstanceId))}, 1},
		{"image-id", []types.Filter{filter("image-id", e.image)}, 12},
		{"nothing", []types.Filter{filter("tag:Name", "web-c")}, 0},
	}
	for _, tc := range tests {
		if got := count(tc.filters...); got != tc.want {
			t.Errorf("%s: %d instances, want %d", tc.name, got, tc.want)
		}
	}
	if n := e.cloud.Calls("DescribeInstances"); n < 3+len(tests) {
		t.Errorf("only %d DescribeInstances calls: the answers were not paged", n)
	}

	id := aws.ToString(a.Instances[1].InstanceId)
	out, err := e.api.DescribeInstances(ctxFor(t), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) != 1 || aws.ToString(out.Reservations[0].Instances[0].InstanceId) != id {
		t.Errorf("by id: %v, %+v", err, out)
	}
	_, err = e.api.DescribeInstances(ctxFor(t), &ec2.DescribeInstancesInput{InstanceIds: []string{id, "i-00000000000000000"}})
	wantCode(t, "an unknown id", err, "InvalidInstanceID.NotFound")
	_, err = e.api.DescribeInstances(ctxFor(t), &ec2.DescribeInstancesInput{InstanceIds: []string{"web-1"}})
	wantCode(t, "a malformed id", err, "InvalidInstanceID.Malformed")
	_, err = e.api.DescribeInstances(ctxFor(t), &ec2.DescribeInstancesInput{InstanceIds: []string{id}, MaxResults: aws.Int32(5)})
	wantCode(t, "ids and MaxResults", err, "InvalidParameterCombination")
}

func TestInstanceLifeCycle(t *testing.T) {
	e := newEnv(t, Options{})
	e.cloud.Faults.StuckPending(1)
	stuck := aws.ToString(e.run(t, 1).Instances[0].InstanceId)
	_, err := e.api.StopInstances(ctxFor(t), &ec2.StopInstancesInput{InstanceIds: []string{stuck}})
	wantCode(t, "stopping a pending instance", err, "IncorrectInstanceState")

	id := aws.ToString(e.run(t, 1, func(in *ec2.RunInstancesInput) {
		in.NetworkInterfaces = []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), AssociatePublicIpAddress: aws.Bool(true)}}
	}).Instances[0].InstanceId)
	e.waitState(t, id, fakecloud.Running)
	describe := func() types.Instance {
		t.Helper()
		out, err := e.api.DescribeInstances(ctxFor(t), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Reservations[0].Instances[0]
	}
	inst := describe()
	if inst.State.Name != types.InstanceStateNameRunning || aws.ToString(inst.PublicIpAddress) == "" ||
		!strings.HasPrefix(aws.ToString(inst.PrivateDnsName), "ip-") || inst.StateReason != nil {
		t.Errorf("a running instance: state %s, public %q, private name %q, reason %v", inst.State.Name,
			aws.ToString(inst.PublicIpAddress), aws.ToString(inst.PrivateDnsName), inst.StateReason)
	}
	stop, err := e.api.StopInstances(ctxFor(t), &ec2.StopInstancesInput{InstanceIds: []string{id}})
	if err != nil || stop.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning {
		t.Fatalf("StopInstances: %v %+v", err, stop)
	}
	e.waitState(t, id, fakecloud.Stopped)
	inst = describe()
	if inst.State.Name != types.InstanceStateNameStopped || aws.ToInt32(inst.State.Code) != 80 || aws.ToString(inst.PublicIpAddress) != "" ||
		aws.ToString(inst.StateReason.Code) != "Client.UserInitiatedShutdown" {
		t.Errorf("a stopped instance: state %v, public %q, reason %v", inst.State, aws.ToString(inst.PublicIpAddress), inst.StateReason)
	}
	start, err := e.api.StartInstances(ctxFor(t), &ec2.StartInstancesInput{InstanceIds: []string{id}})
	if err != nil || start.StartingInstances[0].CurrentState.Name != types.InstanceStateNamePending {
		t.Fatalf("StartInstances: %v %+v", err, start)
	}
	e.waitState(t, id, fakecloud.Running)
	term, err := e.api.TerminateInstances(ctxFor(t), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil || term.TerminatingInstances[0].CurrentState.Name != types.InstanceStateNameShuttingDown || aws.ToInt32(term.TerminatingInstances[0].CurrentState.Code) != 32 {
		t.Fatalf("TerminateInstances: %v %+v", err, term)
	}
	_, err = e.api.TerminateInstances(ctxFor(t), &ec2.TerminateInstancesInput{InstanceIds: []string{"i-00000000000000000"}})
	wantCode(t, "terminating an unknown instance", err, "InvalidInstanceID.NotFound")
	_, err = e.api.StartInstances(ctxFor(t), &ec2.StartInstancesInput{InstanceIds: []string{id}})
	wantCode(t, "starting a terminated instance", err, "IncorrectInstanceState")
}

func TestFailedMachineShowsStopped(t *testing.T) {
	e := newEnv(t, Options{})
	e.cloud.Faults.DieAfterBoot(1, time.Millisecond)
	id := aws.ToString(e.run(t, 1).Instances[0].InstanceId)
	e.waitState(t, id, fakecloud.Failed)
	out, err := e.api.DescribeInstances(ctxFor(t), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Reservations[0].Instances[0]
	if inst.State.Name != types.InstanceStateNameStopped || aws.ToString(inst.StateReason.Code) != "Server.InternalError" ||
		!strings.HasPrefix(aws.ToString(inst.StateReason.Message), "Server.InternalError: ") {
		t.Errorf("a failed machine shows as %s, reason %+v", inst.State.Name, inst.StateReason)
	}
}

package ec2fake

import (
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func TestCreateAndDeleteTags(t *testing.T) {
	e := newEnv(t, Options{})
	inst := aws.ToString(e.run(t, 1).Instances[0].InstanceId)
	tags := func(kv ...string) []types.Tag {
		var out []types.Tag
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return out
	}
	if _, err := e.api.CreateTags(ctxFor(t), &ec2.CreateTagsInput{Resources: []string{inst, e.image}, Tags: tags("team", "qa", "tier", "web")}); err != nil {
		t.Fatal(err)
	}
	m, _ := e.cloud.Machine(inst)
	if m.Labels["team"] != "qa" || m.Labels["tier"] != "web" {
		t.Errorf("the instance's tags: %v", m.Labels)
	}
	imgs, _ := e.api.DescribeImages(ctxFor(t), &ec2.DescribeImagesInput{Filters: []types.Filter{{Name: aws.String("tag:tier"), Values: []string{"web"}}}})
	if len(imgs.Images) != 1 {
		t.Errorf("the image was not tagged: %+v", imgs.Images)
	}
	// A key with another value is kept; without a value it goes.
	if _, err := e.api.DeleteTags(ctxFor(t), &ec2.DeleteTagsInput{Resources: []string{inst},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ops")}, {Key: aws.String("tier")}}}); err != nil {
		t.Fatal(err)
	}
	m, _ = e.cloud.Machine(inst)
	if m.Labels["team"] != "qa" || m.Labels["tier"] != "" {
		t.Errorf("after DeleteTags: %v", m.Labels)
	}
	_, err := e.api.CreateTags(ctxFor(t), &ec2.CreateTagsInput{Resources: []string{inst, "i-00000000000000000"}, Tags: tags("x", "y")})
	wantCode(t, "an unknown instance", err, "InvalidInstanceID.NotFound")
	if m, _ = e.cloud.Machine(inst); m.Labels["x"] != "" {
		t.Errorf("a refused CreateTags tagged the known instance")
	}
	_, err = e.api.CreateTags(ctxFor(t), &ec2.CreateTagsInput{Resources: []string{"bucket-1"}, Tags: tags("x", "y")})
	wantCode(t, "an id of no known kind", err, "InvalidID")
	// The SDK checks this one itself: ask on the wire.
	status, body := e.raw(t, url.Values{"Action": {"CreateTags"}, "Version": {"2016-11-15"}, "ResourceId.1": {inst}})
	if code, _, _ := errorOf(t, body); status != 400 || code != "MissingParameter" {
		t.Errorf("no tags: %d %s", status, code)
	}
}

func TestDescribeInstanceTypes(t *testing.T) {
	e := newEnv(t, Options{})
	var all []types.InstanceTypeInfo
	pages := ec2.NewDescribeInstanceTypesPaginator(e.api, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(10)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctxFor(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.InstanceTypes) > 10 {
			t.Errorf("a page of %d, asked for 10", len(out.InstanceTypes))
		}
		all = append(all, out.InstanceTypes...)
	}
	if len(all) != len(instanceTypes) {
		t.Errorf("%d types over the pages, want %d", len(all), len(instanceTypes))
	}
	byName := map[types.InstanceType]types.InstanceTypeInfo{}
	for _, it := range all {
		byName[it.InstanceType] = it
	}
	for name, want := range map[types.InstanceType][2]int64{"t3.micro": {2, 1024}, "m5.xlarge": {4, 16384}, "c5.9xlarge": {36, 73728}, "r5.large": {2, 16384}} {
		it := byName[name]
		if it.VCpuInfo == nil || int64(aws.ToInt32(it.VCpuInfo.DefaultVCpus)) != want[0] || aws.ToInt64(it.MemoryInfo.SizeInMiB) != want[1] {
			t.Errorf("%s: %+v %+v, want %d vCPU %d MiB", name, it.VCpuInfo, it.MemoryInfo, want[0], want[1])
		}
	}
	x86, err := e.api.DescribeInstanceTypes(ctxFor(t), &ec2.DescribeInstanceTypesInput{
		Filters: []types.Filter{{Name: aws.String("processor-info.supported-architecture"), Values: []string{"x86_64"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range x86.InstanceTypes {
		if it.ProcessorInfo.SupportedArchitectures[len(it.ProcessorInfo.SupportedArchitectures)-1] != types.ArchitectureTypeX8664 {
			t.Errorf("%s is not x86_64: %v", it.InstanceType, it.ProcessorInfo.SupportedArchitectures)
		}
	}
	if len(x86.InstanceTypes) != len(instanceTypes)-4 {
		t.Errorf("%d x86_64 types, want all but the 4 arm64 ones", len(x86.InstanceTypes))
	}
	_, err = e.api.DescribeInstanceTypes(ctxFor(t), &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"t3.gigantic"}})
	wantCode(t, "an unknown type", err, "InvalidInstanceType")
}

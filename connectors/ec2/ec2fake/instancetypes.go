package ec2fake

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// instanceType is one of the fake's instance types, with AWS's real
// vCPU count and memory.
type instanceType struct {
	Name          string
	VCPUs         int
	MemMiB        int
	Arch          string // "x86_64" or "arm64"
	CurrentGen    bool
	ClockGHz      string
	ThreadsPerCor int
}

// instanceTypes are a realistic slice of EC2's offer: the general-purpose
// burstable t3 family, m5, c5 and r5, a few Graviton (arm64) types that a
// connector must not pick for an x86 image, and m1.small, RunInstances'
// default when no type is given. Sorted by name.
var instanceTypes = func() []instanceType {
	x86 := func(name string, vcpus, mib int, ghz string) instanceType {
		return instanceType{Name: name, VCPUs: vcpus, MemMiB: mib, Arch: "x86_64", CurrentGen: true, ClockGHz: ghz, ThreadsPerCor: 2}
	}
	arm := func(name string, vcpus, mib int) instanceType {
		return instanceType{Name: name, VCPUs: vcpus, MemMiB: mib, Arch: "arm64", CurrentGen: true, ClockGHz: "2.5", ThreadsPerCor: 1}
	}
	types := []instanceType{
		x86("t3.nano", 2, 512, "2.5"), x86("t3.micro", 2, 1024, "2.5"), x86("t3.small", 2, 2048, "2.5"),
		x86("t3.medium", 2, 4096, "2.5"), x86("t3.large", 2, 8192, "2.5"), x86("t3.xlarge", 4, 16384, "2.5"),
		x86("t3.2xlarge", 8, 32768, "2.5"),
		x86("m5.large", 2, 8192, "3.1"), x86("m5.xlarge", 4, 16384, "3.1"), x86("m5.2xlarge", 8, 32768, "3.1"),
		x86("m5.4xlarge", 16, 65536, "3.1"), x86("m5.8xlarge", 32, 131072, "3.1"), x86("m5.12xlarge", 48, 196608, "3.1"),
		x86("m5.16xlarge", 64, 262144, "3.1"), x86("m5.24xlarge", 96, 393216, "3.1"),
		x86("c5.large", 2, 4096, "3.4"), x86("c5.xlarge", 4, 8192, "3.4"), x86("c5.2xlarge", 8, 16384, "3.4"),
		x86("c5.4xlarge", 16, 32768, "3.4"), x86("c5.9xlarge", 36, 73728, "3.4"), x86("c5.12xlarge", 48, 98304, "3.6"),
		x86("c5.18xlarge", 72, 147456, "3.4"), x86("c5.24xlarge", 96, 196608, "3.6"),
		x86("r5.large", 2, 16384, "3.1"), x86("r5.xlarge", 4, 32768, "3.1"), x86("r5.2xlarge", 8, 65536, "3.1"),
		x86("r5.4xlarge", 16, 131072, "3.1"), x86("r5.8xlarge", 32, 262144, "3.1"), x86("r5.12xlarge", 48, 393216, "3.1"),
		x86("r5.16xlarge", 64, 524288, "3.1"), x86("r5.24xlarge", 96, 786432, "3.1"),
		arm("t4g.nano", 2, 512), arm("t4g.micro", 2, 1024), arm("t4g.small", 2, 2048), arm("a1.large", 2, 4096),
		{Name: "m1.small", VCPUs: 1, MemMiB: 1740, Arch: "x86_64", ClockGHz: "", ThreadsPerCor: 1},
	}
	slices.SortFunc(types, func(a, b instanceType) int { return strings.Compare(a.Name, b.Name) })
	return types
}()

// defaultInstanceType is what RunInstances starts without InstanceType.
const defaultInstanceType = "m1.small"

func lookupInstanceType(name string) (instanceType, bool) {
	i, ok := slices.BinarySearchFunc(instanceTypes, name, func(t instanceType, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return instanceType{}, false
	}
	return instanceTypes[i], true
}

type instanceTypeXML struct {
	InstanceType      string   `xml:"instanceType"`
	CurrentGeneration bool     `xml:"currentGeneration"`
	FreeTierEligible  bool     `xml:"freeTierEligible"`
	SupportedUsage    []string `xml:"supportedUsageClasses>item"`
	SupportedRootDevs []string `xml:"supportedRootDeviceTypes>item"`
	SupportedVirt     []string `xml:"supportedVirtualizationTypes>item"`
	BareMetal         bool     `xml:"bareMetal"`
	Hypervisor        string   `xml:"hypervisor"`
	ProcessorInfo     struct {
		SupportedArchitectures []string `xml:"supportedArchitectures>item"`
		ClockSpeedGHz          string   `xml:"sustainedClockSpeedInGhz,omitempty"`
	} `xml:"processorInfo"`
	VCPUInfo struct {
		DefaultVCPUs          int `xml:"defaultVCpus"`
		DefaultCores          int `xml:"defaultCores"`
		DefaultThreadsPerCore int `xml:"defaultThreadsPerCore"`
	} `xml:"vCpuInfo"`
	MemoryInfo struct {
		SizeInMiB int `xml:"sizeInMiB"`
	} `xml:"memoryInfo"`
	InstanceStorageSupported bool `xml:"instanceStorageSupported"`
	EbsInfo                  struct {
		EbsOptimizedSupport string `xml:"ebsOptimizedSupport"`
		EncryptionSupport   string `xml:"encryptionSupport"`
	} `xml:"ebsInfo"`
}

func (t instanceType) xml() instanceTypeXML {
	var x instanceTypeXML
	x.InstanceType, x.CurrentGeneration = t.Name, t.CurrentGen
	x.FreeTierEligible = t.Name == "t3.micro"
	x.SupportedUsage = []string{"on-demand", "spot"}
	x.SupportedRootDevs = []string{"ebs"}
	x.SupportedVirt = []string{"hvm"}
	x.Hypervisor = "nitro"
	if !t.CurrentGen {
		x.Hypervisor = "xen"
		x.SupportedRootDevs = []string{"ebs", "instance-store"}
		x.SupportedVirt = []string{"hvm", "paravirtual"}
	}
	x.ProcessorInfo.SupportedArchitectures = []string{t.Arch}
	if t.Arch == "x86_64" && !t.CurrentGen {
		x.ProcessorInfo.SupportedArchitectures = []string{"i386", "x86_64"}
	}
	x.ProcessorInfo.ClockSpeedGHz = t.ClockGHz
	x.VCPUInfo.DefaultVCPUs = t.VCPUs
	x.VCPUInfo.DefaultThreadsPerCore = t.ThreadsPerCor
	x.VCPUInfo.DefaultCores = max(t.VCPUs/max(t.ThreadsPerCor, 1), 1)
	x.MemoryInfo.SizeInMiB = t.MemMiB
	x.EbsInfo.EbsOptimizedSupport, x.EbsInfo.EncryptionSupport = "default", "supported"
	return x
}

// field answers DescribeInstanceTypes' filters.
func (t instanceType) field(name string) []string {
	switch name {
	case "instance-type":
		return []string{t.Name}
	case "current-generation":
		return []string{strconv.FormatBool(t.CurrentGen)}
	case "processor-info.supported-architecture":
		return t.xml().ProcessorInfo.SupportedArchitectures
	case "vcpu-info.default-vcpus":
		return []string{strconv.Itoa(t.VCPUs)}
	case "memory-info.size-in-mib":
		return []string{strconv.Itoa(t.MemMiB)}
	case "free-tier-eligible":
		return []string{strconv.FormatBool(t.Name == "t3.micro")}
	}
	return nil
}

var describeInstanceTypesAction = action{
	params: []string{"Filter", "IncludeUnsupportedInRegion", "InstanceType", "MaxResults", "NextToken"},
	run: func(s *Server, _ context.Context, p params) (response, *apiError) {
		names, e := p.strings("InstanceType")
		if e != nil {
			return nil, e
		}
		filters, e := parseFilters(p, func(n string) bool { return instanceTypes[0].field(n) != nil })
		if e != nil {
			return nil, e
		}
		max, after, e := pageParams(p, "DescribeInstanceTypes", 5, 100)
		if e != nil {
			return nil, e
		}
		var unknown []string
		for _, n := range names {
			if _, ok := lookupInstanceType(n); !ok {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			return nil, errorf(http.StatusBadRequest, "InvalidInstanceType", "The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", "))
		}
		var match []instanceType
		for _, t := range instanceTypes {
			if (len(names) == 0 || slices.Contains(names, t.Name)) && matchAll(filters, t.field) {
				match = append(match, t)
			}
		}
		// EC2 pages DescribeInstanceTypes at 100 whatever is asked.
		got, next := page(match, func(t instanceType) string { return t.Name }, "DescribeInstanceTypes", after, max, min(s.opts.PageLimit, 100))
		out := &describeInstanceTypesResponse{NextToken: next}
		for _, t := range got {
			out.Types = append(out.Types, t.xml())
		}
		return out, nil
	},
}

type describeInstanceTypesResponse struct {
	Types     []instanceTypeXML `xml:"instanceTypeSet>item"`
	NextToken string            `xml:"nextToken,omitempty"`
}

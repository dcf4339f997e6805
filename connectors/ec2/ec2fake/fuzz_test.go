package ec2fake

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// fuzzImage is the AMI every fuzzed request may start machines from.
const fuzzImage = "ami-0123456789abcdef0"

// FuzzQuery sends arbitrary actions and form bodies, correctly signed, to
// a fresh fake: it must never panic, and must always answer a well-formed
// XML document, EC2's answer or EC2's error.
func FuzzQuery(f *testing.F) {
	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))
	key := url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(edKey)))
	seeds := [][2]string{
		{"DescribeInstances", ""},
		{"DescribeInstances", "Filter.1.Name=tag:Name&Filter.1.Value.1=web-*&Filter.2.Name=instance-state-name&Filter.2.Value.1=running&MaxResults=5"},
		{"DescribeInstances", "InstanceId.1=i-0123456789abcdef0&InstanceId.2=i-12345678"},
		{"DescribeInstances", "NextToken=RGVzY3JpYmVJbnN0YW5jZXMAMDAwMDAwMDAwMDAwMDAwMDAwMDAvaS0w&MaxResults=1000"},
		{"RunInstances", "ImageId=" + fuzzImage + "&MinCount=1&MaxCount=2&InstanceType=t3.micro&UserData=" + url.QueryEscape(ud) +
			"&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web&ClientToken=tok"},
		{"RunInstances", "ImageId=" + fuzzImage + "&MinCount=1&MaxCount=1&NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.AssociatePublicIpAddress=true" +
			"&NetworkInterface.1.SecurityGroupId.1=sg-12345678&BlockDeviceMapping.1.DeviceName=/dev/xvda&BlockDeviceMapping.1.Ebs.VolumeSize=20"},
		{"RunInstances", "ImageId=ami-x&MinCount=0&MaxCount=-1&UserData=%%%"},
		{"TerminateInstances", "InstanceId.1=i-0123456789abcdef0"},
		{"StopInstances", "InstanceId.0=i-1"},
		{"StartInstances", "InstanceId.1=i-ffffffffffffffff0"},
		{"DescribeInstanceTypes", "InstanceType.1=t3.micro&Filter.1.Name=processor-info.supported-architecture&Filter.1.Value.1=x86_64"},
		{"ImportKeyPair", "KeyName=k&PublicKeyMaterial=" + key},
		{"ImportKeyPair", "KeyName=k&PublicKeyMaterial=c3NoLXJzYSBBQUFB"},
		{"DescribeKeyPairs", "KeyName.1=k&IncludePublicKey=true"},
		{"DeleteKeyPair", "KeyPairId=key-0123456789abcdef0"},
		{"CreateTags", "ResourceId.1=" + fuzzImage + "&Tag.1.Key=a&Tag.1.Value=b"},
		{"DeleteTags", "ResourceId.1=snap-0123456789abcdef0"},
		{"DescribeImages", "Owner.1=self&Filter.1.Name=name&Filter.1.Value.1=*"},
		{"CreateImage", "InstanceId=i-0123456789abcdef0&Name=img&NoReboot=true&TagSpecification.1.ResourceType=image&TagSpecification.1.Tag.1.Key=k"},
		{"DeregisterImage", "ImageId=" + fuzzImage + "&DeleteAssociatedSnapshots=true"},
		{"DeleteSnapshot", "SnapshotId=snap-0123456789abcdef0"},
		{"DescribeSnapshots", "Owner.1=self&MaxResults=5"},
		{"LaunchRockets", "Filter.99999999999999999999.Name=x"},
		{"", "Action=RunInstances&Action=DescribeInstances"},
		{"DescribeInstances", "DryRun=true"},
		{"DescribeInstances", "Filter.1.Value.1=\xff\xfe&Filter.1.Name=tag:\x00"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	layers := f.TempDir()
	f.Fuzz(func(t *testing.T, action, body string) {
		cloud, err := NewCloud(fakecloud.Options{LayerDir: layers})
		if err != nil {
			t.Fatal(err)
		}
		defer cloud.Close()
		srv := New(cloud, Options{Region: testRegion})
		if _, err := srv.AddImage(BaseImage{ID: fuzzImage, Name: "base"}); err != nil {
			t.Fatal(err)
		}
		form := "Action=" + url.QueryEscape(action) + "&Version=2016-11-15"
		if body != "" {
			form += "&" + body
		}
		req := signedRequest(t, "http://ec2.fake/", form, DefaultAccessKey, DefaultSecretKey, testRegion, time.Now())
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		checkAnswer(t, rec.Code, rec.Body.Bytes())
	})
}

// checkAnswer fails unless the answer is a whole XML document: EC2's
// answer to an action (200) or its error document.
func checkAnswer(t *testing.T, status int, body []byte) {
	t.Helper()
	if status < 200 || status > 599 {
		t.Fatalf("status %d", status)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	var root xml.StartElement
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("status %d: the answer is not well-formed XML: %v\n%s", status, err, body)
		}
		if se, ok := tok.(xml.StartElement); ok && root.Name.Local == "" {
			root = se
		}
	}
	switch {
	case status == 200:
		if !strings.HasSuffix(root.Name.Local, "Response") || root.Name.Space != Namespace {
			t.Fatalf("an answer's root is %v", root.Name)
		}
	default:
		var doc errorBody
		if err := xml.Unmarshal(body, &doc); err != nil || root.Name.Local != "Response" || len(doc.Errors) != 1 || doc.Errors[0].Code == "" || doc.RequestID == "" {
			t.Fatalf("status %d without EC2's error document: %s", status, body)
		}
	}
}

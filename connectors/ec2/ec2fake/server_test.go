package ec2fake

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var describeForm = url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}}.Encode()

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{AccessKey: "AKIDTESTTESTTEST", SecretKey: "right-secret"})
	target := e.ts.URL + "/"
	now := time.Now()
	tests := []struct {
		name       string
		req        *http.Request
		status     int
		code       string
		forgotAuth bool
	}{
		{"signed right", signedRequest(t, target, describeForm, "AKIDTESTTESTTEST", "right-secret", testRegion, now), 200, "", false},
		{"no signature", signedRequest(t, target, describeForm, "AKIDTESTTESTTEST", "right-secret", testRegion, now), 401, "MissingAuthenticationToken", true},
		{"unknown access key", signedRequest(t, target, describeForm, "AKIDSOMEONEELSE", "right-secret", testRegion, now), 401, "AuthFailure", false},
		{"wrong secret", signedRequest(t, target, describeForm, "AKIDTESTTESTTEST", "wrong-secret", testRegion, now), 403, "SignatureDoesNotMatch", false},
		{"other region", signedRequest(t, target, describeForm, "AKIDTESTTESTTEST", "right-secret", "us-west-2", now), 401, "AuthFailure", false},
		{"an hour old", signedRequest(t, target, describeForm, "AKIDTESTTESTTEST", "right-secret", testRegion, now.Add(-time.Hour)), 400, "RequestExpired", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.forgotAuth {
				tc.req.Header.Del("Authorization")
			}
			status, body := e.do(t, tc.req)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code != "" {
				if code, _, _ := errorOf(t, body); code != tc.code {
					t.Errorf("code %s, want %s", code, tc.code)
				}
			}
		})
	}
	t.Run("body changed after signing", func(t *testing.T) {
		req := signedRequest(t, target, describeForm, "AKIDTESTTESTTEST", "right-secret", testRegion, now)
		tampered := describeForm + "&MaxResults=5"
		req.Body, req.ContentLength = readCloser(tampered), int64(len(tampered))
		status, body := e.do(t, req)
		if code, _, _ := errorOf(t, body); status != 403 || code != "SignatureDoesNotMatch" {
			t.Errorf("status %d, code %s, want 403 SignatureDoesNotMatch", status, code)
		}
	})
	t.Run("parameters in the query string", func(t *testing.T) {
		// EC2 also takes GET-style requests with the parameters in the
		// query: the canonical query string must match the signer's.
		q := url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "Filter.1.Name": {"tag:a b"}, "Filter.1.Value.1": {"x/y+z"}}
		req := signedRequest(t, target+"?"+q.Encode(), "", "AKIDTESTTESTTEST", "right-secret", testRegion, now)
		if status, body := e.do(t, req); status != 200 {
			t.Errorf("status %d: %s", status, body)
		}
	})
}

func readCloser(s string) *stringBody { return &stringBody{strings.NewReader(s)} }

type stringBody struct{ *strings.Reader }

func (stringBody) Close() error { return nil }

func TestErrorDocument(t *testing.T) {
	e := newEnv(t, Options{})
	status, body := e.raw(t, url.Values{"Action": {"LaunchRockets"}, "Version": {"2016-11-15"}})
	if status != 400 {
		t.Errorf("status %d, want 400", status)
	}
	code, msg, reqID := errorOf(t, body)
	if code != "InvalidAction" || !strings.Contains(msg, "LaunchRockets") || reqID == "" {
		t.Errorf("code %q, message %q, request id %q", code, msg, reqID)
	}
	if !strings.HasPrefix(body, "<?xml") || !strings.Contains(body, "<Response><Errors><Error><Code>InvalidAction</Code>") {
		t.Errorf("the error is not shaped as EC2's: %s", body)
	}
}

func TestRequestChecks(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no action", url.Values{"Version": {"2016-11-15"}}, 400, "MissingAction"},
		{"no version", url.Values{"Action": {"DescribeInstances"}}, 400, "MissingParameter"},
		{"unknown parameter", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "InstanceIds.1": {"i-12345678"}}, 400, "UnknownParameter"},
		{"bad list index", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "InstanceId.x": {"i-12345678"}}, 400, "InvalidParameter"},
		{"dry run", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "DryRun": {"true"}}, 412, "DryRunOperation"},
		{"bad boolean", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "DryRun": {"yes"}}, 400, "InvalidParameterValue"},
		{"max results out of range", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "MaxResults": {"2"}}, 400, "InvalidParameterValue"},
		{"forged next token", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "NextToken": {"bm9wZQ"}}, 400, "InvalidPaginationToken"},
		{"unknown filter", url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "Filter.1.Name": {"colour"}, "Filter.1.Value.1": {"red"}}, 400, "InvalidParameterValue"},
		{"run without counts", url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}, "ImageId": {e.image}}, 400, "MissingParameter"},
		{"user-data not base64", url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}, "ImageId": {e.image}, "MinCount": {"1"}, "MaxCount": {"1"}, "UserData": {"#!/bin/sh"}}, 400, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.raw(t, tc.form)
			code, _, _ := errorOf(t, body)
			if status != tc.status || code != tc.code {
				t.Errorf("status %d, code %s; want %d %s", status, code, tc.status, tc.code)
			}
		})
	}
}

func TestAnswerDocument(t *testing.T) {
	e := newEnv(t, Options{})
	e.run(t, 1)
	status, body := e.raw(t, url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}})
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var doc struct {
		XMLName   xml.Name
		RequestID string `xml:"requestId"`
		Items     []struct {
			ReservationID string `xml:"reservationId"`
			Instances     []struct {
				ID    string `xml:"instanceId"`
				State struct {
					Code int    `xml:"code"`
					Name string `xml:"name"`
				} `xml:"instanceState"`
			} `xml:"instancesSet>item"`
		} `xml:"reservationSet>item"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Local != "DescribeInstancesResponse" || doc.XMLName.Space != Namespace || doc.RequestID == "" {
		t.Errorf("root %v, request id %q", doc.XMLName, doc.RequestID)
	}
	if len(doc.Items) != 1 || len(doc.Items[0].Instances) != 1 || !validID("r", doc.Items[0].ReservationID) || !validID("i", doc.Items[0].Instances[0].ID) {
		t.Errorf("reservations %+v", doc.Items)
	}
}

func TestThrottledAndUnavailable(t *testing.T) {
	e := newEnv(t, Options{})
	e.cloud.Faults.Throttle(1)
	status, body := e.raw(t, url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}})
	if code, _, _ := errorOf(t, body); status != 503 || code != "RequestLimitExceeded" {
		t.Errorf("throttled: %d %s", status, code)
	}
	e.cloud.Faults.Unavailable(1)
	status, body = e.raw(t, url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}})
	if code, _, _ := errorOf(t, body); status != 503 || code != "Unavailable" {
		t.Errorf("unavailable: %d %s", status, code)
	}
	if n := e.cloud.Calls("DescribeInstances"); n != 2 {
		t.Errorf("the cloud counted %d DescribeInstances calls, want 2", n)
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"web-*", "web-1", true}, {"web-*", "db-1", false}, {"*", "", true}, {"?", "", false},
		{"w?b", "web", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},
		{`a\*`, "a*", true}, {`a\*`, "ab", false}, {`\?`, "?", true}, {"é*", "été", true},
		{strings.Repeat("*a", 30), strings.Repeat("a", 29) + "b", false},
	}
	for _, tc := range tests {
		if got := wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

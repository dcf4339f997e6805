package ec2fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

const testRegion = "eu-west-1"

// env is a fake EC2 on a loopback server, with the real SDK pointed at it
// and one base image.
type env struct {
	cloud *fakecloud.Cloud
	srv   *Server
	ts    *httptest.Server
	api   *ec2.Client
	image string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	// Terminated instances stay visible for a while, as in EC2.
	cloud, err := NewCloud(fakecloud.Options{LayerDir: t.TempDir(), TerminatedRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	if opts.Region == "" {
		opts.Region = testRegion
	}
	srv := New(cloud, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	img, err := srv.AddImage(BaseImage{Name: "debian-12-amd64", VolumeGB: 8, LoginUser: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{cloud: cloud, srv: srv, ts: ts, api: sdkClient(ts.URL, srv.opts.AccessKey, srv.opts.SecretKey), image: img}
}

// sdkClient is the real SDK's EC2 client for the fake, without retries
// (a test sees every answer).
func sdkClient(url, accessKey, secretKey string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   readOnlyBodies{awshttp.NewBuildableClient()},
	})
}

// readOnlyBodies hides WriteTo of request bodies, as the connector does
// (see connectors/ec2/httpclient.go): the SDK's closed body fails
// WriteTo with io.EOF, and a server as fast as the fake makes Go's
// transport close the connection under the answer.
type readOnlyBodies struct{ ec2.HTTPClient }

func (c readOnlyBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.HTTPClient.Do(req)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// codeOf is the EC2 error code the SDK reports, or "".
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails unless err carries EC2's error code want.
func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := codeOf(err); got != want {
		t.Errorf("%s: error %v, want code %s", what, err, want)
	}
}

// signedRequest is a form POST signed as the SDK signs it.
func signedRequest(t testing.TB, target string, form string, accessKey, secretKey, region string, at time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(form))
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		req, hex.EncodeToString(sum[:]), "ec2", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// raw sends a signed form to the fake and returns the status and body.
func (e *env) raw(t *testing.T, form url.Values) (int, string) {
	t.Helper()
	return e.do(t, signedRequest(t, e.ts.URL+"/", form.Encode(), e.srv.opts.AccessKey, e.srv.opts.SecretKey, e.srv.opts.Region, time.Now()))
}

func (e *env) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	req.RequestURI = "" // httptest.NewRequest sets it for servers; a client must not
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// errorOf parses an EC2 error document.
func errorOf(t *testing.T, body string) (code, message, requestID string) {
	t.Helper()
	var doc errorBody
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("the error answer is not EC2's error XML: %v\n%s", err, body)
	}
	if len(doc.Errors) != 1 {
		t.Fatalf("the error answer has %d errors: %s", len(doc.Errors), body)
	}
	return doc.Errors[0].Code, doc.Errors[0].Message, doc.RequestID
}

// run starts n instances of the env's image with extra settings.
func (e *env) run(t *testing.T, n int32, edit ...func(*ec2.RunInstancesInput)) *ec2.RunInstancesOutput {
	t.Helper()
	in := &ec2.RunInstancesInput{ImageId: aws.String(e.image), InstanceType: "t3.micro", MinCount: aws.Int32(n), MaxCount: aws.Int32(n)}
	for _, f := range edit {
		f(in)
	}
	out, err := e.api.RunInstances(ctxFor(t), in)
	if err != nil {
		t.Fatalf("RunInstances: %v", err)
	}
	return out
}

// waitState waits until the fake's machine is in state.
func (e *env) waitState(t *testing.T, id string, state fakecloud.State) fakecloud.Machine {
	t.Helper()
	m, err := e.cloud.WaitMachine(ctxFor(t), id, func(m fakecloud.Machine) bool { return m.State == state })
	if err != nil {
		t.Fatalf("machine %s never became %s: %v", id, state, err)
	}
	return m
}

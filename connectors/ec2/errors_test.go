package ec2

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2/ec2fake"
)

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		code     string
		status   int
		notFound []string
		want     connectors.Kind
	}{
		{"RequestLimitExceeded", 503, nil, connectors.KindTransient},
		{"Throttling", 400, nil, connectors.KindTransient},
		{"ServiceUnavailable", 503, nil, connectors.KindTransient},
		{"InternalError", 500, nil, connectors.KindTransient},
		{"IncorrectInstanceState", 400, nil, connectors.KindTransient},
		{"SomethingNew", 502, nil, connectors.KindTransient},
		{"InsufficientInstanceCapacity", 500, nil, connectors.KindPermanent},
		{"InstanceLimitExceeded", 400, nil, connectors.KindPermanent},
		{"UnauthorizedOperation", 403, nil, connectors.KindPermanent},
		{"InvalidParameterValue", 400, nil, connectors.KindPermanent},
		{"InvalidAMIID.NotFound", 400, nil, connectors.KindPermanent},
		{"InvalidInstanceID.NotFound", 400, instanceNotFound, connectors.KindNotFound},
	}
	for _, tc := range tests {
		// The fake answers the code with the status, as EC2 would.
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			fmt.Fprintf(w, "<Response><Errors><Error><Code>%s</Code><Message>the message</Message></Error></Errors><RequestID>r-1</RequestID></Response>", tc.code)
		}))
		isolate(t)
		c, err := New(ctx(t), connectors.Settings{"region": testRegion, "endpoint": ts.URL, "access_key": testAccessKey, "secret_key": testSecretKey})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.(*Connector).api.DescribeInstances(ctx(t), nil)
		e := apiError(ctx(t), "DescribeInstances", err, tc.notFound...)
		ce, _ := e.(*connectors.Error)
		if ce == nil || ce.Kind != tc.want || ce.Code != tc.code || ce.Status != tc.status || ce.Message != "the message" || ce.Cloud != "ec2" || ce.Op != "DescribeInstances" {
			t.Errorf("%s %d: %#v, want kind %s", tc.code, tc.status, e, tc.want)
		}
		ts.Close()
	}
	if apiError(context.Background(), "X", nil) != nil {
		t.Error("apiError(nil) is not nil")
	}
}

func TestNoAnswer(t *testing.T) {
	f := newFixture(t, ec2fake.Options{}, nil)
	// Nobody listens at this address any more.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	f.url = gone.URL
	c := f.connect(t, connectors.Settings{"access_key": testAccessKey, "secret_key": testSecretKey})
	if _, err := c.Describe(ctx(t), "i-12345678"); !connectors.IsTransient(err) {
		t.Errorf("EC2 unreachable: %v, want a transient error", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.conn.Describe(cancelled, "i-12345678"); err == nil || connectors.IsTransient(err) {
		t.Errorf("a cancelled call: %v, want a permanent error", err)
	}
}

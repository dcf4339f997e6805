package openstack

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

func TestErrorBodiesOfEachService(t *testing.T) {
	cases := []struct {
		status        int
		body          string
		code, message string
		kind          connectors.Kind
	}{
		{404, `{"itemNotFound": {"code": 404, "message": "Instance x could not be found."}}`, "itemNotFound", "Instance x could not be found.", connectors.KindNotFound},
		{409, `{"conflictingRequest": {"code": 409, "message": "Cannot 'stop' instance x while it is in task_state spawning"}}`, "conflictingRequest", "Cannot 'stop' instance x while it is in task_state spawning", connectors.KindTransient},
		{403, `{"forbidden": {"code": 403, "message": "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"}}`, "forbidden", "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances", connectors.KindPermanent},
		{401, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`, "Unauthorized", "The request you have made requires authentication. (HTTP 401: the cloud refused the token)", connectors.KindPermanent},
		{404, `{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}`, "NetworkNotFound", "Network x could not be found.", connectors.KindNotFound},
		{409, `{"code": "409 Conflict", "title": "Conflict", "message": "Image x is in use<br /><br />"}`, "Conflict", "Image x is in use", connectors.KindTransient},
		{502, "<html>Bad Gateway</html>", "502 Bad Gateway", "<html>Bad Gateway</html>", connectors.KindTransient},
		{400, `{"badRequest": {"code": 400, "message": "Invalid key_name provided."}}`, "badRequest", "Invalid key_name provided.", connectors.KindPermanent},
	}
	for _, tc := range cases {
		raw := gophercloud.ErrUnexpectedResponseCode{Actual: tc.status, Body: []byte(tc.body), ResponseHeader: http.Header{}}
		err := apiError("GET /x", raw)
		var ce *connectors.Error
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Message != tc.message || ce.Kind != tc.kind || ce.Status != tc.status || ce.Cloud != "openstack" {
			t.Errorf("%d %s: %#v, want code %q, message %q, %s", tc.status, tc.body, ce, tc.code, tc.message, tc.kind)
		}
	}
	// After a re-authentication, the request's own error is the one.
	wrapped := &gophercloud.ErrErrorAfterReauthentication{ErrOriginal: gophercloud.ErrUnexpectedResponseCode{Actual: 503, Body: []byte("{}")}}
	if err := apiError("GET /x", wrapped); !connectors.IsTransient(err) {
		t.Errorf("a 503 after logging in again: %v, want transient", err)
	}
}

package cloudstack

import (
	"context"
	"encoding/json"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Job states of queryAsyncJobResult's jobstatus.
const (
	jobPending   = 0
	jobSucceeded = 1
	jobFailed    = 2
)

// await follows the asynchronous job of command op until it ends, and
// returns its jobresult. A failed job is a *connectors.Error with the
// job's errorcode and errortext; transient failures to ask are asked
// through until ctx ends.
func (c *Connector) await(ctx context.Context, op, jobID string) (json.RawMessage, error) {
	if jobID == "" {
		return nil, permanent(op, "MalformedAnswer", "%s answered no job id", op)
	}
	var result json.RawMessage
	var failed error
	err := connectors.WaitFor(ctx, c.poll, op+" job "+jobID, func(ctx context.Context) (bool, string, error) {
		var r *cloudstack.QueryAsyncJobResultResponse
		err := c.call(ctx, "queryAsyncJobResult", func(cs *cloudstack.CloudStackClient) error {
			var err error
			r, err = cs.Asyncjob.QueryAsyncJobResult(cs.Asyncjob.NewQueryAsyncJobResultParams(jobID))
			return err
		})
		if err != nil {
			return false, "", err
		}
		switch r.Jobstatus {
		case jobSucceeded:
			result = r.Jobresult
			return true, "", nil
		case jobFailed:
			// Done for good, whatever the failure's kind: a transient one
			// is for the caller to retry as a whole, not to ask again.
			code, text := jobFailure(r.Jobresult)
			failed = jobErr(op, jobID, code, text)
			return true, "", nil
		}
		return false, "pending", nil
	})
	if err != nil {
		return nil, err
	}
	return result, failed
}

// jobFailure reads a failed job's jobresult: {"errorcode": …,
// "errortext": …}, or a text.
func jobFailure(raw json.RawMessage) (int, string) {
	var e struct {
		ErrorCode int    `json:"errorcode"`
		ErrorText string `json:"errortext"`
	}
	if json.Unmarshal(raw, &e) == nil && (e.ErrorCode != 0 || e.ErrorText != "") {
		return e.ErrorCode, e.ErrorText
	}
	var text string
	if json.Unmarshal(raw, &text) == nil && text != "" {
		return codeInternalError, text
	}
	return codeInternalError, "the job failed without saying why: " + snippet(raw)
}

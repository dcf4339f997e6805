package cloudstackfake

import (
	"sort"
	"strings"
	"time"
)

// job is an asynchronous job: pending until it is at least JobDelay old
// and its check says its work is done, then succeeded or failed for good.
type job struct {
	id           string
	cmd          string // the command's class: "org.apache.cloudstack.api.command.user.vm.DeployVMCmd"
	instanceType string // "VirtualMachine", "Template", or ""
	instanceID   string
	created      time.Time

	// check tells, once the delay has passed, whether the work is done,
	// and with what result or failure; f.mu is held.
	check func() (done bool, result any, fail *csError)

	status    int // 0 pending, 1 succeeded, 2 failed
	completed time.Time
	result    any
	fail      *csError
}

// jobFailure is an injected job failure.
type jobFailure struct {
	code int
	text string
}

// jobClasses are the command classes jobs report, by command.
var jobClasses = map[string]string{
	"deployVirtualMachine":  "org.apache.cloudstack.api.command.user.vm.DeployVMCmd",
	"destroyVirtualMachine": "org.apache.cloudstack.api.command.user.vm.DestroyVMCmd",
	"stopVirtualMachine":    "org.apache.cloudstack.api.command.user.vm.StopVMCmd",
	"createTags":            "org.apache.cloudstack.api.command.user.tag.CreateTagsCmd",
	"createTemplate":        "org.apache.cloudstack.api.command.user.template.CreateTemplateCmd",
	"deleteTemplate":        "org.apache.cloudstack.api.command.user.template.DeleteTemplateCmd",
}

// injectedFailure takes the next injected failure of command; f.mu is
// held.
func (f *Fake) injectedFailure(command string) *csError {
	key := strings.ToLower(command)
	q := f.failJobs[key]
	if len(q) == 0 {
		return nil
	}
	f.failJobs[key] = q[1:]
	return &csError{code: q[0].code, text: q[0].text}
}

// startJob records a job of command on an instance; f.mu is held. A job
// with an injected failure does no work: check is not called.
func (f *Fake) startJob(command, instanceType, instanceID string, check func() (bool, any, *csError)) *job {
	j := &job{id: NewUUID(), cmd: jobClasses[command], instanceType: instanceType, instanceID: instanceID, created: time.Now(), check: check}
	f.jobs[j.id] = j
	f.known[j.id] = "job"
	return j
}

// settle brings the job up to date; f.mu is held.
func (f *Fake) settle(j *job) {
	if j.status != 0 || time.Since(j.created) < f.opts.JobDelay {
		return
	}
	done, result, fail := j.check()
	if !done {
		return
	}
	j.completed = time.Now()
	if fail != nil {
		j.status, j.fail = 2, fail
		return
	}
	j.status, j.result = 1, result
}

// jobJSON is AsyncJobResponse.
func (f *Fake) jobJSON(j *job) map[string]any {
	out := map[string]any{
		"jobid": j.id, "accountid": f.accountID, "account": accountName, "userid": f.userID, "domainid": f.domainID, "domainpath": "/",
		"cmd": j.cmd, "jobstatus": j.status, "jobprocstatus": 0, "jobresultcode": 0, "created": csTime(j.created),
	}
	if j.instanceType != "" {
		out["jobinstancetype"], out["jobinstanceid"] = j.instanceType, j.instanceID
	}
	switch j.status {
	case 1:
		out["jobresulttype"], out["jobresult"], out["completed"] = "object", j.result, csTime(j.completed)
	case 2:
		out["jobresulttype"], out["jobresultcode"], out["completed"] = "object", 530, csTime(j.completed)
		out["jobresult"] = map[string]any{"errorcode": j.fail.code, "errortext": j.fail.text}
	}
	return out
}

// queryAsyncJobResult: jobid (required).
func queryAsyncJobResult(f *Fake, c *call) (any, error) {
	id := c.params.first("jobid")
	if id == "" {
		return nil, errMissing(c.command, "jobid")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return nil, errNoEntity(c.command, "jobid", id)
	}
	f.settle(j)
	return f.jobJSON(j), nil
}

// listAsyncJobs: startdate (yyyy-MM-dd or yyyy-MM-dd HH:mm:ss), page,
// pagesize. Lists the account's jobs, newest first.
func listAsyncJobs(f *Fake, c *call) (any, error) {
	var since time.Time
	if s := c.params.first("startdate"); s != "" {
		t, err := parseDate(s)
		if err != nil {
			return nil, errParam("Unable to parse date %s for parameter startdate", s)
		}
		since = t
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var js []*job
	for _, j := range f.jobs {
		if !j.created.Before(since) {
			f.settle(j)
			js = append(js, j)
		}
	}
	sort.Slice(js, func(a, b int) bool {
		if !js[a].created.Equal(js[b].created) {
			return js[a].created.After(js[b].created)
		}
		return js[a].id < js[b].id
	})
	out := make([]map[string]any, len(js))
	for i, j := range js {
		out[i] = f.jobJSON(j)
	}
	return list("asyncjobs", out, c.params)
}

// parseDate reads a DATE parameter.
func parseDate(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02"} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// successJSON is SuccessResponse, the job result of createTags and
// deleteTemplate.
func successJSON() map[string]any { return map[string]any{"success": true} }

// asyncAnswer is the immediate answer of an asynchronous command: the
// job's id, and for the create commands the new object's id.
func asyncAnswer(j *job, id string) map[string]any {
	out := map[string]any{"jobid": j.id}
	if id != "" {
		out["id"] = id
	}
	return out
}

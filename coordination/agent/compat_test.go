package agent

import (
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// scaleHookVariables are the Provided variables only on_vm_add and
// on_vm_remove get (executing adds them); TestRun_scaleRunsHooks and
// TestSlipStreamScript_runsUnchanged in cmd/slipstream-agent check them.
var scaleHookVariables = map[string]bool{"SLIPSTREAM_SCALING_NODE": true, "SLIPSTREAM_SCALING_VMS": true, "SLIPSTREAM_SCALING_ACTION": true}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestEnvironment_slipstreamVariables: every script gets each variable
// SlipStreamVariables says is provided (but the scale hooks' own), with
// its meaning; none of those it says are not, even when the agent's own
// environment has them; and HOME, when the agent has none.
func TestEnvironment_slipstreamVariables(t *testing.T) {
	state := t.TempDir()
	r := &Runner{
		Config:   Config{ServiceURL: "https://coordinator.example:8443", Deployment: "shop", Cloud: "exoscale-ch-gva"},
		Instance: coordinator.Instance{Node: "web", Index: 2},
		StateDir: state,
		BinDir:   "/var/lib/slipstream/bin",
		// What a service's environment may hold: no HOME, and variables
		// a SlipStream machine had, which must not reach the scripts.
		Env: []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "SLIPSTREAM_API_KEY=key-from-somewhere", "SLIPSTREAM_USERNAME=alice"},
	}
	env := envMap(r.environment())
	want := map[string]string{
		"SLIPSTREAM_DIID":               "shop",
		"SLIPSTREAM_SERVICEURL":         "https://coordinator.example:8443",
		"SLIPSTREAM_NODE_INSTANCE_NAME": "web.2",
		"SLIPSTREAM_CLOUD":              "exoscale-ch-gva",
		"SLIPSTREAM_CONNECTOR_INSTANCE": "exoscale-ch-gva",
		"SLIPSTREAM_REPORT_DIR":         filepath.Join(state, "reports"),
	}
	for _, v := range SlipStreamVariables {
		got, set := env[v.Name]
		switch {
		case v.Provided && scaleHookVariables[v.Name]:
			if set {
				t.Errorf("%s is set outside the scale hooks: %q", v.Name, got)
			}
		case v.Provided:
			w, known := want[v.Name]
			if !known {
				t.Errorf("%s is provided, says SlipStreamVariables, but this test does not know its value: add it", v.Name)
			} else if got != w {
				t.Errorf("%s = %q, want %q", v.Name, got, w)
			}
		case set:
			t.Errorf("%s is set (%q), but SlipStreamVariables says it is not provided", v.Name, got)
		}
		if !v.Provided && v.Here == "" || v.SlipStream == "" {
			t.Errorf("%s: say what it was in SlipStream and why it is missing: %+v", v.Name, v)
		}
	}
	if env["PATH"] != "/var/lib/slipstream/bin:/usr/bin:/bin" || env["LANG"] != "C.UTF-8" {
		t.Errorf("PATH %q, LANG %q: the agent's environment is not passed on", env["PATH"], env["LANG"])
	}
	if u, err := user.Current(); err == nil && env["HOME"] != u.HomeDir {
		t.Errorf("HOME = %q, want the agent user's home %q", env["HOME"], u.HomeDir)
	}
	r.Env = append(r.Env, "HOME=/srv/home")
	if got := envMap(r.environment())["HOME"]; got != "/srv/home" {
		t.Errorf("HOME = %q, want the agent's own /srv/home", got)
	}
}

// TestMissing: the look-ups an importer uses name what is missing and
// nothing else.
func TestMissing(t *testing.T) {
	if v, ok := MissingVariable("SLIPSTREAM_API_KEY"); !ok || !strings.Contains(v.Here, "token") {
		t.Errorf("SLIPSTREAM_API_KEY: %+v %v", v, ok)
	}
	for _, name := range []string{"SLIPSTREAM_REPORT_DIR", "SLIPSTREAM_SCALING_VMS", "SLIPSTREAM_PHASE", "PATH"} {
		if v, ok := MissingVariable(name); ok {
			t.Errorf("%s reported missing: %+v", name, v)
		}
	}
	if c, ok := MissingCommand("ss-node-add"); !ok || !strings.Contains(c.Here, "multiplicity") {
		t.Errorf("ss-node-add: %+v %v", c, ok)
	}
	for _, name := range []string{"ss-get", "ss-cancel-abort", "ls"} {
		if c, ok := MissingCommand(name); ok {
			t.Errorf("%s reported missing: %+v", name, c)
		}
	}
	seen := map[string]bool{}
	for _, c := range SlipStreamCommands {
		if seen[c.Name] || !strings.HasPrefix(c.Name, "ss-") || !c.Provided && c.Here == "" {
			t.Errorf("command %+v: listed twice, misnamed, or missing without a reason", c)
		}
		seen[c.Name] = true
	}
}

// TestProgress_fresh: the report folder is emptied (Run) only for an
// instance that has done nothing yet on the machine; once a script ran to
// its end or a report was sent, what the scripts wrote there stays for the
// next report, as in SlipStream. TestSlipStreamScript_runsUnchanged in
// cmd/slipstream-agent sees a deploy script's file in the report.
func TestProgress_fresh(t *testing.T) {
	state := t.TempDir()
	done := "1"
	for _, p := range []*progress{
		{Phases: map[string]bool{"deploy/1": true}},
		{Deployed: true, Phases: map[string]bool{}},
		{Reported: &done, Phases: map[string]bool{}},
		{AbortReported: "disk full", Phases: map[string]bool{}},
	} {
		if p.fresh() {
			t.Errorf("%+v is fresh: the report folder would be emptied after work was done", p)
		}
	}
	p, _ := loadProgress(state, "shop", "web.1", "")
	if !p.fresh() {
		t.Fatal("a new instance's progress is not fresh")
	}
	p.Phases["pre_install/1"] = true
	if err := p.save(state); err != nil {
		t.Fatal(err)
	}
	if q, _ := loadProgress(state, "shop", "web.1", ""); q.fresh() {
		t.Error("the same instance, after a restart, is fresh again")
	}
	if q, _ := loadProgress(state, "other", "web.1", ""); !q.fresh() {
		t.Error("another deployment's instance on the machine is not fresh")
	}
}

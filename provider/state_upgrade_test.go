package provider

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/connectors/ec2"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
	"github.com/slipstream/terraform-provider-slipstream/connectors/fakeclouds"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// v0Attributes are the attributes each resource had in schema version 0
// (provider e4f5030, before issue 11), as its state held them. The test
// below checks them against the current schemas: what version 1 removed
// and added, and nothing else, so the state it writes is the one that
// version wrote. Attributes added since without a new version
// (store_sensitive: optional, and absent from a stored state it reads as
// null, its default) are listed as added too.
var v0Attributes = map[string]struct{ removed, added []string }{
	"slipstream_deployment":       {removed: []string{"tokens", "user_data", "ssh_bootstrap", "instances"}, added: []string{"multiplicities"}},
	"slipstream_ec2_instance":     {removed: []string{"bootstrap"}},
	"slipstream_deployment_ready": {added: []string{"multiplicities", "compact", "outputs_json", "sensitive_outputs_json", "store_sensitive"}},
}

// TestAccUpgrade_fromSchemaV0: state written by schema version 0 (a
// deployment holding every instance's token and bootstraps, an EC2 machine
// holding its user-data, a ready resource waiting for a list of instances)
// upgrades: a plan with the configuration slipc compiles now is empty, the
// applied state holds no token, and destroy removes the machine.
func TestAccUpgrade_fromSchemaV0(t *testing.T) {
	accPreCheck(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fakes := startFakes(t, &fakecloud.Instant{}, "", fakecloud.Options{BootDelay: time.Hour}, "ec2")
	coord := startTestCoordinator(t)
	t.Setenv(EnvCoordinatorURL, coord.URL)
	t.Setenv(EnvToken, testAdminToken)
	for k, v := range fakes["ec2"].Env {
		t.Setenv(k, v)
	}

	// The deployment as version 0 registered it: with tokens, and the
	// provider's description kept for imports.
	const id = "m-0a1b2c3d"
	m := deploymentModel{}
	cfg := ec2Deployment{Instances: 1, Extra: `instance_type = "t3.micro"`, ReadyTimeout: "2m"}
	meta := deploymentMeta{Name: "m", KeepRunning: "on-success",
		Components: map[string]componentMeta{"c": {Scripts: map[string][]string{"deploy": {"true"}}}},
		Nodes: map[string]nodeMeta{"n": {Cloud: ptr("aws"), Component: "c", Connector: ptr("ec2"), Multiplicity: 1,
			Inputs: nil, Mappings: nil}}}
	m.fromMeta(meta)
	spec, err := m.spec(id)
	if err != nil {
		t.Fatal(err)
	}
	admin := &client.Client{BaseURL: coord.URL, Deployment: id, Token: testAdminToken}
	tokens, err := admin.CreateDeployment(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	// Its machine, started with the user-data version 0 rendered.
	sums, err := (&Config{agents: &agentCache{}}).agentSums(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	userData, err := bootstrap.UserData(bootstrap.Config{ServiceURL: coord.URL, Deployment: id, Instance: "n.1", Token: tokens["n.1"], Cloud: "aws", AgentSHA256: sums})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ec2.New(ctx, connectors.Settings{"region": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	mspec := connectors.MachineSpec{Deployment: id, Instance: "n.1", Name: connectors.MachineName(id, "n.1"), ImageID: fakeclouds.ExampleImage("ec2"),
		UserData: userData, Type: "t3.micro", Labels: map[string]string{connectors.LabelDeployment: id, connectors.LabelInstance: "n.1"}}
	mspec.Labels[connectors.LabelSpec] = connectors.SpecHash(mspec)
	machine, err := conn.Create(ctx, mspec)
	if err != nil {
		t.Fatal(err)
	}
	// Its agent ran: the run is Ready, as the ready resource recorded.
	agents := newLocalAgents(t, coord.URL)
	agents.start(id, tokens)
	for run, _ := admin.Run(ctx); run == nil || run.State != coordinator.Ready; run, _ = admin.Run(ctx) {
		if ctx.Err() != nil {
			t.Fatal("the run did not become Ready")
		}
		time.Sleep(50 * time.Millisecond)
	}

	sshBootstrap, _ := bootstrap.Script(bootstrap.Config{ServiceURL: coord.URL, Deployment: id, Instance: "n.1", Token: tokens["n.1"], Cloud: "aws", AgentSHA256: sums, AgentPath: agentUploadPath(id, "n.1")})
	nodes := map[string]any{"n": map[string]any{"cloud": "aws", "component": "c", "connector": "ec2", "multiplicity": 1,
		"max_provisioning_failures": nil, "inputs": nil, "mappings": nil}}
	v0 := map[string]map[string]any{
		"slipstream_deployment": {
			"id": id, "name": "m", "keep_running": "on-success",
			"components": map[string]any{"c": map[string]any{"image": nil, "parameters": nil, "scripts": map[string]any{"deploy": []string{"true"}}}},
			"nodes":      nodes, "instances": []string{"n.1"}, "tokens": tokens,
			"user_data": map[string]string{"n.1": userData}, "ssh_bootstrap": map[string]string{"n.1": sshBootstrap},
			"state": "Ready", "abort": "", "timeouts": nil,
		},
		"slipstream_ec2_instance": {
			"id": machine.ID, "deployment_id": id, "node": "n", "index": 1, "bootstrap": userData, "image_id": fakeclouds.ExampleImage("ec2"),
			"cpu": nil, "ram": nil, "disk": nil, "name": mspec.Name, "state": "pending", "private_ip": machine.PrivateIP, "public_ip": machine.PublicIP,
			"wait_until_running": nil, "timeouts": nil,
		},
		"slipstream_deployment_ready": {
			"id": id, "deployment_id": id, "wait_for": nil, "instances": []string{"n.1"}, "state": "Ready",
			"parameters": map[string]string{}, "sensitive_parameters": map[string]string{},
			"outputs": map[string]any{}, "sensitive_outputs": map[string]any{}, "timeouts": map[string]any{"create": "2m"},
		},
	}
	// The EC2 settings as version 0 had them (the catalog's): all unset
	// but the type.
	ec2Conn, _ := catalog.Lookup("ec2")
	for _, set := range ec2Conn.Settings {
		if set.Scope == catalog.ScopeInstance {
			v0["slipstream_ec2_instance"][set.Name] = nil
		}
	}
	v0["slipstream_ec2_instance"]["instance_type"] = "t3.micro"
	checkV0Attributes(t, v0)
	dir := writeConfig(t, cfg.String())
	writeV0State(t, dir, v0)

	tf := newTFCLI(t, dir, fakes)
	out, code := tf.run(ctx, "plan", "-detailed-exitcode", "-no-color")
	if code != 0 {
		t.Fatalf("the plan after the upgrade is not empty (exit %d):\n%s", code, out)
	}
	tf.must("apply", "-auto-approve", "-no-color")
	raw, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), tokens["n.1"]) || strings.Contains(string(raw), `"user_data"`) {
		t.Error("the upgraded state still holds the instance's token or user-data")
	}
	var doc struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				SchemaVersion int `json:"schema_version"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Resources {
		for _, in := range r.Instances {
			if in.SchemaVersion != 1 {
				t.Errorf("%s is at schema version %d after the apply, want 1", r.Type, in.SchemaVersion)
			}
		}
	}
	st := tf.state()
	if got := st["slipstream_ec2_instance.n[0]"]["id"]; got != machine.ID {
		t.Errorf("the machine is %v after the upgrade, want %s (not replaced)", got, machine.ID)
	}
	tf.must("destroy", "-auto-approve", "-no-color")
	if live := fakes["ec2"].Cloud.Machines(fakecloud.Live); len(live) != 0 {
		t.Errorf("destroy left %d machines", len(live))
	}
}

func ptr(s string) *string { return &s }

// checkV0Attributes checks the version 0 states against the current
// schemas and v0Attributes.
func checkV0Attributes(t *testing.T, v0 map[string]map[string]any) {
	t.Helper()
	schemas := map[string]map[string]bool{}
	p := New("test")()
	for _, f := range p.Resources(context.Background()) {
		r := f()
		var meta fwresource.MetadataResponse
		r.Metadata(context.Background(), fwresource.MetadataRequest{ProviderTypeName: "slipstream"}, &meta)
		var s fwresource.SchemaResponse
		r.Schema(context.Background(), fwresource.SchemaRequest{}, &s)
		attrs := map[string]bool{}
		for name := range s.Schema.Attributes {
			attrs[name] = true
		}
		schemas[meta.TypeName] = attrs
	}
	for typ, diff := range v0Attributes {
		want := map[string]bool{}
		for name := range schemas[typ] {
			want[name] = true
		}
		for _, a := range diff.added {
			delete(want, a)
		}
		for _, a := range diff.removed {
			want[a] = true
		}
		for name := range want {
			if _, ok := v0[typ][name]; !ok {
				t.Errorf("the version 0 state of %s lacks %s", typ, name)
			}
		}
		for name := range v0[typ] {
			if !want[name] {
				t.Errorf("the version 0 state of %s has %s, which version 0 did not", typ, name)
			}
		}
	}
}

// writeV0State writes a terraform.tfstate (format 4) holding one instance
// of each resource at schema version 0, as Terraform 1.5 wrote it.
func writeV0State(t *testing.T, dir string, v0 map[string]map[string]any) {
	t.Helper()
	type instance struct {
		IndexKey      *int           `json:"index_key,omitempty"`
		SchemaVersion int            `json:"schema_version"`
		Attributes    map[string]any `json:"attributes"`
		Sensitive     []any          `json:"sensitive_attributes"`
		Dependencies  []string       `json:"dependencies,omitempty"`
	}
	type res struct {
		Mode      string     `json:"mode"`
		Type      string     `json:"type"`
		Name      string     `json:"name"`
		Provider  string     `json:"provider"`
		Instances []instance `json:"instances"`
	}
	zero := 0
	provider := `provider["registry.terraform.io/slipstream/slipstream"]`
	doc := map[string]any{
		"version": 4, "terraform_version": "1.5.7", "serial": 3, "lineage": "5b0c6a34-6e3f-4f1e-9a52-000000000011",
		"outputs": map[string]any{},
		"resources": []res{
			{Mode: "managed", Type: "slipstream_deployment", Name: "m", Provider: provider,
				Instances: []instance{{Attributes: v0["slipstream_deployment"], Sensitive: []any{}}}},
			{Mode: "managed", Type: "slipstream_deployment_ready", Name: "m", Provider: provider,
				Instances: []instance{{Attributes: v0["slipstream_deployment_ready"], Sensitive: []any{},
					Dependencies: []string{"slipstream_deployment.m", "slipstream_ec2_instance.n"}}}},
			{Mode: "managed", Type: "slipstream_ec2_instance", Name: "n", Provider: provider + `.aws`,
				Instances: []instance{{IndexKey: &zero, Attributes: v0["slipstream_ec2_instance"], Sensitive: []any{},
					Dependencies: []string{"slipstream_deployment.m"}}}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfstate"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

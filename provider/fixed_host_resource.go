package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fixed/sshconn"
	"github.com/slipstream/terraform-provider-slipstream/coordination/bootstrap"
)

var (
	_ resource.Resource                 = (*fixedHostResource)(nil)
	_ resource.ResourceWithConfigure    = (*fixedHostResource)(nil)
	_ resource.ResourceWithImportState  = (*fixedHostResource)(nil)
	_ resource.ResourceWithUpgradeState = (*fixedHostResource)(nil)
)

// NewFixedHostResource is slipstream_fixed_host: an existing machine
// adopted over SSH as one instance of a deployment's node.
func NewFixedHostResource() resource.Resource { return &fixedHostResource{} }

type fixedHostResource struct{ cfg *Config }

type fixedHostModel struct {
	ID                  types.String   `tfsdk:"id"`
	DeploymentID        types.String   `tfsdk:"deployment_id"`
	Node                types.String   `tfsdk:"node"`
	Index               types.Int64    `tfsdk:"index"`
	Host                types.String   `tfsdk:"host"`
	HostKey             types.String   `tfsdk:"host_key"`
	HostKeyFingerprint  types.String   `tfsdk:"host_key_fingerprint"`
	Arch                types.String   `tfsdk:"arch"`
	ProvisioningFailure types.String   `tfsdk:"provisioning_failure"`
	Timeouts            timeouts.Value `tfsdk:"timeouts"`
}

func (r *fixedHostResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_fixed_host"
}

func (r *fixedHostResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Version: 1,
		MarkdownDescription: "An existing machine adopted over SSH as one instance of a deployment's node (SlipStream's Physical/Fixed connector). " +
			"Creating it uploads the agent (fetched from the coordinator, checksum verified), runs the instance's SSH bootstrap as root and returns; " +
			"the provider renders that script with a one-time bootstrap token the coordinator issues for this host, and keeps neither in the state; " +
			"the agent then runs the node's scripts. Reading it detects a host that is unreachable (a warning) or was reinstalled (its host key changed, " +
			"or the agent is gone: the resource is planned again). Deleting it stops the agent and removes what it installed.\n\n" +
			"A host runs the agent of one instance of one deployment: the bootstrap records the owner in `/etc/slipstream/owner`. Adopting a host that " +
			"another deployment, or another instance, owns is refused with an error naming the owner, and nothing on the host changes; free it by destroying " +
			"that deployment, or, if it no longer exists, with `slipstream-agent uninstall` run as root on the host. Adopting a host again as the same " +
			"instance (a re-apply, or after its state was lost) is allowed. A failed create removes only what it installed, on a host that was free; a failed " +
			"update leaves the running agent as it was; a destroy leaves a host that meanwhile belongs to another deployment alone (with a warning).\n\n" +
			"SSH settings (user, port, keys, `known_hosts`, bastion) come from the provider's `fixed` block; keys may also come from the SSH agent " +
			"(`SSH_AUTH_SOCK`). The host's key must be pinned, by the provider's `known_hosts` or this resource's `host_key`: a host presenting another key is refused.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "`<deployment_id>/<node>.<index>/<host>`, the import id.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"deployment_id": schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "The `id` of the `slipstream_deployment`."},
			"node":          schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "The node this host is an instance of."},
			"index": schema.Int64Attribute{
				Required: true, MarkdownDescription: "The instance number, from 1 (`count.index + 1`).",
				Validators:    []validator.Int64{int64validator.AtLeast(1)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"host": schema.StringAttribute{Required: true, PlanModifiers: replace, MarkdownDescription: "The host's address, `host` or `host:port`."},
			"host_key": schema.StringAttribute{
				Optional: true, PlanModifiers: replace,
				MarkdownDescription: "The host's SSH key, pinned: a public key (`ssh-ed25519 AAAA…`) or its fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints). Optional when the provider's `known_hosts` covers the host.",
			},
			"host_key_fingerprint": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The fingerprint of the key the host presented when adopted; a different key later means the host was reinstalled.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"arch": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The host's architecture as the agent was chosen for it (`amd64`, `arm64`).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"provisioning_failure": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Why the host could not be adopted, when its node tolerates failed machines (the recipe's `max_provisioning_failures`): " +
					"the create then succeeds with a warning and the run goes on without this instance, as SlipStream's did. Empty for an adopted host. " +
					"With no tolerance left (the default is none) a failed adoption is an error and the next apply tries again.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *fixedHostResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.cfg = configure(req.ProviderData, &resp.Diagnostics)
}

// setting reads one of the provider's fixed settings as a string.
func (c *Config) setting(name string) string {
	if c == nil || c.Connector != "fixed" {
		return ""
	}
	switch v := c.Settings[name].(type) {
	case types.String:
		return v.ValueString()
	case types.Number:
		if v.IsNull() || v.IsUnknown() {
			return ""
		}
		f, _ := v.ValueBigFloat().Int(new(big.Int))
		return f.String()
	}
	return ""
}

// target is how to reach host: the provider's SSH settings, the pinned
// keys, and the bastion.
func (r *fixedHostResource) target(host, hostKey string, diags *diag.Diagnostics) *sshconn.Target {
	if r.cfg == nil {
		diags.AddError("Provider not configured", "The slipstream provider was not configured before this resource was used. This is a bug in the provider; please report it.")
		return nil
	}
	if r.cfg.Connector != "" && r.cfg.Connector != "fixed" {
		diags.AddError("Wrong provider configuration",
			fmt.Sprintf("slipstream_fixed_host needs a provider configuration with a `fixed` block; this one configures %q. Set `provider = slipstream.<alias>` to the fixed cloud's alias.", r.cfg.Connector))
		return nil
	}
	t := &sshconn.Target{
		Host: host, User: r.cfg.setting("user"), PrivateKey: r.cfg.setting("private_key"),
		KnownHosts: r.cfg.setting("known_hosts"), HostKey: hostKey, UseAgent: os.Getenv("SSH_AUTH_SOCK") != "",
	}
	if p := r.cfg.setting("port"); p != "" {
		t.Port, _ = strconv.Atoi(p)
	}
	if f := r.cfg.setting("private_key_file"); f != "" && t.PrivateKey == "" {
		b, err := os.ReadFile(f) // #nosec G304 -- the provider configuration's fixed.private_key_file, the operator's own key
		if err != nil {
			diags.AddAttributeError(path.Root("host"), "Cannot read the SSH key", fmt.Sprintf("The provider's fixed.private_key_file: %v", err))
			return nil
		}
		t.PrivateKey = string(b)
	}
	if b := r.cfg.setting("bastion_host"); b != "" {
		bastion := *t
		bastion.Host, bastion.HostKey, bastion.Bastion = b, "", nil
		if u := r.cfg.setting("bastion_user"); u != "" {
			bastion.User = u
		}
		t.Bastion = &bastion
	}
	return t
}

// sshDiag turns an SSH failure into a diagnostic on the host attribute.
func sshDiag(diags *diag.Diagnostics, action string, err error) {
	var (
		unreachable *sshconn.UnreachableError
		mismatch    *sshconn.HostKeyMismatchError
		unknown     *sshconn.HostKeyUnknownError
		auth        *sshconn.AuthError
	)
	summary := "Cannot " + action
	switch {
	case errors.As(err, &unreachable):
		summary = "Host unreachable"
	case errors.As(err, &mismatch):
		summary = "Host key mismatch"
	case errors.As(err, &unknown):
		summary = "Host key not pinned"
	case errors.As(err, &auth):
		summary = "SSH authentication failed"
	}
	diags.AddAttributeError(path.Root("host"), summary, fmt.Sprintf("While trying to %s: %v", action, err))
}

func (r *fixedHostResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m fixedHostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Create(ctx, 20*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	m.ID = types.StringValue(fmt.Sprintf("%s/%s.%d/%s", m.DeploymentID.ValueString(), m.Node.ValueString(), m.Index.ValueInt64(), m.Host.ValueString()))
	m.ProvisioningFailure = types.StringValue("")
	var installDiags diag.Diagnostics
	var failure string
	if !r.install(ctx, &m, true, &installDiags, &failure) {
		if failure == "" || !r.tolerate(ctx, &m, failure, installDiags, &resp.Diagnostics) {
			resp.Diagnostics.Append(installDiags...)
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// tolerate reports a machine that could not be adopted to the coordinator
// when its node tolerates failed machines (max_provisioning_failures, as
// SlipStream had it). Within the tolerance the run goes on without the
// instance: the create's errors become warnings and the resource is kept,
// marked failed, so the apply succeeds. Beyond it the coordinator aborts
// the run and the create fails. A node with no tolerance (the default) is
// not reported at all: the apply fails and the next one tries the host
// again, which is what a Terraform user expects of a host that was down
// for a moment (SlipStream aborted the run instead).
func (r *fixedHostResource) tolerate(ctx context.Context, m *fixedHostModel, failure string, installDiags diag.Diagnostics, diags *diag.Diagnostics) bool {
	cl := r.cfg.coordinator(m.DeploymentID.ValueString(), diags)
	if cl == nil {
		return false
	}
	node := m.Node.ValueString()
	run, err := cl.Run(ctx)
	if err != nil || run.Deployment.Nodes[node] == nil || run.Deployment.Nodes[node].MaxProvisioningFailures == 0 {
		return false
	}
	instance := fmt.Sprintf("%s.%d", node, m.Index.ValueInt64())
	tolerated, err := cl.InstanceFailed(ctx, instance, fmt.Sprintf("host %s: %s", m.Host.ValueString(), failure))
	if err != nil {
		diags.AddError("Cannot report the failed host", fmt.Sprintf("Telling the coordinator that %s could not be adopted: %v", instance, err))
		return false
	}
	if !tolerated {
		diags.AddError("Too many failed machines: the run is aborted",
			fmt.Sprintf("Node %s tolerates %d machines that could not be started, and %s on %s is one too many, so the coordinator aborted the run. "+
				"Fix the hosts and apply again: the aborted run is then replaced (or, with keep_running, ended with `terraform apply -replace=slipstream_deployment.<name>`).",
				node, run.Deployment.Nodes[node].MaxProvisioningFailures, instance, m.Host.ValueString()))
		return false
	}
	for _, d := range installDiags {
		if d.Severity() == diag.SeverityError {
			diags.AddWarning(d.Summary()+" (tolerated)", d.Detail())
		} else {
			diags.Append(d)
		}
	}
	diags.AddAttributeWarning(path.Root("provisioning_failure"), "Instance left out of the run",
		fmt.Sprintf("%s could not be adopted on %s, and node %s tolerates up to %d such machines (max_provisioning_failures), so the run goes on without it. "+
			"It stays in the state marked failed; it rejoins when the node is scaled down past it and up again, or when the deployment is replaced.",
			instance, m.Host.ValueString(), node, run.Deployment.Nodes[node].MaxProvisioningFailures))
	m.ProvisioningFailure = types.StringValue(failure)
	if m.HostKeyFingerprint.IsUnknown() {
		m.HostKeyFingerprint = types.StringNull()
	}
	if m.Arch.IsUnknown() {
		m.Arch = types.StringNull()
	}
	return true
}

// install uploads the agent and runs the bootstrap, after checking that the
// host is free or already this instance's: a host that another deployment
// (or another instance) owns is refused, never taken over. When a create's
// bootstrap fails on a host that was free, what it installed is removed
// again, so the host is either adopted (and in the state) or left as it
// was; the removal is the guarded uninstall, which leaves a host someone
// else claimed in the meantime alone. A failed re-run (an update, or a
// create on a host already this instance's) removes nothing: the agent
// installed before keeps running.
//
// failure, when not nil, is set to what went wrong when the machine itself
// failed (unreachable, no supported architecture, the upload or the
// bootstrap failed), as opposed to a configuration or coordinator error:
// only such a failure can be tolerated (see tolerate).
func (r *fixedHostResource) install(ctx context.Context, m *fixedHostModel, creating bool, diags *diag.Diagnostics, failure *string) bool {
	failed := func(err error) {
		if failure != nil {
			*failure = err.Error()
		}
	}
	t := r.target(m.Host.ValueString(), m.HostKey.ValueString(), diags)
	if t == nil {
		return false
	}
	if fp := m.HostKeyFingerprint.ValueString(); fp != "" && t.HostKey == "" && t.KnownHosts == "" {
		t.HostKey = fp
	}
	cl := r.cfg.coordinator(m.DeploymentID.ValueString(), diags)
	if cl == nil {
		return false
	}
	// How long each step took goes into the "host adopted" log line.
	start, steps := time.Now(), map[string]any{}
	step := func(name string) {
		steps[name+"_ms"] = time.Since(start).Milliseconds()
		start = time.Now()
	}
	conn, err := sshconn.Dial(ctx, *t)
	if err != nil {
		sshDiag(diags, "adopt host "+m.Host.ValueString(), err)
		failed(err)
		return false
	}
	defer conn.Close()
	step("ssh_dial")
	instance := fmt.Sprintf("%s.%d", m.Node.ValueString(), m.Index.ValueInt64())
	wasOurs, free := r.checkOwner(ctx, conn, m, instance, diags)
	if !free {
		return false
	}
	step("owner_check")
	// Every install runs with a token of its own: a host started afresh
	// for the instance (reinstalled, a replaced resource) cannot use one
	// an earlier machine exchanged, and a re-run on a host that is already
	// this instance's makes its agent exchange again.
	script, err := r.cfg.machineBootstrap(ctx, cl, sshBootstrap, m.Node.ValueString(), instance)
	if err == nil {
		script, err = r.cfg.issueToken(ctx, cl, instance, script)
	}
	if err != nil {
		diags.AddError("Cannot prepare the bootstrap", fmt.Sprintf("The SSH bootstrap of %s of deployment %s: %v", instance, m.DeploymentID.ValueString(), err))
		return false
	}
	script = r.cfg.withTestHook(m.DeploymentID.ValueString(), instance, script)
	arch, hasGzip, err := remoteArch(ctx, conn)
	if err != nil {
		diags.AddAttributeError(path.Root("host"), "Unsupported host", err.Error())
		failed(err)
		return false
	}
	step("uname")
	get, send := r.cfg.agentBinary, conn.Upload
	if hasGzip {
		get, send = r.cfg.agentBinaryGzip, conn.UploadGzip
	}
	agentBin, err := get(ctx, cl, arch)
	if err != nil {
		diags.AddError("Cannot get the agent", fmt.Sprintf("Fetching the agent for linux/%s from %s: %v", arch, r.cfg.CoordinatorURL, err))
		return false
	}
	step("agent_fetch")
	tflog.Info(ctx, "uploading the agent", map[string]any{"host": m.Host.ValueString(), "arch": arch, "bytes": len(agentBin), "gzip": hasGzip})
	upload := agentUploadPath(m.DeploymentID.ValueString(), fmt.Sprintf("%s.%d", m.Node.ValueString(), m.Index.ValueInt64()))
	if err := send(ctx, upload, 0o700, bytes.NewReader(agentBin)); err != nil {
		removeUpload(conn, upload)
		sshDiag(diags, "upload the agent to "+m.Host.ValueString(), err)
		failed(err)
		return false
	}
	step("upload")
	// One session: the bootstrap, then the upload removed whatever it did.
	res, err := conn.RunRoot(ctx, "(\n"+script+"\n)\nstatus=$?\nrm -f "+shellQuote(upload)+"\nexit $status\n")
	if err == nil && res.ExitCode == bootstrap.ExitOwnedByOther && strings.Contains(string(res.Stderr), "refusing to install") {
		// Another deployment claimed the host since the check above.
		r.checkOwner(ctx, conn, m, instance, diags)
		if !diags.HasError() {
			diags.AddAttributeError(path.Root("host"), "Host belongs to another deployment", fmt.Sprintf("On %s: %s", m.Host.ValueString(), tail(res.Stderr, 2000)))
		}
		return false
	}
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("the bootstrap exited with status %d:\n%s", res.ExitCode, tail(res.Stderr, 2000))
	}
	if err != nil {
		removeUpload(conn, upload) // the session may have ended before its own rm
		undone := "The agent installed before on the host is left as it was."
		if creating && !wasOurs {
			// Leave the host as it was: nothing half-installed outside
			// the state. Guarded: only if the host is still this
			// instance's or nobody's.
			undone = "What this bootstrap installed was removed again."
			un, uerr := bootstrap.UninstallScript(bootstrap.Config{Deployment: m.DeploymentID.ValueString(), Instance: instance})
			if uerr == nil {
				var ures *sshconn.Result
				ures, uerr = conn.RunRoot(context.Background(), un)
				if uerr == nil && ures.ExitCode != 0 {
					uerr = fmt.Errorf("the uninstall script exited with status %d: %s", ures.ExitCode, tail(ures.Stderr, 500))
				}
			}
			if uerr != nil {
				undone = fmt.Sprintf("Removing what it installed failed too: %v", uerr)
			}
		}
		diags.AddAttributeError(path.Root("host"), "Bootstrap failed", fmt.Sprintf("Installing the agent on %s as %s: %v\n\n%s", m.Host.ValueString(), instance, err, undone))
		failed(err)
		return false
	}
	step("bootstrap")
	m.HostKeyFingerprint = types.StringValue(sshconn.Fingerprint(conn.HostKey()))
	m.Arch = types.StringValue(arch)
	steps["host"], steps["instance"] = m.Host.ValueString(), fmt.Sprintf("%s.%d", m.Node.ValueString(), m.Index.ValueInt64())
	tflog.Info(ctx, "host adopted", steps)
	return true
}

// checkOwner asks the host who owns it. free is false, with a diagnostic,
// when it belongs to another deployment or to another instance (one host
// runs one agent); wasOurs is true when it is already this instance's (a
// re-run, or a host adopted again after its state was lost).
func (r *fixedHostResource) checkOwner(ctx context.Context, conn *sshconn.Conn, m *fixedHostModel, instance string, diags *diag.Diagnostics) (wasOurs, free bool) {
	script, err := bootstrap.OwnerScript(bootstrap.Config{})
	if err != nil {
		diags.AddError("Cannot render the owner check", err.Error())
		return false, false
	}
	res, err := conn.RunRoot(ctx, script)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("the check exited with status %d: %s", res.ExitCode, tail(res.Stderr, 500))
	}
	if err != nil {
		sshDiag(diags, "check who owns "+m.Host.ValueString(), err)
		return false, false
	}
	dep, inst, owned := bootstrap.ParseOwner(string(res.Stdout))
	me := m.DeploymentID.ValueString()
	switch {
	case !owned:
		return false, true
	case dep == me && inst == instance:
		return true, true
	}
	summary, what := "Host belongs to another deployment", fmt.Sprintf("instance %s of deployment %s", inst, dep)
	if dep == me {
		summary = "Host belongs to another instance"
	}
	diags.AddAttributeError(path.Root("host"), summary, fmt.Sprintf(
		"Host %s already runs the SlipStream agent of %s, so it cannot be adopted as instance %s of deployment %s: "+
			"a host runs one agent, and taking it over would break that deployment.\n\n"+
			"Use another host, or free this one: destroy deployment %s (terraform destroy, or remove its slipstream_fixed_host for %s, in the configuration that created it); "+
			"if that deployment no longer exists, remove its agent on the host as root with `slipstream-agent uninstall`. Nothing was changed on the host.",
		m.Host.ValueString(), what, instance, me, dep, inst))
	return false, false
}

// remoteArchCmd asks the host for its system and machine, and whether it
// has gzip, in one session. It is one line for the login shell, which may
// be csh or fish: only ";" and single quotes, and sh for the test.
const remoteArchCmd = `uname -sm; sh -c 'command -v gzip >/dev/null 2>&1 && echo gzip || true'`

// remoteArch maps the host's `uname -sm` to a Go architecture, and reports
// whether the host can decompress a gzip upload.
func remoteArch(ctx context.Context, conn *sshconn.Conn) (arch string, hasGzip bool, err error) {
	res, err := conn.Run(ctx, remoteArchCmd, nil)
	if err != nil {
		return "", false, err
	}
	return parseRemoteArch(res.Stdout, res.ExitCode)
}

// parseRemoteArch reads what remoteArchCmd printed.
func parseRemoteArch(stdout []byte, exitCode int) (arch string, hasGzip bool, err error) {
	fields := strings.Fields(string(stdout))
	if exitCode != 0 || len(fields) < 2 || len(fields) > 3 || len(fields) == 3 && fields[2] != "gzip" {
		return "", false, fmt.Errorf("`uname -sm` on the host printed %q (exit %d); the agent runs on Linux", stdout, exitCode)
	}
	if fields[0] != "Linux" {
		return "", false, fmt.Errorf("the host runs %s; the agent runs on Linux", fields[0])
	}
	hasGzip = len(fields) == 3
	switch fields[1] {
	case "x86_64", "amd64":
		return "amd64", hasGzip, nil
	case "aarch64", "arm64":
		return "arm64", hasGzip, nil
	}
	return "", false, fmt.Errorf("the host is a %s machine; agents exist for x86_64 (amd64) and aarch64 (arm64)", fields[1])
}

func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

func (r *fixedHostResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m fixedHostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.ProvisioningFailure.ValueString() != "" {
		return // left out of the run: nothing on the host to check
	}
	t := r.target(m.Host.ValueString(), m.HostKey.ValueString(), &resp.Diagnostics)
	if t == nil {
		return
	}
	recorded := m.HostKeyFingerprint.ValueString()
	if t.HostKey == "" && t.KnownHosts == "" && recorded != "" {
		t.HostKey = recorded
	}
	conn, err := sshconn.Dial(ctx, *t)
	var unreachable *sshconn.UnreachableError
	var mismatch *sshconn.HostKeyMismatchError
	switch {
	case errors.As(err, &unreachable):
		resp.Diagnostics.AddAttributeWarning(path.Root("host"), "Host unreachable",
			fmt.Sprintf("%v\n\nThe host stays in the state as it was; if it is gone for good, remove it from the configuration or with `terraform state rm`.", err))
		return
	case errors.As(err, &mismatch):
		resp.Diagnostics.AddAttributeWarning(path.Root("host"), "Host reinstalled",
			fmt.Sprintf("%v\n\nThe host is treated as a new machine: the next apply adopts it again (pin its new key first).", err))
		resp.State.RemoveResource(ctx)
		return
	case err != nil:
		sshDiag(&resp.Diagnostics, "check host "+m.Host.ValueString(), err)
		return
	}
	defer conn.Close()
	if fp := sshconn.Fingerprint(conn.HostKey()); recorded != "" && fp != recorded {
		resp.Diagnostics.AddAttributeWarning(path.Root("host"), "Host reinstalled",
			fmt.Sprintf("Host %s now presents key %s, not %s as when it was adopted: the next apply adopts it again.", m.Host.ValueString(), fp, recorded))
		resp.State.RemoveResource(ctx)
		return
	}
	instance := fmt.Sprintf("%s.%d", m.Node.ValueString(), m.Index.ValueInt64())
	check := fmt.Sprintf(`f=/etc/slipstream/agent.json; [ -x /usr/local/bin/slipstream-agent ] && grep -q %s "$f" && grep -q %s "$f"`,
		shellQuote(`"deployment":"`+m.DeploymentID.ValueString()+`"`), shellQuote(`"instance":"`+instance+`"`))
	res, err := conn.RunRoot(ctx, check)
	if err != nil {
		sshDiag(&resp.Diagnostics, "check the agent on "+m.Host.ValueString(), err)
		return
	}
	if res.ExitCode != 0 {
		resp.Diagnostics.AddAttributeWarning(path.Root("host"), "Agent gone",
			fmt.Sprintf("The agent for %s of deployment %s is no longer installed on %s; the next apply installs it again.", instance, m.DeploymentID.ValueString(), m.Host.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	if m.ProvisioningFailure.IsNull() { // imported, or adopted by an older provider
		m.ProvisioningFailure = types.StringValue("")
	}
	if m.HostKeyFingerprint.IsNull() {
		m.HostKeyFingerprint = types.StringValue(sshconn.Fingerprint(conn.HostKey()))
	}
	if m.Arch.IsNull() {
		if arch, _, err := remoteArch(ctx, conn); err == nil {
			m.Arch = types.StringValue(arch)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Update records what changes in place (the timeouts): every other
// attribute replaces the host's adoption.
func (r *fixedHostResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state fixedHostModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID, plan.HostKeyFingerprint, plan.Arch = state.ID, state.HostKeyFingerprint, state.Arch
	plan.ProvisioningFailure = state.ProvisioningFailure
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// UpgradeState upgrades state from schema version 0, which held the SSH
// bootstrap the host was adopted with (see state_upgrade.go).
func (r *fixedHostResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return jsonStateUpgrade(upgradeMachineV0)
}

func (r *fixedHostResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m fixedHostModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit, d := m.Timeouts.Delete(ctx, 5*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := r.target(m.Host.ValueString(), m.HostKey.ValueString(), &resp.Diagnostics)
	if t == nil {
		return
	}
	if t.HostKey == "" && t.KnownHosts == "" {
		t.HostKey = m.HostKeyFingerprint.ValueString()
	}
	conn, err := sshconn.Dial(ctx, *t)
	if err != nil && m.ProvisioningFailure.ValueString() != "" {
		// Its failed create removed what it had installed.
		resp.Diagnostics.AddAttributeWarning(path.Root("host"), "Failed host released unchecked",
			fmt.Sprintf("%s was left out of the run because it could not be adopted, and it is still unreachable (%v); it is released from the state without a check.", m.Host.ValueString(), err))
		return
	}
	if err != nil {
		sshDiag(&resp.Diagnostics, "remove the agent from "+m.Host.ValueString(), err)
		resp.Diagnostics.AddAttributeError(path.Root("host"), "Host not released",
			"The agent could not be removed, so the host stays in the state. Fix the access and destroy again, or, if the host is gone for good, `terraform state rm` it.")
		return
	}
	defer conn.Close()
	// Guarded: a host that now belongs to another deployment (reinstalled
	// for it by hand, say) keeps that deployment's agent.
	instance := fmt.Sprintf("%s.%d", m.Node.ValueString(), m.Index.ValueInt64())
	script, err := bootstrap.UninstallScript(bootstrap.Config{Deployment: m.DeploymentID.ValueString(), Instance: instance})
	if err != nil {
		resp.Diagnostics.AddError("Cannot render the uninstall script", err.Error())
		return
	}
	upload := agentUploadPath(m.DeploymentID.ValueString(), instance)
	res, err := conn.RunRoot(ctx, "rm -f "+shellQuote(upload)+"\n"+script)
	if err == nil && res.ExitCode == bootstrap.ExitOwnedByOther {
		resp.Diagnostics.AddAttributeWarning(path.Root("host"), "Host left to its owner",
			fmt.Sprintf("%s no longer runs the agent of %s: %s\nIt was left as it is and released from this configuration.", m.Host.ValueString(), instance, tail(res.Stderr, 1000)))
		return
	}
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("the uninstall script exited with status %d:\n%s", res.ExitCode, tail(res.Stderr, 2000))
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("host"), "Cannot remove the agent", fmt.Sprintf("On %s: %v", m.Host.ValueString(), err))
	}
}

// ImportState takes `<deployment_id>/<node>.<index>/<host>`.
func (r *fixedHostResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts := strings.SplitN(req.ID, "/", 3)
	var node, idx string
	var ok bool
	if len(parts) == 3 {
		node, idx, ok = strings.Cut(parts[1], ".")
	}
	index, err := strconv.Atoi(idx)
	if !ok || err != nil || index < 1 || parts[0] == "" || parts[2] == "" {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("Import a fixed host as <deployment_id>/<node>.<index>/<host>, e.g. lamp-1a2b3c4d/web.2/10.0.0.5; got %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("deployment_id"), parts[0])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("node"), node)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("index"), int64(index))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host"), parts[2])...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("timeouts"), types.ObjectNull(map[string]attr.Type{
		"create": types.StringType, "update": types.StringType, "delete": types.StringType,
	}))...)
}

// removeUpload removes the agent's upload from the host, with any
// temporary file an interrupted upload left beside it (Ctrl-C, a dropped
// connection: found by the fault suite in /var/tmp), best effort. It has a
// context of its own: the operation's may be the one that was cancelled.
func removeUpload(conn *sshconn.Conn, upload string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _ = conn.RunRoot(ctx, "rm -f -- "+shellQuote(upload)+" "+shellQuote(upload)+".tmp-*")
}

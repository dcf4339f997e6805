package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

var (
	_ resource.Resource               = (*imageResource)(nil)
	_ resource.ResourceWithConfigure  = (*imageResource)(nil)
	_ resource.ResourceWithModifyPlan = (*imageResource)(nil)
)

// imageResource is slipstream_<cloud>_image: one of a recipe's images,
// built on one cloud (the image factory). A builder machine boots from the
// parent image with a bootstrap like any machine's; its agent runs the
// build steps as a deployment's agents do (skipping those the parent image
// already holds, when SlipStream built it), then, the run finalized,
// records them in the image manifest and seals the machine (agent
// image.go); the resource then snapshots it (Connector.Snapshot) and
// terminates it. The builder is a one-instance deployment of its own at
// the coordinator, "image-<name>-<content hash>", which is deleted with
// the builder, whatever happens.
//
// It shares the instance resource's settings, sizing, retries and
// diagnostics, through m.
type imageResource struct {
	m *instanceResource
}

func newImageResource(conn *catalog.Connector, factory connectors.Factory) resource.Resource {
	return &imageResource{m: &instanceResource{conn: conn, factory: factory, backoff: connectors.DefaultBackoff}}
}

// Attributes of the image resource besides the shared ones.
const (
	attrImageName     = "name"
	attrParentImageID = "parent_image_id"
	attrPlatform      = "platform"
	attrPreInstall    = "pre_install"
	attrPackages      = "packages"
	attrPostInstall   = "post_install"
	attrKeepOnDestroy = "keep_on_destroy"
	attrContentHash   = "content_hash"
	attrCloud         = "cloud"
	attrBuiltImageID  = "image_id"
)

// defaultImageDeleteTimeout bounds a delete's retries: a cloud that
// refuses because machines still use the image says so soon enough.
const defaultImageDeleteTimeout = 5 * time.Minute

// buildNode is the builder deployment's one node.
const buildNode = "build"

func (r *imageResource) Metadata(_ context.Context, _ resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = r.m.conn.ImageResource
}

func (r *imageResource) Configure(ctx context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.m.Configure(ctx, req, resp)
}

func (r *imageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	conn := r.m.conn
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	replaceList := []planmodifier.List{listplanmodifier.RequiresReplace()}
	attrs := map[string]schema.Attribute{
		attrID: schema.StringAttribute{
			Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "The built image's id (as `image_id`).",
		},
		attrImageName: schema.StringAttribute{
			Required: true, PlanModifiers: replace,
			Validators:          []validator.String{stringvalidator.RegexMatches(nameRE, "must start with a letter, digit or _ and hold only letters, digits, _, . and -")},
			MarkdownDescription: "The recipe's image name. The built image is named after it and records it in its manifest.",
		},
		attrParentImageID: schema.StringAttribute{
			Required: true, PlanModifiers: replace,
			MarkdownDescription: "The image the builder machine starts from (" + conn.ImageHint + "): the nearest ancestor's id on this cloud, " +
				"or the `image_id` of the parent's own built image, whose baked-in steps the builder then skips.",
		},
		attrPlatform: schema.StringAttribute{Optional: true, PlanModifiers: replace, MarkdownDescription: "The image's platform (`debian`, `ubuntu`, …)."},
		attrPreInstall: schema.ListAttribute{
			Optional: true, ElementType: types.StringType, PlanModifiers: replaceList,
			MarkdownDescription: "The `pre_install` scripts of the image's chain, root first.",
		},
		attrPackages: schema.ListAttribute{
			Optional: true, ElementType: types.StringType, PlanModifiers: replaceList,
			MarkdownDescription: "The packages of the image's chain, installed between `pre_install` and `post_install` with the machine's package manager.",
		},
		attrPostInstall: schema.ListAttribute{
			Optional: true, ElementType: types.StringType, PlanModifiers: replaceList,
			MarkdownDescription: "The `post_install` scripts of the image's chain, root first.",
		},
		attrKeepOnDestroy: schema.BoolAttribute{
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
			MarkdownDescription: "Leave the image (and its snapshot or drive) on the cloud when this resource is destroyed or replaced: it is then only forgotten.",
		},
		attrContentHash: schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "A SHA-256 of everything that goes into the image: the cloud, the parent image's id, the platform, the scripts and packages of the chain. " +
				"Known at plan time when they are: a change to any of them replaces this image, and its descendants (their `parent_image_id` changes), and nothing else.",
		},
		attrCloud: schema.StringAttribute{
			Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "The connector the image was built on (`" + conn.Name + "`).",
		},
		attrBuiltImageID: schema.StringAttribute{
			Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			MarkdownDescription: "The built image's id, for the machines' `image_id` and for derived images' `parent_image_id`.",
		},
		attrTimeouts: timeouts.Attributes(ctx, timeouts.Opts{Create: true, Delete: true}),
	}
	replacedSizing(attrs, "Cores of the builder machine. "+sizingWord(conn), "Memory of the builder machine, in GB.",
		"Root disk of the builder machine, and so of the image, in GB; by default the parent image's.")
	r.m.addInstanceSettings(attrs)
	resp.Schema = schema.Schema{
		MarkdownDescription: fmt.Sprintf("One of a recipe's images, built on %s (the image factory). Creating it boots a builder machine from `parent_image_id`; "+
			"its agent runs the build steps root first (`pre_install`, the packages, `post_install`) and skips those the parent image already holds when SlipStream built it; "+
			"then it records them in `/var/lib/slipstream/image.json` and cleans the machine for the snapshot (the agent's state and token, SSH host keys, cloud-init's "+
			"instance state, the machine id, the logs). The machine is then stopped and snapshotted, and terminated once the image is available: on a failed or "+
			"interrupted build too. A failing step fails the create with the step's name and its last line of error output.\n\n"+
			"A machine started from the image skips the build steps it holds and says so in its log; one whose node's steps differ from the image's runs them, from the "+
			"first that differs. `content_hash` changes with anything that goes into the image, so a change replaces exactly this image and the images and machines built from it. "+
			"Deleting it removes the image and its snapshot or drive, unless `keep_on_destroy`.\n\n"+
			"Cloud-wide settings come from the provider's `%s` block; the builder machine takes the per-machine settings below, as `%s` does. See docs/images.md.",
			conn.Title, conn.Name, conn.Resource),
		Attributes: attrs,
	}
}

func (r *imageResource) objectType(ctx context.Context) types.ObjectType {
	var s resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &s)
	return s.Schema.Type().(types.ObjectType)
}

// imageContent is what the content hash covers.
type imageContent struct {
	Cloud       string   `json:"cloud"`
	Parent      string   `json:"parent"`
	Platform    string   `json:"platform"`
	PreInstall  []string `json:"pre_install"`
	Packages    []string `json:"packages"`
	PostInstall []string `json:"post_install"`
}

// contentOf reads what goes into the image; ok is false while some of it
// is not known (a parent being built in the same plan).
func (r *imageResource) contentOf(ctx context.Context, v values, diags *diag.Diagnostics) (imageContent, bool) {
	c := imageContent{Cloud: r.m.conn.Name}
	known := true
	str := func(name string) string {
		s, _ := v[name].(types.String)
		known = known && !s.IsUnknown()
		return s.ValueString()
	}
	list := func(name string) []string {
		l, ok := v[name].(types.List)
		if !ok || l.IsNull() {
			return nil
		}
		if !fullyKnown(ctx, l) {
			known = false
			return nil
		}
		var out []string
		diags.Append(l.ElementsAs(ctx, &out, false)...)
		return out
	}
	c.Parent, c.Platform = str(attrParentImageID), str(attrPlatform)
	c.PreInstall, c.Packages, c.PostInstall = list(attrPreInstall), list(attrPackages), list(attrPostInstall)
	return c, known
}

func (c imageContent) hash() string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ModifyPlan plans content_hash: known when all that goes into the image
// is.
func (r *imageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	v := readValues(ctx, req.Plan, &resp.Diagnostics)
	if v == nil {
		return
	}
	if c, known := r.contentOf(ctx, v, &resp.Diagnostics); known {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attrContentHash), c.hash())...)
	}
}

// buildDeploymentID is the builder's deployment at the coordinator: the
// same for every build of the same content, so that what an earlier build
// of it left (its process killed) is found and removed.
func buildDeploymentID(name, hash string) string {
	return "image-" + name + "-" + hash[:16]
}

func (r *imageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx, cancel, v, conn := r.m.begin(ctx, req.Plan, opCreate, 60*time.Minute, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	content, _ := r.contentOf(ctx, v, &resp.Diagnostics)
	hash := content.hash()
	name := v.str(attrImageName)
	buildID := buildDeploymentID(name, hash)
	cl := r.m.cfg.coordinator(buildID, &resp.Diagnostics)
	if cl == nil {
		return
	}
	start := time.Now()
	imageID, err := r.build(ctx, conn, cl, v, content, hash, &resp.Diagnostics)
	if errors.Is(err, errReported) {
		return
	}
	if err != nil {
		var diagErr *buildError
		if errors.As(err, &diagErr) {
			resp.Diagnostics.AddError(diagErr.summary, diagErr.detail)
		} else {
			r.m.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot build image %s on %s", name, r.m.conn.Title), name, err)
		}
		return
	}
	tflog.Info(ctx, "image built", map[string]any{"image": name, "cloud": r.m.conn.Name, "id": imageID, "seconds": time.Since(start).Seconds()})
	v[attrID], v[attrBuiltImageID] = types.StringValue(imageID), types.StringValue(imageID)
	v[attrContentHash], v[attrCloud] = types.StringValue(hash), types.StringValue(r.m.conn.Name)
	writeObject(ctx, r.objectType(ctx), &resp.State, v, &resp.Diagnostics)
}

// errReported is a failure whose diagnostics are already added.
var errReported = errors.New("reported")

// buildError is a build that failed for a reason the user can act on.
type buildError struct{ summary, detail string }

func (e *buildError) Error() string { return e.summary + ": " + e.detail }

// build runs one build and returns the image's id. The builder machine and
// its deployment are removed whatever happens, even when ctx is
// cancelled (an interrupted apply).
func (r *imageResource) build(ctx context.Context, conn connectors.Connector, cl *client.Client, v values, content imageContent, hash string, diags *diag.Diagnostics) (string, error) {
	name, buildID := v.str(attrImageName), cl.Deployment
	r.clearLeftovers(ctx, conn, cl)
	spec := &coordinator.Deployment{ID: buildID, KeepRunning: coordinator.KeepNever, Nodes: map[string]*coordinator.Node{buildNode: {
		Multiplicity: 1, Cloud: r.m.conn.Name, Packages: content.Packages,
		Scripts: map[string][]string{"pre_install": content.PreInstall, "post_install": content.PostInstall},
		Build:   &coordinator.Build{Image: name, ContentHash: hash},
	}}}
	if err := cl.RegisterDeployment(ctx, spec); err != nil {
		return "", fmt.Errorf("registering the build at the coordinator: %w", err)
	}
	var machine *connectors.Machine
	defer func() {
		// The builder goes, with its deployment, however the build ended.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		if machine != nil {
			if err := r.m.retry(cleanup, "delete the builder machine", func(ctx context.Context) error { return conn.Delete(ctx, machine.ID) }); err != nil && !connectors.IsNotFound(err) {
				tflog.Error(ctx, "cannot delete the builder machine", map[string]any{"machine": machine.ID, "error": err.Error()})
			}
		}
		// A build deployment left at the coordinator is cleared by the next
		// build of the same content (clearLeftovers): worth a warning only.
		if _, err := cl.Finalize(cleanup); err != nil && !isNotFound(err) {
			tflog.Warn(ctx, "cannot finalize the build's deployment", map[string]any{"deployment": cl.Deployment, "error": err.Error()})
		}
		if err := cl.Delete(cleanup); err != nil && !isNotFound(err) {
			tflog.Warn(ctx, "cannot delete the build's deployment", map[string]any{"deployment": cl.Deployment, "error": err.Error()})
		}
	}()
	instance := buildNode + ".1"
	userData, err := r.m.cfg.machineBootstrap(ctx, cl, userDataBootstrap, buildNode, instance)
	if err != nil {
		return "", fmt.Errorf("rendering the builder's user-data: %w", err)
	}
	bv := maps.Clone(v)
	bv[attrDeploymentID], bv[attrNode] = types.StringValue(buildID), types.StringValue(buildNode)
	bv[attrImageID] = v[attrParentImageID]
	mspec, ok := r.m.machineSpec(ctx, conn, bv, instance, userData, diags)
	if !ok {
		return "", errReported
	}
	if r.m.conn.TypeSetting != "" {
		// The size chosen for the builder, shown as the instance
		// resources show theirs.
		v[r.m.conn.TypeSetting] = types.StringValue(mspec.Type)
	}
	if mspec.UserData, err = r.m.cfg.issueToken(ctx, cl, instance, mspec.UserData); err != nil {
		return "", err
	}
	err = r.m.retry(ctx, "start the builder machine", func(ctx context.Context) error {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createCallTimeout)
		defer cancel()
		m, err := conn.Create(callCtx, mspec)
		if m != nil && m.ID != "" {
			machine = m
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("starting the builder machine from %s: %w", content.Parent, err)
	}
	tflog.Info(ctx, "builder machine started", map[string]any{"image": name, "machine": machine.ID, "parent": content.Parent})
	if err := waitBuilt(ctx, cl); err != nil {
		return "", err
	}
	labels := map[string]string{connectors.LabelDeployment: buildID, "slipstream-image": name, "slipstream-content": hash[:20]}
	var imageID string
	err = r.m.retry(ctx, "snapshot the builder machine", func(ctx context.Context) error {
		var err error
		imageID, err = conn.Snapshot(ctx, machine.ID, connectors.MachineName(name, hash[:8]), labels)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("snapshotting the builder machine %s: %w", machine.ID, err)
	}
	return imageID, nil
}

// waitBuilt follows the builder's run until it is Done: the build steps
// ran, the machine was sealed. An abort (a failing step: the agent's
// message names the step and ends with its last line of error output)
// fails the build.
func waitBuilt(ctx context.Context, cl *client.Client) error {
	seen := coordinator.Run{}
	for {
		run, err := cl.WaitRun(ctx, seen, 0)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("the build did not finish (it was in state %s): %w", seen.State, ctx.Err())
			}
			return fmt.Errorf("following the build at the coordinator: %w", err)
		}
		if run.Abort != "" {
			return &buildError{"Image build failed", fmt.Sprintf("The builder machine of %s failed:\n\n  %s\n\nThe builder machine was terminated. Fix the step and apply again.", cl.Deployment, run.Abort)}
		}
		if run.State == coordinator.Done {
			return nil
		}
		seen = run
	}
}

// clearLeftovers removes what an earlier build of the same content left
// when its process was killed: machines labelled with its deployment, and
// the deployment.
func (r *imageResource) clearLeftovers(ctx context.Context, conn connectors.Connector, cl *client.Client) {
	list, err := conn.List(ctx, cl.Deployment)
	if err == nil {
		for _, m := range list {
			tflog.Warn(ctx, "deleting a builder machine an earlier build left", map[string]any{"machine": m.ID})
			if err := conn.Delete(ctx, m.ID); err != nil && !connectors.IsNotFound(err) {
				tflog.Error(ctx, "cannot delete the builder machine an earlier build left", map[string]any{"machine": m.ID, "error": err.Error()})
			}
		}
	}
	if _, err := cl.Run(ctx); err == nil {
		if _, err := cl.Finalize(ctx); err != nil && !isNotFound(err) {
			tflog.Warn(ctx, "cannot finalize the deployment an earlier build left", map[string]any{"deployment": cl.Deployment, "error": err.Error()})
		}
		if err := cl.Delete(ctx); err != nil && !isNotFound(err) {
			tflog.Warn(ctx, "cannot delete the deployment an earlier build left", map[string]any{"deployment": cl.Deployment, "error": err.Error()})
		}
	}
}

// Read keeps the state: the connectors describe machines, not images.
func (r *imageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var obj types.Object
	resp.Diagnostics.Append(req.State.Get(ctx, &obj)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, obj)...)
}

// Update records what changes in place: keep_on_destroy and the timeouts.
func (r *imageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	plan := readValues(ctx, req.Plan, &resp.Diagnostics)
	state := readValues(ctx, req.State, &resp.Diagnostics)
	if plan == nil || state == nil {
		return
	}
	for _, a := range []string{attrID, attrBuiltImageID, attrContentHash, attrCloud} {
		plan[a] = state[a]
	}
	writeObject(ctx, r.objectType(ctx), &resp.State, plan, &resp.Diagnostics)
}

func (r *imageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	// A kept image is only forgotten: no cloud, so no connector, is needed.
	var keep types.Bool
	var image types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root(attrKeepOnDestroy), &keep)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root(attrBuiltImageID), &image)...)
	if keep.ValueBool() {
		tflog.Info(ctx, "keeping the image on the cloud (keep_on_destroy)", map[string]any{"image": image.ValueString()})
		return
	}
	ctx, cancel, v, conn := r.m.begin(ctx, req.State, opDelete, defaultImageDeleteTimeout, &resp.Diagnostics)
	defer cancel()
	if conn == nil {
		return
	}
	id := v.str(attrBuiltImageID)
	if err := r.m.retry(ctx, "delete the image", func(ctx context.Context) error { return conn.DeleteImage(ctx, id) }); err != nil && !connectors.IsNotFound(err) {
		r.m.cloudDiag(&resp.Diagnostics, path.Empty(), fmt.Sprintf("Cannot delete image %s on %s", id, r.m.conn.Title), v.str(attrImageName),
			fmt.Errorf("%w\n\nA cloud may refuse to delete an image that machines or other images still use: delete those first (terraform destroys the machines it started from the image before the image), or set keep_on_destroy", err))
	}
}

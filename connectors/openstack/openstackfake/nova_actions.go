package openstackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// serverAction is POST /servers/{id}/action: os-stop, os-start and
// createImage. An action the server's state does not allow is 409, as
// Nova's "Cannot 'stop' instance … while it is in vm_state …".
func (c *call) serverAction() {
	var body map[string]json.RawMessage
	if err := decodeJSON(c.r, &body); err != nil {
		c.errorf(http.StatusBadRequest, "%s", jsonError(err))
		return
	}
	if len(body) == 0 {
		c.errorf(http.StatusBadRequest, "Malformed request body: no action")
		return
	}
	names := make([]string, 0, len(body))
	for k := range body {
		names = append(names, k)
	}
	slices.Sort(names)
	action := names[0]
	m, ok := c.machine()
	if !ok {
		return
	}
	switch action {
	case "os-stop":
		c.stopServer(m)
	case "os-start":
		c.startServer(m)
	case "createImage":
		c.createImage(m, body[action])
	default:
		c.errorf(http.StatusBadRequest, "There is no such action: %s", action)
	}
}

// conflict answers Nova's 409 for an action in the wrong state.
func (c *call) conflict(action string, m fakecloud.Machine) {
	st := c.f.stateOf(m)
	if st.TaskState != "" {
		c.errorf(http.StatusConflict, "Cannot '%s' instance %s while it is in task_state %s", action, m.ID, st.TaskState)
		return
	}
	c.errorf(http.StatusConflict, "Cannot '%s' instance %s while it is in vm_state %s", action, m.ID, st.VMState)
}

func (c *call) stopServer(m fakecloud.Machine) {
	st := c.f.stateOf(m)
	if st.TaskState != "" || (st.VMState != "active" && st.VMState != "error") {
		c.conflict("stop", m)
		return
	}
	if _, err := c.f.cloud.Stop(m.ID); err != nil {
		c.actionFailed("stop", m, err)
		return
	}
	writeNoContent(c.w, http.StatusAccepted)
}

func (c *call) startServer(m fakecloud.Machine) {
	st := c.f.stateOf(m)
	if st.TaskState != "" || st.VMState != "stopped" {
		c.conflict("start", m)
		return
	}
	if _, err := c.f.cloud.Start(m.ID); err != nil {
		c.actionFailed("start", m, err)
		return
	}
	writeNoContent(c.w, http.StatusAccepted)
}

func (c *call) actionFailed(action string, m fakecloud.Machine, err error) {
	switch {
	case errors.Is(err, fakecloud.ErrNotFound):
		c.errorf(http.StatusNotFound, "Instance %s could not be found.", m.ID)
	case errors.Is(err, fakecloud.ErrIncorrectState):
		c.conflict(action, m)
	case errors.Is(err, fakecloud.ErrImageNotFound):
		c.errorf(http.StatusBadRequest, "Image %s could not be found.", m.ImageID)
	default:
		c.errorf(http.StatusInternalServerError, "Unexpected API Error: %s", err)
	}
}

// createImage snapshots a stopped server (this fake, unlike Nova, does
// not snapshot running servers: the connector stops them first). The new
// image's id is in the body since 2.45, in the Location header before.
func (c *call) createImage(m fakecloud.Machine, raw json.RawMessage) {
	var req struct {
		Name     *string           `json:"name"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		c.errorf(http.StatusBadRequest, "%s", invalid("createImage", raw, jsonError(err)))
		return
	}
	if req.Name == nil || *req.Name == "" || len(*req.Name) > 255 {
		c.errorf(http.StatusBadRequest, "Invalid input for field/attribute createImage. 'name' is a required property of 1 to 255 characters")
		return
	}
	st := c.f.stateOf(m)
	if st.TaskState != "" || st.VMState != "stopped" {
		c.conflict("createImage", m)
		return
	}
	props := map[string]string{"image_type": "snapshot", "instance_uuid": m.ID, "base_image_ref": m.ImageID,
		"user_id": c.f.userID, "owner_project_name": c.f.opts.Project}
	img, err := c.f.cloud.Snapshot(m.ID, *req.Name, req.Metadata, map[string]any{extraVisibility: "private", extraImageProps: props})
	switch {
	case errors.Is(err, fakecloud.ErrDuplicate):
		// Glance allows two images of one name; the fake's cloud does not.
		c.errorf(http.StatusBadRequest, "This fake cloud holds one image per name: %s", err)
		return
	case err != nil:
		c.actionFailed("createImage", m, err)
		return
	}
	location := fmt.Sprintf("%s/image/v2/images/%s", c.base, img.ID)
	if c.mv.atLeast(45) {
		writeJSON(c.w, http.StatusAccepted, map[string]any{"image_id": img.ID})
		return
	}
	c.w.Header().Set("Location", location)
	writeNoContent(c.w, http.StatusAccepted)
}

package cloudstack

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/cloudstack-go/v2/cloudstack"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

const (
	opStop           = "stopVirtualMachine"
	opCreateTemplate = "createTemplate"
	opDeleteTemplate = "deleteTemplate"
)

// Snapshot makes a template of the VM's root volume: it stops the VM
// (stopVirtualMachine, awaited, unless it is stopped), finds its ROOT
// volume (listVolumes), creates the template with the VM's guest OS type
// (createTemplate, awaited), tags it with labels, and waits until the
// template is ready. A template that failed on the way is deleted.
func (c *Connector) Snapshot(ctx context.Context, id, name string, labels map[string]string) (string, error) {
	if name == "" {
		return "", permanent(opCreateTemplate, "InvalidName", "the image has no name")
	}
	if err := checkSignable(opCreateTemplate, "image name", name); err != nil {
		return "", err
	}
	for k, v := range labels {
		if err := checkSignable("createTags", "tag", k+"="+v); err != nil {
			return "", err
		}
	}
	vm, err := c.getVM(ctx, id)
	if err != nil {
		return "", err
	}
	if err := c.stop(ctx, vm); err != nil {
		return "", err
	}
	volume, err := c.rootVolume(ctx, id)
	if err != nil {
		return "", err
	}
	osType := vm.Ostypeid
	if osType == "" {
		t, err := c.template(ctx, vm.Templateid)
		if err != nil {
			return "", fmt.Errorf("finding the guest OS type of VM %s from its template: %w", id, err)
		}
		osType = t.osTypeID
	}
	var tmplID, jobID string
	err = c.call(ctx, opCreateTemplate, func(cs *cloudstack.CloudStackClient) error {
		p := cs.Template.NewCreateTemplateParams(name, name, osType)
		p.SetVolumeid(volume)
		r, err := cs.Template.CreateTemplate(p)
		if err == nil {
			tmplID, jobID = r.Id, r.JobID
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if tmplID == "" {
		return "", permanent(opCreateTemplate, "MalformedAnswer", "createTemplate answered no template id (job %q)", jobID)
	}
	fail := func(err error) (string, error) {
		cctx, cancel := c.cleanupContext(ctx)
		defer cancel()
		if derr := c.DeleteImage(cctx, tmplID); derr != nil {
			return "", errors.Join(err, fmt.Errorf("deleting the template %s that failed: %w", tmplID, derr))
		}
		return "", err
	}
	if _, err := c.await(ctx, opCreateTemplate, jobID); err != nil {
		return fail(err)
	}
	if len(labels) > 0 {
		err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error { return c.tag(ctx, "Template", tmplID, labels) })
		if err != nil {
			return fail(fmt.Errorf("tagging template %s: %w", tmplID, err))
		}
	}
	err = connectors.WaitFor(ctx, c.poll, "template "+tmplID+" to be ready", func(ctx context.Context) (bool, string, error) {
		t, err := c.ownTemplate(ctx, tmplID)
		if err != nil {
			return false, "", err
		}
		if !t.Isready && (t.Status == "Failed" || t.Status == "Error") {
			return false, "", permanent("listTemplates", "TemplateFailed", "template %s failed: %s", tmplID, t.Status)
		}
		return t.Isready, t.Status, nil
	})
	if err != nil {
		return fail(err)
	}
	return tmplID, nil
}

// stop stops the VM unless it is stopped, and waits until it is.
func (c *Connector) stop(ctx context.Context, vm *cloudstack.VirtualMachine) error {
	if vm.State == "Stopped" {
		return nil
	}
	if vm.State != "Stopping" {
		var jobID string
		err := c.call(ctx, opStop, func(cs *cloudstack.CloudStackClient) error {
			r, err := cs.VirtualMachine.StopVirtualMachine(cs.VirtualMachine.NewStopVirtualMachineParams(vm.Id))
			if err == nil {
				jobID = r.JobID
			}
			return err
		})
		if err == nil {
			_, err = c.await(ctx, opStop, jobID)
		}
		if err != nil {
			return err
		}
	}
	return connectors.WaitFor(ctx, c.poll, "VM "+vm.Id+" to stop", func(ctx context.Context) (bool, string, error) {
		cur, err := c.getVM(ctx, vm.Id)
		if err != nil {
			return false, "", err
		}
		return cur.State == "Stopped", cur.State, nil
	})
}

// rootVolume is the id of the VM's ROOT volume.
func (c *Connector) rootVolume(ctx context.Context, vmID string) (string, error) {
	var r *cloudstack.ListVolumesResponse
	err := c.call(ctx, "listVolumes", func(cs *cloudstack.CloudStackClient) error {
		p := cs.Volume.NewListVolumesParams()
		p.SetVirtualmachineid(vmID)
		p.SetType("ROOT")
		p.SetListall(true)
		var err error
		r, err = cs.Volume.ListVolumes(p)
		return err
	})
	if err != nil {
		return "", err
	}
	for _, v := range r.Volumes {
		if v.Virtualmachineid == vmID && v.Type == "ROOT" {
			return v.Id, nil
		}
	}
	return "", permanent("listVolumes", "NoRootVolume", "VM %s has no ROOT volume", vmID)
}

// ownTemplate reads a template of the account (templatefilter=self).
func (c *Connector) ownTemplate(ctx context.Context, id string) (*cloudstack.Template, error) {
	var r *cloudstack.ListTemplatesResponse
	err := c.call(ctx, "listTemplates", func(cs *cloudstack.CloudStackClient) error {
		p := cs.Template.NewListTemplatesParams("self")
		p.SetId(id)
		var err error
		r, err = cs.Template.ListTemplates(p)
		return err
	})
	if noSuchEntity(err) || (err == nil && len(r.Templates) == 0) {
		return nil, connectors.NotFound(Name, "listTemplates", "template", id)
	}
	if err != nil {
		return nil, err
	}
	return r.Templates[0], nil
}

// DeleteImage deletes a template (deleteTemplate in every zone, awaited).
// One that does not exist is not an error.
func (c *Connector) DeleteImage(ctx context.Context, imageID string) error {
	var jobID string
	err := c.call(ctx, opDeleteTemplate, func(cs *cloudstack.CloudStackClient) error {
		r, err := cs.Template.DeleteTemplate(cs.Template.NewDeleteTemplateParams(imageID))
		if err == nil {
			jobID = r.JobID
		}
		return err
	})
	if err == nil {
		_, err = c.await(ctx, opDeleteTemplate, jobID)
	}
	if noSuchEntity(err) {
		return nil
	}
	if err == nil {
		c.mu.Lock()
		delete(c.templates, imageID)
		c.mu.Unlock()
	}
	return err
}

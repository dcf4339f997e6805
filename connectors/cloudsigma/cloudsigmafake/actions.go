package cloudsigmafake

import (
	"net/http"
	"slices"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// actionAnswer is the 202 answer of a server action (Servers, "Server
// Actions" dumps).
func actionAnswer(action, id string) map[string]any {
	return map[string]any{"action": action, "result": "success", "uuid": id}
}

// guestState is the state an action refusal names: the API calls a
// running guest "started" (`Cannot start guest in state "started"`).
func guestState(m fakecloud.Machine) string {
	if s := serverStatus(m); s != "running" {
		return s
	}
	return "started"
}

// startServer answers POST /servers/{uuid}/action/?do=start: a stopped
// server boots from its boot drive. A server made while a capacity fault
// was due does not: there is no room for it.
func startServer(f *Fake, c *call) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, m, err := f.serverOf(c.id)
	if err != nil {
		return 0, nil, err
	}
	if m.State != fakecloud.Stopped {
		return 0, nil, errWrongState("start", guestState(m), "stopped")
	}
	boot, ok := f.drives[s.bootDrive()]
	switch {
	case !ok:
		return 0, nil, errPermission("Cannot start guest: it has no drive to boot from")
	case f.driveStatus(boot) == "cloning_dst":
		return 0, nil, errPermission("Cannot start guest: drive %s is still being cloned", boot.uuid)
	}
	if s.noRoom {
		s.noRoom = false
		return 0, nil, errNoCapacity
	}
	if _, err := f.cloud.Start(c.id); err != nil {
		return 0, nil, err
	}
	f.starts[c.id]++
	return http.StatusAccepted, actionAnswer("start", c.id), nil
}

// stopServer answers ?do=stop, "equivalent to pulling the power cord".
func stopServer(f *Fake, c *call) (int, any, error) {
	return f.stop(c, "stop", func(s fakecloud.State) bool {
		return s == fakecloud.Pending || s == fakecloud.Running || s == fakecloud.Failed
	})
}

// shutdownServer answers ?do=shutdown, the ACPI shutdown: the fake's
// guests always honour it, so it is a stop of a running server.
func shutdownServer(f *Fake, c *call) (int, any, error) {
	return f.stop(c, "shutdown", func(s fakecloud.State) bool { return s == fakecloud.Running })
}

func (f *Fake) stop(c *call, action string, allowed func(fakecloud.State) bool) (int, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, m, err := f.serverOf(c.id)
	if err != nil {
		return 0, nil, err
	}
	if !allowed(m.State) {
		return 0, nil, errWrongState(action, guestState(m), "started")
	}
	if _, err := f.cloud.Stop(c.id); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, actionAnswer(action, c.id), nil
}

// deleteServer answers DELETE /servers/{uuid}/[?recurse=…]: a stopped
// server is deleted (asynchronously: it is gone once its machine is
// terminated), with the attached drives recurse names (Servers,
// "Deleting").
func deleteServer(f *Fake, c *call) (int, any, error) {
	recurse := c.r.URL.Query().Get("recurse")
	switch recurse {
	case "", "all_drives", "disks", "cdroms":
	default:
		return 0, nil, errValidation("recurse", "Select a valid choice. %q is not one of the available choices (all_drives, disks, cdroms).", recurse)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, m, err := f.serverOf(c.id)
	if err != nil {
		return 0, nil, err
	}
	switch m.State {
	case fakecloud.Terminating:
		return http.StatusNoContent, nil, nil // its deletion has started already
	case fakecloud.Stopped, fakecloud.Failed:
	default:
		return 0, nil, errWrongState("delete", guestState(m), "stopped")
	}
	if _, err := f.cloud.Terminate(c.id); err != nil {
		return 0, nil, err
	}
	for _, a := range slices.Clone(s.drives) {
		d, ok := f.drives[a.drive]
		if ok && (recurse == "all_drives" || recurse == "disks" && d.media == "disk" || recurse == "cdroms" && d.media == "cdrom") {
			f.forgetDrive(d)
		}
	}
	f.untag(s.uuid)
	return http.StatusNoContent, nil, nil
}

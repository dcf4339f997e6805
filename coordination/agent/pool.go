package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
	"github.com/slipstream/terraform-provider-slipstream/coordination/coordinator"
)

// A pool machine is one of a batch of identical machines that one cloud
// call started, all with the same user-data: its agent.json names the
// node and a pool token, not an instance. At its first start the agent
// reads the machine's cloud id from the file cloud-init writes
// (Config.MachineIDFile), makes its own token, records both in the token
// file, and exchanges the pool token with the machine id; the answer
// names the instance the provider registered the machine as, which the
// token file records too. From then on the agent is that instance. A
// restart reads the token file and does not exchange again; a token file
// of another machine id (an image made from a pool machine, started
// elsewhere) is not reused.

// Defaults of Runner.MachineIDWait and Runner.RegistrationWait, and the
// pauses between the exchanges while the machine is not registered.
const (
	defaultMachineIDWait    = 2 * time.Minute
	defaultRegistrationWait = 15 * time.Minute
	registrationFirstPause  = time.Second
	registrationMaxPause    = 15 * time.Second
	machineIDPoll           = 250 * time.Millisecond
)

// poolIdentity makes sure a pool machine's agent holds its own token and
// knows its instance: it sets r.Instance and the client's token, and
// returns the machine id.
func (r *Runner) poolIdentity(ctx context.Context) (string, error) {
	if _, err := r.Config.Identity(); err != nil {
		return "", err
	}
	machine, err := r.machineID(ctx)
	if err != nil {
		return "", err
	}
	if r.Config.InstanceID == "" {
		r.Config.InstanceID = machine // the cloud's id: published as instanceid
	}
	path := TokenFile(r.StateDir)
	pool := hashHex(r.Config.Token)
	creds, err := LoadCredentials(path)
	switch {
	case err == nil && creds.BootstrapSHA256 == pool && creds.Deployment == r.Config.Deployment && creds.MachineID == machine:
		// ours: exchanged already, or an exchange to finish
	case err == nil && creds.BootstrapSHA256 == pool && creds.Deployment == r.Config.Deployment:
		r.logf("%s is the token of machine %s, but this is machine %s (started from an image of the other?): making a new token", path, creds.MachineID, machine)
		creds = nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		r.logf("%v: making a new token", err)
		creds = nil
	default:
		creds = nil
	}
	if creds == nil {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		creds = &Credentials{Deployment: r.Config.Deployment, BootstrapSHA256: pool, MachineID: machine, Token: hex.EncodeToString(b)}
		if err := creds.save(path); err != nil {
			return "", fmt.Errorf("recording the agent's token: %w", err)
		}
	}
	if !creds.Exchanged {
		inst, err := r.exchangeMachine(ctx, creds.Token, machine)
		var e *client.Error
		switch {
		case errors.As(err, &e) && e.Code == "exchanged":
			return "", fmt.Errorf("machine %s: %s (this machine's own token, %s, is not the one it was exchanged for: its state folder was lost or copied)", machine, e.Message, path)
		case err != nil:
			return "", r.gone(fmt.Errorf("exchanging the pool token: %w", err))
		}
		if _, err := r.poolInstance(inst); err != nil {
			return "", err
		}
		creds.Instance, creds.Exchanged = inst, true
		if err := creds.save(path); err != nil {
			return "", fmt.Errorf("recording the agent's token: %w", err)
		}
		r.logf("machine %s of node %s's pool is %s: the pool token was exchanged for the agent's own token (%s)", machine, r.Config.Node, inst, path)
	}
	inst, err := r.poolInstance(creds.Instance)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	r.Instance, r.Config.Instance = inst, inst.String()
	r.Client.Token = creds.Token
	return machine, nil
}

// poolInstance checks an instance name the coordinator gave a pool
// machine: an instance of the configured node.
func (r *Runner) poolInstance(name string) (coordinator.Instance, error) {
	k, err := coordinator.Qualify(name+":x", nil)
	inst, ok := k.Instance()
	if err != nil || !ok || inst.String() != name {
		return coordinator.Instance{}, fmt.Errorf("the coordinator named this machine %q, which is no instance name", name)
	}
	if inst.Node != r.Config.Node {
		return coordinator.Instance{}, fmt.Errorf("the pool token made this machine %s, but its configuration is a machine of node %s's pool", inst, r.Config.Node)
	}
	return inst, nil
}

// machineID waits for the machine id file (cloud-init writes it before it
// runs user-data, so it is normally there at once) and returns its
// contents without surrounding space.
func (r *Runner) machineID(ctx context.Context) (string, error) {
	path := r.Config.MachineIDFile
	wait := r.MachineIDWait
	if wait <= 0 {
		wait = defaultMachineIDWait
	}
	deadline := time.Now().Add(wait)
	logged := false
	for {
		b, err := os.ReadFile(path) // #nosec G304 -- machine_id_file of agent.json, which the provider's bootstrap wrote
		if id := strings.TrimSpace(string(b)); err == nil && id != "" {
			return id, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("reading the machine id: %w", err)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no machine id in %s after %s: cloud-init writes the machine's cloud id there at boot, and a machine of node %s's pool needs it to tell the coordinator which machine it is", path, wait, r.Config.Node)
		}
		if !logged {
			r.logf("waiting for the machine id in %s (cloud-init writes it at boot)", path)
			logged = true
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(machineIDPoll):
		}
	}
}

// exchangeMachine exchanges the pool token with the machine id for the
// agent token (given by its token), asking again, with jittered backoff,
// while the coordinator answers that the provider has not registered the
// machine yet (it does so once the cloud has answered the batch's call
// with the machines' ids), for up to RegistrationWait.
func (r *Runner) exchangeMachine(ctx context.Context, token, machine string) (string, error) {
	wait := r.RegistrationWait
	if wait <= 0 {
		wait = defaultRegistrationWait
	}
	deadline := time.Now().Add(wait)
	pause := registrationFirstPause
	logged := false
	for {
		inst, err := r.Client.ExchangeMachine(ctx, hashHex(token), machine)
		var e *client.Error
		if !errors.As(err, &e) || e.Code != "not_registered" {
			return inst, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return "", fmt.Errorf("machine %s: the provider has not registered this machine as a member of node %s's pool after %s of asking (was the apply that started it interrupted? the provider's next apply deletes or registers it): %s", machine, r.Config.Node, wait, e.Message)
		}
		if !logged {
			r.logf("machine %s of node %s's pool: waiting for the provider to register it with the coordinator (it does once the cloud has answered with the batch's machine ids); asking again for up to %s", machine, r.Config.Node, wait)
			logged = true
		}
		// Between half the pause and the whole: a batch's machines boot
		// together, and should not ask together.
		sleep := min(pause/2+mrand.N(pause/2+1), left) // #nosec G404 -- retry jitter, not a secret: predictability costs nothing
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(sleep):
		}
		pause = min(pause*2, registrationMaxPause)
	}
}

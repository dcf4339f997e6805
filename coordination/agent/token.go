package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/slipstream/terraform-provider-slipstream/coordination/client"
)

// TokenFileName is the file, in the agent's state folder (0700, root's),
// that holds the agent's own token. The token the machine was configured
// with (agent.json, from user-data or the SSH bootstrap) is a one-time
// bootstrap token: at its first start the agent makes a token of its own,
// records it here, and exchanges the bootstrap token for it. The bootstrap
// script may run again and rewrites agent.json with the same bootstrap
// token, so the agent's token is kept apart from it rather than in it. A
// pool machine's agent.json holds the pool token instead (pool.go): the
// file then also records the machine id it was exchanged with and the
// instance the exchange named.
const TokenFileName = "token.json"

// TokenFile is the token file of a state folder.
func TokenFile(stateDir string) string { return filepath.Join(stateDir, TokenFileName) }

// Credentials are the contents of the token file.
type Credentials struct {
	Deployment string `json:"deployment"`
	Instance   string `json:"instance"`
	// BootstrapSHA256 is the hash of the bootstrap token (or pool token)
	// this token was made to replace: a new bootstrap token (a
	// reinstalled or re-bootstrapped machine) means a new exchange.
	BootstrapSHA256 string `json:"bootstrap_sha256"`
	// MachineID is, on a pool machine, the cloud machine id the pool
	// token was exchanged with: a token file of another machine id (an
	// image made from a pool machine, started elsewhere) is not reused.
	// Instance is "" until the exchange has named it.
	MachineID string `json:"machine_id,omitempty"`
	Token     string `json:"token"`
	// Exchanged is set once the coordinator has accepted the exchange.
	Exchanged bool `json:"exchanged"`
}

// LoadCredentials reads a token file.
func LoadCredentials(path string) (*Credentials, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the token file in the agent's state folder (TokenFile), or one an operator's tool names
	if err != nil {
		return nil, err
	}
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if c.Token == "" {
		return nil, fmt.Errorf("%s holds no token", path)
	}
	return &c, nil
}

// save writes the file atomically (a temporary file synced, then renamed,
// then the folder synced): a crash leaves the old file or the new one.
func (c *Credentials) save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TokenFileName+".*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// On failure the temporary file is removed: its Close error would add
	// nothing to the one returned.
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The new token must be on disk before the exchange is asked for
	// (ownToken): a rename lost in a crash would leave a token the
	// coordinator never sees again. So a failed folder sync is an error.
	d, err := os.Open(dir) // #nosec G304 -- the folder of the token file, which we just wrote
	if err != nil {
		return err
	}
	err = d.Sync()
	_ = d.Close() // read-only: the Sync is what tells
	return err
}

func hashHex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ownToken makes sure the agent holds its own token and sets the client to
// use it. The new token is on disk before the exchange is asked for, so an
// agent killed before the answer arrives asks again with the same token on
// restart, which the coordinator accepts; once exchanged, the bootstrap
// token is not used again.
func (r *Runner) ownToken(ctx context.Context) error {
	path := TokenFile(r.StateDir)
	boot := hashHex(r.Config.Token)
	creds, err := LoadCredentials(path)
	switch {
	case err == nil && creds.BootstrapSHA256 == boot && creds.Deployment == r.Config.Deployment && creds.Instance == r.Instance.String():
		// ours: exchanged already, or an exchange to finish
	case err != nil && !errors.Is(err, os.ErrNotExist):
		r.logf("%v: making a new token", err)
		fallthrough
	default:
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		creds = &Credentials{Deployment: r.Config.Deployment, Instance: r.Instance.String(), BootstrapSHA256: boot, Token: hex.EncodeToString(b)}
		if err := creds.save(path); err != nil {
			return fmt.Errorf("recording the agent's token: %w", err)
		}
	}
	if !creds.Exchanged {
		inst, err := r.Client.Exchange(ctx, hashHex(creds.Token))
		var e *client.Error
		switch {
		case errors.As(err, &e) && e.Code == "exchanged":
			return fmt.Errorf("%s: %s (this machine's own token, %s, is not the one it was exchanged for: its state folder was lost or copied)", r.Instance, e.Message, path)
		case err != nil:
			return r.gone(fmt.Errorf("exchanging the bootstrap token: %w", err))
		case inst != r.Instance.String():
			return fmt.Errorf("the bootstrap token is %s's, but this agent is configured as %s", inst, r.Instance)
		}
		creds.Exchanged = true
		if err := creds.save(path); err != nil {
			return fmt.Errorf("recording the agent's token: %w", err)
		}
		r.logf("%s: bootstrap token exchanged for the agent's own token (%s)", r.Instance, path)
	}
	r.Client.Token = creds.Token
	return nil
}

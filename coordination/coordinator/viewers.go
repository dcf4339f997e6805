package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/slipstream/terraform-provider-slipstream/coordination/store"
)

// Viewer tokens let people watch runs (the web view, slipc status) without
// the admin token: they read deployments, never write, and never see a
// sensitive value. The admin issues them (slipc token viewer), each with a
// name, an expiry and optionally one deployment it is limited to. Like
// every token, only their SHA-256 is stored.

// viewersNS holds the viewer tokens: "v/<name>" → the Viewer as JSON,
// "h/<token hash>" → its name. It is not a deployment's namespace.
const viewersNS = "viewers"

// Viewer is a viewer token's record.
type Viewer struct {
	Name string `json:"name"`
	// Deployment limits the token to one deployment ("": all of them).
	Deployment string    `json:"deployment,omitempty"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Hash       string    `json:"-"`
}

type viewerRecord struct {
	Viewer
	Hash string `json:"sha256"`
}

// ErrViewerExpired: the viewer token's time is over.
var ErrViewerExpired = fmt.Errorf("%w: the viewer token has expired", ErrNotFound)

var viewerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// AddViewer records a viewer token by its hash. A name in use is ErrExists
// unless the token it names has expired (it is replaced); the same request
// again (same name and hash) succeeds, so a lost answer can be retried.
func (c *Coordinator) AddViewer(ctx context.Context, v Viewer) error {
	if !viewerNameRE.MatchString(v.Name) {
		return &InvalidError{fmt.Errorf("viewer name %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", v.Name)}
	}
	if !hashRE.MatchString(v.Hash) {
		return &InvalidError{fmt.Errorf("the viewer token's hash must be 64 lowercase hexadecimal digits")}
	}
	if !v.Expires.After(v.Created) {
		return &InvalidError{fmt.Errorf("the viewer token must expire after it is created")}
	}
	rec, err := json.Marshal(viewerRecord{Viewer: v, Hash: v.Hash})
	if err != nil {
		return err
	}
	_, err = c.st.Update(ctx, viewersNS, func(tx store.Tx) error {
		if kv, ok := tx.Get("v/" + v.Name); ok {
			var old viewerRecord
			if json.Unmarshal([]byte(kv.Value), &old) == nil {
				if old.Hash == v.Hash {
					return nil
				}
				if old.Expires.After(v.Created) {
					return fmt.Errorf("%w: a viewer token named %q is in use (revoke it first)", ErrExists, v.Name)
				}
				tx.Delete("h/" + old.Hash)
			}
		}
		if _, ok := tx.Get("h/" + v.Hash); ok {
			return fmt.Errorf("%w: that token is another viewer's", ErrExists)
		}
		tx.Put("v/"+v.Name, string(rec))
		tx.Put("h/"+v.Hash, v.Name)
		return nil
	})
	return err
}

// ViewerForToken returns the viewer whose token has the hex SHA-256 hash:
// ErrNotFound for none, ErrViewerExpired for one whose time is over at now.
func (c *Coordinator) ViewerForToken(ctx context.Context, hash string, now time.Time) (Viewer, error) {
	var v Viewer
	_, err := c.st.View(ctx, viewersNS, func(tx store.Tx) error {
		name, ok := tx.Get("h/" + hash)
		if !ok {
			return ErrNotFound
		}
		kv, ok := tx.Get("v/" + name.Value)
		var rec viewerRecord
		if !ok || json.Unmarshal([]byte(kv.Value), &rec) != nil || rec.Hash != hash {
			return ErrNotFound
		}
		v = rec.Viewer
		v.Hash = rec.Hash
		return nil
	})
	if err != nil {
		return Viewer{}, err
	}
	if !now.Before(v.Expires) {
		return Viewer{}, ErrViewerExpired
	}
	return v, nil
}

// Viewers lists the viewer tokens, by name, expired ones included.
func (c *Coordinator) Viewers(ctx context.Context) ([]Viewer, error) {
	out := []Viewer{}
	_, err := c.st.View(ctx, viewersNS, func(tx store.Tx) error {
		for _, kv := range tx.List("v/") {
			var rec viewerRecord
			if json.Unmarshal([]byte(kv.Value), &rec) == nil {
				out = append(out, rec.Viewer)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RemoveViewer revokes a viewer token: ErrNotFound when there is none of
// that name.
func (c *Coordinator) RemoveViewer(ctx context.Context, name string) error {
	_, err := c.st.Update(ctx, viewersNS, func(tx store.Tx) error {
		kv, ok := tx.Get("v/" + name)
		if !ok {
			return fmt.Errorf("%w: no viewer token named %q", ErrNotFound, strings.TrimSpace(name))
		}
		var rec viewerRecord
		if json.Unmarshal([]byte(kv.Value), &rec) == nil {
			tx.Delete("h/" + rec.Hash)
		}
		tx.Delete("v/" + name)
		return nil
	})
	return err
}

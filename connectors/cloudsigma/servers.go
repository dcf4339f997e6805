package cloudsigma

import (
	"context"
	"net/url"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// createServers creates the servers in one POST /servers/, retried while
// it fails transiently. A POST that failed without a refusal (a 5xx, a
// lost answer) may have made the servers anyway: before asking again it
// looks for servers that boot from the drives the definitions attach,
// and keeps those instead of making twins. On error it returns the
// servers that exist, for the caller to take back.
func (c *Connector) createServers(ctx context.Context, defs []csapi.Server) ([]csapi.Server, error) {
	made := make([]*csapi.Server, len(defs))
	uncertain := false
	err := connectors.Retry(ctx, c.retry, nil, func(ctx context.Context) error {
		if uncertain {
			if err := c.adopt(ctx, defs, made); err != nil {
				return err
			}
		}
		var todo []int
		for i := range defs {
			if made[i] == nil {
				todo = append(todo, i)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		batch := make([]csapi.Server, len(todo))
		for j, i := range todo {
			batch[j] = defs[i]
		}
		got, err := c.api.CreateServers(ctx, batch)
		if err != nil {
			uncertain = uncertain || !rejected(err)
			return apiErr(err)
		}
		for j, i := range todo {
			made[i] = &got[j]
		}
		return nil
	})
	if err != nil && uncertain {
		cctx, cancel := c.cleanupContext(ctx)
		_ = c.adopt(cctx, defs, made) // best effort: what it finds is taken back; err, returned below, says the creation failed
		cancel()
	}
	var out []csapi.Server
	for _, s := range made {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out, err
}

// adopt fills made with the servers, of the definitions' names, that
// boot from their drives.
func (c *Connector) adopt(ctx context.Context, defs []csapi.Server, made []*csapi.Server) error {
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = filterValue(d.Name)
	}
	found, err := c.api.ListServers(ctx, url.Values{"name": {strings.Join(names, ",")}})
	if err != nil {
		return apiErr(err)
	}
	for i, d := range defs {
		if made[i] != nil || len(d.Drives) == 0 {
			continue
		}
		for j := range found {
			if bootsFrom(&found[j], d.Drives[0].Drive.UUID) {
				made[i] = &found[j]
				break
			}
		}
	}
	return nil
}

// bootsFrom reports whether a server has the drive attached.
func bootsFrom(s *csapi.Server, drive string) bool {
	for _, d := range s.Drives {
		if d.Drive.UUID == drive {
			return true
		}
	}
	return false
}

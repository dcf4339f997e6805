package opennebula

import (
	"context"
	"time"

	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/shared"
	"github.com/OpenNebula/one/src/oca/go/src/goca/schemas/user"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
)

// Quota values with a meaning of their own (include/Quota.h).
const (
	quotaDefault   = -1 // the default quota applies
	quotaUnlimited = -2
)

// offersTTL is how long Offers keeps the user's quota: it changes rarely,
// and the provider asks for the offers of every machine it sizes.
const offersTTL = 5 * time.Minute

// Offers is the flavor's instance types, or one Free offer: a VM may have
// as many cores and as much memory as the user's VM quota allows (the
// limits, not what is left of them: OpenNebula refuses a VM over what is
// left with its own message), or MaxCPU and MaxRAMGB where the quota is
// unlimited. The disk is not limited here: the datastore quotas are
// OpenNebula's to enforce.
func (c *Connector) Offers(ctx context.Context) ([]connectors.Offer, error) {
	if len(c.flavor.instanceTypes) > 0 {
		return c.flavor.offers(), nil
	}
	c.mu.Lock()
	if c.offers != nil && time.Since(c.offersAt) < offersTTL {
		out := append([]connectors.Offer(nil), c.offers...)
		c.mu.Unlock()
		return out, nil
	}
	c.mu.Unlock()
	u, err := guard(c, opUser, func() (*user.User, error) { return c.one.User(-1).InfoContext(ctx, false) })
	if err != nil {
		return nil, err
	}
	q, def := vmQuota(u.VM), vmQuota(u.DefaultUserQuotas.VM)
	if limit(float64(q.VMs), float64(def.VMs), 1) == 0 {
		return nil, c.permanent(opUser, "QuotaExhausted", "user %s's VM quota allows no VMs (VMS = 0)", u.Name)
	}
	cpu := min(limit(float64(q.CPU), float64(def.CPU), MaxCPU), limit(float64(q.RunningCPU), float64(def.RunningCPU), MaxCPU))
	mem := min(limit(float64(q.Memory), float64(def.Memory), MaxRAMGB*1024), limit(float64(q.RunningMemory), float64(def.RunningMemory), MaxRAMGB*1024))
	offers := []connectors.Offer{{Name: "", CPU: int(cpu), RAMMB: int(mem), Free: true}}
	c.mu.Lock()
	c.offers, c.offersAt = offers, time.Now()
	c.mu.Unlock()
	return append([]connectors.Offer(nil), offers...), nil
}

// vmQuota is the quota that applies to every cluster (OpenNebula 7 also
// has per-cluster VM quotas, with CLUSTER_IDS); a user without a VM quota
// has the default one.
func vmQuota(qs []shared.VMQuota) shared.VMQuota {
	for _, q := range qs {
		if q.CLUSTER_IDS == "" {
			return q
		}
	}
	return shared.VMQuota{CPU: quotaDefault, Memory: quotaDefault, RunningCPU: quotaDefault, RunningMemory: quotaDefault, VMs: quotaDefault}
}

// limit is a quota's limit: its own, or the default quota's where it
// says "default", or unlimited (max) where either says so.
func limit(own, def, unlimited float64) float64 {
	if own == quotaDefault {
		own = def
	}
	if own < 0 {
		return unlimited
	}
	return min(own, unlimited)
}

package azure

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
)

// Resource types, lower-cased for comparison.
const (
	typeVM             = "microsoft.compute/virtualmachines"
	typeImage          = "microsoft.compute/images"
	typeGallery        = "microsoft.compute/galleries"
	typeGalleryImage   = "microsoft.compute/galleries/images"
	typeGalleryVersion = "microsoft.compute/galleries/images/versions"
	typeNIC            = "microsoft.network/networkinterfaces"
	typePublicIP       = "microsoft.network/publicipaddresses"
	typeSubnet         = "microsoft.network/virtualnetworks/subnets"
)

// resourceRef is a resource id taken apart.
type resourceRef struct {
	id, subscription, group, kind, name string
	parent, grandparent                 string // names of the parents of a child resource
}

// parseRef takes a resource id apart; ok is false when it is not one, or
// not of the type wanted.
func parseRef(id, wantType string) (resourceRef, bool) {
	r, err := arm.ParseResourceID(id)
	if err != nil || r.SubscriptionID == "" || r.ResourceGroupName == "" || r.Name == "" {
		return resourceRef{}, false
	}
	ref := resourceRef{id: id, subscription: r.SubscriptionID, group: r.ResourceGroupName, kind: strings.ToLower(r.ResourceType.String()), name: r.Name}
	if ref.kind != wantType {
		return resourceRef{}, false
	}
	if r.Parent != nil {
		ref.parent = r.Parent.Name
		if r.Parent.Parent != nil {
			ref.grandparent = r.Parent.Parent.Name
		}
	}
	return ref, true
}

// galleryRef is a compute gallery.
type galleryRef = resourceRef

func parseGallery(id string) (galleryRef, bool) { return parseRef(id, typeGallery) }

// vmID is the resource id of a VM of the connector's subscription.
func (c *Connector) vmID(group, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s", c.subscription, group, name)
}

func (c *Connector) resourceID(group, typ, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", c.subscription, group, typ, name)
}

// groupNameOf is the resource group a deployment's machines go in when
// the recipe names none: slipstream-<deployment>, in the characters a
// group name may have.
func groupNameOf(deployment string) string {
	return "slipstream-" + safeName(deployment, 90-len("slipstream-"))
}

// vnetNameOf is the virtual network made for a deployment.
func vnetNameOf(deployment string) string {
	return "slipstream-" + safeName(deployment, 64-len("slipstream--vnet")) + "-vnet"
}

// safeName keeps letters, digits, '-', '_' and '.' of s (others become
// '-'), no trailing '.', at most n characters; a longer name keeps a hash
// of the whole, so that two deployments never share a name.
func safeName(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > n {
		sum := sha256.Sum256([]byte(s))
		out = out[:n-9] + "-" + hex.EncodeToString(sum[:4])
	}
	out = strings.TrimRight(out, ".")
	if out == "" {
		out = "default"
	}
	return out
}

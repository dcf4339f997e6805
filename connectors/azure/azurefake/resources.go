package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4"
	armresourcesfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v4/fake"
)

// groupName is what a resource group may be called.
var groupName = regexp.MustCompile(`^[-\w._()]{1,90}$`)

func (f *Fake) resourceGroupsServer() armresourcesfake.ResourceGroupsServer {
	return armresourcesfake.ResourceGroupsServer{
		CreateOrUpdate: func(_ context.Context, name string, body armresources.ResourceGroup, _ *armresources.ResourceGroupsClientCreateOrUpdateOptions) (resp azfake.Responder[armresources.ResourceGroupsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if !groupName.MatchString(name) || strings.HasSuffix(name, ".") {
				errResp.SetError(&apiError{Status: 400, Code: "InvalidResourceGroup", Message: fmt.Sprintf("The provided resource group name '%s' has these invalid characters: the name may hold letters, digits, '_', '-', '.', '(' and ')', up to 90, and may not end with '.'.", name)})
				return
			}
			if body.Location == nil || *body.Location == "" {
				errResp.SetError(&apiError{Status: 400, Code: "LocationRequired", Message: "The location property is required for this definition."})
				return
			}
			status := http.StatusOK
			rg, ok := f.groups[strings.ToLower(name)]
			switch {
			case ok && rg.deleting:
				errResp.SetError(&apiError{Status: 409, Code: "ResourceGroupBeingDeleted", Message: fmt.Sprintf("The resource group '%s' is in deprovisioning state and cannot perform this operation.", rg.name)})
				return
			case ok && normLocation(rg.location) != normLocation(*body.Location):
				errResp.SetError(&apiError{Status: 409, Code: "InvalidResourceGroupLocation", Message: fmt.Sprintf("Invalid resource group location '%s'. The Resource group already exists in location '%s'.", *body.Location, rg.location)})
				return
			case !ok:
				rg = &resourceGroup{name: name, location: *body.Location}
				f.groups[strings.ToLower(name)] = rg
				status = http.StatusCreated
			}
			rg.tags = tagsIn(body.Tags)
			resp.SetResponse(status, armresources.ResourceGroupsClientCreateOrUpdateResponse{ResourceGroup: f.groupModel(rg)}, nil)
			return
		},
		Get: func(_ context.Context, name string, _ *armresources.ResourceGroupsClientGetOptions) (resp azfake.Responder[armresources.ResourceGroupsClientGetResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			rg, ok := f.groups[strings.ToLower(name)]
			if !ok {
				errResp.SetError(errGroupNotFound(name))
				return
			}
			resp.SetResponse(http.StatusOK, armresources.ResourceGroupsClientGetResponse{ResourceGroup: f.groupModel(rg)}, nil)
			return
		},
		BeginDelete: func(ctx context.Context, name string, _ *armresources.ResourceGroupsClientBeginDeleteOptions) (resp azfake.PollerResponder[armresources.ResourceGroupsClientDeleteResponse], errResp azfake.ErrorResponder) {
			f.mu.Lock()
			defer f.mu.Unlock()
			rg, ok := f.groups[strings.ToLower(name)]
			if !ok {
				errResp.SetError(errGroupNotFound(name))
				return
			}
			rg.deleting = true
			f.deleteGroupContents(rg.name)
			resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			f.track(ctx, func() lroState {
				f.reap()
				if _, still := f.groups[strings.ToLower(name)]; still {
					return inProgress()
				}
				return succeeded(http.StatusNoContent, nil)
			})
			return
		},
	}
}

func (f *Fake) groupModel(rg *resourceGroup) armresources.ResourceGroup {
	state := "Succeeded"
	if rg.deleting {
		state = "Deleting"
	}
	return armresources.ResourceGroup{ID: new(fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", f.opts.SubscriptionID, rg.name)), Name: &rg.name,
		Type: new("Microsoft.Resources/resourceGroups"), Location: &rg.location, Tags: tagsOut(rg.tags),
		Properties: &armresources.ResourceGroupProperties{ProvisioningState: &state}}
}

func (f *Fake) resourcesServer() armresourcesfake.Server {
	return armresourcesfake.Server{
		NewListPager: func(opts *armresources.ClientListOptions) (resp azfake.PagerResponder[armresources.ClientListResponse]) {
			filter := ""
			var top int32
			if opts != nil {
				filter = str(opts.Filter)
				if opts.Top != nil {
					top = *opts.Top
				}
			}
			keep, tagged, err := parseFilter(filter)
			if err != nil {
				// Answered by precheck already; nothing matches a bad filter.
				keep = func(*armresources.GenericResourceExpanded) bool { return false }
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			page := armresources.ClientListResponse{}
			for _, r := range f.genericResources() {
				if !keep(r) {
					continue
				}
				if tagged {
					// ARM does not return a resource's tags when the
					// listing is filtered by tag.
					r.Tags = nil
				}
				page.Value = append(page.Value, r)
				if top > 0 && len(page.Value) >= int(top) {
					break
				}
			}
			resp.AddPage(http.StatusOK, page, nil)
			return
		},
	}
}

// genericResources are the fake's resources as the resource listing
// shows them, sorted by id; f.mu is held.
func (f *Fake) genericResources() []*armresources.GenericResourceExpanded {
	var out []*armresources.GenericResourceExpanded
	add := func(id, name, typ, location string, tags map[string]string) {
		out = append(out, &armresources.GenericResourceExpanded{ID: new(id), Name: new(name), Type: new(typ), Location: new(location), Tags: tagsOut(tags)})
	}
	for _, v := range f.vms {
		add(v.id, v.name, "Microsoft.Compute/virtualMachines", v.location, v.tags)
	}
	for _, r := range f.nics {
		add(r.id, r.name, "Microsoft.Network/networkInterfaces", r.location, r.tags)
	}
	for _, r := range f.pips {
		add(r.id, r.name, "Microsoft.Network/publicIPAddresses", r.location, r.tags)
	}
	for _, r := range f.vnets {
		add(r.id, r.name, "Microsoft.Network/virtualNetworks", r.location, r.tags)
	}
	for _, r := range f.disks {
		add(r.id, r.name, "Microsoft.Compute/disks", r.location, nil)
	}
	for _, r := range f.images {
		add(r.id, r.name, "Microsoft.Compute/images", r.location, r.tags)
	}
	for _, r := range f.galleries {
		add(r.id, r.name, "Microsoft.Compute/galleries", r.location, r.tags)
	}
	for _, r := range f.imageDefs {
		add(r.id, r.name, "Microsoft.Compute/galleries/images", r.location, r.tags)
	}
	for _, r := range f.versions {
		add(r.id, r.name, "Microsoft.Compute/galleries/images/versions", r.location, r.tags)
	}
	slices.SortFunc(out, func(a, b *armresources.GenericResourceExpanded) int { return strings.Compare(*a.ID, *b.ID) })
	return out
}

// parseFilter reads a resource listing's $filter: conditions `field eq
// 'value'` joined by `and`, on tagName and tagValue, or on resourceType,
// name, location and resourceGroup. As on ARM, tag conditions cannot be
// combined with the others. tagged reports a tag filter.
func parseFilter(filter string) (keep func(*armresources.GenericResourceExpanded) bool, tagged bool, err *apiError) {
	conds := map[string]string{}
	invalid := func(why string) *apiError {
		return &apiError{Status: 400, Code: "InvalidFilterInQueryString", Message: fmt.Sprintf("Invalid $filter '%s' specified in the query string: %s.", filter, why)}
	}
	rest := strings.TrimSpace(filter)
	for rest != "" {
		i := strings.IndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			return nil, false, invalid("a condition is `field eq 'value'`")
		}
		field := strings.ToLower(rest[:i])
		rest = strings.TrimSpace(rest[i:])
		op, after, ok := strings.Cut(rest, " ")
		if !ok || !strings.EqualFold(op, "eq") {
			return nil, false, invalid("only the eq operator is supported")
		}
		rest = strings.TrimSpace(after)
		if !strings.HasPrefix(rest, "'") {
			return nil, false, invalid("values are quoted with '")
		}
		var val strings.Builder
		j := 1
		for ; j < len(rest); j++ {
			if rest[j] == '\'' {
				if j+1 < len(rest) && rest[j+1] == '\'' {
					val.WriteByte('\'')
					j++
					continue
				}
				break
			}
			val.WriteByte(rest[j])
		}
		if j >= len(rest) {
			return nil, false, invalid("a value is not closed")
		}
		switch field {
		case "tagname", "tagvalue", "resourcetype", "name", "location", "resourcegroup":
		default:
			return nil, false, invalid("unknown field " + field)
		}
		if _, dup := conds[field]; dup {
			return nil, false, invalid("field " + field + " appears twice")
		}
		conds[field] = val.String()
		rest = strings.TrimSpace(rest[j+1:])
		if rest == "" {
			break
		}
		and, after, ok := strings.Cut(rest, " ")
		if !ok || !strings.EqualFold(and, "and") {
			return nil, false, invalid("conditions are joined by and")
		}
		rest = strings.TrimSpace(after)
	}
	_, hasName := conds["tagname"]
	_, hasValue := conds["tagvalue"]
	tagged = hasName || hasValue
	if hasValue && !hasName {
		return nil, false, invalid("tagValue needs tagName")
	}
	if tagged && len(conds) > 2 || tagged && len(conds) == 2 && !hasValue {
		return nil, false, invalid("a filter by tag cannot be combined with other conditions")
	}
	keep = func(r *armresources.GenericResourceExpanded) bool {
		for field, want := range conds {
			switch field {
			case "tagname":
				v, ok := r.Tags[want]
				if !ok {
					return false
				}
				if tv, ok := conds["tagvalue"]; ok && str(v) != tv {
					return false
				}
			case "resourcetype":
				if !strings.EqualFold(str(r.Type), want) {
					return false
				}
			case "name":
				if !strings.EqualFold(str(r.Name), want) {
					return false
				}
			case "location":
				if normLocation(str(r.Location)) != normLocation(want) {
					return false
				}
			case "resourcegroup":
				ref, ok := parseID(str(r.ID))
				if !ok || !strings.EqualFold(ref.group, want) {
					return false
				}
			}
		}
		return true
	}
	return keep, tagged, nil
}

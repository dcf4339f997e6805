package openstackfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// serverAttributes are the members of a create request's "server" Nova
// accepts, with the microversion that introduced each (0: always) or, when
// negative, the one that removed it.
var serverAttributes = map[string]int{
	"name": 0, "imageRef": 0, "flavorRef": 0, "networks": 0, "user_data": 0, "metadata": 0, "key_name": 0,
	"security_groups": 0, "availability_zone": 0, "min_count": 0, "max_count": 0, "return_reservation_id": 0,
	"adminPass": 0, "accessIPv4": 0, "accessIPv6": 0, "OS-DCF:diskConfig": 0, "config_drive": 0,
	"block_device_mapping_v2": 0, "block_device_mapping": 0, "description": 19, "tags": 52,
	"trusted_image_certificates": 63, "host": 74, "hypervisor_hostname": 74, "hostname": 90, "personality": -57,
}

// createRequest is a checked POST /servers.
type createRequest struct {
	name           string
	image          fakecloud.Image
	flavor         flavor
	networks       []string
	userData       []byte
	metadata       map[string]string
	tags           []string
	keyName        string
	sshKeys        []string
	securityGroups []string
	zone           string
	minCount       int
	maxCount       int
	reservation    bool
}

// badRequest answers 400 and returns false, for the checks below.
func (c *call) badRequest(format string, args ...any) bool {
	c.errorf(http.StatusBadRequest, format, args...)
	return false
}

func invalid(field string, value json.RawMessage, why string) string {
	return fmt.Sprintf("Invalid input for field/attribute %s. Value: %s. %s", field, value, why)
}

// parseCreate checks a create request as Nova's schema and API do,
// answering the error itself when it is not valid.
func (c *call) parseCreate() (*createRequest, bool) {
	var top map[string]json.RawMessage
	if err := decodeJSON(c.r, &top); err != nil {
		return nil, c.badRequest("%s", jsonError(err))
	}
	for k := range top {
		if k != "server" && k != "os:scheduler_hints" && k != "OS-SCH-HNT:scheduler_hints" {
			return nil, c.badRequest("Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	rawServer, ok := top["server"]
	if !ok {
		return nil, c.badRequest("Invalid input for field/attribute server. 'server' is a required property")
	}
	var s map[string]json.RawMessage
	if err := json.Unmarshal(rawServer, &s); err != nil || s == nil {
		return nil, c.badRequest("%s", invalid("server", rawServer, "It is not of type 'object'"))
	}
	for k := range s {
		since, known := serverAttributes[k]
		if !known || since > 0 && !c.mv.atLeast(since) || since < 0 && c.mv.atLeast(-since) {
			return nil, c.badRequest("Invalid input for field/attribute server. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	req := &createRequest{minCount: 1}
	ok = c.parseName(s, req) && c.parseImage(s, req) && c.parseFlavor(s, req) && c.parseNetworks(s, req) &&
		c.parseUserData(s, req) && c.parseMetadata(s, req) && c.parseTags(s, req) && c.parseKey(s, req) &&
		c.parsePlacement(s, req) && c.parseCounts(s, req)
	return req, ok
}

func (c *call) parseName(s map[string]json.RawMessage, req *createRequest) bool {
	if _, ok := s["name"]; !ok {
		return c.badRequest("Invalid input for field/attribute server. 'name' is a required property")
	}
	if err := decodeField(s, "name", &req.name); err != nil {
		return c.badRequest("%s", invalid("name", s["name"], "It is not of type 'string'"))
	}
	if strings.TrimSpace(req.name) == "" || len(req.name) > 255 {
		return c.badRequest("%s", invalid("name", s["name"], "It must be 1 to 255 characters, not only spaces"))
	}
	return true
}

func (c *call) parseImage(s map[string]json.RawMessage, req *createRequest) bool {
	if _, ok := s["block_device_mapping_v2"]; ok {
		return c.badRequest("Block device mappings are not supported by this fake cloud: boot from imageRef")
	}
	if _, ok := s["block_device_mapping"]; ok {
		return c.badRequest("Block device mappings are not supported by this fake cloud: boot from imageRef")
	}
	var ref string
	if _, ok := s["imageRef"]; !ok {
		return c.badRequest("Invalid input for field/attribute server. 'imageRef' is a required property")
	}
	if err := decodeField(s, "imageRef", &ref); err != nil {
		return c.badRequest("%s", invalid("imageRef", s["imageRef"], "It is not of type 'string'"))
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if !isUUID(ref) {
		return c.badRequest("Invalid imageRef provided.")
	}
	img, err := c.f.cloud.Image(ref)
	if err != nil {
		return c.badRequest("Can not find requested image")
	}
	if img.State != "available" {
		return c.badRequest("Image %s is not active.", img.ID)
	}
	req.image = img
	return true
}

func (c *call) parseFlavor(s map[string]json.RawMessage, req *createRequest) bool {
	raw, ok := s["flavorRef"]
	if !ok {
		return c.badRequest("Invalid input for field/attribute server. 'flavorRef' is a required property")
	}
	var ref string
	if err := json.Unmarshal(raw, &ref); err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return c.badRequest("%s", invalid("flavorRef", raw, "It is not of type 'string', 'integer'"))
		}
		ref = n.String()
	}
	fl, found := c.f.flavorByRef(ref)
	if !found {
		return c.badRequest("Flavor %s could not be found.", ref)
	}
	req.flavor = fl
	return true
}

func (c *call) parseNetworks(s map[string]json.RawMessage, req *createRequest) bool {
	raw, given := s["networks"]
	if !given && c.mv.atLeast(37) {
		return c.badRequest("Invalid input for field/attribute server. 'networks' is a required property")
	}
	auto := !given
	if given {
		var word string
		if json.Unmarshal(raw, &word) == nil {
			if !c.mv.atLeast(37) || word != "auto" && word != "none" {
				return c.badRequest("%s", invalid("networks", raw, "It is not of type 'array'"))
			}
			if word == "none" {
				return true
			}
			auto = true
		}
	}
	if auto {
		nets := c.f.tenantNetworks()
		if len(nets) > 1 {
			c.errorf(http.StatusConflict, "Multiple possible networks found, use a Network ID to be more specific.")
			return false
		}
		for _, n := range nets {
			req.networks = append(req.networks, n.ID)
		}
		return true
	}
	var list []struct {
		UUID    *string `json:"uuid"`
		Port    *string `json:"port"`
		FixedIP *string `json:"fixed_ip"`
		Tag     *string `json:"tag"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return c.badRequest("%s", invalid("networks", raw, "It is not an array of networks: "+jsonError(err)))
	}
	if len(list) > 1 {
		return c.badRequest("This fake cloud attaches one network per server; %d were asked for", len(list))
	}
	for _, n := range list {
		if n.Port != nil {
			return c.badRequest("This fake cloud cannot attach existing ports; give the network's uuid")
		}
		if n.UUID == nil {
			return c.badRequest("%s", invalid("networks", raw, "'uuid' is a required property"))
		}
		if _, ok := c.f.networkByID(*n.UUID); !ok {
			return c.badRequest("Network %s could not be found.", *n.UUID)
		}
		req.networks = append(req.networks, *n.UUID)
	}
	return true
}

// maxUserData is Nova's limit on base64 user-data.
const maxUserData = 65535

func (c *call) parseUserData(s map[string]json.RawMessage, req *createRequest) bool {
	raw, ok := s["user_data"]
	if !ok || string(raw) == "null" {
		return true
	}
	var b64 string
	if err := json.Unmarshal(raw, &b64); err != nil {
		return c.badRequest("%s", invalid("user_data", raw, "It is not of type 'string'"))
	}
	if len(b64) > maxUserData {
		return c.badRequest("Invalid input for field/attribute user_data. Value is too long (%d > %d characters)", len(b64), maxUserData)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return c.badRequest("User data needs to be valid base 64.")
	}
	req.userData = data
	return true
}

func (c *call) parseMetadata(s map[string]json.RawMessage, req *createRequest) bool {
	raw, ok := s["metadata"]
	if !ok {
		return true
	}
	if err := json.Unmarshal(raw, &req.metadata); err != nil {
		return c.badRequest("%s", invalid("metadata", raw, "Metadata must be an object of strings"))
	}
	for k, v := range req.metadata {
		if len(k) < 1 || len(k) > 255 {
			return c.badRequest("Invalid input for field/attribute metadata. Metadata key %q is not 1 to 255 characters long", k)
		}
		if len(v) > 255 {
			return c.badRequest("Invalid input for field/attribute metadata. The value of metadata key %q is longer than 255 characters", k)
		}
	}
	if len(req.metadata) > 128 {
		c.errorf(http.StatusForbidden, "Quota exceeded for metadata_items: Requested %d, but already used 0 of 128 metadata_items", len(req.metadata))
		return false
	}
	return true
}

func (c *call) parseTags(s map[string]json.RawMessage, req *createRequest) bool {
	raw, ok := s["tags"]
	if !ok {
		return true
	}
	if err := json.Unmarshal(raw, &req.tags); err != nil {
		return c.badRequest("%s", invalid("tags", raw, "It is not an array of strings"))
	}
	if len(req.tags) > 50 {
		return c.badRequest("%s", invalid("tags", raw, "It has more than 50 items"))
	}
	for _, t := range req.tags {
		if t == "" || len(t) > 60 || strings.ContainsAny(t, "/,") {
			return c.badRequest("Invalid input for field/attribute tags. Value: %s. Tags must be 1 to 60 characters without '/' or ','", t)
		}
	}
	return true
}

func (c *call) parseKey(s map[string]json.RawMessage, req *createRequest) bool {
	raw, ok := s["key_name"]
	if !ok || string(raw) == "null" {
		return true
	}
	if err := json.Unmarshal(raw, &req.keyName); err != nil {
		return c.badRequest("%s", invalid("key_name", raw, "It is not of type 'string'"))
	}
	k, err := c.f.cloud.Key(req.keyName)
	if err != nil {
		return c.badRequest("Invalid key_name provided.")
	}
	req.sshKeys = []string{k.PublicKey}
	return true
}

func (c *call) parsePlacement(s map[string]json.RawMessage, req *createRequest) bool {
	req.securityGroups = []string{"default"}
	if raw, ok := s["security_groups"]; ok {
		var groups []struct {
			Name *string `json:"name"`
		}
		if err := json.Unmarshal(raw, &groups); err != nil {
			return c.badRequest("%s", invalid("security_groups", raw, "It is not an array of {\"name\": …}"))
		}
		req.securityGroups = nil
		for _, g := range groups {
			if g.Name == nil {
				return c.badRequest("%s", invalid("security_groups", raw, "'name' is a required property"))
			}
			if *g.Name != "default" && !slices.Contains(c.f.opts.SecurityGroups, *g.Name) {
				return c.badRequest("Unable to find security_group with name or id '%s'", *g.Name)
			}
			req.securityGroups = append(req.securityGroups, *g.Name)
		}
	}
	req.zone = c.f.opts.AvailabilityZones[0]
	if raw, ok := s["availability_zone"]; ok {
		if err := json.Unmarshal(raw, &req.zone); err != nil {
			return c.badRequest("%s", invalid("availability_zone", raw, "It is not of type 'string'"))
		}
		if !slices.Contains(c.f.opts.AvailabilityZones, req.zone) {
			return c.badRequest("The requested availability zone is not available")
		}
	}
	return true
}

func (c *call) parseCounts(s map[string]json.RawMessage, req *createRequest) bool {
	count := func(name string, into *int) bool {
		raw, ok := s[name]
		if !ok {
			return true
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			var str string
			if json.Unmarshal(raw, &str) != nil {
				return c.badRequest("%s", invalid(name, raw, "It is not of type 'integer', 'string'"))
			}
			n = json.Number(str)
		}
		v, err := n.Int64()
		if err != nil || v < 1 || v > 1000 {
			return c.badRequest("%s", invalid(name, raw, "It must be an integer from 1"))
		}
		*into = int(v)
		return true
	}
	if !count("min_count", &req.minCount) || !count("max_count", &req.maxCount) {
		return false
	}
	if req.maxCount == 0 {
		req.maxCount = req.minCount
	}
	if req.minCount > req.maxCount {
		return c.badRequest("min_count must be <= max_count")
	}
	if raw, ok := s["return_reservation_id"]; ok {
		if err := json.Unmarshal(raw, &req.reservation); err != nil {
			return c.badRequest("%s", invalid("return_reservation_id", raw, "It is not of type 'boolean'"))
		}
	}
	return true
}

// createServer is POST /servers: it accepts max_count servers at once
// (named "<name>-<n>" when more than one, as Nova does), each BUILD with
// task_state "scheduling" for a while. A capacity fault is found out
// then: the server goes to ERROR with Nova's "No valid host" fault.
func (c *call) createServer() {
	req, ok := c.parseCreate()
	if !ok {
		return
	}
	res := reservationID()
	var made []fakecloud.Machine
	undo := func() {
		for _, m := range made {
			// Just made by this call: Terminate fails only on an unknown
			// id, and the request's own error is what the client gets.
			_, _ = c.f.cloud.Terminate(m.ID)
		}
	}
	for i := range req.maxCount {
		name := req.name
		if req.maxCount > 1 {
			name = fmt.Sprintf("%s-%d", req.name, i+1)
		}
		ms, err := c.f.cloud.Run(fakecloud.RunRequest{
			Op: "POST /servers", Name: name, ImageID: req.image.ID,
			Type: req.flavor.Name, CPU: req.flavor.VCPUs, RAMMB: req.flavor.RAMMB, DiskGB: req.flavor.DiskGB,
			UserData: req.userData, SSHKeys: req.sshKeys, KeyName: req.keyName, Labels: req.metadata,
			Extra: map[string]any{
				extraFlavorID: req.flavor.ID, extraNetworks: req.networks, extraSecurityGroups: req.securityGroups,
				extraAZ: req.zone, extraTags: req.tags, extraReservation: res, extraLaunchIndex: i,
			},
			FailLater: c.f.opts.SchedulingDelay,
		})
		if err != nil {
			undo()
			c.runFailed(err, req.maxCount)
			return
		}
		made = append(made, ms...)
	}
	first := made[0]
	c.w.Header().Set("Location", c.base+"/compute/v2.1/servers/"+first.ID)
	if req.reservation {
		writeJSON(c.w, http.StatusAccepted, map[string]any{"reservation_id": res})
		return
	}
	var groups []any
	for _, g := range req.securityGroups {
		groups = append(groups, map[string]any{"name": g})
	}
	var pass [6]byte
	rand.Read(pass[:])
	writeJSON(c.w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id": first.ID, "links": c.serverLinks(first.ID), "OS-DCF:diskConfig": "MANUAL",
		"security_groups": groups, "adminPass": hex.EncodeToString(pass[:]),
	}})
}

// runFailed answers a Cloud.Run error as Nova would.
func (c *call) runFailed(err error, asked int) {
	var fault *fakecloud.Fault
	switch {
	case errors.As(err, &fault) && fault.Kind == fakecloud.FaultQuota:
		used := len(c.f.cloud.Machines(fakecloud.Live))
		c.errorf(http.StatusForbidden, "Quota exceeded for instances: Requested %d, but already used %d of %d instances", asked, used, used)
	case errors.As(err, &fault) && fault.Kind == fakecloud.FaultCapacity:
		c.errorf(http.StatusInternalServerError, "No valid host was found. There are not enough hosts available.")
	case errors.Is(err, fakecloud.ErrImageNotFound):
		c.errorf(http.StatusBadRequest, "Can not find requested image")
	case errors.Is(err, fakecloud.ErrImageNotReady):
		c.errorf(http.StatusBadRequest, "Image is not active: %s", err)
	default:
		c.errorf(http.StatusServiceUnavailable, "The server is currently unavailable: %s", err)
	}
}

package cloudsigma

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors"
	"github.com/slipstream/terraform-provider-slipstream/connectors/cloudsigma/csapi"
)

// Server meta keys with a meaning (Meta, "Server's metadata fields with
// special meaning"): what cloud-init's CloudSigma datasource reads.
const (
	// metaUserData is the cloud-init user-data, base64 (multi-line
	// values travel badly through the server context).
	metaUserData = "cloudinit-user-data"
	// metaBase64Fields lists, comma-separated, the meta keys in base64.
	metaBase64Fields = "base64_fields"
	// metaSSHKey is authorized for the image's login user.
	metaSSHKey = "ssh_public_key"
	// metaImage is the connector's own: the image the server's drive was
	// cloned from, which CloudSigma does not remember.
	metaImage = "slipstream-image-id"
)

// maxMetaKey is the longest meta key CloudSigma takes (Objects' metadata
// field: "keys are limited to 32 characters").
const maxMetaKey = 32

// reserved are the meta keys that are not labels.
var reserved = []string{metaUserData, metaBase64Fields, metaSSHKey, metaImage}

// checkLabels refuses labels CloudSigma's meta cannot hold or that would
// take the place of the connector's own keys.
func checkLabels(op string, labels map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		switch {
		case k == "":
			return permanent(op, "InvalidLabel", "a label has an empty name")
		case len([]rune(k)) > maxMetaKey:
			return permanent(op, "InvalidLabel", "label %q is longer than the %d characters CloudSigma allows a meta key", k, maxMetaKey)
		case slices.Contains(reserved, k):
			return permanent(op, "InvalidLabel", "label %q is a meta key the connector sets itself", k)
		}
	}
	return nil
}

// serverMeta is a server's meta: the spec's labels, the image, and the
// contextualization cloud-init reads (the user-data in base64).
func serverMeta(spec connectors.MachineSpec, sshKey string) csapi.Meta {
	meta := csapi.Meta{}
	maps.Copy(meta, spec.Labels)
	meta[metaImage] = spec.ImageID
	if spec.UserData != "" {
		meta[metaUserData] = base64.StdEncoding.EncodeToString([]byte(spec.UserData))
		meta[metaBase64Fields] = metaUserData
	}
	if sshKey != "" {
		meta[metaSSHKey] = sshKey
	}
	return meta
}

// driveMeta is the meta of a machine's drive: the spec's labels, so that
// a drive a create left behind (its process killed between the clone and
// the server) can be found by its deployment and instance.
func driveMeta(spec connectors.MachineSpec) csapi.Meta {
	meta := csapi.Meta{}
	maps.Copy(meta, spec.Labels)
	meta[metaImage] = spec.ImageID
	return meta
}

// labelsOf are the labels in a server's meta: everything but the
// connector's keys and the base64 payloads.
func labelsOf(meta csapi.Meta) map[string]string {
	labels := map[string]string{}
	encoded := strings.Split(meta[metaBase64Fields], ",")
	for k, v := range meta {
		if slices.Contains(reserved, k) || slices.Contains(encoded, k) {
			continue
		}
		labels[k] = v
	}
	return labels
}

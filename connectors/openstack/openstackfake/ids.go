package openstackfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// NewID makes OpenStack-shaped ids: random version-4 UUIDs for every kind
// of thing. Give it to fakecloud.Options.NewID so that the Cloud's
// machines and images have the ids Nova and Glance would give them:
//
//	cloud, err := fakecloud.New(fakecloud.Options{Name: "openstack", NewID: openstackfake.NewID})
func NewID(kind string) string {
	var b [16]byte
	rand.Read(b[:])
	return formatUUID(b)
}

// derivedID is a UUID that depends only on kind and of: the id of a
// thing that exists exactly as long as another (a server's port), so
// that the fake need not store it.
func derivedID(kind, of string) string {
	sum := sha256.Sum256([]byte(kind + "/" + of))
	var b [16]byte
	copy(b[:], sum[:16])
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// derivedMAC is the MAC address of a server's port, as Neutron gives
// them (fa:16:3e:…).
func derivedMAC(of string) string {
	sum := sha256.Sum256([]byte("mac/" + of))
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", sum[0], sum[1], sum[2])
}

// reservationID is a Nova reservation id ("r-" and eight characters).
func reservationID() string {
	var b [4]byte
	rand.Read(b[:])
	return "r-" + hex.EncodeToString(b[:])
}

// isUUID reports whether s has the shape of a UUID (any version).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

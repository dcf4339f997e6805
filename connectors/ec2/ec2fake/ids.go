package ec2fake

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// randomHex is n random lower-case hex digits.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// newID is an id in EC2's long form: a prefix, a dash and 17 hex digits
// ("i-0123456789abcdef0").
func newID(prefix string) string { return prefix + "-" + randomHex(17) }

// idPattern is the hex part of an EC2 id, short (8) or long (17).
var idPattern = regexp.MustCompile(`^(?:[0-9a-f]{8}|[0-9a-f]{17})$`)

// validID reports whether id is prefix-<8 or 17 hex digits>; EC2 answers
// any other shape with a *.Malformed error before it looks for the id.
func validID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"-")
	return ok && idPattern.MatchString(rest)
}

// NewCloud returns a fake cloud named "ec2" whose machines, images and
// key pairs get EC2-shaped ids ("i-…", "ami-…", "key-…"): the cloud the
// Server expects. Fields of opts that are set are kept.
func NewCloud(opts fakecloud.Options) (*fakecloud.Cloud, error) {
	if opts.Name == "" {
		opts.Name = "ec2"
	}
	if opts.NewID == nil {
		opts.NewID = func(kind string) string {
			switch kind {
			case "machine":
				return newID("i")
			case "image":
				return newID("ami")
			}
			return newID(kind)
		}
	}
	return fakecloud.New(opts)
}

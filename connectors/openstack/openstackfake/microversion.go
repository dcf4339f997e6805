package openstackfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// microversion is a Nova API microversion, "2.52".
type microversion struct{ major, minor int }

func parseMicroversion(s string) (microversion, error) {
	maj, mnr, ok := strings.Cut(strings.TrimSpace(s), ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(mnr)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 {
		return microversion{}, errBadVersion(s)
	}
	return microversion{a, b}, nil
}

func (v microversion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v microversion) less(o microversion) bool {
	return v.major < o.major || v.major == o.major && v.minor < o.minor
}

// atLeast reports whether v is 2.minor or later.
func (v microversion) atLeast(minor int) bool { return !v.less(microversion{2, minor}) }

// errBadVersion is a microversion that is not "major.minor": Nova
// answers 400 with this message.
type errBadVersion string

func (e errBadVersion) Error() string {
	return "API Version String " + string(e) + " is of invalid format. Must be of format MajorNum.MinorNum."
}

// errVersionOutOfRange is a well-formed microversion the fake does not
// serve: Nova answers 406.
type errVersionOutOfRange struct{ msg string }

func (e errVersionOutOfRange) Error() string { return e.msg }

// negotiate reads the microversion a request asks for: the
// OpenStack-API-Version header ("compute 2.52") or the older
// X-OpenStack-Nova-API-Version ("2.52"); "latest" is the maximum, none is
// the minimum, as Nova does.
func (f *Fake) negotiate(h http.Header) (microversion, error) {
	asked := ""
	for _, v := range h.Values("OpenStack-API-Version") {
		for item := range strings.SplitSeq(v, ",") {
			svc, ver, ok := strings.Cut(strings.TrimSpace(item), " ")
			if ok && strings.EqualFold(svc, "compute") {
				asked = strings.TrimSpace(ver)
			}
		}
	}
	if asked == "" {
		asked = strings.TrimSpace(h.Get("X-OpenStack-Nova-API-Version"))
	}
	switch {
	case asked == "":
		return f.minMV, nil
	case strings.EqualFold(asked, "latest"):
		return f.maxMV, nil
	}
	v, err := parseMicroversion(asked)
	if err != nil {
		return microversion{}, err
	}
	if v.less(f.minMV) || f.maxMV.less(v) {
		return microversion{}, errVersionOutOfRange{fmt.Sprintf("Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, f.minMV, f.maxMV)}
	}
	return v, nil
}

// echoMicroversion says which microversion answered, as Nova does on
// every response.
func (c *call) echoMicroversion(v microversion) {
	h := c.w.Header()
	h.Set("X-OpenStack-Nova-API-Version", v.String())
	h.Set("OpenStack-API-Version", "compute "+v.String())
	h.Set("Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
}

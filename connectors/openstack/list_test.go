package openstack

import (
	"fmt"
	"slices"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/connectors/openstack/openstackfake"
)

func TestTagsFollowTheMicroversion(t *testing.T) {
	for _, tc := range []struct {
		max  string
		tags bool
	}{{"2.96", true}, {"2.51", false}} {
		t.Run(tc.max, func(t *testing.T) {
			f, img := newFake(t, openstackfake.Options{MaxMicroversion: tc.max})
			conn := connectTo(t, f, settingsFor(f))
			m, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-tags", "web.1"))
			if err != nil {
				t.Fatal(err)
			}
			fm, _ := f.Cloud().Machine(m.ID)
			tags, _ := fm.Extra["tags"].([]string)
			if got := slices.Contains(tags, "slipstream-deployment=dep-tags"); got != tc.tags {
				t.Errorf("with Nova at most %s the server's tags are %v", tc.max, tags)
			}
			if got, err := conn.Describe(ctxFor(t), m.ID); err != nil || got.Type == "" {
				t.Errorf("Describe: %v, flavor %q", err, got.Type)
			}
		})
	}
}

// Lists longer than a page are read to the end.
func TestListAndOffersReadEveryPage(t *testing.T) {
	f, img := newFake(t, openstackfake.Options{MaxLimit: 2})
	conn := connectTo(t, f, settingsFor(f))
	var want []string
	for i := range 5 {
		m, err := conn.Create(ctxFor(t), connectorSpec(img, "dep-pages", fmt.Sprintf("web.%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, m.ID)
	}
	conn.Create(ctxFor(t), connectorSpec(img, "dep-other", "web.1"))
	list, err := conn.List(ctxFor(t), "dep-pages")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range list {
		got = append(got, m.ID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List over pages of 2 = %v, want %v", got, want)
	}
	offers, err := conn.Offers(ctxFor(t))
	if err != nil || len(offers) < 10 {
		t.Errorf("Offers over pages of 2: %d offers, %v", len(offers), err)
	}
	if f.Cloud().Calls("GET /servers/detail") < 3 {
		t.Errorf("List read %d pages", f.Cloud().Calls("GET /servers/detail"))
	}
}

package catalog

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestCatalogIsConsistent guards the invariants the compiler and the
// provider rely on when they build from the catalog.
func TestCatalogIsConsistent(t *testing.T) {
	names := Names()
	if !sort.StringsAreSorted(names) || len(names) == 0 {
		t.Fatalf("Names() = %v, want a sorted, non-empty list", names)
	}
	ident := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	resources := map[string]string{}
	for _, name := range names {
		c, ok := Lookup(name)
		if !ok || c.Name != name {
			t.Fatalf("Lookup(%q) = %+v", name, c)
		}
		if !regexp.MustCompile(`^slipstream_` + name + `_[a-z]+$`).MatchString(c.Resource) {
			t.Errorf("%s: resource type %q does not follow slipstream_<connector>_<thing>", name, c.Resource)
		}
		if prev, dup := resources[c.Resource]; dup {
			t.Errorf("%s and %s share resource type %s", prev, name, c.Resource)
		}
		resources[c.Resource] = name
		if c.Bootstrap != "user_data" && c.Bootstrap != "ssh_bootstrap" {
			t.Errorf("%s: unknown bootstrap attribute %q", name, c.Bootstrap)
		}
		seen := map[string]bool{}
		for _, s := range c.Settings {
			if !ident.MatchString(s.Name) {
				t.Errorf("%s: setting %q is not a Terraform attribute name", name, s.Name)
			}
			if seen[s.Name] {
				t.Errorf("%s: setting %q listed twice", name, s.Name)
			}
			seen[s.Name] = true
			if s.Description == "" {
				t.Errorf("%s.%s has no description", name, s.Name)
			}
			switch s.Name {
			case "connector", "description":
				t.Errorf("%s.%s collides with a cloud block argument", name, s.Name)
			}
			if s.Required && s.Scope == ScopeInstance {
				t.Errorf("%s.%s: a required setting must be cloud-wide, so one cloud block can satisfy it", name, s.Name)
			}
		}
		if got, _ := c.Setting("no_such_setting"); got.Name != "" {
			t.Error("Setting found a setting that does not exist")
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found an unknown connector")
	}
}

func TestSettingNames(t *testing.T) {
	c, _ := Lookup("ec2")
	got := c.SettingNames(ScopeProvider)
	want := []string{"access_key", "endpoint", "profile", "region", "secret_key"}
	if len(got) != len(want) {
		t.Fatalf("SettingNames(ScopeProvider) = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("SettingNames(ScopeProvider) = %v, want %v", got, want)
		}
	}
}

// TestImplementedAndPlanned: every connector is either implemented or
// planned, and the planned ones keep their settings (so issue 10 only
// flips Implemented). Whether an implemented connector really has its
// resource is checked against the provider itself, in
// provider.TestCatalogImplementedMatchesResources.
func TestImplementedAndPlanned(t *testing.T) {
	impl, planned := Implemented(), Planned()
	if len(impl) == 0 {
		t.Fatal("no connector is implemented")
	}
	if len(impl)+len(planned) != len(Names()) {
		t.Fatalf("implemented %v + planned %v is not every connector %v", impl, planned, Names())
	}
	for _, n := range impl {
		if c, _ := Lookup(n); !c.Implemented {
			t.Errorf("Implemented() lists %s, whose flag is false", n)
		}
	}
	for _, n := range planned {
		c, _ := Lookup(n)
		if c.Implemented {
			t.Errorf("Planned() lists %s, whose flag is true", n)
		}
		if len(c.Settings) == 0 {
			t.Errorf("planned connector %s has no settings: keep them, so the connector's work only flips the flag", n)
		}
	}
	if c, _ := Lookup("fixed"); !c.Implemented {
		t.Error("the fixed connector is implemented (slipstream_fixed_host)")
	}
}

// TestRecipesDocListsEveryConnector: docs/recipes.md's table of
// connectors has a row for every implemented connector naming each of its
// settings, so the guide says what slipc checks.
func TestRecipesDocListsEveryConnector(t *testing.T) {
	doc, err := os.ReadFile("../../docs/recipes.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `"); ok {
			if name, _, ok := strings.Cut(rest, "`"); ok {
				rows[name] = line
			}
		}
	}
	for _, name := range Implemented() {
		row, ok := rows[name]
		if !ok {
			t.Errorf("docs/recipes.md has no row for connector %s", name)
			continue
		}
		c, _ := Lookup(name)
		for _, s := range c.Settings {
			if !strings.Contains(row, "`"+s.Name+"`") {
				t.Errorf("docs/recipes.md's row for %s does not name its setting %s", name, s.Name)
			}
		}
	}
}

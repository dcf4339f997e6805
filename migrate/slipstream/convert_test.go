package slipstream

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

func importOK(t *testing.T, inputs ...Input) *Result {
	t.Helper()
	res, err := Import(inputs)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

// validate writes the recipe and checks it as slipc validate does; it
// fails the test on any error and returns the warnings.
func validate(t *testing.T, res *Result) hcl.Diagnostics {
	t.Helper()
	dir := t.TempDir()
	if err := res.Write(dir, false); err != nil {
		t.Fatal(err)
	}
	prog, diags := compiler.Load(dir, compiler.Options{})
	if prog != nil {
		_, d := prog.CheckAll()
		diags = append(diags, d...)
	}
	if diags.HasErrors() {
		var files strings.Builder
		for p, b := range res.Files {
			if strings.HasSuffix(p, ".slip.hcl") {
				files.WriteString("--- " + p + "\n" + string(b))
			}
		}
		t.Fatalf("the imported recipe does not validate:\n%s\n%s", diagText(diags), files.String())
	}
	return diags
}

func in(name, src string) Input { return Input{Name: name, Data: []byte(src)} }

const baseImage = `<imageModule shortName="base" parentUri="module/lib" isBase="true" loginUser="ubuntu" platform="ubuntu" version="7" isLatestVersion="true">
  <cloudImageIdentifiers>
    <cloudImageIdentifier cloudServiceName="ec2-eu-west" cloudImageIdentifier="ami-0123"/>
  </cloudImageIdentifiers>
</imageModule>`

// app is an image with inputs of every kind and outputs.
const app = `<imageModule shortName="app" parentUri="module/lib" moduleReferenceUri="module/lib/base" version="3">
  <targets><target name="execute">#!/bin/sh
ss-set url.service "http://$(ss-get hostname):$(ss-get port)"
ss-set token t</target></targets>
  <parameters>
    <entry><string>port</string><parameter name="port" category="Input" type="String"><value>80</value></parameter></entry>
    <entry><string>size</string><parameter name="size" category="Input" type="Enum"><enumValues><string>s</string><string>l</string></enumValues><value>s</value></parameter></entry>
    <entry><string>peer</string><parameter name="peer" category="Input" type="String"/></entry>
    <entry><string>db_password</string><parameter name="db_password" category="Input" type="Password"/></entry>
    <entry><string>token</string><parameter name="token" category="Output" type="String"/></entry>
    <entry><string>ec2-eu-west.instance.type</string><parameter name="ec2-eu-west.instance.type" category="ec2-eu-west" type="Enum"><value>t2.micro</value></parameter></entry>
    <entry><string>ec2-eu-west.security.groups</string><parameter name="ec2-eu-west.security.groups" category="ec2-eu-west" type="String"><value>web, ssh</value></parameter></entry>
    <entry><string>ec2-eu-west.disks.bus.type</string><parameter name="ec2-eu-west.disks.bus.type" category="ec2-eu-west" type="String"><value>virtio</value></parameter></entry>
  </parameters>
</imageModule>`

// deployment maps the app's inputs in every form SlipStream wrote.
func deployment(mappings string) string {
	return `<deploymentModule shortName="site" parentUri="module/lib" version="9">
  <nodes>
    <entry><string>db</string><node name="db" imageUri="module/lib/app" cloudService="ec2-eu-west" multiplicity="1"/></entry>
    <entry><string>web</string><node name="web" imageUri="module/lib/app/3" cloudService="ec2-eu-west" multiplicity="3" maxProvisioningFailures="1">
      <parameterMappings>` + mappings + `</parameterMappings>
    </node></entry>
  </nodes>
</deploymentModule>`
}

func mapping(name, value string, mapped bool) string {
	flag := "false"
	if mapped {
		flag = "true"
	}
	return `<entry><string>` + name + `</string><parameter name="` + name + `" category="General" isMappedValue="` + flag + `"><value>` + value + `</value></parameter></entry>`
}

// TestMappings converts each form of SlipStream parameter mapping.
func TestMappings(t *testing.T) {
	res := importOK(t, in("base.xml", baseImage), in("app.xml", app), in("site.xml", deployment(
		mapping("peer", "db.2:token", true)+
			mapping("port", "'8080'", false)+
			mapping("size", "ss:size", true)+
			mapping("db_password", "'hunter2'", false))))
	validate(t, res)
	deps := string(res.Files[deploymentsFile])
	for _, want := range [][2]string{
		{"peer", `"db:token"`},                 // instance 2 → instance 1, with a note
		{"port", `"'8080'"`},                   // SlipStream's quoted literal
		{"size", "var.web_size"},               // ss: cannot be mapped: a variable
		{"db_password", "var.web_db_password"}, // a secret literal is not written
		{"multiplicity", "3"},
		{"max_provisioning_failures", "1"},
		{"instance_type", `"t2.micro"`}, // ec2-eu-west.instance.type, on the ec2 connector its name suggests
		{"security_group_ids", `["web", "ssh"]`},
		// The db node maps nothing: its inputs without a default are asked
		// for at deploy time, as SlipStream asked for them when a run started.
		{"peer", "var.db_peer"},
	} {
		if !hasAttr(deps, want[0], want[1]) {
			t.Errorf("deployments.slip.hcl lacks %s = %s:\n%s", want[0], want[1], deps)
		}
	}
	vars := string(res.Files[variablesFile])
	if !strings.Contains(vars, `variable "web_db_password" {`) || !strings.Contains(vars, "sensitive   = true") {
		t.Errorf("variables:\n%s", vars)
	}
	report := notesText(res.Report)
	for _, want := range []string{
		"SlipStream mapped it from instance 2 of db; a recipe maps from instance 1 (db:token)",
		`SlipStream mapped it from "ss:size", a parameter of the run (not of a node), which a recipe cannot map from`,
		"disks.bus.type = \"virtio\"",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	assertNoSecret(t, res, "hunter2")
}

// TestMappingsThatCannotBe: a mapping from a node's multiplicity, from a
// node the deployment lacks, or from an output the source does not have,
// becomes a variable to give, with a todo in the report.
func TestMappingsThatCannotBe(t *testing.T) {
	res := importOK(t, in("base.xml", baseImage), in("app.xml", app), in("site.xml", deployment(
		mapping("peer", "db:multiplicity", true)+
			mapping("port", "cache:port", true)+
			mapping("size", "db:nothing", true)+
			mapping("unknown_input", "db:token", true))))
	validate(t, res)
	deps := string(res.Files[deploymentsFile])
	for _, want := range [][2]string{{"peer", "var.web_peer"}, {"port", "var.web_port"}, {"size", "var.web_size"}} {
		if !hasAttr(deps, want[0], want[1]) {
			t.Errorf("lacks %s = %s:\n%s", want[0], want[1], deps)
		}
	}
	report := notesText(res.Report)
	for _, want := range []string{
		`"db:multiplicity", the node's multiplicity, which is not an output`,
		`the deployment has no node "cache"`,
		`the image of node db declares no "nothing"`,
		`mapping unknown_input = "db:token" is dropped: its image lib/app has no input of that name`,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
}

// TestAllowedValues: an Enum input's values become allowed, unless its
// default or a node's literal is outside them (SlipStream did not always
// check), when they are left out so the recipe still validates.
func TestAllowedValues(t *testing.T) {
	res := importOK(t, in("base.xml", baseImage), in("app.xml", app), in("site.xml", deployment(mapping("size", "'xl'", false))))
	validate(t, res)
	if images := string(res.Files[imagesFile]); strings.Contains(images, "allowed") {
		t.Errorf("allowed kept though web gives size \"xl\":\n%s", images)
	}
	if !strings.Contains(notesText(res.Report), `"xl" is not one of the input's values (s, l)`) {
		t.Errorf("report:\n%s", res.Report)
	}
	res = importOK(t, in("base.xml", baseImage), in("app.xml", app), in("site.xml", deployment(mapping("size", "'l'", false))))
	validate(t, res)
	if images := string(res.Files[imagesFile]); !hasAttr(images, "allowed", `["s", "l"]`) {
		t.Errorf("allowed missing:\n%s", images)
	}
}

// TestVersions: a pinned version resolves to that version; a pinned
// version the files lack falls back to the latest given, with a note; two
// versions of one module are two images.
func TestVersions(t *testing.T) {
	v7 := baseImage
	v8 := strings.Replace(strings.Replace(baseImage, `version="7" isLatestVersion="true"`, `version="8" isLatestVersion="true"`, 1), "ami-0123", "ami-0888", 1)
	v7 = strings.Replace(v7, `isLatestVersion="true"`, "", 1)
	pinned := `<imageModule shortName="pinned" parentUri="module/lib" moduleReferenceUri="module/lib/base/7"/>`
	floating := `<imageModule shortName="floating" parentUri="module/lib" moduleReferenceUri="module/lib/base"/>`
	res := importOK(t, in("v7.xml", v7), in("v8.xml", v8), in("pinned.xml", pinned), in("floating.xml", floating))
	validate(t, res)
	images := string(res.Files[imagesFile])
	for _, want := range []string{`image "base" {`, `image "base_v7" {`, `"ami-0888"`, `"ami-0123"`, "image \"pinned\" {\n  parent = image.base_v7\n", "image \"floating\" {\n  parent = image.base\n"} {
		if !strings.Contains(images, want) {
			t.Errorf("lacks %q:\n%s", want, images)
		}
	}

	gone := `<imageModule shortName="old" parentUri="module/lib" moduleReferenceUri="module/lib/base/5"/>`
	res = importOK(t, in("v7.xml", v7), in("old.xml", gone))
	if !strings.Contains(notesText(res.Report), "refers to lib/base version 5, which is not among the files given; version 7 (from v7.xml) is used") {
		t.Errorf("report:\n%s", res.Report)
	}
}

// TestNames: modules with the same short name in different projects, and
// names that are not identifiers, get distinct, valid block names.
func TestNames(t *testing.T) {
	a := `<imageModule shortName="ubuntu-12.04" parentUri="module/team-a/images" isBase="true"/>`
	b := `<imageModule shortName="ubuntu-12.04" parentUri="module/team-b/images" isBase="true"/>`
	c := `<imageModule shortName="12.04" parentUri="module/x" isBase="true"/>`
	res := importOK(t, in("a.xml", a), in("b.xml", b), in("c.xml", c))
	validate(t, res)
	images := string(res.Files[imagesFile])
	for _, want := range []string{`image "team-a_images_ubuntu-12_04" {`, `image "team-b_images_ubuntu-12_04" {`, `image "_12_04" {`} {
		if !strings.Contains(images, want) {
			t.Errorf("lacks %q:\n%s", want, images)
		}
	}
}

// TestScaleTargets: prescale and postscale have no phase in a recipe:
// their scripts are kept as files, named in a comment and the report.
func TestScaleTargets(t *testing.T) {
	img := `<imageModule shortName="svc" parentUri="module/lib" isBase="true">
  <targets>
    <target name="execute">echo run</target>
    <target name="prescale">echo leaving</target>
    <target name="postscale">echo scaled</target>
    <target name="onvmremove">echo gone</target>
  </targets>
</imageModule>`
	res := importOK(t, in("svc.xml", img))
	validate(t, res)
	for _, p := range []string{"scripts/svc/prescale.sh", "scripts/svc/postscale.sh", "scripts/svc/execute.sh", "scripts/svc/onvmremove.sh"} {
		if _, ok := res.Files[p]; !ok {
			t.Errorf("missing %s", p)
		}
	}
	comps := string(res.Files[componentsFile])
	if !strings.Contains(comps, "SlipStream's prescale target of lib/svc is in scripts/svc/prescale.sh") || !strings.Contains(comps, `on_vm_remove = file("scripts/svc/onvmremove.sh")`) {
		t.Errorf("components:\n%s", comps)
	}
	if !strings.Contains(notesText(res.Report), "its postscale target has no phase in a recipe") {
		t.Errorf("report:\n%s", res.Report)
	}
}

// TestSecretsStayOut: a password's value is in no file and not in the
// report, whether it is an input's default, a node's literal or an
// output's preset value.
func TestSecretsStayOut(t *testing.T) {
	res := importCase(t, "derived_image")
	validate(t, res)
	assertNoSecret(t, res, "youshouldnotseethis")
	img := `<imageModule shortName="s" parentUri="module/lib" isBase="true">
  <parameters>
    <entry><string>api.key</string><parameter name="api.key" category="Output" type="String"><value>AKIA-not-for-you</value></parameter></entry>
    <entry><string>root_password</string><parameter name="root_password" category="Cloud" type="String"><value>pa55-not-for-you</value></parameter></entry>
  </parameters>
</imageModule>`
	res = importOK(t, in("s.xml", img))
	validate(t, res)
	assertNoSecret(t, res, "not-for-you")
	if !strings.Contains(notesText(res.Report), "output api.key had a value in SlipStream: a recipe's outputs have none, and this image has no component") {
		t.Errorf("report:\n%s", res.Report)
	}
}

// hasAttr reports whether text holds the attribute name = value, however
// it is aligned.
func hasAttr(text, name, value string) bool {
	return regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=\s*` + regexp.QuoteMeta(value) + `$`).MatchString(text)
}

// notesText is every note of a report, one a line, unwrapped.
func notesText(r *Report) string {
	lines := append([]string(nil), r.Todo...)
	for _, list := range [][]ModuleNotes{r.Changed, r.Dropped} {
		for _, mn := range list {
			lines = append(lines, mn.Notes...)
		}
	}
	return strings.Join(lines, "\n")
}

func assertNoSecret(t *testing.T, res *Result, secret string) {
	t.Helper()
	for p, b := range res.Files {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret", p)
		}
	}
	if strings.Contains(res.Report.String(), secret) {
		t.Error("the report holds the secret")
	}
}

// TestDeterministic: the same exports give the same bytes, whatever order
// the files are given in.
func TestDeterministic(t *testing.T) {
	inputs, err := ReadInputs([]string{"testdata/service_testing/input"})
	if err != nil {
		t.Fatal(err)
	}
	a := importOK(t, inputs...)
	reversed := make([]Input, len(inputs))
	for i, inp := range inputs {
		reversed[len(inputs)-1-i] = inp
	}
	b := importOK(t, reversed...)
	if len(a.Files) != len(b.Files) {
		t.Fatalf("%d files, then %d", len(a.Files), len(b.Files))
	}
	for p := range a.Files {
		if !bytes.Equal(a.Files[p], b.Files[p]) {
			t.Errorf("%s differs between two imports:\n%s", p, firstDiff(string(a.Files[p]), string(b.Files[p])))
		}
	}
	if a.Report.String() != b.Report.String() {
		t.Errorf("the reports differ:\n%s", firstDiff(a.Report.String(), b.Report.String()))
	}
}

// TestWrite: a folder that is not empty is refused unless forced; forced,
// the import's files are replaced and others kept; scripts are executable.
func TestWrite(t *testing.T) {
	res := importCase(t, "service_testing")
	dir := t.TempDir()
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(dir, false); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("writing into a folder that is not empty: %v, want ErrNotEmpty", err)
	}
	stale := filepath.Join(dir, imagesFile)
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(dir, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(stale); !bytes.Equal(b, res.Files[imagesFile]) {
		t.Error("-force did not replace images.slip.hcl")
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine" {
		t.Error("-force touched a file that is not the import's")
	}
	st, err := os.Stat(filepath.Join(dir, "scripts/apache/execute.sh"))
	if err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("scripts/apache/execute.sh: %v, mode %v", err, st.Mode())
	}
	st, err = os.Stat(stale)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("images.slip.hcl: %v, mode %v", err, st.Mode())
	}
	// A folder that does not exist yet is made.
	if err := res.Write(filepath.Join(t.TempDir(), "new", "recipe"), false); err != nil {
		t.Fatal(err)
	}
}

// TestCompileRefusesUntilFilledIn: the imported recipe compiles once its
// cloud is filled in (here with existing hosts), and not before.
func TestCompileRefusesUntilFilledIn(t *testing.T) {
	res := importCase(t, "service_testing")
	dir := t.TempDir()
	if err := res.Write(dir, false); err != nil {
		t.Fatal(err)
	}
	if _, _, diags := compiler.Compile(dir, compiler.CompileOptions{}); !diags.HasErrors() || !strings.Contains(diagText(diags), "Cloud to fill in") {
		t.Fatalf("compile before filling in: %s", diagText(diags))
	}
	filled := "cloud \"default\" {\n  connector = \"fixed\"\n  hosts     = { apache = [\"192.0.2.10\"], testclient = [\"192.0.2.11\"] }\n}\n"
	if err := os.WriteFile(filepath.Join(dir, cloudsFile), []byte(filled), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, diags := compiler.Compile(dir, compiler.CompileOptions{})
	if diags.HasErrors() {
		t.Fatalf("compile after filling in: %s", diagText(diags))
	}
	main := string(out.Files["main.tf"])
	for _, want := range []string{`"webserver.port"     = "apache:port"`, "slipstream_fixed_host", `file("${path.module}/scripts/components/apache/deploy.sh")`, "deploy-2.sh"} {
		if !strings.Contains(main, want) {
			t.Errorf("main.tf lacks %q", want)
		}
	}
}

// TestScriptsNeedingMore: a script that calls a command the agent does not
// provide, or reads a variable it does not set, is a todo of the report
// with its file and line; one that reads a variable whose meaning changed
// is noted.
func TestScriptsNeedingMore(t *testing.T) {
	img := `<imageModule shortName="scaler" parentUri="module/lib" isBase="true">
  <targets><target name="execute">#!/bin/sh
# ss-node-add in a comment is not a call
curl -u "$SLIPSTREAM_API_KEY:x" "$SLIPSTREAM_SERVICEURL/run/$SLIPSTREAM_DIID"
ss-node-add web 2
echo "$SLIPSTREAM_SCALING_VMS"
ss-get hostname</target></targets>
</imageModule>`
	res := importOK(t, in("scaler.xml", img))
	validate(t, res)
	notes := notesText(res.Report)
	for _, want := range []string{
		"scripts/scaler/execute.sh, line 3, reads SLIPSTREAM_API_KEY, which the agent does not set",
		"scripts/scaler/execute.sh, line 4, calls ss-node-add, which the agent does not provide",
		"scripts/scaler/execute.sh, line 3, reads SLIPSTREAM_SERVICEURL, which the agent sets, but the coordinator's API is not SlipStream's",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("the report lacks %q:\n%s", want, notes)
		}
	}
	for _, unwanted := range []string{"ss-get,", "SLIPSTREAM_DIID", "SLIPSTREAM_SCALING_VMS", "line 2"} {
		if strings.Contains(notes, unwanted) {
			t.Errorf("the report mentions %q:\n%s", unwanted, notes)
		}
	}
	if !strings.Contains(string(res.Files[imagesFile]), "calls ss-node-add") {
		t.Errorf("the todo is not a comment in the recipe:\n%s", res.Files[imagesFile])
	}
}

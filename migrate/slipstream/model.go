package slipstream

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The SlipStream module model, as its server serialised it (Simple XML
// annotations on com.sixsq.slipstream.persistence: Module, ImageModule,
// DeploymentModule, Node, ModuleParameter, NodeParameter, Target, Package,
// CloudImageIdentifier, Authz, Commit) and as ss-module-download and the web
// UI's export wrote it. Only what the import reads is kept; the element each
// part came from is kept too, for messages.

// Module is one SlipStream module: an image, a deployment or a project.
type Module struct {
	Kind string // "image", "deployment" or "project"
	File string
	el   *element
	// Name is the module's path without "module/" and version, e.g.
	// examples/tutorials/service-testing/apache.
	Name      string
	ShortName string
	Version   int // 0 when the export does not say
	// Latest is the export's isLatestVersion.
	Latest      bool
	Deleted     bool
	Description string
	// Embedded marks an image read from inside a deployment's node, a
	// copy the server added for convenience: a module of its own given on
	// the command line wins over it.
	Embedded bool

	// What has no equivalent in a recipe, kept for the report.
	Authz           *Authz
	Commit          *Commit
	Published       string // publication date in the app store
	LogoLink        string
	Tag             string
	CustomVersion   string
	PlacementPolicy string
	Notes           []string

	// Image modules.
	IsBase    bool
	Parent    *Ref // moduleReferenceUri; nil for a base image
	LoginUser string
	Platform  string
	// ImageIDAttr is the imageId attribute of old exports (2013), which
	// repeated one of the cloud image identifiers.
	ImageIDAttr string
	Targets     []*Target
	Packages    []*Package
	PreRecipe   string
	Recipe      string
	CloudIDs    []*CloudImageID
	Params      []*Parameter
	// ExtraDisks are old exports' extra disks (2013), described.
	ExtraDisks []string

	// Deployment modules.
	Nodes []*Node
	// DeploymentParams are a deployment module's own parameters (rare).
	DeploymentParams []*Parameter
}

// Ref is a reference to a module: moduleReferenceUri of an image's parent,
// imageUri of a deployment's node. A reference may pin a version
// (module/examples/images/ubuntu-12.04/1780) or float to the latest.
type Ref struct {
	Raw     string
	Name    string
	Version int // 0: the latest
	el      *element
	attr    string
}

// Authz is a module's sharing rights.
type Authz struct {
	Owner        string
	Rights       []string // e.g. "group: get, put", "public: get, post"
	GroupMembers []string
}

// Commit is the comment and author of the module's version.
type Commit struct {
	Author  string
	Comment string
}

// Target is a deployment script of an image (execute, report, onvmadd,
// onvmremove, prescale, postscale).
type Target struct {
	Name   string
	Script string
	// Background is old exports' runInBackground.
	Background bool
	el         *element
}

// Package is a package an image build installs.
type Package struct {
	Name, Repository, Key string
	el                    *element
}

// CloudImageID is an image's native id on one cloud service.
type CloudImageID struct {
	Cloud, ID, Region string
	el                *element
}

// Parameter is a module parameter (an input, an output, a cloud or
// resource parameter) or a node's parameter mapping.
type Parameter struct {
	Name        string
	Category    string
	Description string
	Type        string // String, Text, Password, Boolean, Enum, RestrictedString, RestrictedText
	// Value is what the parameter holds: its value when the export sets
	// one, else its default (the export's defaultValue is the inherited
	// value when the module sets none).
	Value    string
	HasValue bool
	// ExtraValues counts further <value> elements (a real export has a
	// parameter with two); the last one is taken.
	ExtraValues  int
	EnumValues   []string
	Instructions string
	// IsMappedValue is a node parameter's flag: the value names another
	// node's output rather than being a literal.
	IsMappedValue bool
	el            *element
}

// Node is a deployment's node: instances of one image on one cloud.
type Node struct {
	Name         string
	Multiplicity int
	MaxFailures  int
	CloudService string
	Image        *Ref
	// Embedded is the copy of the image the server put inside the node.
	Embedded *Module
	Mappings []*Parameter
	// Others are node parameters that are not mappings of an input.
	Others []*Parameter
	el     *element
}

// Secret reports whether a parameter's value must never be shown (in the
// report, in comments, in messages): a password, or a name that says it
// holds a credential.
func (p *Parameter) Secret() bool {
	if p.Type == "Password" {
		return true
	}
	n := strings.ToLower(p.Name)
	for _, w := range []string{"password", "passwd", "secret", "token", "private", "credential", "apikey", "api.key", "api_key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// shownValue is a parameter's value for the report and comments: quoted,
// or a placeholder for a secret.
func (p *Parameter) shownValue() string {
	if p.Secret() {
		return "(value not shown)"
	}
	return strconv.Quote(printable(p.Value))
}

// versionSuffix matches the version at the end of a module reference.
var versionSuffix = regexp.MustCompile(`^(.*)/([0-9]+)$`)

// parseRef reads a module reference: "module/" is optional, a trailing
// number is a version.
func parseRef(raw string, el *element, attr string) *Ref {
	name := modulePath(raw)
	r := &Ref{Raw: raw, Name: name, el: el, attr: attr}
	if m := versionSuffix.FindStringSubmatch(name); m != nil {
		if v, err := strconv.Atoi(m[2]); err == nil {
			r.Name, r.Version = m[1], v
		}
	}
	return r
}

// modulePath is a module URI without "module/" and surrounding slashes.
func modulePath(uri string) string {
	uri = strings.Trim(strings.TrimSpace(uri), "/")
	if uri == "module" {
		return ""
	}
	return strings.Trim(strings.TrimPrefix(uri, "module/"), "/")
}

// String names the reference as SlipStream wrote it.
func (r *Ref) String() string {
	if r.Version > 0 {
		return fmt.Sprintf("%s/%d", r.Name, r.Version)
	}
	return r.Name
}

// readModule reads one module from its root element. embedded is set for
// an image inside a deployment's node. Problems are appended to errs; the
// module is nil when it cannot be read at all.
func readModule(file string, root *element, embedded bool, errs *Errors) *Module {
	m := &Module{File: file, el: root, Embedded: embedded}
	switch root.name {
	case "imageModule", "image":
		m.Kind = "image"
	case "deploymentModule":
		m.Kind = "deployment"
	case "projectModule":
		m.Kind = "project"
	default:
		*errs = append(*errs, errorAt(file, root, "the root element is <%s>: a SlipStream module export is an <imageModule>, a <deploymentModule> or a <projectModule>", root.name))
		return nil
	}
	m.ShortName = strings.TrimSpace(root.attrOr("shortName", ""))
	parentURI := modulePath(root.attrOr("parentUri", ""))
	switch name := modulePath(root.attrOr("name", "")); {
	case m.ShortName != "" && parentURI != "":
		// A module is named by its project (parentUri) and short name.
		m.Name = parentURI + "/" + m.ShortName
	case name != "":
		m.Name = name
	case m.ShortName != "":
		m.Name = m.ShortName
	case root.attrOr("resourceUri", "") != "":
		m.Name = parseRef(root.attrOr("resourceUri", ""), root, "resourceUri").Name
	}
	if m.ShortName == "" && m.Name != "" {
		m.ShortName = m.Name[strings.LastIndex(m.Name, "/")+1:]
	}
	if m.Name == "" {
		*errs = append(*errs, errorAt(file, root, "the module has no name: <%s> needs a shortName (and parentUri) or a name attribute", root.name))
		return nil
	}
	if v, ok := root.attr("version"); ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			*errs = append(*errs, errorAt(file, root, "version %q is not a whole number", printable(v)))
		} else {
			m.Version = n
		}
	}
	m.Latest = root.attrOr("isLatestVersion", "") == "true"
	m.Deleted = root.attrOr("deleted", "") == "true"
	m.Description = root.attrOr("description", "")
	m.LogoLink = root.attrOr("logoLink", "")
	m.Tag = root.attrOr("tag", "")
	m.CustomVersion = root.attrOr("customVersion", "")
	m.PlacementPolicy = root.attrOr("placementPolicy", "")
	if a := root.child("authz"); a != nil {
		m.Authz = readAuthz(a)
	}
	if c := root.child("commit"); c != nil {
		m.Commit = &Commit{Author: c.attrOr("author", ""), Comment: strings.TrimSpace(c.childText("comment"))}
	}
	if p := root.child("published"); p != nil {
		m.Published = p.attrOr("publicationDate", "(undated)")
	}
	if n := strings.TrimSpace(root.childText("note")); n != "" {
		m.Notes = append(m.Notes, n)
	}
	if notes := root.child("notes"); notes != nil {
		for _, n := range notes.all("note") {
			if t := strings.TrimSpace(n.text); t != "" {
				m.Notes = append(m.Notes, t)
			}
		}
	}
	switch m.Kind {
	case "image":
		readImage(m, root, errs)
	case "deployment":
		readDeployment(m, root, errs)
	}
	return m
}

func readAuthz(a *element) *Authz {
	az := &Authz{Owner: a.attrOr("owner", "")}
	for _, who := range []string{"owner", "group", "public"} {
		var rights []string
		for _, r := range []string{"Get", "Put", "Post", "Delete", "CreateChildren"} {
			if a.attrOr(who+r, "") == "true" {
				rights = append(rights, map[string]string{"Get": "get", "Put": "put", "Post": "post (deploy)", "Delete": "delete", "CreateChildren": "create children"}[r])
			}
		}
		if len(rights) > 0 {
			az.Rights = append(az.Rights, who+": "+strings.Join(rights, ", "))
		}
	}
	if gm := a.child("groupMembers"); gm != nil {
		for _, s := range gm.all("string") {
			if t := strings.TrimSpace(s.text); t != "" {
				az.GroupMembers = append(az.GroupMembers, t)
			}
		}
	}
	return az
}

func readImage(m *Module, root *element, errs *Errors) {
	switch v := strings.TrimSpace(root.attrOr("isBase", "false")); v {
	case "true":
		m.IsBase = true
	case "false", "":
	default:
		*errs = append(*errs, errorAt(m.File, root, "isBase %q is neither true nor false", printable(v)))
	}
	if ref := strings.TrimSpace(root.attrOr("moduleReferenceUri", "")); ref != "" && !m.IsBase {
		m.Parent = parseRef(ref, root, "moduleReferenceUri")
	}
	m.LoginUser = strings.TrimSpace(root.attrOr("loginUser", ""))
	m.Platform = strings.TrimSpace(root.attrOr("platform", ""))
	m.ImageIDAttr = strings.TrimSpace(root.attrOr("imageId", ""))
	if ts := root.child("targets"); ts != nil {
		seen := map[string]*element{}
		for _, t := range ts.all("target") {
			name, ok := t.attr("name")
			if !ok || strings.TrimSpace(name) == "" {
				*errs = append(*errs, errorAt(m.File, t, "a target without a name"))
				continue
			}
			if prev := seen[name]; prev != nil {
				*errs = append(*errs, errorAt(m.File, t, "a second %q target (the first is at line %d)", printable(name), prev.line))
				continue
			}
			seen[name] = t
			if strings.TrimSpace(t.text) == "" {
				continue // SlipStream lists every target, most of them empty
			}
			m.Targets = append(m.Targets, &Target{Name: name, Script: t.text, Background: t.attrOr("runInBackground", "") == "true", el: t})
		}
	}
	if ed := root.child("extraDisks"); ed != nil {
		for _, d := range ed.children {
			var parts []string
			for _, a := range d.attrs {
				parts = append(parts, a.Name.Local+"="+a.Value)
			}
			m.ExtraDisks = append(m.ExtraDisks, printable(d.name+" "+strings.Join(parts, " ")))
		}
	}
	if ps := root.child("packages"); ps != nil {
		for _, p := range ps.all("package") {
			name := strings.TrimSpace(p.attrOr("name", ""))
			if name == "" {
				*errs = append(*errs, errorAt(m.File, p, "a package without a name"))
				continue
			}
			m.Packages = append(m.Packages, &Package{Name: name, Repository: p.attrOr("repository", ""), Key: p.attrOr("key", ""), el: p})
		}
		// Packages were a set in SlipStream: their order means nothing,
		// and the export's order changes from one download to the next.
		sort.SliceStable(m.Packages, func(i, j int) bool { return m.Packages[i].Name < m.Packages[j].Name })
	}
	m.PreRecipe = root.childText("prerecipe")
	m.Recipe = root.childText("recipe")
	if ids := root.child("cloudImageIdentifiers"); ids != nil {
		for _, c := range ids.all("cloudImageIdentifier") {
			cloud := strings.TrimSpace(c.attrOr("cloudServiceName", ""))
			id := strings.TrimSpace(c.attrOr("cloudImageIdentifier", ""))
			if cloud == "" {
				*errs = append(*errs, errorAt(m.File, c, "an image identifier without a cloudServiceName"))
				continue
			}
			if id == "" {
				continue // the cloud is listed, the image not yet built there
			}
			m.CloudIDs = append(m.CloudIDs, &CloudImageID{Cloud: cloud, ID: id, Region: c.attrOr("region", ""), el: c})
		}
	}
	m.Params = readParameters(m.File, root.child("parameters"), errs)
}

// readParameters reads a <parameters> map: <entry><string>name</string>
// <parameter …/></entry>, in name order (a Java map's order is none).
func readParameters(file string, ps *element, errs *Errors) []*Parameter {
	if ps == nil {
		return nil
	}
	var out []*Parameter
	seen := map[string]*element{}
	for _, entry := range ps.all("entry") {
		pel := entry.child("parameter")
		if pel == nil {
			*errs = append(*errs, errorAt(file, entry, "an entry without a <parameter>"))
			continue
		}
		p := readParameter(file, pel, errs)
		if p == nil {
			continue
		}
		if p.Name == "" {
			p.Name = strings.TrimSpace(entry.childText("string"))
		}
		if p.Name == "" {
			*errs = append(*errs, errorAt(file, pel, "a parameter without a name"))
			continue
		}
		if prev := seen[p.Name]; prev != nil {
			*errs = append(*errs, errorAt(file, pel, "a second parameter %q (the first is at line %d)", printable(p.Name), prev.line))
			continue
		}
		seen[p.Name] = pel
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func readParameter(file string, pel *element, errs *Errors) *Parameter {
	p := &Parameter{
		Name:        strings.TrimSpace(pel.attrOr("name", "")),
		Category:    strings.TrimSpace(pel.attrOr("category", "")),
		Description: pel.attrOr("description", ""),
		Type:        strings.TrimSpace(pel.attrOr("type", "String")),
		el:          pel,
	}
	switch v := strings.TrimSpace(pel.attrOr("isMappedValue", "false")); v {
	case "true":
		p.IsMappedValue = true
	case "false", "":
	default:
		*errs = append(*errs, errorAt(file, pel, "isMappedValue %q is neither true nor false", printable(v)))
		return nil
	}
	values := pel.all("value")
	if len(values) > 0 {
		last := values[len(values)-1]
		p.Value, p.HasValue = last.text, true
		p.ExtraValues = len(values) - 1
	}
	if d := pel.child("defaultValue"); d != nil && (!p.HasValue || p.Value == "") {
		p.Value, p.HasValue = d.text, true
	}
	if p.HasValue && p.Value == "" {
		p.HasValue = false
	}
	if ev := pel.child("enumValues"); ev != nil {
		for _, s := range ev.all("string") {
			p.EnumValues = append(p.EnumValues, s.text)
		}
	}
	p.Instructions = strings.TrimSpace(pel.childText("instructions"))
	return p
}

func readDeployment(m *Module, root *element, errs *Errors) {
	m.DeploymentParams = readParameters(m.File, root.child("parameters"), errs)
	if ts := root.child("targets"); ts != nil {
		for _, t := range ts.all("target") {
			if strings.TrimSpace(t.text) != "" {
				m.Targets = append(m.Targets, &Target{Name: t.attrOr("name", ""), Script: t.text, el: t})
			}
		}
	}
	nodes := root.child("nodes")
	if nodes == nil {
		return
	}
	seen := map[string]*element{}
	for _, entry := range nodes.all("entry") {
		nel := entry.child("node")
		if nel == nil {
			*errs = append(*errs, errorAt(m.File, entry, "an entry without a <node>"))
			continue
		}
		n := readNode(m.File, nel, errs)
		if n == nil {
			continue
		}
		if prev := seen[n.Name]; prev != nil {
			*errs = append(*errs, errorAt(m.File, nel, "a second node %q (the first is at line %d)", n.Name, prev.line))
			continue
		}
		seen[n.Name] = nel
		m.Nodes = append(m.Nodes, n)
	}
	sort.Slice(m.Nodes, func(i, j int) bool { return m.Nodes[i].Name < m.Nodes[j].Name })
}

// nodeNameRE is SlipStream's node name rule, which recipes keep: a node's
// name starts its instances' runtime parameter keys.
var nodeNameRE = regexp.MustCompile(`^\w+$`)

func readNode(file string, nel *element, errs *Errors) *Node {
	n := &Node{Name: strings.TrimSpace(nel.attrOr("name", "")), el: nel}
	if n.Name == "" {
		*errs = append(*errs, errorAt(file, nel, "a node without a name"))
		return nil
	}
	if !nodeNameRE.MatchString(n.Name) {
		*errs = append(*errs, errorAt(file, nel, "node name %q is not letters, digits and underscores, as SlipStream and recipes require", printable(n.Name)))
		return nil
	}
	ok := true
	count := func(attr string, def int) int {
		v := strings.TrimSpace(nel.attrOr(attr, ""))
		if v == "" {
			return def
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i > 1000000 {
			*errs = append(*errs, errorAt(file, nel, "%s %q is not a whole number from 0 to 1000000", attr, printable(v)))
			ok = false
		}
		return i
	}
	n.Multiplicity = count("multiplicity", 1)
	n.MaxFailures = count("maxProvisioningFailures", 0)
	if !ok {
		return nil
	}
	n.CloudService = strings.TrimSpace(nel.attrOr("cloudService", ""))
	if n.CloudService == "" {
		n.CloudService = "default"
	}
	if uri := strings.TrimSpace(nel.attrOr("imageUri", "")); uri != "" {
		n.Image = parseRef(uri, nel, "imageUri")
	}
	if img := nel.child("image"); img != nil {
		n.Embedded = readModule(file, img, true, errs)
	}
	if n.Image == nil {
		if n.Embedded == nil {
			*errs = append(*errs, errorAt(file, nel, "node %q names no image: it has neither an imageUri nor an <image>", n.Name))
			return nil
		}
		n.Image = &Ref{Raw: n.Embedded.Name, Name: n.Embedded.Name, Version: n.Embedded.Version, el: nel, attr: "image"}
	}
	n.Mappings = readParameters(file, nel.child("parameterMappings"), errs)
	mapped := map[string]bool{}
	for _, p := range n.Mappings {
		mapped[p.Name] = true
	}
	// Exports repeat the mappings under <parameters>; what is there and
	// not among the mappings is kept for the report.
	for _, p := range readParameters(file, nel.child("parameters"), errs) {
		if !mapped[p.Name] {
			n.Others = append(n.Others, p)
		}
	}
	return n
}

package slipstream

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

// converter turns the modules read into a recipe, noting as it goes what
// changed and what has no equivalent.
type converter struct {
	ix    *index
	notes *notes
	rec   *recipe
	errs  Errors

	// images are the image modules converted, each once; names are their
	// block names (and the deployments'); chains their parent chains
	// (root first, the image last).
	images []*Module
	names  map[*Module]string
	chains map[*Module][]*Module
	// components are the images that also become a component: those a
	// node uses, and those with deployment targets of their own.
	components map[*Module]bool
	// clouds are SlipStream cloud service names, with their block names.
	clouds map[string]string
	// varNames holds the variables' names, to keep them unique.
	varNames map[string]bool
	// blocks lists the blocks each module became, for the report.
	blocks map[*Module][]string
	// disallow holds the inputs a node gives a value outside their Enum
	// values: their allowed values are left out, or the recipe would not
	// validate.
	disallow map[*Parameter]bool
}

// paramNameRE is SlipStream's runtime parameter key rule, which recipes
// keep (compiler/load.go).
var paramNameRE = regexp.MustCompile(`^\w[\w.-]*$`)

// packageRE is the coordinator's rule for package names
// (coordination/coordinator): names reach the package manager's command
// line, so options and shell syntax are refused.
var packageRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_:~=*<>-]*$`)

// reservedInputs are the runtime parameters the agent keeps on every
// instance (compiler/builtins.go): a recipe cannot declare them as inputs.
var reservedInputs = map[string]bool{
	"hostname": true, "instanceid": true, "statecustom": true, "vmstate": true, "abort": true,
	"complete": true, "url.ssh": true, "url.service": true, "scale.state": true, "nodename": true,
	"id": true, "cloudservice": true, "image.id": true, "state": true,
}

// builtinOutputs are outputs every component has in a recipe, as every
// SlipStream image had them: they are not declared again.
var builtinOutputs = map[string]bool{"hostname": true, "instanceid": true}

// resourceParams are SlipStream's generic sizing (ImageModule's cpu.nb,
// ram.GB, disk.GB), a recipe's cpu, ram and disk.
var resourceParams = map[string]string{"cpu.nb": "cpu", "ram.GB": "ram", "disk.GB": "disk"}

// connectorGuess maps the first word of a SlipStream cloud service name
// to the connector it most likely used: SlipStream's connector instances
// were named after their connector (ec2-eu-west, exoscale-ch-gva). The
// guess only suggests; the cloud block stays to fill in.
var connectorGuess = map[string]string{
	"ec2": "ec2", "aws": "ec2", "amazon": "ec2",
	"openstack":  "openstack",
	"cloudsigma": "cloudsigma",
	"exoscale":   "cloudstack", "cloudstack": "cloudstack",
	"azure":      "azure",
	"opennebula": "opennebula", "nebula": "opennebula",
	// StratusLab ran OpenNebula behind its own proxy: its connector is
	// OpenNebula's with StratusLab's defaults (endpoint, instance types,
	// cloud-init contextualization).
	"stratuslab": "stratuslab",
}

func guessConnector(cloud string) *catalog.Connector {
	words := strings.FieldsFunc(strings.ToLower(cloud), func(r rune) bool { return r == '-' || r == '_' || r == '.' || r == ' ' })
	if len(words) == 0 {
		return nil
	}
	if name, ok := connectorGuess[words[0]]; ok {
		if c, ok := catalog.Lookup(name); ok {
			return c
		}
	}
	return nil
}

// convert builds the recipe of the given modules (those of the files
// given; the images embedded in deployments are in ix too).
func (cv *converter) convert(top []*Module) {
	cv.pickImages(top)
	if len(cv.errs) > 0 {
		return
	}
	// The output does not depend on the order the files were given in.
	sort.SliceStable(cv.images, func(i, j int) bool {
		if cv.images[i].Name != cv.images[j].Name {
			return cv.images[i].Name < cv.images[j].Name
		}
		return cv.images[i].Version > cv.images[j].Version
	})
	cv.nameBlocks(top)
	for _, m := range cv.images {
		cv.rec.images = append(cv.rec.images, cv.image(m))
	}
	for _, m := range cv.images {
		if cv.components[m] {
			cv.rec.components = append(cv.rec.components, cv.component(m))
		}
	}
	var deps []*Module
	for _, m := range top {
		if m.Kind == "deployment" {
			deps = append(deps, m)
		}
	}
	for _, m := range deps {
		cv.rec.deployments = append(cv.rec.deployments, cv.deployment(m))
	}
	cv.cloudBlocks()
	for _, im := range cv.rec.images {
		for _, rp := range im.params {
			if cv.disallow[rp.src] {
				rp.allowed = nil
			}
		}
	}
	sort.Slice(cv.rec.images, func(i, j int) bool { return cv.rec.images[i].name < cv.rec.images[j].name })
	sort.Slice(cv.rec.components, func(i, j int) bool { return cv.rec.components[i].name < cv.rec.components[j].name })
	sort.Slice(cv.rec.deployments, func(i, j int) bool { return cv.rec.deployments[i].name < cv.rec.deployments[j].name })
	sort.Slice(cv.rec.variables, func(i, j int) bool { return cv.rec.variables[i].name < cv.rec.variables[j].name })
}

// pickImages finds the image modules to convert: every image given as a
// file, each deployment node's image (given, or embedded in the
// deployment), and their parents; and resolves every chain.
func (cv *converter) pickImages(top []*Module) {
	seen := map[*Module]bool{}
	var add func(m *Module)
	add = func(m *Module) {
		if seen[m] {
			return
		}
		seen[m] = true
		chain, err := cv.ix.chain(m)
		if err != nil {
			cv.errs = append(cv.errs, err)
			return
		}
		cv.chains[m] = chain
		cv.images = append(cv.images, m)
		if len(m.Targets) > 0 {
			cv.components[m] = true
		}
		for _, p := range chain[:len(chain)-1] {
			add(p)
		}
	}
	for _, m := range top {
		if m.Kind == "image" {
			add(m)
		}
	}
	for _, d := range top {
		if d.Kind != "deployment" {
			continue
		}
		for _, n := range d.Nodes {
			img, err := cv.ix.resolve(d, n.Image, "image")
			if err != nil {
				cv.errs = append(cv.errs, err)
				continue
			}
			add(img)
			cv.components[img] = true
		}
	}
}

// nameBlocks gives every image, deployment and cloud its block name.
func (cv *converter) nameBlocks(top []*Module) {
	cv.names = uniqueNames(cv.images)
	for _, m := range cv.images {
		cv.blocks[m] = append(cv.blocks[m], fmt.Sprintf("image %q", cv.names[m]))
		if cv.components[m] {
			cv.blocks[m] = append(cv.blocks[m], fmt.Sprintf("component %q", cv.names[m]))
		}
	}
	var deps []*Module
	for _, m := range top {
		if m.Kind == "deployment" {
			deps = append(deps, m)
		}
	}
	depNames := uniqueNames(deps)
	for _, m := range deps {
		cv.names[m] = depNames[m]
		cv.blocks[m] = append(cv.blocks[m], fmt.Sprintf("deployment %q", depNames[m]))
	}
	// Clouds: where nodes run, and where images have native ids.
	names := map[string]bool{}
	for _, d := range deps {
		for _, n := range d.Nodes {
			names[n.CloudService] = true
		}
	}
	for _, m := range cv.images {
		for _, id := range m.CloudIDs {
			names[id.Cloud] = true
		}
	}
	used := map[string]bool{}
	for _, name := range sortedKeys(names) {
		block := identifier(name)
		for i := 2; used[block]; i++ {
			block = fmt.Sprintf("%s_%d", identifier(name), i)
		}
		used[block] = true
		cv.clouds[name] = block
	}
}

// uniqueNames names modules after their short names, made identifiers; two
// modules with the same short name take more of their project path, and
// two versions of one module the version.
func uniqueNames(mods []*Module) map[*Module]string {
	sorted := append([]*Module(nil), mods...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return sorted[i].Version > sorted[j].Version
	})
	names := map[*Module]string{}
	// Segments of each module's path, last first.
	candidate := func(m *Module, depth int) string {
		segs := strings.Split(m.Name, "/")
		if depth > len(segs) {
			depth = len(segs)
		}
		return identifier(strings.Join(segs[len(segs)-depth:], "_"))
	}
	byName := map[string][]*Module{}
	for _, m := range sorted {
		byName[m.Name] = append(byName[m.Name], m)
	}
	var distinct []string
	for _, m := range sorted {
		if len(distinct) == 0 || distinct[len(distinct)-1] != m.Name {
			distinct = append(distinct, m.Name)
		}
	}
	// The shortest path suffix that tells the modules apart.
	chosen := map[string]string{}
	for _, name := range distinct {
		m := byName[name][0]
		depth := 1
		for ; depth < 64; depth++ {
			c := candidate(m, depth)
			clash := false
			for _, other := range distinct {
				if other != name && candidate(byName[other][0], depth) == c {
					clash = true
					break
				}
			}
			if !clash {
				break
			}
		}
		chosen[name] = candidate(m, depth)
	}
	used := map[string]bool{}
	for _, name := range distinct {
		for i, m := range byName[name] {
			n := chosen[name]
			if i > 0 {
				// An older version beside the latest.
				n = fmt.Sprintf("%s_v%d", n, m.Version)
			}
			base := n
			for k := 2; used[n]; k++ {
				n = fmt.Sprintf("%s_%d", base, k)
			}
			used[n] = true
			names[m] = n
		}
	}
	return names
}

// identifier makes a SlipStream name a recipe block name: letters, digits,
// underscores and dashes, starting with a letter or underscore.
func identifier(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || !(s[0] == '_' || (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z')) {
		s = "_" + s
	}
	return s
}

// image converts one image module (its own level: the parent block holds
// the rest of the chain).
func (cv *converter) image(m *Module) *rImage {
	name := cv.names[m]
	im := &rImage{name: name, description: m.Description}
	cv.moduleComments(m, &im.comments)
	chain := cv.chains[m]
	if !m.IsBase && len(chain) > 1 {
		parent := chain[len(chain)-2]
		im.parent = cv.names[parent]
		base := chain[0]
		// An image without a login user logs in as root, in SlipStream
		// (ImageModule's default) as in a recipe.
		baseLogin := base.LoginUser
		if baseLogin == "" {
			baseLogin = "root"
		}
		if m.LoginUser != "" && m.LoginUser != baseLogin {
			cv.notes.add(m, "its export says login user %q, but a derived image takes its login user from its base image (%q), as SlipStream did", printable(m.LoginUser), printable(baseLogin))
		}
		if m.Platform != "" && m.Platform != base.Platform {
			cv.notes.add(m, "its export says platform %q, but a derived image takes its platform from its base image (%q), as SlipStream did", printable(m.Platform), printable(base.Platform))
		}
	} else {
		im.loginUser = m.LoginUser
		im.platform = m.Platform
		if m.Parent != nil {
			cv.notes.add(m, "a base image: its reference to %s is ignored, as SlipStream ignored it", m.Parent.String())
		}
	}
	ids := map[string]string{}
	for _, id := range m.CloudIDs {
		ids[cv.clouds[id.Cloud]] = id.ID
		if id.Region != "" {
			cv.notes.dropped(m, "the image id on %s is for region %q: a recipe's image id has no region, the cloud block's settings give it", id.Cloud, printable(id.Region))
		}
	}
	for _, c := range sortedKeys(ids) {
		im.ids = append(im.ids, kv{c, ids[c]})
	}
	if m.ImageIDAttr != "" {
		found := false
		for _, id := range m.CloudIDs {
			found = found || id.ID == m.ImageIDAttr
		}
		if !found {
			cv.notes.dropped(m, "imageId %q names no cloud: add it to ids under the cloud it belongs to", printable(m.ImageIDAttr))
		}
	}
	windows := isWindows(chain)
	for _, d := range m.ExtraDisks {
		cv.notes.dropped(m, "extra disk %s: a recipe has no extra disks; size the machine's disk with disk", d)
	}
	for _, t := range m.Targets {
		if t.Background {
			cv.notes.dropped(m, "its %s target ran in the background (runInBackground): a recipe's scripts run one after the other; start a background job in the script if it must", t.Name)
		}
	}
	for _, p := range m.Packages {
		if !packageRE.MatchString(p.Name) {
			cv.notes.dropped(m, "package %q is not a package name the agent installs (letters, digits and .+_:~=*<>-): install it in pre_install", printable(p.Name))
			continue
		}
		im.packages = append(im.packages, p.Name)
		if p.Repository != "" || p.Key != "" {
			cv.notes.dropped(m, "package %s comes from repository %q with key %q: a recipe installs packages from the machine's configured repositories; add the repository in pre_install", p.Name, printable(p.Repository), printable(p.Key))
		}
	}
	if windows && len(im.packages) > 0 {
		cv.notes.dropped(m, "packages %s are for Windows, where the agent does not run", strings.Join(im.packages, ", "))
		im.packages = nil
	}
	im.preInstall = cv.buildScript(m, "prerecipe", m.PreRecipe, windows)
	im.postInstall = cv.buildScript(m, "recipe", m.Recipe, windows)
	for _, p := range m.Params {
		cv.param(m, im, p)
	}
	// Inputs first, then outputs, each by name.
	sort.SliceStable(im.params, func(i, j int) bool { return !im.params[i].output && im.params[j].output })
	cv.cloudParamComments(m, &im.comments)
	return im
}

// buildScript writes a build recipe (prerecipe, recipe) as a file and
// returns its path, or "" when there is none or it is Windows-only.
func (cv *converter) buildScript(m *Module, target, script string, windows bool) string {
	if strings.TrimSpace(script) == "" {
		return ""
	}
	path := cv.scriptPath(m, target, script, windows)
	if windows {
		cv.notes.dropped(m, "its %s is for Windows, where the agent does not run: it is kept in %s, not referenced by the recipe", target, path)
		return ""
	}
	return path
}

// scriptPath stores a script under scripts/<block>/<target> and returns
// its path; the extension follows its interpreter.
func (cv *converter) scriptPath(m *Module, target, script string, windows bool) string {
	path := fmt.Sprintf("scripts/%s/%s%s", cv.names[m], target, scriptExt(script, windows))
	cv.rec.scripts[path] = script
	if !windows {
		cv.checkScript(m, path, script)
	}
	return path
}

func scriptExt(script string, windows bool) string {
	if windows {
		return ".ps1"
	}
	first, _, _ := strings.Cut(strings.TrimLeft(script, " \t\r\n"), "\n")
	if strings.HasPrefix(first, "#!") {
		switch {
		case strings.Contains(first, "python"):
			return ".py"
		case strings.Contains(first, "perl"):
			return ".pl"
		case strings.Contains(first, "ruby"):
			return ".rb"
		}
	}
	return ".sh"
}

// isWindows reports a chain whose base image is Windows: its scripts are
// PowerShell or batch, which the agent (Linux only) cannot run.
func isWindows(chain []*Module) bool {
	return strings.EqualFold(chain[0].Platform, "windows")
}

// param converts one of an image's own parameters.
func (cv *converter) param(m *Module, im *rImage, p *Parameter) {
	switch {
	case p.Category == "Input" || p.Category == "Output":
	case p.Category == "Cloud":
		if !p.HasValue {
			return // a default SlipStream parameter left empty: nothing to carry
		}
		if attr, ok := resourceParams[p.Name]; ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(p.Value), 64)
			if err != nil || f <= 0 {
				cv.notes.dropped(m, "%s = %s is not a positive number: the %s size is left unset", p.Name, p.shownValue(), attr)
				return
			}
			lit := strconv.FormatFloat(f, 'f', -1, 64)
			switch attr {
			case "cpu":
				im.cpu = lit
			case "ram":
				im.ram = lit
			case "disk":
				im.disk = lit
			}
			return
		}
		switch p.Name {
		case "network":
			cv.notes.dropped(m, "network = %s: a recipe has no network type; the cloud's settings choose the network (ec2 associate_public_ip, openstack network, …)", p.shownValue())
		case "extra.disk.volatile":
			cv.notes.dropped(m, "extra.disk.volatile = %s: a recipe has no extra volatile disk; size the machine's disk with disk", p.shownValue())
		default:
			cv.notes.dropped(m, "cloud parameter %s = %s has no equivalent", printable(p.Name), p.shownValue())
		}
		return
	case strings.HasPrefix(p.Name, p.Category+"."):
		return // a parameter of one cloud: see cloudParamComments
	default:
		if p.HasValue {
			cv.notes.dropped(m, "parameter %s of category %q = %s has no equivalent", printable(p.Name), printable(p.Category), p.shownValue())
		}
		return
	}
	output := p.Category == "Output"
	if !paramNameRE.MatchString(p.Name) {
		cv.notes.dropped(m, "%s %q is not a valid runtime parameter name (\\w[\\w.-]*): scripts could not reach it, and a recipe cannot declare it", strings.ToLower(p.Category), printable(p.Name))
		return
	}
	if output && builtinOutputs[p.Name] {
		return // every component's built-in output
	}
	if !output && reservedInputs[p.Name] {
		cv.notes.dropped(m, "input %q has the name of a built-in runtime parameter, which a recipe cannot declare as an input", p.Name)
		return
	}
	rp := &rParam{name: p.Name, output: output, description: p.Description, src: p}
	if p.Instructions != "" {
		rp.comments = append(rp.comments, "Instructions (from SlipStream): "+p.Instructions)
	}
	switch {
	case p.Type == "Password":
		rp.sensitive = true
	case p.Secret():
		rp.sensitive = true
		cv.notes.add(m, "%s %s is marked sensitive: its name says it holds a credential (SlipStream's type was %s)", strings.ToLower(p.Category), p.Name, p.Type)
	}
	switch p.Type {
	case "RestrictedString", "RestrictedText":
		cv.notes.dropped(m, "%s %s is a %s (only its owner could change it): a recipe input has no such restriction", strings.ToLower(p.Category), p.Name, p.Type)
	}
	if p.ExtraValues > 0 {
		cv.notes.add(m, "%s %s has %d values in its export; the last, %s, is taken", strings.ToLower(p.Category), p.Name, p.ExtraValues+1, p.shownValue())
	}
	if output {
		if p.Type == "Enum" || p.Type == "Boolean" {
			cv.notes.dropped(m, "output %s is of type %s: an output's values are not checked (only inputs take allowed)", p.Name, p.Type)
		}
		if p.HasValue && !cv.components[m] {
			cv.notes.dropped(m, "output %s had a value in SlipStream: a recipe's outputs have none, and this image has no component whose first script could set it", p.Name)
		}
		// An output's value, when it has one, is set by the component's
		// first script (see presetOutputs).
		im.params = append(im.params, rp)
		return
	}
	switch p.Type {
	case "Enum":
		rp.allowed = dedupe(p.EnumValues)
		if len(rp.allowed) == 0 {
			cv.notes.dropped(m, "input %s is an Enum without values: no allowed values are set", p.Name)
		}
	case "Boolean":
		rp.allowed = []string{"true", "false"}
	}
	if p.HasValue {
		if p.Secret() {
			v := cv.variable(identifier(im.name+"_"+p.Name), fmt.Sprintf("The default of input %q of image %q (imported from SlipStream, where it was a password default; give it with -var).", p.Name, im.name), true)
			rp.defVar = v
			cv.notes.add(m, "the default of input %s is secret: it is not written into the recipe; the input defaults to variable %q instead, to give at deploy time", p.Name, v)
		} else {
			val := p.Value
			if p.Type == "Boolean" {
				val = strings.ToLower(strings.TrimSpace(val))
			}
			rp.def = &val
		}
	}
	if rp.allowed != nil && rp.def != nil && !contains(rp.allowed, *rp.def) {
		cv.notes.dropped(m, "the default of input %s, %s, is not one of its values (%s): its allowed values are not set", p.Name, p.shownValue(), strings.Join(rp.allowed, ", "))
		rp.allowed = nil
	}
	im.params = append(im.params, rp)
}

// cloudParamComments lists an image's parameters of single clouds
// (<cloud>.instance.type, <cloud>.security.groups, …) as comments: an image
// is the same on every cloud in a recipe; a node takes them as settings
// where its cloud's connector has them (see nodeSettings).
func (cv *converter) cloudParamComments(m *Module, comments *[]string) {
	byCloud := cloudParams(m)
	if len(byCloud) == 0 {
		return
	}
	*comments = append(*comments, "SlipStream parameters of single clouds (a node on that cloud takes them as its connector's settings where it has them):")
	var clouds []string
	for _, cloud := range sortedKeys(byCloud) {
		var parts []string
		for _, p := range byCloud[cloud] {
			parts = append(parts, fmt.Sprintf("%s = %s", strings.TrimPrefix(p.Name, cloud+"."), p.shownValue()))
		}
		*comments = append(*comments, fmt.Sprintf("  %s: %s", printable(cloud), strings.Join(parts, ", ")))
		clouds = append(clouds, printable(cloud))
	}
	cv.notes.dropped(m, "parameters of single clouds (%s) have no place on an image: they are listed in a comment above it, and a node on one of those clouds takes them as settings where its connector has them", strings.Join(clouds, ", "))
}

// cloudParams are a module's parameters of single clouds that hold a
// value, by cloud, each list sorted by name.
func cloudParams(m *Module) map[string][]*Parameter {
	out := map[string][]*Parameter{}
	for _, p := range m.Params {
		if p.Category == "" || p.Category == "Input" || p.Category == "Output" || p.Category == "Cloud" || p.Category == "General" {
			continue
		}
		if !strings.HasPrefix(p.Name, p.Category+".") || !p.HasValue {
			continue
		}
		out[p.Category] = append(out[p.Category], p)
	}
	return out
}

// moduleComments writes what the module was and what of it has no
// equivalent, above its first block.
func (cv *converter) moduleComments(m *Module, comments *[]string) {
	what := fmt.Sprintf("Imported from SlipStream %s module %s", m.kindName(), m.Name)
	if m.Version > 0 {
		what += fmt.Sprintf(", version %d", m.Version)
	}
	*comments = append(*comments, what+fmt.Sprintf(" (%s).", sourceName(m)))
	if m.Version > 0 {
		cv.notes.dropped(m, "version %d: SlipStream's version history is not imported; this is the version the recipe holds", m.Version)
	}
	if m.Deleted {
		cv.notes.dropped(m, "the export marks the module deleted")
	}
	if a := m.Authz; a != nil {
		text := "sharing rights (authz)"
		if a.Owner != "" {
			text += ": owner " + printable(a.Owner)
		}
		if len(a.Rights) > 0 {
			text += "; " + printable(strings.Join(a.Rights, "; "))
		}
		if len(a.GroupMembers) > 0 {
			text += "; group members " + printable(strings.Join(a.GroupMembers, ", "))
		}
		cv.notes.dropped(m, "%s: a recipe is shared as files (a repository's own rights)", text)
	}
	if c := m.Commit; c != nil && (c.Comment != "" || c.Author != "") {
		text := "commit"
		if c.Author != "" {
			text += " by " + printable(c.Author)
		}
		if c.Comment != "" {
			text += ": " + strconv.Quote(printable(c.Comment))
		}
		cv.notes.dropped(m, "%s: commit messages belong to the recipe's version control", text)
	}
	if m.Published != "" {
		cv.notes.dropped(m, "published to the app store on %s: there is no app store", printable(m.Published))
	}
	if m.LogoLink != "" {
		cv.notes.dropped(m, "logo %s", printable(m.LogoLink))
	}
	if m.Tag != "" {
		cv.notes.dropped(m, "tag %q", printable(m.Tag))
	}
	if m.CustomVersion != "" {
		cv.notes.dropped(m, "custom version %q", printable(m.CustomVersion))
	}
	if m.PlacementPolicy != "" {
		cv.notes.dropped(m, "placement policy %q: a recipe places each node on the cloud it names", printable(m.PlacementPolicy))
	}
	for _, n := range m.Notes {
		*comments = append(*comments, "Note (from SlipStream): "+n)
	}
}

// component converts an image module into the component that deploys
// it: the deployment targets of its whole chain, root first, as SlipStream
// ran them, and the outputs that had a value set first.
func (cv *converter) component(m *Module) *rComponent {
	name := cv.names[m]
	c := &rComponent{name: name, description: m.Description, image: name, scripts: map[string][]string{}}
	chain := cv.chains[m]
	windows := isWindows(chain)
	// origin says where each script of a phase came from, for the comment
	// on a phase that runs several.
	origin := map[string][]string{}
	fromChain := map[string]int{} // scripts of a phase that are targets of the chain
	if preset := cv.presetOutputs(m, chain, windows); preset != "" {
		c.scripts["deploy"] = append(c.scripts["deploy"], preset)
		origin["deploy"] = append(origin["deploy"], "the outputs SlipStream preset ("+preset+")")
	}
	for _, target := range targetOrder {
		for _, img := range chain {
			for _, t := range img.Targets {
				if t.Name != target {
					continue
				}
				path := cv.scriptPath(img, t.Name, t.Script, windows)
				phase, ok := recipePhases[t.Name]
				switch {
				case windows:
					cv.notes.dropped(img, "its %s target is for Windows, where the agent does not run: it is kept in %s, not referenced by the recipe", t.Name, path)
				case !ok:
					cv.notes.dropped(img, "its %s target has no phase in a recipe (SlipStream ran it on the instances being removed by a scale-down, before their reports): it is kept in %s, not referenced by the recipe", t.Name, path)
					c.comments = append(c.comments, fmt.Sprintf("SlipStream's %s target of %s is in %s: a recipe has no %s phase.", t.Name, img.Name, path, t.Name))
				default:
					c.scripts[phase] = append(c.scripts[phase], path)
					origin[phase] = append(origin[phase], fmt.Sprintf("the %s target of %s (%s)", t.Name, img.Name, path))
					fromChain[phase]++
				}
			}
		}
	}
	// Targets with names SlipStream did not run are kept as files too.
	for _, img := range chain {
		for _, t := range img.Targets {
			if !contains(targetOrder, t.Name) {
				path := cv.scriptPath(img, identifier(t.Name), t.Script, windows)
				cv.notes.dropped(img, "its target %q is not one SlipStream ran: it is kept in %s", printable(t.Name), path)
			}
		}
	}
	for _, phase := range phaseOrder {
		if len(origin[phase]) > 1 {
			text := fmt.Sprintf("%s runs, in order, %s.", phase, strings.Join(origin[phase], ", then "))
			if fromChain[phase] > 1 {
				text += " SlipStream ran the same target of every image of the chain, root first."
			}
			c.comments = append(c.comments, text)
		}
	}
	if windows {
		c.comments = append(c.comments, fmt.Sprintf("A Windows image (%s): its scripts are kept under scripts/ but not run, as the agent runs on Linux only.", chain[0].Name))
	}
	return c
}

// presetOutputs writes the script that gives outputs their SlipStream
// value (an output with a default was set when the run started; a recipe's
// outputs have none), and returns its path, or "" when no output has one.
func (cv *converter) presetOutputs(m *Module, chain []*Module, windows bool) string {
	outputs := map[string]*Parameter{}
	owner := map[string]*Module{}
	for _, img := range chain {
		for _, p := range img.Params {
			if p.Category == "Output" && paramNameRE.MatchString(p.Name) && !builtinOutputs[p.Name] {
				outputs[p.Name], owner[p.Name] = p, img
			} else if p.Category == "Input" {
				delete(outputs, p.Name)
			}
		}
	}
	var lines []string
	for _, name := range sortedKeys(outputs) {
		p := outputs[name]
		if !p.HasValue {
			continue
		}
		if p.Secret() {
			cv.notes.dropped(owner[name], "output %s had a secret value: it is not written into a script; set it in the component's deploy script", name)
			continue
		}
		lines = append(lines, fmt.Sprintf("ss-set %s %s", name, shellQuote(p.Value)))
	}
	if len(lines) == 0 || windows {
		return ""
	}
	script := "#!/bin/sh\n" +
		"# Written by slipc import slipstream: SlipStream set these outputs to their\n" +
		"# value when the run started; a recipe's outputs have none, so this script,\n" +
		"# the component's first, sets them.\n" +
		"set -e\n" + strings.Join(lines, "\n") + "\n"
	path := fmt.Sprintf("scripts/%s/preset-outputs.sh", cv.names[m])
	cv.rec.scripts[path] = script
	var names []string
	for _, name := range sortedKeys(outputs) {
		if outputs[name].HasValue && !outputs[name].Secret() {
			names = append(names, name)
		}
	}
	cv.notes.add(m, "output%s %s had a value in SlipStream; %s sets %s first in deploy", plural(len(names)), strings.Join(names, ", "), path, map[bool]string{true: "it", false: "them"}[len(names) == 1])
	return path
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// effectiveParams folds a chain's parameters, the nearest declaration
// winning, as a recipe (and SlipStream) does.
func effectiveParams(chain []*Module) map[string]*Parameter {
	out := map[string]*Parameter{}
	for _, img := range chain {
		for _, p := range img.Params {
			if declared(p) {
				out[p.Name] = p
			}
		}
	}
	return out
}

// declared reports whether a parameter becomes an input or output block:
// the ones param drops (invalid or reserved names, built-in outputs) are
// not in a recipe, so no mapping may name them.
func declared(p *Parameter) bool {
	switch {
	case !paramNameRE.MatchString(p.Name):
		return false
	case p.Category == "Input":
		return !reservedInputs[p.Name]
	case p.Category == "Output":
		return !builtinOutputs[p.Name]
	}
	return false
}

// mappedValueRE reads a mapping's source: <node>[.<index>]:<key>.
var mappedValueRE = regexp.MustCompile(`^(\w+)(?:\.(\d+))?:(\w[\w.-]*)$`)

// deployment converts a deployment module.
func (cv *converter) deployment(m *Module) *rDeployment {
	d := &rDeployment{name: cv.names[m], description: m.Description}
	cv.moduleComments(m, &d.comments)
	for _, t := range m.Targets {
		cv.notes.dropped(m, "the deployment's own %s target (run by SlipStream's orchestrator) has no equivalent: a recipe's scripts run on its nodes", printable(t.Name))
	}
	for _, p := range m.DeploymentParams {
		cv.notes.dropped(m, "deployment parameter %s = %s has no equivalent: give the nodes' inputs instead", printable(p.Name), p.shownValue())
	}
	nodeImage := map[string]*Module{}
	for _, n := range m.Nodes {
		img, err := cv.ix.resolve(m, n.Image, "image")
		if err != nil {
			continue // reported by pickImages
		}
		nodeImage[n.Name] = img
	}
	for _, n := range m.Nodes {
		img := nodeImage[n.Name]
		if img == nil {
			continue
		}
		d.nodes = append(d.nodes, cv.node(m, n, img, nodeImage))
	}
	return d
}

func (cv *converter) node(m *Module, n *Node, img *Module, nodeImage map[string]*Module) *rNode {
	rn := &rNode{name: n.Name, component: cv.names[img], cloud: cv.clouds[n.CloudService], multiplicity: n.Multiplicity, maxFailures: n.MaxFailures}
	chain := cv.chains[img]
	params := effectiveParams(chain)
	where := fmt.Sprintf("node %s", n.Name)
	if isWindows(chain) {
		rn.comments = append(rn.comments, fmt.Sprintf("Runs the Windows image %s: the agent runs on Linux only, so this node's scripts are not in the recipe.", chain[0].Name))
		cv.notes.dropped(m, "%s runs the Windows image %s: the agent runs on Linux only; its scripts are kept under scripts/ but not run", where, chain[0].Name)
	}
	given := map[string]bool{}
	for _, mp := range n.Mappings {
		target, ok := params[mp.Name]
		if !ok || target.Category != "Input" {
			kind := "no input"
			if ok {
				kind = "an output, not an input,"
			}
			cv.notes.dropped(m, "%s: mapping %s = %s is dropped: its image %s has %s of that name, so SlipStream ignored it too", where, printable(mp.Name), mp.shownValue(), img.Name, kind)
			continue
		}
		given[mp.Name] = true
		rn.inputs = append(rn.inputs, cv.mapping(m, n, mp, target, nodeImage))
	}
	for _, name := range sortedKeys(params) {
		p := params[name]
		if p.Category != "Input" || given[name] || p.HasValue || reservedInputs[name] || !paramNameRE.MatchString(name) {
			continue
		}
		// SlipStream asked for such a value when the run was started; a
		// variable without a default is asked for by terraform apply.
		v := cv.variable(identifier(n.Name+"_"+name), fmt.Sprintf("Input %q of node %q: SlipStream asked for it when the run was started.", name, n.Name), p.Secret())
		rn.inputs = append(rn.inputs, &rInput{name: name, isVar: v})
	}
	sort.Slice(rn.inputs, func(i, j int) bool { return rn.inputs[i].name < rn.inputs[j].name })
	for _, p := range n.Others {
		if strings.HasPrefix(p.Name, n.CloudService+".") {
			continue // an override of a cloud parameter: see nodeSettings
		}
		cv.notes.dropped(m, "%s: node parameter %s = %s has no equivalent", where, printable(p.Name), p.shownValue())
	}
	cv.nodeSettings(m, n, chain, rn)
	return rn
}

// mapping converts one parameter mapping of a node.
func (cv *converter) mapping(m *Module, n *Node, mp, target *Parameter, nodeImage map[string]*Module) *rInput {
	where := fmt.Sprintf("node %s, input %s", n.Name, mp.Name)
	in := &rInput{name: mp.Name}
	toVariable := func(why string) *rInput {
		v := cv.variable(identifier(n.Name+"_"+mp.Name), fmt.Sprintf("Input %q of node %q: %s", mp.Name, n.Name, why), target.Secret())
		cv.notes.todo(m, "%s: %s; it is given by variable %q until the recipe says otherwise", where, why, v)
		in.isVar = v
		return in
	}
	value := strings.TrimSpace(mp.Value)
	quoted := len(value) >= 2 && (value[0] == '\'' || value[0] == '"') && value[len(value)-1] == value[0]
	if !mp.IsMappedValue || quoted {
		// SlipStream's literal: quoted ('value' or "value"), whatever the
		// flag says (NodeParameter.isStringValue).

		text := value
		if len(text) >= 2 && (text[0] == '\'' || text[0] == '"') && text[len(text)-1] == text[0] {
			text = text[1 : len(text)-1]
		}
		if target.Secret() {
			v := cv.variable(identifier(n.Name+"_"+mp.Name), fmt.Sprintf("Input %q of node %q (SlipStream gave it a secret literal; give it with -var).", mp.Name, n.Name), true)
			cv.notes.add(m, "%s: its literal value is secret, so it is not written into the recipe: variable %q gives it", where, v)
			in.isVar = v
			return in
		}
		if allowed := allowedOf(target); allowed != nil && !contains(allowed, text) {
			cv.disallow[target] = true
			cv.notes.add(m, "%s: %q is not one of the input's values (%s), which SlipStream did not check here either: the input's allowed values are left out", where, printable(text), strings.Join(allowed, ", "))
		}
		in.value = "'" + text + "'"
		return in
	}
	sm := mappedValueRE.FindStringSubmatch(value)
	if sm != nil && (sm[1] == "ss" || sm[1] == "machine" || strings.HasPrefix(sm[1], "orchestrator")) {
		return toVariable(fmt.Sprintf("SlipStream mapped it from %s, a parameter of the run (not of a node), which a recipe cannot map from", strconv.Quote(printable(value))))
	}
	if sm == nil {
		return toVariable(fmt.Sprintf("SlipStream mapped it from %s, which a recipe cannot map from (a mapping names another node's output, <node>:<output>)", strconv.Quote(printable(value))))
	}
	src, index, key := sm[1], sm[2], sm[3]
	srcImage, ok := nodeImage[src]
	if !ok {
		return toVariable(fmt.Sprintf("SlipStream mapped it from %s, but the deployment has no node %q", strconv.Quote(printable(value)), src))
	}
	if key == "multiplicity" || key == "ids" {
		return toVariable(fmt.Sprintf("SlipStream mapped it from %s, the node's %s, which is not an output; scripts read it with ss-get %s:%s", strconv.Quote(printable(value)), key, src, key))
	}
	if _, declared := effectiveParams(cv.chains[srcImage])[key]; !declared && !builtinOutputs[key] && !reservedInputs[key] {
		return toVariable(fmt.Sprintf("SlipStream mapped it from %s, but the image of node %s declares no %q", strconv.Quote(printable(value)), src, key))
	}
	if index != "" && index != "1" {
		cv.notes.add(m, "%s: SlipStream mapped it from instance %s of %s; a recipe maps from instance 1 (%s:%s), as SlipStream's mappings by node did", where, index, src, src, key)
	}
	in.value = src + ":" + key
	return in
}

func allowedOf(p *Parameter) []string {
	switch p.Type {
	case "Enum":
		return dedupe(p.EnumValues)
	case "Boolean":
		return []string{"true", "false"}
	}
	return nil
}

// nodeSettings gives a node the settings its chain's parameters of its
// cloud name (ec2-eu-west.instance.type = t2.micro → instance_type), where
// the connector the cloud's name suggests has them; the rest are listed.
func (cv *converter) nodeSettings(m *Module, n *Node, chain []*Module, rn *rNode) {
	params := map[string]*Parameter{}
	for _, img := range chain {
		for _, p := range cloudParams(img)[n.CloudService] {
			params[strings.TrimPrefix(p.Name, n.CloudService+".")] = p
		}
	}
	for _, p := range n.Others {
		if strings.HasPrefix(p.Name, n.CloudService+".") && p.HasValue {
			params[strings.TrimPrefix(p.Name, n.CloudService+".")] = p
		}
	}
	if len(params) == 0 {
		return
	}
	conn := guessConnector(n.CloudService)
	var unmapped []string
	for _, key := range sortedKeys(params) {
		p := params[key]
		value := strings.TrimSpace(p.Value)
		setting := ""
		switch {
		case conn == nil:
		case key == "instance.type" && value == "inherited":
			continue // SlipStream's "the parent's instance type"
		case key == "instance.type":
			setting = conn.TypeSetting
		case key == "security.groups" || key == "security.group":
			switch conn.Name {
			case "ec2":
				setting = "security_group_ids"
			case "openstack":
				setting = "security_groups"
			}
		}
		if setting == "" {
			unmapped = append(unmapped, fmt.Sprintf("%s = %s", key, p.shownValue()))
			continue
		}
		s := &rSetting{name: setting, str: value}
		if key != "instance.type" {
			s.isList = true
			for _, g := range strings.Split(value, ",") {
				if g = strings.TrimSpace(g); g != "" {
					s.list = append(s.list, g)
				}
			}
			if conn.Name == "ec2" {
				s.comment = "SlipStream named EC2 security groups; security_group_ids takes their ids (sg-…)."
				cv.notes.todo(m, "node %s: security_group_ids holds SlipStream's EC2 security group names (%s); EC2 takes their ids", n.Name, strings.Join(s.list, ", "))
			}
		}
		rn.settings = append(rn.settings, s)
	}
	if len(unmapped) > 0 {
		rn.comments = append(rn.comments, fmt.Sprintf("SlipStream parameters of cloud %s with no connector setting: %s.", printable(n.CloudService), strings.Join(unmapped, ", ")))
		cv.notes.dropped(m, "node %s: parameters of cloud %s with no connector setting here: %s", n.Name, printable(n.CloudService), strings.Join(unmapped, ", "))
	}
	if len(rn.settings) > 0 {
		cv.notes.add(m, "node %s: parameters of cloud %s became settings of connector %s (the one its name suggests)", n.Name, printable(n.CloudService), conn.Name)
	}
}

// cloudBlocks writes a cloud block to fill in for each SlipStream cloud
// service: where it is and what it ran on are the user's (their
// credentials, their connector configuration), not the module's.
func (cv *converter) cloudBlocks() {
	for _, name := range sortedKeys(cv.clouds) {
		block := cv.clouds[name]
		c := &rCloud{name: block}
		c.comments = append(c.comments, fmt.Sprintf("SlipStream cloud service %q.", printable(name)))
		todo := fmt.Sprintf("SlipStream's cloud service %q: choose its connector and that connector's settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line.", printable(name))
		if name == "default" {
			todo = "SlipStream's cloud service \"default\" (each user's default cloud): choose a connector and its settings (docs/clouds.md; credentials through variables or the cloud's environment), then delete this line."
		}
		if conn := guessConnector(name); conn != nil {
			c.comments = append(c.comments, fmt.Sprintf("Its name suggests connector %q (%s).", conn.Name, conn.Title))
			todo = strings.Replace(todo, "choose its connector", fmt.Sprintf("choose its connector (its name suggests %q)", conn.Name), 1)
		}
		c.todo = todo
		cv.rec.clouds = append(cv.rec.clouds, c)
	}
}

// variable declares a variable (string, no default) and returns its name,
// unique among the recipe's variables and the ones slipc compile makes
// (<node>_multiplicity).
func (cv *converter) variable(name, description string, sensitive bool) string {
	base := name
	for i := 2; cv.varNames[name] || strings.HasSuffix(name, "_multiplicity"); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	cv.varNames[name] = true
	cv.rec.variables = append(cv.rec.variables, &rVariable{name: name, description: description, sensitive: sensitive})
	return name
}

func dedupe(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package slipstream

// The recipe an import writes, before it is rendered: one struct per block,
// with the comments that go above it. Everything is in final order (sorted
// by name), so rendering is a plain walk.

type recipe struct {
	clouds      []*rCloud
	images      []*rImage
	components  []*rComponent
	deployments []*rDeployment
	variables   []*rVariable
	// scripts are the script files, by path relative to the recipe
	// folder (scripts/<block>/<target>.sh).
	scripts map[string]string
}

type rCloud struct {
	name     string
	comments []string
	todo     string
}

type rImage struct {
	name        string
	comments    []string
	description string
	parent      string // image block name, "" for a base image
	ids         []kv   // cloud block name → native id, sorted by cloud
	loginUser   string
	platform    string
	packages    []string
	preInstall  string // script path
	postInstall string
	cpu         string // number literals, "" when unset
	ram         string
	disk        string
	params      []*rParam
}

type rParam struct {
	name        string
	output      bool
	comments    []string
	description string
	// def is the default, a literal; defVar a variable's name instead
	// (a password's default is never written into a recipe).
	def       *string
	defVar    string
	sensitive bool
	allowed   []string
	src       *Parameter
}

type rComponent struct {
	name        string
	comments    []string
	description string
	image       string
	// scripts per recipe phase (deploy, report, on_vm_add, on_vm_remove),
	// each a list of script paths run in order.
	scripts map[string][]string
}

type rDeployment struct {
	name        string
	comments    []string
	description string
	nodes       []*rNode
}

type rNode struct {
	name         string
	comments     []string
	component    string
	cloud        string
	multiplicity int
	maxFailures  int
	inputs       []*rInput
	settings     []*rSetting
}

// rInput is one entry of a node's inputs: a mapping "<node>:<output>", a
// quoted literal "'text'" or a variable.
type rInput struct {
	name  string
	value string // the string written, for mappings and literals
	isVar string // a variable name instead
}

// rSetting is a connector setting of a node: a string or a list.
type rSetting struct {
	name    string
	comment string
	str     string
	list    []string
	isList  bool
}

type rVariable struct {
	name        string
	description string
	sensitive   bool
}

type kv struct{ k, v string }

// recipePhases maps SlipStream's deployment targets to a component's
// script attributes. prescale and postscale have no phase in a recipe.
var recipePhases = map[string]string{
	"execute": "deploy", "report": "report", "onvmadd": "on_vm_add", "onvmremove": "on_vm_remove",
}

// phaseOrder is the order component script attributes are written in.
var phaseOrder = []string{"deploy", "report", "on_vm_add", "on_vm_remove"}

// targetOrder is the order of SlipStream's targets (Target.getTargetScriptNames).
var targetOrder = []string{"execute", "report", "onvmadd", "onvmremove", "prescale", "postscale"}

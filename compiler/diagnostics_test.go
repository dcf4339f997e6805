package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/connectors/catalog"
)

// A negative case is a recipe folder in memory. In one of its files, «…»
// marks the source range the first expected diagnostic must point at; the
// markers are removed before the file is written.
type diagCase struct {
	name  string
	files map[string]string
	// want lists the diagnostics expected, in order; only the first is
	// checked against the marked range.
	want []wantDiag
	// planned lets the case use connectors that are not yet available
	// (to check a planned connector's settings beyond the availability
	// error).
	planned bool
	// context, when set, is what the first diagnostic's Context must span.
	context string
}

type wantDiag struct {
	severity hcl.DiagnosticSeverity
	summary  string
	detail   string // a substring of the detail
}

func errorDiag(summary, detail string) wantDiag { return wantDiag{hcl.DiagError, summary, detail} }
func warnDiag(summary, detail string) wantDiag  { return wantDiag{hcl.DiagWarning, summary, detail} }

// A minimal valid recipe that cases extend.
const baseRecipe = `
cloud "lab" {
  connector = "fixed"
  hosts     = { a = ["192.0.2.1"], b = ["192.0.2.2"], c = ["192.0.2.3"], db = ["192.0.2.4"], web = ["192.0.2.5", "192.0.2.6", "192.0.2.7"] }
}

image "os" {}
`

var diagCases = []diagCase{
	{
		name: "unknown argument with did-you-mean",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  «imgae» = image.os
}`},
		want: []wantDiag{errorDiag("Unsupported argument", `An argument named "imgae" is not expected in component "web". Did you mean "image"?`)},
	},
	{
		name: "argument in the wrong block",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  «multiplicity» = 3
}`},
		want: []wantDiag{errorDiag("Unsupported argument", `The argument "multiplicity" belongs in a node block.`)},
	},
	{
		name: "block in the wrong place",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
«node» "web" {
  cloud = cloud.lab
}`},
		want: []wantDiag{errorDiag("Unsupported block type", `A node block belongs inside a deployment block.`)},
	},
	{
		name: "unknown block type with did-you-mean",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
«componnet» "web" {
}`},
		want: []wantDiag{errorDiag("Unsupported block type", `Did you mean "component"?`)},
	},
	{
		name: "duplicate image",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
image «"os"» {}`},
		want: []wantDiag{errorDiag(`Duplicate image "os"`, `already declared at main.slip.hcl:7,1-11`)},
	},
	{
		name: "duplicate across files",
		files: map[string]string{
			"a.slip.hcl": baseRecipe,
			"b.slip.hcl": `cloud «"lab"» {
  connector = "fixed"
  hosts = []
}`},
		want: []wantDiag{errorDiag(`Duplicate cloud "lab"`, `already declared at a.slip.hcl:2,1-12`)},
	},
	{
		name: "duplicate node",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
  }
  node «"web"» {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag(`Duplicate node "web"`, `already declared in deployment "d"`)},
	},
	{
		name: "unknown image with did-you-mean",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = «image.oss»
}`},
		want: []wantDiag{errorDiag("Reference to undeclared image", `No image named "oss" is declared in this recipe folder. Did you mean "os"?`)},
	},
	{
		name: "reference written as a string",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = «"os"»
}`},
		want: []wantDiag{errorDiag("Invalid image reference", `Write image.os without quotes.`)},
	},
	{
		name: "unknown component and cloud",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = «component.webb»
    cloud     = cloud.labb
  }
}`},
		want: []wantDiag{
			errorDiag("Reference to undeclared component", `Did you mean "web"?`),
			errorDiag("Reference to undeclared cloud", `Did you mean "lab"?`),
		},
	},
	{
		name: "mapping from an unknown node",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "db" {
  image = image.os
  output "password" {}
}
component "web" {
  image = image.os
  input "pw" {}
}
deployment "d" {
  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      pw = «node.dbb.password»
    }
  }
}`},
		want: []wantDiag{errorDiag("Mapping from an unknown node", `mapped from node "dbb", which deployment "d" does not have. Did you mean "db"?`)},
	},
	{
		name: "mapping from a missing output",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "db" {
  image = image.os
  output "password" {}
}
component "web" {
  image = image.os
  input "pw" {}
}
deployment "d" {
  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      pw = «"db:pasword"»
    }
  }
}`},
		want: []wantDiag{errorDiag("Mapping from a missing output", `has no output "pasword". Did you mean "password"?`)},
	},
	{
		name: "unknown input parameter",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "port" {
    default = "80"
  }
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      «prot» = "8080"
    }
  }
}`},
		want: []wantDiag{errorDiag("Unknown input parameter", `Component "web" has no input "prot". Did you mean "port"?`)},
	},
	{
		name: "input left without a value",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "db_host" {}
}
deployment "d" {
  «node "web"» {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag("Input left without a value", `Input "db_host" of component "web" (declared at main.slip.hcl:11,3-18) has no default, and node "web" gives it none.`)},
	},
	{
		name: "negative multiplicity",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = «-1»
  }
}`},
		want: []wantDiag{errorDiag("Invalid multiplicity", `multiplicity must be a whole number ≥ 0; -1 is not.`)},
	},
	{
		name: "negative multiplicity through a variable default",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
variable "n" {
  default = -2
}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = «var.n»
  }
}`},
		want: []wantDiag{errorDiag("Invalid multiplicity", `-2 is not (the default of variable "n"`)},
	},
	{
		name: "inheritance cycle",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
image "a" {
  parent = image.c
}
image "b" {
  parent = «image.a»
}
image "c" {
  parent = image.b
}`},
		want: []wantDiag{errorDiag("Image inheritance cycle", `Image "b" cannot derive from "a": the parent chain loops (a → c → b → a)`)},
	},
	{
		name: "invalid node name",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
}
deployment "d" {
  node «"web-1"» {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag("Invalid node name", `"web-1" is not valid`)},
	},
	{
		name: "invalid parameter name",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output «".hidden"» {}
}`},
		want: []wantDiag{errorDiag("Invalid parameter name", `".hidden" does not`)},
	},
	{
		name: "invalid block name",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
image «"my image"» {}`},
		want: []wantDiag{errorDiag("Invalid image name", `"my image" is not valid`)},
	},
	{
		name: "unknown connector",
		files: map[string]string{"main.slip.hcl": `
cloud "aws" {
  connector = «"ec3"»
}`},
		want: []wantDiag{errorDiag("Unknown connector", `There is no connector "ec3". Did you mean "ec2"?`)},
	},
	{
		name: "connector not yet available",
		files: map[string]string{"main.slip.hcl": `
cloud "grid" {
  connector = «"occi"»
  endpoint  = "https://occi.example.com:11443/"
}`},
		context: `connector = "occi"`,
		want: []wantDiag{errorDiag("Connector not yet available",
			`Cloud "grid" uses connector "occi", which is planned but not yet available: the provider has no slipstream_occi_compute resource yet, so nothing could start this cloud's machines. The connectors available now are: `+
				strings.Join(catalog.Implemented(), ", ")+`. Planned, not yet available: `+strings.Join(catalog.Planned(), ", ")+`.`)},
	},
	{
		// The availability error comes first; the cloud's settings are
		// still checked, so the recipe is otherwise ready.
		name: "planned connector with a wrong setting",
		files: map[string]string{"main.slip.hcl": `
cloud "grid" {
  connector = «"occi"»
  endpoint  = "https://occi.example.com:11443/"
  mixins    = "small"
}`},
		want: []wantDiag{
			errorDiag("Connector not yet available", `connector "occi", which is planned but not yet available`),
			errorDiag("Unsupported connector setting", `Connector "occi" has no setting`),
		},
	},
	{
		name: "setting the connector does not have",
		files: map[string]string{"main.slip.hcl": `
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
  «flavor»    = "m1.small"
}`},
		want: []wantDiag{errorDiag("Unsupported connector setting", `Connector "ec2" has no setting "flavor".`)},
	},
	{
		name: "required setting missing",
		files: map[string]string{"main.slip.hcl": `
«cloud "aws"» {
  connector = "ec2"
}`},
		want: []wantDiag{errorDiag("Missing required connector setting", `requires "region"`)},
	},
	{
		name: "cloud-wide setting on a node",
		files: map[string]string{"main.slip.hcl": `
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}
image "os" {
  ids = { aws = "ami-1" }
}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.aws
    «region»    = "us-east-1"
  }
}`},
		want: []wantDiag{errorDiag("Cloud-wide setting on a node", `set it in cloud "aws" instead`)},
	},
	{
		name: "node setting typo",
		files: map[string]string{"main.slip.hcl": `
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}
image "os" {
  ids = { aws = "ami-1" }
}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component     = component.web
    cloud         = cloud.aws
    «instance_typ» = "t3.micro"
  }
}`},
		want: []wantDiag{errorDiag("Unsupported argument", `Did you mean "instance_type"?`)},
	},
	{
		name: "pool must be a constant",
		files: map[string]string{"main.slip.hcl": `
variable "big" {
  type    = bool
  default = true
}
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}
image "os" {
  ids = { aws = "ami-1" }
}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.aws
    pool      = «var.big»
  }
}`},
		want: []wantDiag{errorDiag("Invalid pool", `pool must be true or false, written as such`)},
	},
	{
		name: "build must be a constant",
		files: map[string]string{"main.slip.hcl": `
variable "bake" {
  type    = bool
  default = true
}
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}
image "os" {
  ids = { aws = "ami-1" }
}
image "app" {
  parent       = image.os
  post_install = "true"
  build        = «var.bake»
}
component "web" {
  image = image.app
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.aws
  }
}`},
		want: []wantDiag{errorDiag("Invalid build", `build must be true or false, written as such`)},
	},
	{
		name: "no pools on a fixed cloud",
		files: map[string]string{"main.slip.hcl": `
cloud "lab" {
  connector = "fixed"
  hosts     = ["192.0.2.1"]
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    pool      = «true»
  }
}`},
		want: []wantDiag{errorDiag("No pools on this cloud", `connector "fixed" adopts existing machines one by one: it has no pools`)},
	},
	{
		name: "no image id for the cloud",
		files: map[string]string{"main.slip.hcl": `
cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = «cloud.aws»
  }
}`},
		want: []wantDiag{errorDiag("No image for this cloud", `e.g. ids = { aws = "<native image id>" }`)},
	},
	{
		name: "not enough hosts",
		files: map[string]string{"main.slip.hcl": `
cloud "lab" {
  connector = "fixed"
  hosts     = «["192.0.2.1"]»
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 2
  }
}`},
		want: []wantDiag{errorDiag("Not enough hosts", `Cloud "lab" lists 1 host(s), but node "web" has 2 instance(s).`)},
	},
	{
		// Scaling db would move web to other machines.
		name: "one host list for several nodes",
		files: map[string]string{"main.slip.hcl": `
cloud "lab" {
  connector = "fixed"
  hosts     = «["192.0.2.1", "192.0.2.2", "192.0.2.3"]»
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "db" {
    component = component.web
    cloud     = cloud.lab
  }
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 2
  }
}`},
		want: []wantDiag{errorDiag("One host list for several nodes",
			`Nodes "db", "web" are all placed on cloud "lab", whose hosts is one list. Each node would take the hosts after the previous node's, so scaling one node would move every later node to other machines. Give each node its own hosts instead: hosts = { db = [ … ], web = [ … ] }.`)},
	},
	{
		name: "not enough hosts for a node",
		files: map[string]string{"main.slip.hcl": `
cloud "lab" {
  connector = "fixed"
  hosts     = «{ db = ["192.0.2.1"], web = ["192.0.2.2"] }»
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "db" {
    component = component.web
    cloud     = cloud.lab
  }
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 2
  }
}`},
		want: []wantDiag{errorDiag("Not enough hosts", `Cloud "lab" lists 1 host(s) for node "web", which has 2 instance(s).`)},
	},
	{
		name: "no hosts for a node",
		files: map[string]string{"main.slip.hcl": `
cloud "lab" {
  connector = "fixed"
  hosts     = «{ db = ["192.0.2.1"], wbe = ["192.0.2.2", "192.0.2.3"] }»
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "db" {
    component = component.web
    cloud     = cloud.lab
  }
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 2
  }
}`},
		want: []wantDiag{
			errorDiag("No hosts for node", `Cloud "lab" gives its hosts per node, but none for node "web", which is placed on it. Did you mean "wbe"? Add web = [ … ] to its hosts.`),
		},
	},
	{
		name: "hosts of an untyped variable",
		files: map[string]string{"main.slip.hcl": `
variable "pool" {}
` + `
cloud "lab" {
  connector = "fixed"
  hosts     = «var.pool»
}
image "os" {}
component "web" {
  image = image.os
}
deployment "d" {
  node "db" {
    component = component.web
    cloud     = cloud.lab
  }
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 2
  }
}`},
		want: []wantDiag{errorDiag("Invalid hosts", `a variable used here needs a type, such as map(list(string))`)},
	},
	{
		name: "output with a default",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output "x" {
    «default» = "1"
  }
}`},
		want: []wantDiag{errorDiag("Output parameters have no default", `only inputs take a default`)},
	},
	{
		name: "invalid keep_running",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
deployment "d" {
  keep_running = «"sometimes"»
}`},
		want: []wantDiag{errorDiag("Invalid keep_running", `"always", "on-success", "on-error", "never"`)},
	},
	{
		name: "store_sensitive not a constant",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
deployment "d" {
  store_sensitive = «var.keep»
}`},
		want: []wantDiag{errorDiag("Invalid store_sensitive", `constant true or false`)},
	},
	{
		name: "missing script file",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image  = image.os
  deploy = «file(»"nope.sh")
}`},
		want: []wantDiag{errorDiag("Error in function call", `nope.sh`)},
	},
	{
		name: "mapping-looking literal for an unknown node",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "x" {}
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      x = «"wbe:hostname"»
    }
  }
}`},
		want: []wantDiag{warnDiag("Looks like a mapping from an unknown node", `Did you mean "web:hostname"?`)},
	},
	{
		name: "undeclared import",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = «import.lib.image.os»
}`},
		want: []wantDiag{errorDiag("Reference to undeclared import", `No import named "lib"`)},
	},
	{
		name: "import cycle",
		files: map[string]string{
			"main.slip.hcl":     "import \"a\" {\n  source = \"./a\"\n}\n",
			"a/a.slip.hcl":      "import \"b\" {\n  source = \"../b\"\n}\n",
			"b/b.slip.hcl":      "import \"a\" {\n  source = «\"../a\"»\n}\n",
			"b/unused.slip.hcl": "",
		},
		want: []wantDiag{errorDiag("Import cycle", `already being imported on this path`)},
	},
	{
		name: "deadlock between two nodes",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "a" {
  image = image.os
  output "token" {}
  deploy = <<-EOT
    peer=$(ss-get «b:token»)
    ss-set token "a-$peer"
  EOT
}
component "b" {
  image = image.os
  output "token" {}
  deploy = <<-EOT
    peer=$(ss-get a:token)
    ss-set token "b-$peer"
  EOT
}
deployment "pair" {
  node "a" {
    component = component.a
    cloud     = cloud.lab
  }
  node "b" {
    component = component.b
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag(`Deadlock: nodes "a" and "b" wait for each other`, `node "a" waits for b:token (deploy script of component "a", line 13) before it sets a:token`)},
	},
	{
		name: "safe exchange in a cycle passes",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "peer" {
  image = image.os
  input "left" {}
  output "token" {}
  deploy = <<-EOT
    ss-set token "$(ss-get hostname)"
    echo "neighbour: $(ss-get left)"
    ss-get «nothing_sets_this»
  EOT
  output "nothing_sets_this" {}
}
deployment "ring" {
  node "a" {
    component = component.peer
    cloud     = cloud.lab
    inputs    = { left = node.c.token }
  }
  node "b" {
    component = component.peer
    cloud     = cloud.lab
    inputs    = { left = node.a.token }
  }
  node "c" {
    component = component.peer
    cloud     = cloud.lab
    inputs    = { left = node.b.token }
  }
}`},
		// The ring itself is safe; only the key nothing sets is reported,
		// once per node that waits on it.
		want: []wantDiag{
			warnDiag("Wait on a key that nothing sets", `nothing_sets_this`),
			warnDiag("Wait on a key that nothing sets", `nothing_sets_this`),
			warnDiag("Wait on a key that nothing sets", `nothing_sets_this`),
		},
	},
	{
		name: "setting another node's parameter",
		files: map[string]string{
			"main.slip.hcl": baseRecipe + `
component "db" {
  image = image.os
  output "password" {}
  deploy = "ss-set password x"
}
component "web" {
  image  = image.os
  deploy = file("web.sh")
}
deployment "d" {
  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
  node "web" {
    component = component.web
    cloud     = cloud.lab
  }
}`,
			"web.sh": "#!/bin/sh\nss-set «db:password» hijacked\n",
		},
		want: []wantDiag{errorDiag("Cannot set another node's parameter", `may set only its own parameters`)},
	},
	{
		name: "invalid size",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  ram   = «0»
}`},
		want: []wantDiag{errorDiag("Invalid size", `ram must be a positive number`)},
	},
	{
		name: "image id for an unknown cloud",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
image "other" {
  ids = { labb = «"img-1"» }
}`},
		want: []wantDiag{warnDiag("Image id for an unknown cloud", `no cloud of that name is declared, so the id is never used. Did you mean "lab"?`)},
	},
	{
		name: "invalid image id key",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
image "other" {
  ids = { «(var.k)» = "img-1" }
}`},
		want: []wantDiag{errorDiag("Invalid image id key", `must be the name of a cloud`)},
	},
	{
		name: "value for an output",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output "url" {}
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs    = { «url» = "x" }
  }
}`},
		want: []wantDiag{errorDiag("Cannot give a value to an output", `"url" is an output of component "web"`)},
	},
	{
		name: "duplicate parameter",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "port" {}
  output «"port"» {}
}`},
		want: []wantDiag{errorDiag(`Duplicate parameter "port"`, `inputs and outputs share one namespace`)},
	},
	{
		name: "built-in as an input",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input «"hostname"» {
    default = "x"
  }
}`},
		want: []wantDiag{errorDiag("Reserved parameter name", `"hostname" is a built-in runtime parameter`)},
	},
	{
		name: "duplicate input value",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "a" {}
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      a = "1"
      «a» = "2"
    }
  }
}`},
		want: []wantDiag{errorDiag(`Duplicate input "a"`, `was already given a value`)},
	},
	{
		name: "invalid node reference",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "a" {}
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs    = { a = «node.web» }
  }
}`},
		want: []wantDiag{errorDiag("Invalid node reference", `node.<name>.<output>`)},
	},
	{
		name: "invalid import source",
		files: map[string]string{"main.slip.hcl": `
import "x" {
  source = «"github.com/acme/recipes"»
}`},
		want: []wantDiag{errorDiag("Unsupported import source", `is not a local path`)},
	},
	{
		name: "invalid variable default",
		files: map[string]string{"main.slip.hcl": `
variable "n" {
  type    = number
  default = «"many"»
}`},
		want: []wantDiag{errorDiag("Invalid default value for variable", `not compatible with the variable's type constraint`)},
	},
	{
		name: "description must be constant",
		files: map[string]string{"main.slip.hcl": `
variable "v" {}
image "os" {
  description = «var.v»
}`},
		want: []wantDiag{errorDiag("Invalid description", `must be a constant string`)},
	},
	{
		name: "sensitive must be a bool",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output "x" {
    sensitive = «"very"»
  }
}`},
		want: []wantDiag{errorDiag("Invalid sensitive", `must be the constant true or false`)},
	},
	{
		name: "attribute at the top level",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
«multiplicity» = 3
`},
		want: []wantDiag{errorDiag("Unsupported argument", `The argument "multiplicity" belongs in a node block.`)},
	},
	{
		name: "Terraform resource at the top level",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
«resource "aws_instance" "web"» {
  ami = "ami-0123"
}`},
		want:    []wantDiag{errorDiag("Unsupported block type", `Blocks of type "resource" are not expected in a recipe file's top level. This looks like Terraform configuration, not a SlipStream recipe: a recipe file's top level has variable, cloud, image, component, deployment and import blocks, and slipc compile writes the Terraform from them. A recipe's machines are the nodes of a deployment block, each running a component.`)},
		context: `resource "aws_instance" "web" {`,
	},
	{
		name: "Terraform file",
		files: map[string]string{"main.tf.slip.hcl": `«terraform» {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  region = "eu-west-1"
}
variable "size" {
  default = "t3.micro"
}
locals {
  name = "web"
}
data "aws_ami" "debian" {
  most_recent = true
}
module "net" {
  source = "./net"
}
output "ip" {
  value = 1
}
`},
		want: []wantDiag{
			errorDiag("Unsupported block type", `Blocks of type "terraform" are not expected in a recipe file's top level. This looks like Terraform configuration, not a SlipStream recipe`),
			errorDiag("Unsupported block type", `the compiled Terraform configures the slipstream provider for each.`),
			errorDiag("Unsupported block type", `Blocks of type "locals" are not expected in a recipe file's top level. This looks like Terraform configuration`),
			errorDiag("Unsupported block type", `Blocks of type "data" are not expected in a recipe file's top level. This looks like Terraform configuration`),
			errorDiag("Unsupported block type", `This looks like Terraform configuration, not a SlipStream recipe: a recipe file's top level has variable, cloud, image, component, deployment and import blocks, and slipc compile writes the Terraform from them. A recipe uses another recipe folder through an import block.`),
			errorDiag("Unsupported block type", `Blocks of type "output" are not expected in a recipe file's top level. An output block belongs inside a component or image block. This one looks like a Terraform output: a recipe's outputs are runtime parameters that its instances set with ss-set, and slipc compile writes a Terraform output for each.`),
		},
		context: "terraform {",
	},
	{
		name: "output at the top level",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
«output» "url" {
  description = "the web server's address"
}`},
		want: []wantDiag{errorDiag("Unsupported block type", `Blocks of type "output" are not expected in a recipe file's top level. An output block belongs inside a component or image block.`)},
	},
	{
		name:  "syntax error",
		files: map[string]string{"main.slip.hcl": "image \"x\" {\n  parent = «}»\n"},
		want:  []wantDiag{errorDiag("Invalid expression", "Expected the start of an expression")},
	},
	{
		// A cloud still to fill in (an imported SlipStream cloud service)
		// needs no connector: it is a warning, and its nodes are checked.
		name: "cloud to fill in",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
cloud "default" {
  «todo = "SlipStream's cloud service \"default\": choose a connector."»
}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.default
  }
}`},
		want: []wantDiag{warnDiag("Cloud to fill in", `Cloud "default" is still to fill in: SlipStream's cloud service "default": choose a connector.`)},
	},
	{
		// The nodes of a cloud to fill in are still analysed: a deadlock
		// between them is found before the cloud is filled in.
		name: "cloud to fill in keeps the wait graph",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
cloud "later" {
  «todo = "to do"»
}
component "a" {
  image = image.os
  output "token" {}
  deploy = <<-EOT
    peer=$(ss-get b:token)
    ss-set token "a-$peer"
  EOT
}
component "b" {
  image = image.os
  output "token" {}
  deploy = <<-EOT
    peer=$(ss-get a:token)
    ss-set token "b-$peer"
  EOT
}
deployment "pair" {
  node "a" {
    component = component.a
    cloud     = cloud.later
  }
  node "b" {
    component = component.b
    cloud     = cloud.later
  }
}`},
		want: []wantDiag{
			warnDiag("Cloud to fill in", `Cloud "later" is still to fill in: to do`),
			errorDiag(`Deadlock: nodes "a" and "b" wait for each other`, `node "a" waits for b:token`),
		},
	},
	{
		// Once the connector is named, its settings are checked as usual.
		name: "cloud to fill in with a connector",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
cloud "aws" {
  connector = "ec2"
  «todo      = "credentials"»
  region    = "eu-west-1"
  flavour   = "t3.small"
}`},
		want: []wantDiag{
			warnDiag("Cloud to fill in", `Cloud "aws" is still to fill in: credentials`),
			errorDiag("Unsupported connector setting", `Connector "ec2" has no setting "flavour".`),
		},
	},
	{
		name: "cloud without connector nor todo",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
cloud "aws" «»{
  region = "eu-west-1"
}`},
		want: []wantDiag{errorDiag("Missing required argument", `The argument "connector" is required`)},
	},
	{
		name: "default not among the allowed values",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "network" {
    default = «"public"»
    allowed = ["Public", "Private"]
  }
}`},
		want: []wantDiag{errorDiag("Default not allowed", `The default of input "network" is "public", which is not one of its allowed values: "Public", "Private".`)},
	},
	{
		name: "image input default not among the allowed values",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
image "sized" {
  input "size" {
    default = «"huge"»
    allowed = ["small", "large"]
  }
}`},
		want: []wantDiag{errorDiag("Default not allowed", `is "huge", which is not one of its allowed values: "small", "large"`)},
	},
	{
		name: "node value not among the allowed values",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "network" {
    allowed = ["Public", "Private"]
  }
  input "size" {
    allowed = ["small", "large"]
  }
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      network = «"'Pub'"»
      size    = "huge"
    }
  }
}`},
		want: []wantDiag{
			errorDiag("Value not allowed", `Node "web" gives input "network" the value "Pub", which is not one of its allowed values`),
			errorDiag("Value not allowed", `Node "web" gives input "size" the value "huge"`),
		},
	},
	{
		name: "allowed on an output",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output "state" {
    «allowed» = ["up", "down"]
  }
}`},
		want: []wantDiag{errorDiag("Outputs have no allowed values", `Output "state" is set at run time`)},
	},
	{
		name: "allowed that is not a list of strings",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  input "a" {
    allowed = «[]»
  }
  input "b" {
    allowed = [1, 2]
  }
  input "c" {
    allowed = "x"
  }
}`},
		want: []wantDiag{
			errorDiag("Invalid allowed", `allowed must be a constant, non-empty list of strings: the values input "a" may take`),
			errorDiag("Invalid allowed", `input "b"`),
			errorDiag("Invalid allowed", `input "c"`),
		},
	},
	{
		// deploy = [a, b] runs both, in order: the wait analysis sees the
		// first script's set before the second script's get.
		name: "a list of deploy scripts runs in order",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output "port" {}
  deploy = [
    "ss-set port 8080",
    <<-EOT
      ss-get port
      ss-get «unset_key»
    EOT
  ]
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag("Unknown parameter", `ss-get unset_key in the deploy script of component "web", line 16`)},
	},
}

// writeCase writes a case's files under a temp folder and returns the
// folder and the marked range (with the file name as the loader reports it).
func writeCase(t *testing.T, c diagCase) (string, *hcl.Range) {
	t.Helper()
	dir := t.TempDir()
	var marked *hcl.Range
	for name, src := range c.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(src, "«"); i >= 0 {
			j := strings.Index(src, "»")
			inner := src[i+len("«") : j]
			src = src[:i] + inner + src[j+len("»"):]
			marked = &hcl.Range{Filename: p, Start: posAt(src, i), End: posAt(src, i+len(inner))}
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, marked
}

func posAt(src string, offset int) hcl.Pos {
	line := 1 + strings.Count(src[:offset], "\n")
	col := offset - strings.LastIndex(src[:offset], "\n")
	return hcl.Pos{Line: line, Column: col, Byte: offset}
}

// diagnose runs every check a user's `slipc validate` runs.
func diagnose(dir string, planned bool) hcl.Diagnostics {
	p, diags := Load(dir, Options{plannedConnectors: planned})
	if p == nil {
		return diags
	}
	_, d := p.CheckAll()
	return append(diags, d...)
}

func TestDiagnostics(t *testing.T) {
	for _, c := range diagCases {
		t.Run(c.name, func(t *testing.T) {
			dir, marked := writeCase(t, c)
			diags := diagnose(dir, c.planned)
			if len(diags) != len(c.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(c.want), describe(diags))
			}
			for i, w := range c.want {
				d := diags[i]
				if d.Severity != w.severity || d.Summary != w.summary || !strings.Contains(strings.ReplaceAll(d.Detail, dir+string(filepath.Separator), ""), w.detail) {
					t.Errorf("diagnostic %d:\n got  %s\nwant %v %q containing %q", i, describe(hcl.Diagnostics{d}), w.severity, w.summary, w.detail)
				}
				if d.Subject == nil {
					t.Errorf("diagnostic %d (%s) has no Subject range", i, d.Summary)
				}
			}
			if marked == nil {
				t.Fatal("the case marks no range with «»")
			}
			got := diags[0].Subject
			if got == nil || got.Filename != marked.Filename || got.Start != marked.Start || got.End.Byte != marked.End.Byte {
				t.Errorf("first diagnostic points at %v, want %v", got, marked)
			}
			if c.context != "" {
				ctx := diags[0].Context
				src, _ := os.ReadFile(marked.Filename)
				if ctx == nil || ctx.Filename != marked.Filename || string(ctx.SliceBytes(src)) != c.context {
					t.Errorf("first diagnostic's context is %v, want the range of %q", ctx, c.context)
				}
			}
		})
	}
}

func describe(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "  %v %q: %s (at %v)\n", d.Severity, d.Summary, d.Detail, d.Subject)
	}
	return b.String()
}

// compileCases are diagnostics only a compile (choosing a deployment and
// emitting it) can give.
var compileCases = []struct {
	diagCase
	deployment string
}{
	{diagCase: diagCase{
		name:  "no deployment",
		files: map[string]string{"main.slip.hcl": baseRecipe},
		want:  []wantDiag{errorDiag("No deployment to compile", "declares no deployment block")},
	}},
	{diagCase: diagCase{
		name: "several deployments",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
deployment "a" {}
deployment "b" {}`},
		want: []wantDiag{errorDiag("Several deployments", "choose one with -deployment NAME")},
	}},
	{deployment: "aa", diagCase: diagCase{
		name: "unknown deployment",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
deployment "a" {}
deployment "b" {}`},
		want: []wantDiag{errorDiag("No such deployment", `no deployment named "aa". Did you mean "a"?`)},
	}},
	{diagCase: diagCase{
		name: "generated variable collides",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
variable "web_multiplicity" {
  default = 2
}
component "web" {
  image = image.os
}
deployment "d" {
  «node "web"» {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag("Variable name collision", `needs a Terraform variable named "web_multiplicity"`)},
	}},
	{diagCase: diagCase{
		name: "output names collide",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  output "a.b" {}
  output "a_b" {}
}
deployment "d" {
  «node "web"» {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag("Output name collision", `both become Terraform output "web_a_b"`)},
	}},
	{diagCase: diagCase{
		name: "file path depending on a variable",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
variable "which" {
  default = "a.sh"
}
component "web" {
  image  = image.os
  deploy = file(«var.which»)
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
  }
}`},
		want: []wantDiag{errorDiag("File path must be constant", `must be a constant string, so slipc can copy the file`)},
	}},
}

func init() {
	compileCases = append(compileCases, struct {
		diagCase
		deployment string
	}{diagCase: diagCase{
		name: "cloud to fill in is not compiled",
		files: map[string]string{"main.slip.hcl": baseRecipe + `
cloud "default" {
  todo = "choose a connector"
}
component "web" {
  image = image.os
}
deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.default
  }
}`},
		want: []wantDiag{
			warnDiag("Cloud to fill in", `Cloud "default" is still to fill in: choose a connector`),
			errorDiag("Cloud to fill in", `slipc compile writes no Terraform for it until it has its connector and settings`),
		},
	}})
}

func TestCompileDiagnostics(t *testing.T) {
	for _, c := range compileCases {
		t.Run(c.name, func(t *testing.T) {
			dir, marked := writeCase(t, c.diagCase)
			_, _, diags := Compile(dir, CompileOptions{Deployment: c.deployment})
			if len(diags) != len(c.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(c.want), describe(diags))
			}
			for i, w := range c.want {
				d := diags[i]
				if d.Severity != w.severity || d.Summary != w.summary || !strings.Contains(d.Detail, w.detail) {
					t.Errorf("diagnostic %d:\n got  %s\nwant %q containing %q", i, describe(hcl.Diagnostics{d}), w.summary, w.detail)
				}
			}
			if marked != nil {
				got := diags[0].Subject
				if got == nil || got.Start != marked.Start || got.End.Byte != marked.End.Byte {
					t.Errorf("first diagnostic points at %v, want %v", got, marked)
				}
			}
		})
	}
}

// TestTerraformHint_onlyWhereItFits: the Terraform hint is for blocks a
// recipe file's top level does not have; a Terraform block type nested in
// a recipe block, or a recipe's own output out of place, gets the usual
// hint without it.
func TestTerraformHint_onlyWhereItFits(t *testing.T) {
	for _, c := range []diagCase{
		{name: "resource in a component", files: map[string]string{"main.slip.hcl": baseRecipe + `
component "web" {
  image = image.os
  resource "aws_instance" "x" {}
}`}},
		{name: "recipe output at the top level", files: map[string]string{"main.slip.hcl": baseRecipe + `
output "url" {}`}},
	} {
		dir, _ := writeCase(t, c)
		diags := diagnose(dir, false)
		if len(diags) != 1 || diags[0].Summary != "Unsupported block type" || strings.Contains(diags[0].Detail, "Terraform") {
			t.Errorf("%s: want one Unsupported block type without the Terraform hint, got:\n%s", c.name, describe(diags))
		}
	}
	for blockType := range terraformBlocks {
		for _, b := range fileSchema.Blocks {
			if b.Type == blockType {
				t.Errorf("%q is a recipe's top-level block and in terraformBlocks: it would never get the hint", blockType)
			}
		}
	}
}

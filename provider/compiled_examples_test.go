package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

// TestAccCompiledExamples_validate compiles every example recipe and runs
// the real `terraform validate` on the result against this provider's real
// schema (installed through a dev_overrides CLI configuration). Every block
// is validated: an example that needs a resource the provider lacks fails
// here (slipc already refuses clouds on connectors that are not yet
// available, see catalog.Connector.Implemented).
func TestAccCompiledExamples_validate(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || tf == "" {
		t.Skip("set TF_ACC=1 and TF_ACC_TERRAFORM_PATH to run against the real Terraform CLI")
	}
	pluginDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "terraform-provider-slipstream"), "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	cfg := "provider_installation {\n  dev_overrides {\n    \"" + compiler.ProviderSource + "\" = \"" + pluginDir + "\"\n  }\n  direct {}\n}\n"
	if err := os.WriteFile(rc, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	recipes, _ := filepath.Glob("../examples/recipes/*")
	if len(recipes) < 4 {
		t.Fatalf("expected the example recipes, found %v", recipes)
	}
	for _, recipe := range recipes {
		t.Run(filepath.Base(recipe), func(t *testing.T) {
			out, _, diags := compiler.Compile(recipe, compiler.CompileOptions{Emit: compiler.EmitOptions{Source: recipe}})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			dir := t.TempDir()
			for rel, content := range out.Files {
				p := filepath.Join(dir, filepath.FromSlash(rel))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(tf, "validate", "-no-color")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("terraform validate: %v\n%s", err, b)
			} else if !strings.Contains(string(b), "Success! The configuration is valid") {
				t.Fatalf("terraform validate said:\n%s", b)
			}
		})
	}
}

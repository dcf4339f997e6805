package compiler

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipstream/terraform-provider-slipstream/compiler/imports"
)

func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "init"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func loadWithImporter(t *testing.T, recipe string) []string {
	t.Helper()
	imp, diags := NewImporter(recipe, imports.ModeLocked, t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	_, diags = Load(recipe, Options{Imports: imp})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary+": "+d.Detail)
	}
	return got
}

// TestImporter_fetchedRecipeStaysInItsRepository checks that a recipe
// fetched from git cannot import a local folder outside its repository.
func TestImporter_fetchedRecipeStaysInItsRepository(t *testing.T) {
	secret := t.TempDir()
	os.WriteFile(filepath.Join(secret, "s.slip.hcl"), []byte("image \"secret\" {}\n"), 0o644)
	rel, _ := filepath.Rel("/", secret)
	repo := gitRepo(t, map[string]string{
		"lib/lib.slip.hcl":       "import \"inside\" {\n  source = \"../common\"\n}\nimport \"escape\" {\n  source = \"/" + filepath.ToSlash(rel) + "\"\n}\n",
		"common/c.slip.hcl":      "image \"base\" {}\n",
		"common/unused.slip.hcl": "",
	})
	recipe := t.TempDir()
	os.WriteFile(filepath.Join(recipe, "main.slip.hcl"), []byte("import \"lib\" {\n  source = \"git::file://"+filepath.ToSlash(repo)+"//lib\"\n}\n"), 0o644)
	got := loadWithImporter(t, recipe)
	if len(got) != 1 || !strings.HasPrefix(got[0], "Import leaves its repository") || !strings.Contains(got[0], `Import "escape"`) {
		t.Fatalf("diagnostics: %q", got)
	}
}

func TestImporter_invalidSource(t *testing.T) {
	recipe := t.TempDir()
	os.WriteFile(filepath.Join(recipe, "main.slip.hcl"), []byte("import \"x\" {\n  source = \"s3::https://bucket/recipes\"\n}\n"), 0o644)
	got := loadWithImporter(t, recipe)
	if len(got) != 1 || !strings.HasPrefix(got[0], "Invalid import source") {
		t.Fatalf("diagnostics: %q", got)
	}
}

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
	return gitRepoWith(t, files, nil)
}

// gitRepoWith is gitRepo with prepare run on the folder before the
// commit (to add what a map of files cannot: a symbolic link).
func gitRepoWith(t *testing.T, files map[string]string, prepare func(dir string)) string {
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
	if prepare != nil {
		prepare(dir)
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

// TestImporter_fetchedRecipeReadsOnlyItsOwnFiles checks that file() in a
// recipe fetched from git reads files of its repository, and nothing
// outside it: not by "..", not by an absolute path, not through a
// symbolic link committed to the repository. (os.Root in readConfined
// refuses links that lead out, should a fetched tree ever hold real ones.)
func TestImporter_fetchedRecipeReadsOnlyItsOwnFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("do-not-copy"), 0o600)
	component := func(path string) string {
		return "image \"os\" {}\n\ncomponent \"c\" {\n  image  = image.os\n  deploy = file(\"" + filepath.ToSlash(path) + "\")\n}\n"
	}
	for _, tc := range []struct {
		name, path string
		link       bool // the repository holds link.sh → secret
		wantErr    string
	}{
		{name: "inside", path: "../shared/deploy.sh"},
		{name: "dotdot", path: "../../../../../../../../" + secret, wantErr: "outside the repository this recipe was fetched from"},
		{name: "absolute", path: secret, wantErr: "outside the repository this recipe was fetched from"},
		// The fetch writes a link as a file holding its target's path
		// (core.symlinks=false), so the read succeeds with that text.
		{name: "symlink", path: "link.sh", link: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"lib/lib.slip.hcl": component(tc.path), "shared/deploy.sh": "echo deploy\n"}
			repo := gitRepoWith(t, files, func(dir string) {
				if tc.link {
					if err := os.Symlink(secret, filepath.Join(dir, "lib", "link.sh")); err != nil {
						t.Fatal(err)
					}
				}
			})
			recipe := t.TempDir()
			os.WriteFile(filepath.Join(recipe, "main.slip.hcl"), []byte("import \"lib\" {\n  source = \"git::file://"+filepath.ToSlash(repo)+"//lib\"\n}\n"+
				"deployment \"d\" {\n  node \"n\" {\n    component = import.lib.component.c\n    cloud     = cloud.here\n  }\n}\n"+
				"cloud \"here\" {\n  connector = \"fixed\"\n  hosts     = [\"10.0.0.1\"]\n}\n"), 0o644)
			imp, diags := NewImporter(recipe, imports.ModeLocked, t.TempDir())
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			out, _, diags := Compile(recipe, CompileOptions{Load: Options{Imports: imp}})
			if tc.wantErr == "" {
				if diags.HasErrors() {
					t.Fatalf("a file of the repository was refused: %s", diags.Error())
				}
				if text := assetText(out); strings.Contains(text, "do-not-copy") {
					t.Fatal("the secret was copied into the output")
				} else if !tc.link && !strings.Contains(text, "echo deploy") {
					t.Fatal("the script is not in the output")
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.wantErr) {
				t.Fatalf("diagnostics %q, want one saying %q", diags.Error(), tc.wantErr)
			}
			if out != nil && strings.Contains(assetText(out), "do-not-copy") {
				t.Fatal("the secret was copied into the output")
			}
		})
	}
}

// assetText is every file of an output, concatenated.
func assetText(out *Output) string {
	if out == nil {
		return ""
	}
	var b strings.Builder
	for _, f := range out.Files {
		b.Write(f)
	}
	return b.String()
}

// TestReadConfined_refusesLinksOut checks the second guard on its own: a
// real symbolic link inside a confined module's tree that leads out is
// refused, one that stays inside is followed.
func TestReadConfined_refusesLinksOut(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("do-not-copy"), 0o600)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "lib"), 0o755)
	os.WriteFile(filepath.Join(root, "lib", "real.sh"), []byte("echo real"), 0o644)
	os.Symlink(outside, filepath.Join(root, "lib", "out.sh"))
	os.Symlink("real.sh", filepath.Join(root, "lib", "in.sh"))
	m := &Module{Dir: filepath.Join(root, "lib"), Confine: root}
	if b, err := readRecipeFile(m, "in.sh"); err != nil || string(b) != "echo real" {
		t.Fatalf("link inside: %q, %v", b, err)
	}
	if b, err := readRecipeFile(m, "out.sh"); err == nil || !strings.Contains(err.Error(), "reads only files inside the repository") {
		t.Fatalf("link out: read %q, error %v", b, err)
	}
}

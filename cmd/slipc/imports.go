package main

import (
	"flag"

	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
	"github.com/slipstream/terraform-provider-slipstream/compiler/imports"
)

// lockFlags are the lock-file options compile, validate and graph share.
type lockFlags struct {
	upgrade  bool
	readonly bool
}

func (l *lockFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&l.upgrade, "upgrade", false, "re-resolve git imports at their refs and rewrite their lock entries")
	fs.BoolVar(&l.readonly, "lockfile-readonly", false, "fail instead of adding a missing lock entry, and never write the lock file (for CI)")
}

func (l *lockFlags) mode() imports.Mode {
	switch {
	case l.upgrade:
		return imports.ModeUpgrade
	case l.readonly:
		return imports.ModeReadOnly
	}
	return imports.ModeLocked
}

// importResolver adapts compiler.Importer for the commands.
type importResolver struct{ *compiler.Importer }

func newImportResolver(path string, flags lockFlags) (*importResolver, hcl.Diagnostics) {
	imp, diags := compiler.NewImporter(path, flags.mode(), compiler.DefaultCacheDir())
	return &importResolver{imp}, diags
}

func (r *importResolver) save() hcl.Diagnostics { return r.Save() }

// loadRecipe loads the recipe at path with its imports, as validate and
// graph need it.
func loadRecipe(path string, flags lockFlags) (*compiler.Program, *importResolver, hcl.Diagnostics) {
	resolver, diags := newImportResolver(path, flags)
	prog, d := compiler.Load(path, compiler.Options{Imports: resolver})
	return prog, resolver, append(diags, d...)
}

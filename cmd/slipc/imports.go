package main

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/slipstream/terraform-provider-slipstream/compiler"
)

// importResolver resolves imports for the CLI. Until the git fetcher lands
// this resolves local imports only.
type importResolver struct{}

func newImportResolver(path string, upgrade bool) (*importResolver, hcl.Diagnostics) {
	return &importResolver{}, nil
}

func (r *importResolver) Resolve(fromDir string, imp *compiler.Import) (string, hcl.Diagnostics) {
	return compiler.LocalImport(fromDir, imp)
}

func (r *importResolver) save() hcl.Diagnostics { return nil }

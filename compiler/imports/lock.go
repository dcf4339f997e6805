package imports

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFileName is the lock file's name in the root recipe folder.
const LockFileName = ".slipstream.lock.hcl"

// Lock is the content of a lock file: the commit and content hash each git
// import was pinned to. Local imports are never locked.
type Lock struct {
	// Entries is keyed by the canonical source string (Source.String()).
	Entries map[string]Entry
}

// Entry pins one git import.
type Entry struct {
	Source string // canonical source, the same as the entry's key
	Commit string // full commit id
	Hash   string // HashDir of the imported folder at Commit, "h1:..."
}

// NewLock returns an empty lock.
func NewLock() *Lock { return &Lock{Entries: map[string]Entry{}} }

// Get returns the entry for src, if any.
func (l *Lock) Get(src Source) (Entry, bool) {
	e, ok := l.Entries[src.String()]
	return e, ok
}

// Add records f as the pinned state of src, replacing any entry it had.
// Local sources are ignored: like Terraform's local modules they are not
// locked.
func (l *Lock) Add(src Source, f Fetched) {
	if src.Kind != Git {
		return
	}
	if l.Entries == nil {
		l.Entries = map[string]Entry{}
	}
	key := src.String()
	l.Entries[key] = Entry{Source: key, Commit: f.Commit, Hash: f.Hash}
}

// Remove drops the entry for src, if any.
func (l *Lock) Remove(src Source) { delete(l.Entries, src.String()) }

// Retain drops the entries of sources not in used (imports that were
// deleted from the recipes, or whose ref was changed, which makes them a
// new source) and returns the dropped keys, sorted. The compiler calls it
// once it knows every git import of the build, before Save.
func (l *Lock) Retain(used []Source) []string {
	keep := make(map[string]bool, len(used))
	for _, s := range used {
		keep[s.String()] = true
	}
	var dropped []string
	for k := range l.Entries {
		if !keep[k] {
			dropped = append(dropped, k)
			delete(l.Entries, k)
		}
	}
	sort.Strings(dropped)
	return dropped
}

const lockHeader = "# This file is maintained automatically by \"slipc\".\n" +
	"# Manual edits may be lost in future updates.\n"

// Bytes renders the lock file. Entries are sorted by source and the output
// is normalised by hclwrite.Format, so equal locks give equal bytes and the
// file only changes in version control when a pin does.
func (l *Lock) Bytes() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{
		{Type: hclsyntax.TokenComment, Bytes: []byte(lockHeader)},
	})
	keys := make([]string, 0, len(l.Entries))
	for k := range l.Entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := l.Entries[k]
		body.AppendNewline()
		b := body.AppendNewBlock("import", []string{k}).Body()
		b.SetAttributeValue("commit", cty.StringVal(e.Commit))
		b.SetAttributeValue("hash", cty.StringVal(e.Hash))
	}
	return hclwrite.Format(f.Bytes())
}

// Save writes the lock file at path if its content differs from what is
// there, so an unchanged lock never touches the file's time stamp or
// version-control status. An empty lock does not create a missing file. The
// write goes to a temporary file in the same folder that is renamed over the
// old one, so a reader or a crash never sees half a file.
func (l *Lock) Save(path string) error {
	data := l.Bytes()
	old, err := os.ReadFile(path) // #nosec G304 -- the lock file beside the root recipe the user compiles (Importer.LockPath)
	switch {
	case err == nil && bytes.Equal(old, data):
		return nil
	case errors.Is(err, fs.ErrNotExist) && len(l.Entries) == 0:
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write the lock file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	// On failure the temporary file is removed (above): its Close error
	// would add nothing.
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("cannot write the lock file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("cannot write the lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write the lock file: %w", err)
	}
	// CreateTemp makes the file 0600; a lock file is meant to be committed
	// and read by everyone, like any other source file.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // #nosec G302 -- see above: a source file meant to be committed
		return fmt.Errorf("cannot write the lock file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot write the lock file: %w", err)
	}
	return nil
}

// LoadLock reads the lock file at path. A missing file is an empty lock
// with no diagnostics. Problems in the file are reported as diagnostics
// with source ranges; valid entries are returned alongside them, but a
// caller must not Save a lock whose diagnostics have errors, since the
// invalid entries would be lost.
func LoadLock(path string) (*Lock, hcl.Diagnostics) {
	src, err := os.ReadFile(path) // #nosec G304 -- the lock file beside the recipe the user named (NewImporter)
	if errors.Is(err, fs.ErrNotExist) {
		return NewLock(), nil
	}
	if err != nil {
		return NewLock(), hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the lock file",
			Detail:   fmt.Sprintf("Reading %s failed: %s.", path, err),
		}}
	}
	return parseLock(src, path)
}

var (
	lockSchema = &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "import", LabelNames: []string{"source"}}},
	}
	entrySchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "commit", Required: true},
			{Name: "hash", Required: true},
		},
	}
)

// parseLock is LoadLock on bytes, kept apart so tests and the fuzzer need
// no files.
func parseLock(src []byte, filename string) (*Lock, hcl.Diagnostics) {
	lock := NewLock()
	file, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return lock, diags
	}
	content, moreDiags := file.Body.Content(lockSchema)
	diags = append(diags, moreDiags...)

	seen := map[string]hcl.Range{}
	for _, block := range content.Blocks {
		label := block.Labels[0]
		labelRange := block.LabelRanges[0]
		src, err := ParseSource(label)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid import source in lock file",
				Detail:   capitalise(err.Error()) + ".",
				Subject:  &labelRange,
			})
			continue
		}
		if src.Kind != Git {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Local import in lock file",
				Detail:   fmt.Sprintf("%q is a local path; only git imports are locked. Remove this block.", label),
				Subject:  &labelRange,
			})
			continue
		}
		key := src.String()
		if prev, dup := seen[key]; dup {
			defRange := block.DefRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate lock entry",
				Detail:   fmt.Sprintf("%s is already locked at line %d.", key, prev.Start.Line),
				Subject:  &defRange,
			})
			continue
		}
		seen[key] = block.DefRange

		entryContent, moreDiags := block.Body.Content(entrySchema)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			continue
		}
		commit, d := lockString(entryContent.Attributes["commit"])
		diags = append(diags, d...)
		hash, d2 := lockString(entryContent.Attributes["hash"])
		diags = append(diags, d2...)
		if d.HasErrors() || d2.HasErrors() {
			continue
		}
		bad := false
		if !isFullCommit(commit) {
			r := entryContent.Attributes["commit"].Expr.Range()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid commit in lock file",
				Detail:   fmt.Sprintf("%q is not a full commit id (40 or 64 lower-case hexadecimal digits).", commit),
				Subject:  &r,
			})
			bad = true
		}
		if !isHash(hash) {
			r := entryContent.Attributes["hash"].Expr.Range()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid hash in lock file",
				Detail:   fmt.Sprintf(`%q is not a content hash of the form "h1:" followed by a base64 SHA-256.`, hash),
				Subject:  &r,
			})
			bad = true
		}
		if !bad {
			lock.Entries[key] = Entry{Source: key, Commit: commit, Hash: hash}
		}
	}
	return lock, diags
}

// lockString evaluates an attribute that must be a literal string. There is
// no evaluation context, so variables and function calls are reported as
// not allowed.
func lockString(attr *hcl.Attribute) (string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.String) {
		r := attr.Expr.Range()
		return "", append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value in lock file",
			Detail:   fmt.Sprintf("%s must be a string.", attr.Name),
			Subject:  &r,
		})
	}
	return v.AsString(), diags
}

// isHash accepts the "h1:" hashes HashDir produces.
func isHash(s string) bool {
	b64, ok := strings.CutPrefix(s, "h1:")
	if !ok {
		return false
	}
	sum, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(sum) == 32 && base64.StdEncoding.EncodeToString(sum) == b64
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Package imports finds the recipe folders that a recipe imports, fetches
// the ones that live in git repositories, and pins them in a lock file.
//
// # Sources
//
// An import block names its source as a local path or a git repository:
//
//	import "shared" { source = "../common" }
//	import "base"   { source = "git::https://example.com/recipes.git//images/debian?ref=v1.2" }
//
// ParseSource accepts "./x", "../x" and "/x" (relative paths are taken from
// the importing folder), and "git::URL" optionally followed by "//SUBDIR"
// and then "?ref=REF", in that order, as go-getter and Terraform write it.
// URL is https://, http://, ssh://, git://, file:// or user@host:path.
// Everything else (registry shorthands, bare URLs, other go-getter types,
// ".." in a subdir, unknown query parameters) is refused with a
// *SourceError that lists the accepted forms. Source.String is the
// canonical spelling and the lock file's key.
//
// # Fetching
//
// A Fetcher keeps one bare clone per repository and one folder per commit in
// its CacheDir (see Fetcher). Fetch resolves the ref now (tag, then branch,
// then commit id; the remote's default branch when there is no ref) and
// FetchCommit takes an exact commit, ignoring the ref. Both return a
// Fetched: the imported folder, the tree it belongs to (Root), the commit
// and the folder's HashDir.
// LocalFetch does the same for local sources without copying anything.
//
// Git runs with a timeout, no prompts, and none of the machine's or user's
// git configuration, so that two machines resolve and hash the same way.
// New clones and trees are built in temporary folders and renamed into
// place, and a file lock serialises updates to one clone, so concurrent
// slipc processes can share a cache.
//
// # The lock file
//
// The root recipe folder holds LockFileName, which slipc writes and which is
// meant to be committed:
//
//	import "git::https://example.com/recipes.git//images/debian?ref=v1.2" {
//	  commit = "<full commit id>"
//	  hash   = "h1:<base64 SHA-256>"
//	}
//
// LoadLock reads it (reporting problems as HCL diagnostics), Lock.Bytes
// renders it deterministically and Lock.Save writes it atomically, only when
// it changed. Local imports are not locked, as in Terraform.
//
// # Policy
//
// The compiler resolves each git import with Lock.Resolve:
//
//   - ModeLocked (default): a locked import is fetched at the locked commit
//     with FetchCommit, even if its tag has moved since, and its hash must
//     match (ErrHashMismatch otherwise); an unlocked one is fetched at its
//     ref and added.
//   - ModeUpgrade (-upgrade): every import is fetched at its ref as it is
//     now and its entry rewritten. A changed hash for an unchanged commit
//     is still refused.
//   - ModeReadOnly: like ModeLocked, but an unlocked import is an error
//     (ErrNotLocked) and the lock is never changed.
//
// then drops the entries of imports that are gone with Lock.Retain, and
// saves (except in ModeReadOnly). Lock.Verify is the single comparison behind all of this;
// Lock.CheckUpstream uses it on a fresh Fetch to report a moved tag
// (ErrRefMoved) without changing anything.
//
// A typical compile:
//
//	lock, diags := imports.LoadLock(filepath.Join(root, imports.LockFileName))
//	// report diags; stop on errors
//	var used []imports.Source
//	for each git import src {
//	        f, err := lock.Resolve(ctx, fetcher, src, mode)
//	        // f.Dir is the folder to read
//	        used = append(used, src)
//	}
//	lock.Retain(used)
//	err := lock.Save(filepath.Join(root, imports.LockFileName))
//
// Caveats: the files of a commit are those "git archive" produces, so
// export-ignore attributes apply; symbolic links in a fetched repository
// become plain files holding the link target, as git checks them out with
// core.symlinks=false, so that no link can lead outside the tree; and
// a local import made from inside a fetched recipe is resolved by the
// caller (LocalFetch), which should refuse it when it leaves Fetched.Root.
package imports

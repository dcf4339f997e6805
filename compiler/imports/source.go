package imports

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Kind tells how an import's source is obtained.
type Kind int

const (
	// Local is a folder on disk, named relative to the importing folder
	// ("./x", "../x") or absolutely ("/x").
	Local Kind = iota + 1
	// Git is a folder inside a git repository at some ref
	// ("git::URL//subdir?ref=v1").
	Git
)

// String returns "local" or "git", the words used in error messages.
func (k Kind) String() string {
	switch k {
	case Local:
		return "local"
	case Git:
		return "git"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Source is a parsed import source. The zero value is not a valid source; get
// one from ParseSource.
type Source struct {
	Kind Kind
	// Path is the cleaned local path (Local only). Relative paths keep their
	// leading "./" or "../" so that String round-trips through ParseSource.
	Path string
	// Repo is the URL handed to git (Git only): no "git::" prefix, no
	// "//subdir", no "?ref=".
	Repo string
	// Subdir is the cleaned folder inside the repository, "" for its root
	// (Git only).
	Subdir string
	// Ref is the tag, branch or commit to check out, "" for the remote's
	// default branch (Git only).
	Ref string
}

// String renders the canonical form of the source. ParseSource(s.String())
// returns s again, and the lock file keys its entries by this string, so two
// spellings of the same source (say "./a/../b" and "./b", or "sub/" and "sub")
// share one entry.
func (s Source) String() string {
	switch s.Kind {
	case Local:
		return s.Path
	case Git:
		var b strings.Builder
		b.WriteString(gitPrefix)
		b.WriteString(s.Repo)
		if s.Subdir != "" {
			b.WriteString("//")
			b.WriteString(s.Subdir)
		}
		if s.Ref != "" {
			b.WriteString("?ref=")
			b.WriteString(escapeRef(s.Ref))
		}
		return b.String()
	default:
		return ""
	}
}

// SourceError is returned by ParseSource. Reason says what is wrong with this
// particular string; Error appends the forms that are accepted, because the
// usual cause is a source copied from Terraform or go-getter in a form slipc
// does not support.
type SourceError struct {
	Source string
	Reason string
}

// AcceptedForms is the sentence every SourceError ends with.
const AcceptedForms = `an import source must be a local path starting with "./", "../" or "/", ` +
	`or a git repository as "git::URL", "git::URL?ref=REF" or "git::URL//SUBDIR?ref=REF" ` +
	`where URL is https://, http://, ssh://, git:// or file://, or user@host:path`

func (e *SourceError) Error() string {
	return fmt.Sprintf("invalid import source %q: %s (%s)", e.Source, e.Reason, AcceptedForms)
}

const gitPrefix = "git::"

var (
	// forcedGetter matches go-getter's "type::" prefix so that s3::, hg::,
	// gcs:: and friends get a message naming the unsupported type.
	forcedGetter = regexp.MustCompile(`^([A-Za-z0-9+.-]+)::`)
	// scpLike is git's "user@host:path" SSH shorthand. A user is required, as
	// go-getter does, so that "C:" or "host:path" are not taken for it.
	// User and host must not start with "-", which ssh would take for an
	// option (CVE-2017-1000117); git refuses them too, but not every git
	// on every machine is recent.
	scpLike = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._~-]*@[A-Za-z0-9][A-Za-z0-9.-]*:(/?[^/])`)
	// hostLike spots "github.com/org/repo" so the error can suggest the
	// git:: spelling instead of a local path.
	hostLike = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]+)?/`)
)

// gitSchemes are the URL schemes git is asked to use. Others (ext::, fd::,
// ...) are refused because git's "ext" transport runs arbitrary commands.
var gitSchemes = map[string]bool{"https": true, "http": true, "ssh": true, "git": true, "file": true}

// ParseSource parses the source attribute of an import block. It accepts
//
//	./path, ../path, /path                 a local folder
//	git::URL                               a repository's default branch
//	git::URL?ref=REF                       a tag, branch or commit
//	git::URL//SUBDIR?ref=REF               a folder inside the repository
//
// where the //SUBDIR comes before the ?query, as in go-getter and Terraform.
// Everything else is rejected with a *SourceError.
func ParseSource(s string) (Source, error) {
	fail := func(format string, args ...any) (Source, error) {
		return Source{}, &SourceError{Source: s, Reason: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return fail("the source is empty")
	}
	if strings.TrimSpace(s) != s {
		return fail("it has leading or trailing spaces")
	}
	if !utf8.ValidString(s) {
		return fail("it is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fail("it contains a control character")
		}
	}

	switch {
	case strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"), strings.HasPrefix(s, "/"):
		return parseLocal(s)
	case s == "." || s == "..":
		return fail(`write %q with a trailing slash, as "%s/"`, s, s)
	case strings.HasPrefix(s, gitPrefix):
		src, reason := parseGit(s[len(gitPrefix):])
		if reason != "" {
			return fail("%s", reason)
		}
		return src, nil
	}

	// Not a form we accept: work out what the author probably meant so the
	// error can point at the right spelling.
	if m := forcedGetter.FindStringSubmatch(s); m != nil {
		if strings.EqualFold(m[1], "git") {
			return fail(`the prefix must be spelled "git::" in lower case`)
		}
		return fail("the %q source type is not supported; only git:: sources and local paths are", m[1]+"::")
	}
	if i := strings.Index(s, "://"); i > 0 {
		if !gitSchemes[strings.ToLower(s[:i])] {
			return fail("%q URLs are not supported; only git:: sources and local paths are", s[:i]+"://")
		}
		return fail(`a git repository URL must start with "git::", as in %q`, gitPrefix+s)
	}
	if scpLike.MatchString(s) {
		return fail(`a git repository URL must start with "git::", as in %q`, gitPrefix+s)
	}
	if hostLike.MatchString(s) {
		return fail(`registry and host shorthands are not supported; for a git repository write %q`,
			gitPrefix+"https://"+strings.TrimSuffix(s, ".git")+".git")
	}
	return fail(`a local path must start with "./", "../" or "/"; did you mean %q?`, "./"+s)
}

// parseLocal cleans a local path, keeping the "./" that marks it as
// relative to the importing folder.
func parseLocal(s string) (Source, error) {
	p := path.Clean(s)
	if strings.TrimSpace(p) != p {
		// "/ /" cleans to "/ ", which ParseSource would refuse.
		return Source{}, &SourceError{Source: s, Reason: "it ends with a space once cleaned"}
	}
	switch {
	case p == ".":
		return Source{}, &SourceError{Source: s, Reason: "it names the importing folder itself"}
	case p == "..":
		// Rendered with its slash so that String stays accepted by
		// ParseSource, which refuses a bare "..".
		p = "../"
	case strings.HasPrefix(p, "/"), strings.HasPrefix(p, "../"):
	default:
		p = "./" + p
	}
	return Source{Kind: Local, Path: p}, nil
}

// parseGit parses what follows "git::" and returns a reason when it is
// invalid. Reasons rather than errors keep the wrapping in one place.
func parseGit(rest string) (Source, string) {
	if rest == "" {
		return Source{}, `nothing follows "git::"`
	}
	// These characters never appear unescaped in a valid URL. Refusing them
	// also means the canonical string is safe as an HCL label and on a git
	// command line.
	if i := strings.IndexAny(rest, " \"\\{}<>^`|#"); i >= 0 {
		if rest[i] == '#' {
			return Source{}, `URL fragments ("#...") are not supported; use "?ref=" to pick a ref`
		}
		return Source{}, fmt.Sprintf("the URL contains %q, which must be percent-encoded", rest[i])
	}

	main, query, hasQuery := strings.Cut(rest, "?")

	// Find where the repository URL ends and the //subdir begins. The "//"
	// after "scheme:" belongs to the URL, so the search starts past it.
	var repo, subdir string
	hasSubdir := false
	if i := strings.Index(main, "://"); i >= 0 {
		scheme := main[:i]
		if !gitSchemes[scheme] {
			return Source{}, fmt.Sprintf("the URL scheme %q is not supported; use https, http, ssh, git or file", scheme)
		}
		repo = main
		if j := strings.Index(main[i+3:], "//"); j >= 0 {
			repo, subdir, hasSubdir = main[:i+3+j], main[i+3+j+2:], true
		}
		if reason := checkURL(repo); reason != "" {
			return Source{}, reason
		}
	} else if scpLike.MatchString(main) {
		repo = main
		if j := strings.Index(main, "//"); j >= 0 {
			repo, subdir, hasSubdir = main[:j], main[j+2:], true
		}
	} else {
		return Source{}, `after "git::" there must be a URL with a scheme (https://, ssh://, file://, ...) or user@host:path`
	}

	src := Source{Kind: Git, Repo: repo}
	if hasSubdir {
		clean, reason := cleanSubdir(subdir)
		if reason != "" {
			return Source{}, reason
		}
		src.Subdir = clean
	}
	if hasQuery {
		ref, reason := parseQuery(query)
		if reason != "" {
			return Source{}, reason
		}
		src.Ref = ref
	}
	return src, ""
}

// checkURL validates a repository URL that has a scheme.
func checkURL(repo string) string {
	u, err := url.Parse(repo)
	if err != nil {
		return fmt.Sprintf("the repository URL is malformed: %v", unwrapURLError(err))
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			// The canonical source is written to the lock file and to
			// generated Terraform, so a password here would leak.
			return "the URL contains a password; use a git credential helper or an SSH key instead"
		}
	}
	if strings.HasPrefix(u.Hostname(), "-") || (u.User != nil && strings.HasPrefix(u.User.Username(), "-")) {
		return `the host or user name starts with "-"`
	}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return `a file:// URL must name a local path, as in "file:///srv/repo.git"`
		}
	} else if u.Host == "" {
		return "the repository URL has no host"
	}
	if u.Path == "" || u.Path == "/" {
		return "the repository URL has no path"
	}
	return ""
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// cleanSubdir validates the folder after "//". ".." is refused outright
// rather than cleaned away: a source that climbs out of its repository is a
// mistake, or an attempt to read the cache around it.
func cleanSubdir(sub string) (string, string) {
	if sub == "" {
		return "", `"//" must be followed by a folder inside the repository`
	}
	if strings.HasPrefix(sub, "/") {
		return "", fmt.Sprintf("the subdirectory %q must be relative to the repository root", sub)
	}
	for _, seg := range strings.Split(sub, "/") {
		if seg == ".." {
			return "", fmt.Sprintf(`the subdirectory %q must not contain ".."`, sub)
		}
	}
	clean := path.Clean(sub)
	if clean == "." {
		return "", `"//" must be followed by a folder inside the repository`
	}
	return clean, ""
}

// parseQuery reads the query string by hand rather than with url.ParseQuery:
// that one turns "+" into a space, which would break semver tags such as
// "v1.0.0+build.1", and it silently merges repeated keys.
func parseQuery(q string) (string, string) {
	if q == "" {
		return "", `"?" must be followed by "ref=REF"`
	}
	if strings.Contains(q, "//") {
		return "", `the //subdir must come before the ?ref= query, as in "git::URL//subdir?ref=v1"`
	}
	ref, seen := "", false
	for _, part := range strings.Split(q, "&") {
		key, raw, hasValue := strings.Cut(part, "=")
		if key != "ref" {
			return "", fmt.Sprintf(`unsupported query parameter %q; only "ref" is supported`, key)
		}
		if seen {
			return "", `"ref" is given more than once`
		}
		seen = true
		if !hasValue || raw == "" {
			return "", `the ref is empty; omit "?ref=" to use the default branch`
		}
		v, err := url.PathUnescape(raw)
		if err != nil {
			return "", fmt.Sprintf("the ref %q is not properly percent-encoded", raw)
		}
		if !utf8.ValidString(v) {
			return "", fmt.Sprintf("the ref %q is not valid UTF-8", raw)
		}
		if reason := checkRef(v); reason != "" {
			return "", fmt.Sprintf("the ref %q %s", v, reason)
		}
		ref = v
	}
	return ref, ""
}

// checkRef applies git check-ref-format's rules, plus a ban on a leading
// "-" so that a ref can never be read as a git option.
func checkRef(ref string) string {
	switch {
	case strings.HasPrefix(ref, "-"):
		return `must not start with "-"`
	case ref == "@":
		return `must not be "@"`
	case strings.HasPrefix(ref, "/"), strings.HasSuffix(ref, "/"), strings.Contains(ref, "//"):
		return `must not start or end with "/" or contain "//"`
	case strings.HasSuffix(ref, "."):
		return `must not end with "."`
	case strings.Contains(ref, ".."):
		return `must not contain ".."`
	case strings.Contains(ref, "@{"):
		return `must not contain "@{"`
	}
	for _, r := range ref {
		if r <= 0x20 || r == 0x7f || strings.ContainsRune("~^:?*[\\", r) {
			return fmt.Sprintf("must not contain %q", r)
		}
	}
	for _, seg := range strings.Split(ref, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".lock") {
			return `must not have a component starting with "." or ending with ".lock"`
		}
	}
	return ""
}

// escapeRef percent-encodes the bytes of a ref that would otherwise change
// meaning in the query ("&", "%", "#", ...). Common refs ("v1.2.0",
// "release/1.x", "v1.0.0+build") come out unchanged.
func escapeRef(ref string) string {
	const safe = "-._~/+@"
	var b strings.Builder
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

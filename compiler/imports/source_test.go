package imports

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSourceValid(t *testing.T) {
	tests := []struct {
		in        string
		want      Source
		canonical string // "" means the same as in
	}{
		{"./common", Source{Kind: Local, Path: "./common"}, ""},
		{"../common", Source{Kind: Local, Path: "../common"}, ""},
		{"/srv/recipes", Source{Kind: Local, Path: "/srv/recipes"}, ""},
		{"./a/../b/", Source{Kind: Local, Path: "./b"}, "./b"},
		{"../../x/./y", Source{Kind: Local, Path: "../../x/y"}, "../../x/y"},
		{"./a/../..", Source{Kind: Local, Path: "../"}, "../"},
		{"../", Source{Kind: Local, Path: "../"}, ""},
		{"./dir with spaces", Source{Kind: Local, Path: "./dir with spaces"}, ""},

		{"git::https://example.com/recipes.git",
			Source{Kind: Git, Repo: "https://example.com/recipes.git"}, ""},
		{"git::https://example.com/recipes.git?ref=v1.2",
			Source{Kind: Git, Repo: "https://example.com/recipes.git", Ref: "v1.2"}, ""},
		{"git::https://example.com/recipes.git//images/debian?ref=v1.2",
			Source{Kind: Git, Repo: "https://example.com/recipes.git", Subdir: "images/debian", Ref: "v1.2"}, ""},
		{"git::https://example.com/recipes.git//images/debian",
			Source{Kind: Git, Repo: "https://example.com/recipes.git", Subdir: "images/debian"}, ""},
		{"git::https://example.com/recipes.git//images/./debian/?ref=v1",
			Source{Kind: Git, Repo: "https://example.com/recipes.git", Subdir: "images/debian", Ref: "v1"},
			"git::https://example.com/recipes.git//images/debian?ref=v1"},
		{"git::file:///tmp/x/repo.git//sub?ref=v1",
			Source{Kind: Git, Repo: "file:///tmp/x/repo.git", Subdir: "sub", Ref: "v1"}, ""},
		{"git::ssh://git@example.com:2222/org/repo.git?ref=main",
			Source{Kind: Git, Repo: "ssh://git@example.com:2222/org/repo.git", Ref: "main"}, ""},
		{"git::git@github.com:org/repo.git//sub?ref=release/1.x",
			Source{Kind: Git, Repo: "git@github.com:org/repo.git", Subdir: "sub", Ref: "release/1.x"}, ""},
		{"git::https://example.com/r.git?ref=v1.0.0+build.7",
			Source{Kind: Git, Repo: "https://example.com/r.git", Ref: "v1.0.0+build.7"}, ""},
		{"git::https://example.com/r.git?ref=a%2Cb",
			Source{Kind: Git, Repo: "https://example.com/r.git", Ref: "a,b"}, ""},
		{"git::https://example.com/r.git?ref=0123456789abcdef0123456789abcdef01234567",
			Source{Kind: Git, Repo: "https://example.com/r.git", Ref: "0123456789abcdef0123456789abcdef01234567"}, ""},
	}
	for _, tt := range tests {
		got, err := ParseSource(tt.in)
		if err != nil {
			t.Errorf("ParseSource(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSource(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		canonical := tt.canonical
		if canonical == "" {
			canonical = tt.in
		}
		if s := got.String(); s != canonical {
			t.Errorf("ParseSource(%q).String() = %q, want %q", tt.in, s, canonical)
		}
		again, err := ParseSource(got.String())
		if err != nil || again != got {
			t.Errorf("canonical form %q does not round-trip: %#v, %v", got.String(), again, err)
		}
	}
}

func TestParseSourceInvalid(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "the source is empty"},
		{" ./x", "leading or trailing spaces"},
		{"./x\n", "leading or trailing spaces"},
		{"./a\tb", "control character"},
		{".", `write "." with a trailing slash`},
		{"./", "names the importing folder itself"},
		{"common", `a local path must start with "./", "../" or "/"; did you mean "./common"?`},
		{"hashicorp/consul/aws", `did you mean "./hashicorp/consul/aws"?`},
		{"github.com/x/y", `registry and host shorthands are not supported; for a git repository write "git::https://github.com/x/y.git"`},
		{"https://example.com/r.git", `must start with "git::", as in "git::https://example.com/r.git"`},
		{"git@github.com:org/repo.git", `must start with "git::", as in "git::git@github.com:org/repo.git"`},
		{"s3::https://s3.amazonaws.com/bucket/x", `the "s3::" source type is not supported`},
		{"hg::https://example.com/r", `the "hg::" source type is not supported`},
		{"GIT::https://example.com/r.git", `spelled "git::" in lower case`},
		{"s3://bucket/key", `"s3://" URLs are not supported`},
		{"git::", `nothing follows "git::"`},
		{"git::example.com/r.git", `there must be a URL with a scheme`},
		{"git::./local", `there must be a URL with a scheme`},
		{"git::ext::sh -c touch% /tmp/pwned", `contains ' '`},
		{"git::ftp://example.com/r.git", `the URL scheme "ftp" is not supported`},
		{"git::https:///r.git", "has no host"},
		{"git::https://example.com", "has no path"},
		{"git::file://otherhost/r.git", "must name a local path"},
		{"git::https://user:secret@example.com/r.git", "contains a password"},
		{"git::https://example.com/r.git#v1", "fragments"},
		{"git::https://example.com/r.git//", `"//" must be followed by a folder`},
		{"git::https://example.com/r.git//.", `"//" must be followed by a folder`},
		{"git::https://example.com/r.git///abs", "must be relative to the repository root"},
		{"git::https://example.com/r.git//../x", `must not contain ".."`},
		{"git::https://example.com/r.git//a/../../x?ref=v1", `must not contain ".."`},
		{"git::https://example.com/r.git//a/..", `must not contain ".."`},
		{"git::https://example.com/r.git?ref=", "the ref is empty"},
		{"git::https://example.com/r.git?ref", "the ref is empty"},
		{"git::https://example.com/r.git?", `"?" must be followed by "ref=REF"`},
		{"git::https://example.com/r.git?ref=v1&depth=1", `unsupported query parameter "depth"; only "ref" is supported`},
		{"git::https://example.com/r.git?sshkey=abc", `unsupported query parameter "sshkey"`},
		{"git::https://example.com/r.git?ref=a&ref=b", "more than once"},
		{"git::https://example.com/r.git?ref=v1//sub", "the //subdir must come before the ?ref= query"},
		{"git::https://example.com/r.git?ref=-upload-pack=x", `must not start with "-"`},
		{"git::https://example.com/r.git?ref=a..b", `must not contain ".."`},
		{"git::https://example.com/r.git?ref=a%20b", `must not contain ' '`},
		{"git::https://example.com/r.git?ref=%zz", "not properly percent-encoded"},
		{"git::https://example.com/r.git?ref=v1.lock", `ending with ".lock"`},
		{"git::https://example.com/r.git?ref=a@{1}", `'{'`},
		{"git::https://example.com/r\"x.git", `contains '"'`},
		{"git::ssh://-oProxyCommand=x/r.git", `starts with "-"`},
		{"git::ssh://-u@example.com/r.git", `starts with "-"`},
		{"git::git@-oProxyCommand=x:r.git", `there must be a URL with a scheme`},
		{"git::-x@host:r.git", `there must be a URL with a scheme`},
	}
	for _, tt := range tests {
		_, err := ParseSource(tt.in)
		if err == nil {
			t.Errorf("ParseSource(%q) succeeded, want an error containing %q", tt.in, tt.reason)
			continue
		}
		var se *SourceError
		if !errors.As(err, &se) {
			t.Errorf("ParseSource(%q) error is %T, want *SourceError", tt.in, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.reason) {
			t.Errorf("ParseSource(%q) = %q\nwant it to contain %q", tt.in, msg, tt.reason)
		}
		// Every message must tell the reader what would have been accepted.
		if !strings.Contains(msg, AcceptedForms) {
			t.Errorf("ParseSource(%q) = %q does not list the accepted forms", tt.in, msg)
		}
	}
}

func TestSourceStringInvalidKind(t *testing.T) {
	if s := (Source{}).String(); s != "" {
		t.Errorf("zero Source renders as %q", s)
	}
	if Local.String() != "local" || Git.String() != "git" || Kind(9).String() != "Kind(9)" {
		t.Error("Kind.String")
	}
}

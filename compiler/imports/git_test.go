package imports

import "testing"

func TestExplainLine(t *testing.T) {
	tests := []struct{ stderr, want string }{
		{"", ""},
		{"Cloning into bare repository 'x'...\nfatal: '/tmp/x' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n",
			"fatal: '/tmp/x' does not appear to be a git repository"},
		{"fatal: Could not read from remote repository.\n\nPlease make sure...\n", "fatal: Could not read from remote repository."},
		{"hint: something\nerror: pathspec 'x' did not match\nhint: more\n", "error: pathspec 'x' did not match"},
		{"warning: just a warning\nsomething odd happened\n\n", "something odd happened"},
	}
	for _, tt := range tests {
		if got := explainLine(tt.stderr); got != tt.want {
			t.Errorf("explainLine(%q) = %q, want %q", tt.stderr, got, tt.want)
		}
	}
}
